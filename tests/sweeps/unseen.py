"""Data in forms no test holds, against the fixtures' own references:
``python -m tests.sweeps.unseen gaussian|families [SEED]``.

The fixtures' data sets are the ones the search was tuned on; these are others, from the
data sets scikit-learn ships (wine, breast cancer, diabetes, digits, Linnerud: no download).
Whole, most of them are ``tests/core/test_sklearn_datasets.py``'s (``make validate``,
scikit-learn as the peer) and the breast cancer columns mclust's ``wdbc``'s
(``tests/fixtures/mclust_wide``); here they come as single columns, column subsets, logs,
a row mean and principal-component projections (``gaussian_sets``), and under the gamma,
poisson, Student t and beta families (``family_sets``).

- ``gaussian``: every covariance type, K = 1..6 in one grid per type with the defaults and seed
  SEED, against scikit-learn's ``GaussianMixture`` with each of its three start methods (ten
  starts each), judged by the peers fixtures' degeneracy rule (``make_peer_fixtures.assess``:
  a peer's solution on less than one point's worth of weight or on a covariance at its floor
  is no bar).
- ``families``: gamma, poisson and student_t, K = 1..4, against the families fixtures'
  brute force (``make_family_fixtures.brute_force``: L-BFGS-B of the whole likelihood from
  200-300 random starts, its best admissible optimum polished); beta on breast cancer's
  proportions, K = 1..4, against the peers fixtures' (``reference``).

A cell is a ``miss`` where the reference's log-likelihood is above mixfit's by more than
1e-6 n (``floor`` where that maximum is one the variance floor withholds, ``_below_floor``),
``refused`` where mixfit refused a K the reference fitted. Each row is printed as JSON;
the last line counts them. Exit status 1 when a cell outside ``KNOWN`` misses or is refused.
The gaussian part takes 8 to 12 minutes, the families part about 27 to 30 (the brute force).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from functools import cache, partial
from pathlib import Path
from types import ModuleType

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from .common import FIXTURES, core  # noqa: E402

COVARIANCES = ("full", "diag", "spherical", "tied")
# Cells a seed misses (Gaussian seeds 0..3 and 7, families seeds 0 and 1), with what was measured
# (2026-12-05; Linnerud's tied cells, whole, are ``test_sklearn_datasets.MISSES``'s).
#
# The cancer columns radius, texture, smoothness and symmetry, full K = 3 (n = 569): the best
# maximum, -5.988, holds a thin component of 19.6 points' worth (smallest eigenvalue 0.0015
# of the columns' variances).
# Seeds 0, 4 and 8 of 0..9 reach it; the rest stop at -6.771 (6) or -8.061. 13 of seed 1's 211
# candidates lead there (9 ``random``, 3 ``params``, 1 ``kmeans++``), but they crawl across a
# plateau: 42 iterations in (6 + 12 + 24, where the third round ranks them), six of them sit
# 10 to 15 below their end, gaining 0.006 to 0.6 an iteration (still 10 to 13 below at 60),
# while three of the four best kept, heading for -6.771, are within 3 of theirs; successive
# halving ranks them behind such candidates and drops the last four there.
# ``init="random"`` reaches it under 10 of 10 seeds, ``screen_iter`` 12 under 9 (1.2 times
# the time), 20 under 10 (1.6 times); a doubled ``SCREEN_BUDGET`` does not change it (the first
# round's iterations are then at their cap of 10, and the same four are dropped).
# Since screening keeps one candidate a basin in d > 1 (``mixfit.screen.Basins``, 2026-12-05)
# every seed of 0..9 but 7 reaches it, asked alone or in the K = 1..6 grid; seed 7 stops at
# -6.771 (the whole sweep was rerun under seeds 0 to 3: no miss).
#
# Wine's alcohol (n = 178, given to 0.01, 126 distinct values), Student t K = 3: both the
# brute force's best (-203.435) and seed 0's (-204.690) hold a spike, a component narrower
# than the data's step (scale 0.0068 on 3.4 points at 14.37-14.39; 0.012 on 4.1 at
# 14.21-14.23) beside two of about 85 points each; seeds 1, 2 and 4..7 of 0..7 reach the
# brute force's, seed 3 stops where seed 0 does.
KNOWN = {
    ("cancer_mean4", "full", 3): "seed 7: -6.771 against scikit-learn's -6.005",
    ("wine_alcohol", "student_t", 3): "seed 0: -204.690 against the brute force's -203.435",
}


@cache
def _script(path: Path) -> ModuleType:
    """A fixture generator imported from its file (they are scripts, not packages)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gaussian_sets() -> dict[str, np.ndarray]:
    """Name -> data (n, d), d = 1 as a column."""
    from sklearn import datasets

    wine, cancer = datasets.load_wine().data, datasets.load_breast_cancer().data
    diabetes = datasets.load_diabetes(scaled=False).data
    digits = datasets.load_digits().data
    z = (wine - wine.mean(axis=0)) / wine.std(axis=0)
    u, s, _ = np.linalg.svd(z, full_matrices=False)
    du, ds, _ = np.linalg.svd(digits - digits.mean(axis=0), full_matrices=False)
    return {
        "wine_6": wine[:, :6],
        "wine_pca3": u[:, :3] * s[:3],
        "wine_proline": wine[:, 12:13],
        "wine_alcohol": wine[:, 0:1],
        "wine_color": wine[:, 9:10],
        "cancer_mean4": cancer[:, [0, 1, 4, 8]],
        "cancer_log_area": np.log(cancer[:, 3:4]),
        "cancer_texture": cancer[:, 1:2],
        "diabetes_bmi_bp_s5": diabetes[:, [2, 3, 8]],
        "diabetes_age": diabetes[:, 0:1],
        "diabetes_s1_s2": diabetes[:, [4, 5]],
        # digits (n = 1,797) on 3 and 5 principal components (test_sklearn_datasets has 8)
        # and each image's mean ink
        "digits_pca3": du[:, :3] * ds[:3],
        "digits_pca5": du[:, :5] * ds[:5],
        "digits_mean_ink": digits.mean(axis=1, keepdims=True),
    }


def family_sets() -> dict[str, dict[str, np.ndarray]]:
    """Family -> name -> data (n,)."""
    from sklearn import datasets

    wine, cancer = datasets.load_wine().data, datasets.load_breast_cancer().data
    diabetes = datasets.load_diabetes(scaled=False).data
    linnerud = datasets.load_linnerud().data.astype(float)
    rng = np.random.default_rng(7)
    counts = np.r_[rng.poisson(2, 150), rng.poisson(9, 100), rng.poisson(25, 50)]
    return {
        "gamma": {
            "wine_magnesium": wine[:, 4],
            "wine_proline": wine[:, 12],
            "cancer_area": cancer[:, 3],
            "diabetes_age": diabetes[:, 0],
            "diabetes_s5": diabetes[:, 8],
            "cancer_concavity": cancer[:, 6][cancer[:, 6] > 0],
        },
        "poisson": {
            "linnerud_situps": linnerud[:, 1],
            "linnerud_chins": linnerud[:, 0],
            "wine_magnesium": wine[:, 4],
            "diabetes_age": diabetes[:, 0],
            "simulated_counts": counts.astype(float),
        },
        "student_t": {
            "wine_alcohol": wine[:, 0],
            "wine_color": wine[:, 9],
            "cancer_texture": cancer[:, 1],
            "diabetes_bmi": diabetes[:, 2],
            "cancer_log_area": np.log(cancer[:, 3]),
        },
        # breast cancer's measures that are proportions in (0, 1), none at 0 or 1
        "beta": {
            "cancer_smoothness": cancer[:, 4],
            "cancer_compactness": cancer[:, 5],
            "cancer_symmetry": cancer[:, 8],
            "cancer_fractal_dimension": cancer[:, 9],
            "cancer_worst_smoothness": cancer[:, 24],
            "cancer_worst_symmetry": cancer[:, 28],
        },
    }


def verdict(n: int, mine: float | None, reference: float | None) -> str:
    """``miss``, ``refused`` or ``""`` for one cell of n points."""
    if reference is None:
        return ""
    if mine is None:
        return "refused"
    return "miss" if reference - mine > 1e-6 * n else ""


def _peer(peers: ModuleType, X: np.ndarray, k: int, label: str, method: str) -> dict | None:
    """scikit-learn's solution, or None where its fit fails (its "ill-defined empirical
    covariance" on a component of tied points, as in Ecdat's Forward rates): no bar then."""
    try:
        return peers.sklearn_peer(X, k, label, method)
    except ValueError:
        return None


def gaussian_rows(
    mixfit: ModuleType,
    name: str,
    X: np.ndarray,
    seed: int,
    covariances: tuple[str, ...] | None = None,
    ks: range = range(1, 7),
) -> list[dict]:
    """One row per covariance type (every one, in 1-D ``full`` and ``tied``) and K of ``ks``."""
    peers = _script(FIXTURES / "peers" / "make_peer_fixtures.py")
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    rows = []
    for covariance in covariances or (COVARIANCES if d > 1 else ("full", "tied")):
        result = mixfit.fit(X if d > 1 else X[:, 0], k=list(ks), covariance=covariance, seed=seed)
        # the peers fixtures name 1-D free variances "free"
        label = covariance if d > 1 or covariance == "tied" else "free"
        for r in result.results:
            found = [
                (p["loglik"], method)
                for method in peers.SKLEARN_INITS
                for p in [_peer(peers, X, r.k, label, method)]
                if p is not None and not p["degenerate"] and p["loglik"] is not None
            ]
            best = max(found, default=(None, None))
            mine = r.loglik if r.status == "ok" else None
            rows.append(
                {
                    "data": name,
                    "covariance": covariance,
                    "k": r.k,
                    "n": n,
                    "mixfit": mine,
                    "reference": best[0],
                    "by": best[1],
                    "verdict": verdict(n, mine, best[0]),
                }
            )
    return rows


def reference(family: str, x: np.ndarray, k: int) -> tuple[float, dict] | None:
    """The brute force's best admissible log-likelihood of K components and its parameters
    (lists, named as mixfit names them), or None where it found none: the families fixtures'
    (``make_family_fixtures.brute_force``), and for the beta the peers fixtures'
    (``make_peer_fixtures.beta_cell``: 200 L-BFGS-B starts, the best non-degenerate optimum, a
    spike included), as ``tests/core/test_peers.py`` judges it."""
    rng = np.random.default_rng(k)
    if family == "beta":
        peers = _script(FIXTURES / "peers" / "make_peer_fixtures.py")
        try:
            cell = peers.beta_cell(x, k, rng)
        except IndexError:  # every optimum degenerate (``make_families_third.beta_fixture``)
            return None
        return cell["loglik"], cell["params"]
    brute = _script(FIXTURES / "families" / "make_family_fixtures.py")
    found = brute.brute_force(family, x, k, rng)
    if found is None:
        return None
    params = {name: np.asarray(value, dtype=float).tolist() for name, value in found[0].items()}
    return brute.scipy_loglik(family, found[0], x), params


def family_rows(mixfit: ModuleType, family: str, name: str, x: np.ndarray, seed: int) -> list:
    x = np.asarray(x, dtype=float)
    result = mixfit.fit(x, family=family, k=[1, 2, 3, 4], seed=seed)
    rows = []
    for r in result.results:
        found = reference(family, x, r.k)
        best = None if found is None else found[0]
        mine = r.loglik if r.status == "ok" else None
        judged = verdict(len(x), mine, best)
        if judged == "miss":
            judged = _below_floor(mixfit, family, x, r.k, *found) or judged
        rows.append(
            {
                "data": name,
                "family": family,
                "k": r.k,
                "n": len(x),
                "mixfit": mine,
                "reference": best,
                "by": "brute force",
                "verdict": judged,
            }
        )
    return rows


def _below_floor(
    mixfit: ModuleType, family: str, x: np.ndarray, k: int, reference: float, params: dict
) -> str | None:
    """``"floor"`` where the reference's maximum is one mixfit's variance floor withholds:
    EM with the default floor, started from the reference's parameters, does not stay there.
    The brute force's admissibility rule caps a gamma's shape, not its variance: on the cancer
    concavities' gamma K = 3 its best (800.171) has a component of 4.6 points whose variance,
    3.0e-9, is below the floor, 6.3e-9, and EM does not stay there (2026-12-05).

    Until 2026-12-05 (session of 17:30) this asked whether a fit with a floor a million times
    lower reached the reference, which a lower floor's other path can do on a spike the
    default floor holds back: plm's Crime ``prbpris`` under the gamma, K = 3, seed 1, ended at
    658.85 against the brute force's 660.87, which seeds 0 and 7 reach with the default floor,
    and was judged ``floor`` because var_floor 1e-12 reached 662.42 on a spike of shape 4e7."""
    start = mixfit.fit(x, family=family, k=k, init=params).results[0]
    held = start.status == "ok" and verdict(len(x), start.loglik, reference) == ""
    return None if held else "floor"


def main(argv: list[str]) -> int:
    part, seed = argv[0], int(argv[1]) if len(argv) > 1 else 0
    mixfit = core(".")
    if part == "gaussian":
        jobs = [
            partial(gaussian_rows, mixfit, name, X, seed) for name, X in gaussian_sets().items()
        ]
    else:
        jobs = [
            partial(family_rows, mixfit, family, name, x, seed)
            for family, sets in family_sets().items()
            for name, x in sets.items()
        ]
    start, rows = time.time(), []
    for job in jobs:
        cells = job()
        rows += cells
        for row in cells:
            print(json.dumps(row), flush=True)
    flagged = [r for r in rows if r["verdict"] in ("miss", "refused")]
    new = [
        r for r in flagged if (r["data"], r.get("covariance", r.get("family")), r["k"]) not in KNOWN
    ]
    print(
        f"{len(rows)} cells, {sum(r['verdict'] == 'miss' for r in rows)} missed, "
        f"{sum(r['verdict'] == 'refused' for r in rows)} refused, {len(new)} of them not in "
        f"KNOWN; {sum(r['verdict'] == 'floor' for r in rows)} withheld by the floor; "
        f"{time.time() - start:.0f} s"
    )
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
