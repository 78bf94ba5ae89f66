"""The scikit-learn estimators (``mixfit.estimators``): scikit-learn's own estimator checks,
agreement with ``sklearn.mixture.GaussianMixture`` and with ``mixfit.fit``, pipelines and grid
search, warm starts, anomalies and sampling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import mixfit
from mixfit.estimators import (
    BetaMixture,
    GammaMixture,
    GaussianMixture,
    LognormalMixture,
    PoissonMixture,
    StudentTMixture,
)

# BetaMixture fits one feature with values in (0, 1); PoissonMixture, GammaMixture and
# LognormalMixture one feature of counts or positive values. These checks fit every estimator on
# several columns of normal or uniform-on-(0, 10) data, which none of them can take; each one
# fails with "a ... mixture is fitted to one feature" or a value outside the support (the same
# ValueError a user gets). The remaining checks (parameters, cloning, 1-D and sparse input,
# NaN in fit, empty data, ...) run. StudentTMixture, like GaussianMixture, passes every check.
ONE_FEATURE_OUT_OF_SUPPORT = (
    "check_fit_score_takes_y",
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit",
    "check_estimators_dtypes",
    "check_dtype_object",
    "check_pipeline_consistency",
    "check_estimators_nan_inf",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_fit2d_1feature",
    "check_dict_unchanged",
    "check_fit_idempotent",
    "check_fit_check_is_fitted",
    "check_n_features_in",
    "check_fit2d_predict1d",
)


SUPPORT = {
    BetaMixture: "in (0, 1)",
    PoissonMixture: "of counts",
    GammaMixture: "of positive values",
    LognormalMixture: "of positive values",
}


def _expected_failures(estimator) -> dict[str, str]:
    support = SUPPORT.get(type(estimator))
    if support is None:
        return {}
    reason = f"fits one feature {support}; the check's data have several columns or lie outside"
    failures = dict.fromkeys(ONE_FEATURE_OUT_OF_SUPPORT, reason)
    if isinstance(estimator, PoissonMixture):  # its one feature of floats: not counts
        failures["check_fit2d_1feature"] = "fits counts; the check's one feature is not integers"
    elif isinstance(estimator, GammaMixture | LognormalMixture):
        del failures["check_fit2d_1feature"]  # one feature uniform on (0, 1): positive, fitted
    return failures


@parametrize_with_checks(
    [
        GaussianMixture(n_components=range(1, 3), covariance_type="diag", n_init=3),
        BetaMixture(),
        PoissonMixture(),
        GammaMixture(),
        LognormalMixture(),
        StudentTMixture(n_init=3),
    ],
    expected_failed_checks=_expected_failures,
)
def test_scikit_learn_estimator_checks(estimator, check) -> None:
    check(estimator)


def _blobs(n: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 6.0]])
    labels = rng.integers(0, 3, n)
    return centers[labels] + rng.normal(0.0, [1.0, 0.7], (n, 2))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_attributes_are_shaped_like_scikit_learns_and_the_maximum_is_no_worse(covariance_type):
    X = _blobs()
    ours = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    theirs = SkGaussianMixture(
        3, covariance_type=covariance_type, n_init=10, tol=1e-8, random_state=0
    ).fit(X)
    for name in ("weights_", "means_", "covariances_"):
        assert getattr(ours, name).shape == getattr(theirs, name).shape, name
    assert ours.converged_ and ours.n_iter_ >= 1
    n = X.shape[0]
    assert ours.score(X) * n >= theirs.score(X) * n - 1e-6 * n
    assert ours.lower_bound_ == pytest.approx(ours.score(X), rel=1e-10)
    # mixfit's n_params is scikit-learn's _n_parameters: equal BIC convention
    assert ours.bic(X) == pytest.approx(-2 * ours.score(X) * n + theirs._n_parameters() * np.log(n))
    assert ours.aic(X) == pytest.approx(-2 * ours.score(X) * n + 2 * theirs._n_parameters())


def test_the_estimator_is_mixfit_fit_and_a_range_of_k_is_selected_by_bic() -> None:
    X = _blobs()
    est = GaussianMixture(range(1, 6), random_state=7).fit(X)
    seed = int(np.random.RandomState(7).randint(np.iinfo(np.int32).max))
    direct = mixfit.fit(X, k=[1, 2, 3, 4, 5], seed=seed, covariance="full")
    assert est.n_components_ == direct.k_selected == 3
    assert est.result_.model == direct.model
    bics = {r.k: r.bic for r in est.result_.results}
    assert min(bics, key=bics.get) == 3
    resp = est.predict_proba(X)
    assert resp.shape == (len(X), 3)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0)
    np.testing.assert_array_equal(est.predict(X), resp.argmax(axis=1))
    np.testing.assert_allclose(
        est.score_samples(X[:5]), mixfit.score(est.model_, X[:5]).log_density
    )


def test_pipeline_and_grid_search_over_n_components() -> None:
    X = _blobs(450, seed=3)
    pipe = Pipeline([("scale", StandardScaler()), ("mixture", GaussianMixture(random_state=0))])
    search = GridSearchCV(pipe, {"mixture__n_components": [1, 2, 3, 4]}, cv=3).fit(X)
    assert search.best_params_ == {"mixture__n_components": 3}
    held_out = _blobs(100, seed=4)
    assert search.score(held_out) == pytest.approx(search.best_estimator_.score(held_out))
    assert search.predict(held_out).shape == (100,)


def test_warm_start_continues_from_the_last_fit_with_one_start() -> None:
    X = _blobs()
    est = GaussianMixture(3, warm_start=True, random_state=0).fit(X)
    first = est.lower_bound_
    starts = est.result_.results[0].starts  # 10, then K = 3's split-and-merge moves
    assert [s.start for s in starts[:10]] == list(range(10))
    assert all(s.init.startswith("smem") for s in starts[10:])
    est.fit(X[:250])  # more data arrives, say: continue from where the last fit ended
    (k_result,) = est.result_.results
    assert [s.init for s in k_result.starts] == ["explicit"]
    previous = mixfit.score(est.result_.model, X[:250])  # the warm fit's own end, then:
    assert k_result.starts[0].trace[0] <= k_result.loglik
    assert k_result.loglik == pytest.approx(sum(previous.log_density), rel=1e-9)
    assert first != est.lower_bound_
    est.set_params(n_components=2)  # another K: a cold start again
    assert len(est.fit(X).result_.results[0].starts) == 10


def test_an_unconverged_fit_warns_like_scikit_learn() -> None:
    X = _blobs()
    start = {
        "weights": [0.5, 0.5],
        "means": [[0.0, 0.0], [0.1, 0.1]],
        "covariances": [np.eye(2).tolist()] * 2,
    }
    est = GaussianMixture(2, init_params=start, max_iter=2, accelerate=False)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        est.fit(X)
    assert not est.converged_ and est.n_iter_ == 2


def test_scikit_learn_start_names_are_understood() -> None:
    X = _blobs(120)
    for name, ours in (("k-means++", "kmeans++"), ("random_from_data", "random")):
        est = GaussianMixture(2, init_params=name, n_init=2, random_state=0).fit(X)
        assert {s.init for s in est.result_.results[0].starts} == {ours}
    with pytest.raises(ValueError, match="init"):
        GaussianMixture(2, init_params="nonsense").fit(X)
    with pytest.raises(ValueError, match="n_components"):
        GaussianMixture(n_components="three").fit(X)


def test_beta_mixture_fits_scores_anomalies_and_samples() -> None:
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.beta(2, 8, 400), rng.beta(9, 2, 600)])[:, None]
    est = BetaMixture(range(1, 4), random_state=0).fit(x)
    assert est.n_components_ == 2
    order = np.argsort(est.means_[:, 0])
    np.testing.assert_allclose(est.weights_[order], [0.4, 0.6], atol=0.05)
    np.testing.assert_allclose(est.means_[order, 0], [0.2, 9 / 11], atol=0.03)
    flags = est.is_anomaly(np.array([[0.85], [0.2], [1e-9]]), alpha=0.01)
    assert flags.tolist() == [False, False, True]
    p = est.p_value(np.array([[1e-9], [0.01], [0.2]]))
    assert p[0] == 0.0 and np.all(np.diff(p) >= 0) and p[2] > 0.1
    draws, labels = est.sample(2000)
    assert draws.shape == (2000, 1) and labels.shape == (2000,)
    assert np.all((draws > 0) & (draws < 1))
    assert np.mean(labels == order[1]) == pytest.approx(est.weights_[order[1]], abs=0.04)
    with pytest.raises(ValueError, match="one feature"):
        BetaMixture().fit(rng.uniform(0.1, 0.9, (50, 2)))
    with pytest.raises(ValueError, match="outside"):
        BetaMixture().fit(np.array([[0.2], [0.5], [1.5]]))


def _two_groups(family: str) -> np.ndarray:
    rng = np.random.default_rng(11)
    if family == "poisson":
        return np.concatenate([rng.poisson(2.0, 300), rng.poisson(15.0, 200)]).astype(float)
    if family in ("gamma", "lognormal"):
        return np.concatenate([rng.gamma(20.0, 0.05, 300), rng.gamma(30.0, 0.2, 200)])
    return np.concatenate([rng.standard_t(4, 300), rng.normal(8.0, 1.0, 200)])  # student_t


NEWER = [
    (PoissonMixture, "poisson", ("lambdas_",)),
    (GammaMixture, "gamma", ("shapes_", "rates_")),
    (LognormalMixture, "lognormal", ("meanlogs_", "sdlogs_")),
    (StudentTMixture, "student_t", ("scales_", "dfs_")),
]


@pytest.mark.parametrize(("cls", "family", "names"), NEWER, ids=[f for _, f, _ in NEWER])
def test_every_family_has_an_estimator_that_is_its_mixfit_fit(cls, family, names) -> None:
    """Poisson, gamma, log-normal and t estimators: the fit is ``mixfit.fit`` with the family
    (same seed, same result), K = 1..3 selected by BIC (two groups: 2), parameters named by
    the family, and the density, responsibilities and anomalies of the fitted model."""
    x = _two_groups(family)
    est = cls(range(1, 4), random_state=0).fit(x[:, None])
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    direct = mixfit.fit(x, family=family, k=[1, 2, 3], seed=seed, n_starts=10)
    assert [r.loglik for r in est.result_.results] == [r.loglik for r in direct.results]
    assert est.n_components_ == direct.k_selected == 2
    for name in names:
        assert getattr(est, name).shape[0] == 2
    assert est.means_.shape == (2, 1) and est.weights_.sum() == pytest.approx(1.0)
    points = np.array([[np.median(x)], [x.max() * 50.0]])
    np.testing.assert_allclose(
        est.score_samples(points), mixfit.score(est.model_, points[:, 0]).log_density
    )
    np.testing.assert_allclose(est.predict_proba(points).sum(axis=1), 1.0)
    assert est.is_anomaly(points).tolist() == [False, True]
    if cls is not StudentTMixture:  # one feature of counts or positive values
        with pytest.raises(ValueError, match="univariate"):
            cls().fit(np.array([[1.5, 0.5], [2.5, 1.0], [3.5, 2.0]]))
        with pytest.raises(ValueError):
            cls().fit(np.array([[-1.5], [2.5], [3.5], [4.0]]))


def test_sampling_a_gaussian_mixture_reproduces_its_moments() -> None:
    X = _blobs(600)
    est = GaussianMixture(3, random_state=0).fit(X)
    draws, labels = est.sample(20000)
    assert draws.shape == (20000, 2)
    for c in range(3):
        mine = draws[labels == c]
        assert len(mine) / 20000 == pytest.approx(est.weights_[c], abs=0.02)
        np.testing.assert_allclose(mine.mean(axis=0), est.means_[c], atol=0.05)
        np.testing.assert_allclose(np.cov(mine.T), est.covariances_[c], atol=0.08)


def test_importing_mixfit_does_not_import_scikit_learn() -> None:
    code = (
        "import sys, mixfit; mixfit.fit([0.1, 0.2, 5.0, 5.1], k=1); print('sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_readme_snippet_runs(capsys) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    marker = "<!-- snippet: tests/core/test_estimators.py::test_the_readme_snippet_runs -->"
    code = readme.split(marker, 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("2 ") and lines[0].endswith("[False  True]")
    assert lines[-1] == "{'mixture__n_components': 2}"
