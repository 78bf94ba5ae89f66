"""Fixtures: the live stack (gunicorn + redis-server + an RQ worker) from ``tests.livestack``."""

from tests.livestack import live_api  # noqa: F401  (a fixture)
