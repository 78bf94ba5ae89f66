"""How often the default fit misses a reference maximum, with a given number of split-and-merge
moves: the figures of the README's split-and-merge paragraph and of ``mixfit.smem.move_count``.

    python -m tests.benchmarks.moves_sweep --grid high_k --seeds 0,1,2,3,4
    python -m tests.benchmarks.moves_sweep --grid peers --seeds 0,1,2,3,4 --split-merge 10

``high_k``: mclust at K = 6..9 on 35 R data sets (``tests/fixtures/high_k``); ``peers``: the best
non-degenerate peer at K = 3..6 (``tests/fixtures/peers``; the moves start at K = 3). One fit
per (cell, seed); a miss is a log-likelihood below the reference - 1e-6 n. Prints every miss,
then the count and the seconds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import mixfit
from tests.core.test_mclust_more import COVARIANCE as MCLUST_MODELS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
COVARIANCE = {**MCLUST_MODELS, "free": "full"}  # and the peers' 1-D free variances


def cells(grid: str) -> list[tuple[str, np.ndarray, str, int, float]]:
    """(name, points, covariance, K, reference log-likelihood) of a grid."""
    out = []
    if grid == "high_k":
        doc = json.loads((FIXTURES / "high_k" / "mclust_high_k.json").read_text())
        for name, entry in doc["datasets"].items():
            x = np.asarray(json.loads((FIXTURES / entry["points"]).read_text())["x"], float)
            for model, lls in entry["loglik"].items():
                out += [
                    (name, x, COVARIANCE[model], k, ll)
                    for k, ll in zip(doc["k"], lls, strict=True)
                    if ll is not None
                ]
        return out
    for path in sorted((FIXTURES / "peers").glob("gaussian_*.json")):
        doc = json.loads(path.read_text())
        x = np.asarray(doc["x"], float)
        for cell in doc["cells"]:
            ll = cell.get("best_nondegenerate_loglik")
            if cell["k"] >= 3 and ll is not None:
                cov = COVARIANCE.get(cell["covariance"], cell["covariance"])
                out.append((doc["dataset"], x, cov, cell["k"], ll))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", choices=["high_k", "peers"], default="high_k")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--split-merge", type=int, default=None, help="default: the fit's own")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    start, misses, fits = time.perf_counter(), 0, 0
    for name, x, cov, k, ref in cells(args.grid):
        n = x.shape[0]
        for seed in seeds:
            try:
                r = mixfit.fit(x, k=k, covariance=cov, seed=seed, split_merge=args.split_merge)
                ll = r.results[0].loglik
            except mixfit.FitError:
                ll = None
            fits += 1
            if ll is None or ll < ref - 1e-6 * n:
                misses += 1
                print(f"miss: {name} {cov} K={k} seed {seed}: {ll} against {ref}", flush=True)
    seconds = time.perf_counter() - start
    print(
        f"{args.grid}, split_merge={args.split_merge}, seeds {args.seeds}: {misses} of {fits} "
        f"fits missed, {seconds:.0f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
