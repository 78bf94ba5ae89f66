"""The core benchmarks before the best-mixture work (issue 9) and now, side by side in one run.

Issue 9 added the start portfolio, short-EM screening, the K-1 split start and the
split-and-merge moves; its bar is "the core benchmarks at most 1.5x slower than before". The
core as it was (commit ``BEFORE``, the last one before that work) is taken from git history
with ``git archive`` into a temporary folder, and each line is timed in fresh processes, old and
new alternating, the best of ``REPEATS`` each. Both use this checkout's numpy and scipy, so the
ratio is the code's alone. Skipped with a message where there is no git history (a tarball).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BEFORE = "7257bd3e930189b980585ae446e2b17a36c7ad1d"
REPEATS = 3
CASES = {
    "1-D, K=2, n=1e5, 10 starts, tol 1e-3/sample": ("simulate", 100_000, 2),
    "1-D, K=2, n=1e6, 10 starts, tol 1e-3/sample": ("simulate", 1_000_000, 2),
    "d=10, K=5, n=1e5, full, 10 starts": ("blobs", 100_000, 5),
}

# Runs in a fresh interpreter with the core to time first on sys.path.
TIMER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import mixfit
assert mixfit.__file__.startswith(sys.argv[1]), mixfit.__file__
sys.path.insert(1, sys.argv[2])
from tests.benchmarks.core import blobs, simulate
maker, n, k = json.loads(sys.argv[3])
X = simulate(n) if maker == "simulate" else blobs(n, 10, k)
options = dict(k=k, n_starts=10, tol=1e-3, tol_type="per_sample", max_iter=100, seed=0,
               covariance="full")
start = time.perf_counter()
ll = mixfit.fit(X, **options).results[0].loglik
print(json.dumps([time.perf_counter() - start, ll]))
"""


def _old_core(into: Path) -> bool:
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", BEFORE, "mixfit"],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return True


def _time(core: Path, case: tuple) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", TIMER, str(core), str(ROOT), json.dumps(case)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    seconds, ll = json.loads(out.strip().splitlines()[-1])
    return seconds, ll


def main() -> list[dict]:
    print(
        f"\n## Core before issue 9 (commit {BEFORE[:7]}) and now, fresh processes, best of "
        f"{REPEATS}\n"
    )
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp)
        if not _old_core(old):
            print("skipped: no git history here to take the old core from")
            return rows
        print("| case | before | now | now / before | LL now - LL before |")
        print("|---|---|---|---|---|")
        for name, case in CASES.items():
            before, now = [], []
            for _ in range(REPEATS):
                before.append(_time(old, case))
                now.append(_time(ROOT, case))
            t_old, t_new = min(t for t, _ in before), min(t for t, _ in now)
            gap = now[0][1] - before[0][1]
            print(
                f"| {name} | {t_old:.3f} s | {t_new:.3f} s | **{t_new / t_old:.2f}x** | "
                f"{gap:+.3g} |"
            )
            rows.append({"name": f"before/after {name}", "ratio": t_new / t_old})
    return rows


if __name__ == "__main__":
    main()
