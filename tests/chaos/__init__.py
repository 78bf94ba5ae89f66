"""The chaos run (issue 14): a loopback load while a scheduler kills workers, work horses, Redis,
gunicorn processes and the sweeper; ``python -m tests.chaos`` (``make chaos``) and its short
version in ``make test`` (``test_chaos.py``). The harness is ``tests/chaos/harness.py``."""
