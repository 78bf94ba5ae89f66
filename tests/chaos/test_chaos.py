"""The short chaos run inside ``make test``: 24 s of load with one fault of each of the
five kinds, then the invariants of the full run (``make chaos``; see ``harness.py``), except
that it reruns 12 of the finished fits (every one a kill hit, then a seeded sample), not all.

The seed is random and printed (``-s``) and named in every failure; ``MIXFIT_CHAOS_SEED`` fixes
it. Nothing here asserts a time: every wait is a generous deadline.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from tests.chaos.harness import KINDS, Settings, run


def test_a_short_chaos_run_loses_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("MIXFIT_CHAOS_SEED") or random.randrange(1 << 31))
    report = run(Settings.short(seed), tmp_path)
    report.print()
    assert sorted({fault.kind for fault in report.faults}) == sorted(KINDS), seed
    assert report.accepted, seed
    assert not report.problems(), f"seed {seed}: " + "\n".join(report.problems())
