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
