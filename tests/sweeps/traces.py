"""Every start's log-likelihood trace over the fixtures' data sets (the README's table under
"Acceleration"): ``python -m tests.sweeps.traces SEED [PART PARTS]``.

Fits K = 1..4 of every fixture data set of at most 1,500 rows and 6 columns under every family
that fits it (``tests.sweeps.grids.families``), with the defaults and seed SEED, and counts the
starts whose trace falls by more than ``DECREASE_NOISE`` of its size, by what their
``ll_decrease`` event names: rounding, a floor's lift, SQUAREM's allowance, or nothing (a
defect). PART of PARTS splits the data sets between processes (two on two cores take about
5.5 minutes each)."""

from __future__ import annotations

import sys
import time
from collections import Counter

import numpy as np

from .common import core, data_sets
from .grids import families

CAUSES = {
    "within what rounding": "rounding",
    "where a floor lifted": "floor",
    "within SQUAREM's allowance": "allowance",
}


def cause(detail: str | None) -> str:
    if detail is None:
        return "no event"
    return next((name for words, name in CAUSES.items() if words in detail), "unexplained")


def falls(result) -> list[tuple[int, int, float, str | None]]:
    """Every fall of a fit's traces by more than ``DECREASE_NOISE`` of the trace's size:
    (K, start, fall, the detail of its ``ll_decrease`` event or None where there is none)."""
    from mixfit.em import DECREASE_NOISE

    out = []
    for r in result.results:
        for start in r.starts:
            trace = np.asarray(start.trace, dtype=float)
            size = 1.0 + np.abs(trace).max(initial=0.0)
            for j in np.flatnonzero(np.diff(trace) < -DECREASE_NOISE * size):
                detail = next(
                    (
                        e.detail
                        for e in start.events
                        if e.kind == "ll_decrease" and e.iteration == j + 1
                    ),
                    None,
                )
                out.append((r.k, start.start, float(trace[j] - trace[j + 1]), detail))
    return out


def main(argv: list[str]) -> Counter:
    seed = int(argv[0])
    part, parts = (int(argv[1]), int(argv[2])) if len(argv) > 2 else (0, 1)
    mixfit = core(".")
    counts: Counter = Counter()
    started = time.time()
    for i, (name, x) in enumerate(data_sets(max_rows=1500)):
        if i % parts != part or (x.ndim == 2 and x.shape[1] > 6):
            continue
        for family, options in families(x):
            try:
                result = mixfit.fit(x, family=family, k={"min": 1, "max": 4}, seed=seed, **options)
            except mixfit.FitError:
                continue
            counts["fits"] += 1
            counts["starts"] += sum(len(r.starts) for r in result.results)
            counts["trace points"] += sum(len(s.trace) for r in result.results for s in r.starts)
            for k, start, fall, detail in falls(result):
                why = cause(detail)
                counts[f"falls: {why}"] += 1
                print(name, family, options, k, start, fall, why)
    print(dict(counts), f"{time.time() - started:.0f} s")
    return counts


if __name__ == "__main__":
    main(sys.argv[1:])
