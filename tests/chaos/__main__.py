"""``make chaos`` (``python -m tests.chaos [--duration 300] [--seed N]``): the chaos run.

Starts its own supervised stack on loopback (see ``tests/chaos/harness.py``), runs the load for
``--duration`` seconds while faults of all five kinds are injected (one every 6-12 s), waits for
every fit to end, reruns every finished fit on a fresh stack, stops everything, checks /proc and
prints the figures. Exits 1 when an invariant broke. The logs of every process are kept in
``var/chaos/<seed>/``. Not part of ``make test``; ``tests/chaos/test_chaos.py`` is the short
version that is.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys

import devstack
from tests.chaos.harness import Settings, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load (300)")
    parser.add_argument("--seed", type=int, default=None, help="the faults' and load's seed")
    parser.add_argument("--clients", type=int, default=6, help="client threads (default 6)")
    parser.add_argument("--workers", type=int, default=2, help="RQ workers (default 2)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    settings = Settings(
        duration=args.duration, seed=seed, clients=args.clients, workers=args.workers
    )
    logs = devstack.ROOT / "var" / "chaos" / str(seed)
    shutil.rmtree(logs, ignore_errors=True)
    report = run(settings, logs)
    report.print()
    return 1 if report.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
