"""The default fit against scikit-learn on scikit-learn's own bundled data sets (``make validate``).

None of these sets is in the R fixtures: wine (n = 178, d = 13, columns from 0.1 to 1,680) raw
and standardized, the first ten columns of breast cancer (n = 569), diabetes (n = 442, d = 10),
linnerud's six columns (n = 20) and iris's petal measurements (d = 2, heavy ties), at the four
covariance types and K = 1..6: 144 cells, computed live (scikit-learn is a test dependency).

The peer is scikit-learn's ``GaussianMixture`` with its three data-driven start strategies
(``kmeans``, ``k-means++``, ``random_from_data``), ten starts each, run to tol 1e-8 with
``reg_covar`` 1e-9 of the smallest column variance so that no covariance is held up by it. Its
best solution that is not degenerate is the bar, and mixfit's default fit (seed 0) must reach it
- 1e-6 n. Degenerate here: a component with less than one point's weight (less than d + 1 with a
full covariance) or a covariance eigenvalue below 1e-5 of the smallest column variance. Such
solutions are what scikit-learn reports as its best on wine with full covariances (standardized,
K = 3: a component on 2 points, an eigenvalue at ``reg_covar``); mixfit counts them degenerate.
Where the peer has an admissible solution, mixfit must not refuse the K.

Measured on 2026-12-02 while writing it: 139 of the 144 cells passed, the five others all tied
covariances on small data in many dimensions, where a shared covariance lets components of 1
to 9 points stand and the surface holds many maxima a few units apart. Seeds 0..4 reached the
peer's best in 8 of those 25 (cell, seed) pairs. Keeping the best candidate of every start
method to at most half the starts (``screen._rank``) changed nothing (8 of 25 again); more
split-and-merge moves where they are cheap (``smem.move_count``: up to 100 on small data in
d > 1, where K (K - 1) gave 10 to 30) took it to 15 of 25, and 141 cells pass. The three left
(``MISSES``, with what was measured): scikit-learn's 30 starts reach a better maximum than
mixfit's seed 0 there; mixfit is above the peer's ``kmeans`` strategy alone (scikit-learn's
default init, ten starts) in all three. On linnerud tied K = 4 the peer's best comes from
scikit-learn's k-means++ start (means on the seeds, a covariance from uncentered second
moments, so not invariant to where the data sit): EM from those very starts reaches it in
mixfit too (57 of 60 starts end where scikit-learn's do).
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pytest

import mixfit

COVARIANCES = ("full", "diag", "tied", "spherical")
KS = range(1, 7)
STRATEGIES = ("kmeans", "k-means++", "random_from_data")


@cache
def _data(name: str) -> np.ndarray:
    from sklearn import datasets

    if name in ("wine", "wine_std"):
        X = datasets.load_wine().data
        return (X - X.mean(axis=0)) / X.std(axis=0) if name == "wine_std" else X
    if name == "breast_cancer_10":
        return datasets.load_breast_cancer().data[:, :10]
    if name == "diabetes":
        return datasets.load_diabetes().data
    if name == "linnerud":
        bunch = datasets.load_linnerud()
        return np.hstack([bunch.data, bunch.target])
    assert name == "iris_petals"
    return datasets.load_iris().data[:, 2:]


SETS = ("wine", "wine_std", "breast_cancer_10", "diabetes", "linnerud", "iris_petals")
# Cells where the peer's best beats mixfit's seed 0, with what was measured (seeds 0..4; the
# peer's kmeans strategy is scikit-learn's default init). Not strict: finding them passes them.
MISSES = {
    "wine_std-tied-6": "peer -2289.77 (k-means++, components of 5 and 9 points); seeds 0..4: "
    "-2292.29, -2289.77 three times, -2292.29; its kmeans strategy alone -2294.75",
    "wine-tied-6": "peer -3022.14 (k-means++; -3019.62 under its random_state 1 and 2); seeds "
    "0..4: -3023.02, -3019.62, -3019.62, -3023.44, -3019.62; its kmeans strategy alone -3045.26",
    "linnerud-tied-4": "n = 20, d = 6; peer -404.98 (k-means++: components of 1, 4, 5, 10 "
    "points); seeds 0..4: -411.12, -405.87, -405.87, -411.12, -405.87; its kmeans strategy "
    "alone -421.70",
}


def _cells() -> list:
    cells = []
    for name in SETS:
        for covariance in COVARIANCES:
            for k in KS:
                label = f"{name}-{covariance}-{k}"
                marks = [pytest.mark.validate]
                if label in MISSES:
                    marks.append(pytest.mark.xfail(reason=MISSES[label], strict=False))
                cells.append(pytest.param(name, covariance, k, id=label, marks=marks))
    return cells


def _admissible(gm, X: np.ndarray, covariance: str) -> bool:
    n, d = X.shape
    points = gm.weights_ * n
    if points.min() < (d + 1 if covariance == "full" else 1.0):
        return False
    c = gm.covariances_
    if covariance == "full":
        smallest = min(np.linalg.eigvalsh(ci).min() for ci in c)
    elif covariance == "tied":
        smallest = np.linalg.eigvalsh(c).min()
    else:
        smallest = np.min(c)
    return bool(smallest >= 1e-5 * X.var(axis=0).min())


def _peer_best(X: np.ndarray, covariance: str, k: int) -> float | None:
    from sklearn.mixture import GaussianMixture

    n = X.shape[0]
    best = None
    for init in STRATEGIES:
        gm = GaussianMixture(
            k,
            covariance_type=covariance,
            n_init=10,
            init_params=init,
            random_state=0,
            reg_covar=1e-9 * X.var(axis=0).min(),
            tol=1e-8,
            max_iter=2000,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning
            try:
                gm.fit(X)
            except ValueError:  # a covariance scikit-learn cannot factor: no solution
                continue
        if _admissible(gm, X, covariance):
            ll = float(gm.score(X) * n)
            best = ll if best is None else max(best, ll)
    return best


@pytest.mark.parametrize(("name", "covariance", "k"), _cells())
def test_default_fit_reaches_scikit_learns_best_admissible(name, covariance, k):
    X = _data(name)
    bar = _peer_best(X, covariance, k)
    try:
        r = mixfit.fit(X, k=k, covariance=covariance, seed=0).results[0]
    except mixfit.FitError as error:
        assert bar is None, f"refused a K the peer fits admissibly ({bar:.3f}): {error}"
        return
    if bar is None:
        return  # nothing admissible to compare with; a fit or a refusal are both answers
    assert r.status == "ok", f"refused a K the peer fits admissibly ({bar:.3f}): {r.message}"
    assert r.loglik >= bar - 1e-6 * X.shape[0], f"mixfit {r.loglik:.4f} < peer {bar:.4f}"


@pytest.mark.validate
def test_digits_on_eight_principal_components_reach_the_rare_maximum():
    """scikit-learn's digits projected on their first 8 principal components (n = 1,797), full
    covariances, K = 4: the best maximum (-49139.98) is reached by 2 of 40 single k-means++
    starts, and mixfit's seed 0 stopped 63.5 below it with K (K - 1) = 12 moves (36 under the
    first budget). Up to 100 moves on data the moves are told apart on whole (``smem``) reach it."""
    from sklearn import datasets

    D = datasets.load_digits().data
    D = D - D.mean(axis=0)
    X = D @ np.linalg.svd(D, full_matrices=False)[2][:8].T
    bar = _peer_best(X, "full", 4)
    assert bar is not None and bar == pytest.approx(-49139.98, abs=0.01)
    few = mixfit.fit(X, k=4, covariance="full", seed=0, split_merge=12).results[0]
    assert few.loglik < bar - 50.0
    r = mixfit.fit(X, k=4, covariance="full", seed=0).results[0]
    assert r.loglik >= bar - 1e-6 * X.shape[0]
