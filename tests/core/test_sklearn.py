"""d-dimensional fits against scikit-learn's GaussianMixture (a test-only dependency)."""

import pytest
from sklearn.mixture import GaussianMixture

import mixfit

from .conftest import blobs


@pytest.mark.parametrize("covariance", ["full", "diag", "spherical", "tied"])
@pytest.mark.parametrize(("d", "k"), [(2, 3), (5, 4)])
def test_loglik_at_least_scikit_learns_best(covariance, d, k):
    X = blobs(800, d, k, seed=d + k)
    n = X.shape[0]
    gm = GaussianMixture(
        k, covariance_type=covariance, n_init=10, tol=1e-6, max_iter=500, random_state=0
    ).fit(X)
    theirs = gm.score(X) * n
    ours = mixfit.fit(
        X,
        k=k,
        covariance=covariance,
        n_starts=10,
        tol=1e-6 / n * n,
        tol_type="per_sample",
        max_iter=500,
        seed=0,
    ).results[0]
    assert ours.loglik >= theirs - 1e-6 * n
    assert ours.converged


@pytest.mark.parametrize(("covariance", "k"), [("full", 2), ("diag", 3), ("tied", 2)])
def test_thirty_dimensions_reach_scikit_learns_best(covariance, k):
    """scikit-learn's breast-cancer data (n=569, d=30, columns from 1e-3 to 4e3): once refused
    by a cap of 16 dimensions; the default fit reaches scikit-learn's best of 10 k-means
    starts run to tol 1e-8 (reg_covar 1e-9, so its covariances are not held up)."""
    from sklearn.datasets import load_breast_cancer

    X = load_breast_cancer().data
    gm = GaussianMixture(
        k,
        covariance_type=covariance,
        n_init=10,
        tol=1e-8,
        max_iter=2000,
        reg_covar=1e-9,
        random_state=0,
    ).fit(X)
    theirs = gm.score(X) * len(X)
    ours = mixfit.fit(X, k=k, covariance=covariance, seed=0).results[0]
    assert ours.loglik >= theirs - 1e-6 * len(X)
