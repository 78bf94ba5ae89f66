"""Scoring: log-density, component, p-values from the stored training quantiles, anomalies."""

import numpy as np
import pytest
from scipy import stats

import mixfit
from mixfit import FitError
from mixfit.fit import EXACT_REFERENCE_MAX

from .conftest import blobs, simulate


@pytest.fixture(scope="module")
def fitted() -> mixfit.FitResult:
    return mixfit.fit(simulate(1000), k=2, seed=0)


def test_log_density_matches_the_mixture(fitted):
    p = fitted.model.params
    points = np.array([-2.0, 0.0, 2.0, 4.0, 9.0])
    expected = np.log(
        sum(
            w * stats.norm(m, s).pdf(points)
            for w, m, s in zip(p.weights, p.means, p.sds, strict=True)
        )
    )
    got = mixfit.score(fitted.model, points, responsibilities=True)
    np.testing.assert_allclose(got.log_density, expected, rtol=1e-12)
    np.testing.assert_allclose(np.sum(got.responsibilities, axis=1), 1.0)
    assert got.component == list(np.argmax(got.responsibilities, axis=1))


def test_p_values_are_the_share_of_training_points_at_or_below(fitted):
    x = simulate(1000)
    train = np.asarray(mixfit.score(fitted.model, x).log_density)
    probe = np.array([-30.0, -5.0, 1.0, 3.5, 12.0])
    got = mixfit.score(fitted.model, probe)
    expected = [(train <= v).mean() for v in got.log_density]
    np.testing.assert_allclose(got.p_value, expected, atol=1e-12)
    assert got.is_anomaly == [p < 0.01 for p in got.p_value]
    assert got.is_anomaly[0] and got.is_anomaly[-1] and not got.is_anomaly[3]
    assert got.n_anomalies == sum(got.is_anomaly)


def test_large_training_sets_keep_quantiles_with_a_dense_lower_tail():
    x = simulate(EXACT_REFERENCE_MAX * 4, seed=1)
    result = mixfit.fit(x, k=2, n_starts=2, seed=0)
    ref = result.model.reference
    assert not ref.exact and len(ref.values) <= 2048
    train = np.asarray(mixfit.score(result.model, x).log_density)
    ranks = (np.array([0.0005, 0.001, 0.01, 0.05, 0.5, 0.9]) * x.size).astype(int)
    probe = x[np.argsort(train)[ranks]]
    got = mixfit.score(result.model, probe)
    expected = [(train <= v).mean() for v in got.log_density]
    np.testing.assert_allclose(got.p_value, expected, atol=2e-3)
    np.testing.assert_allclose(got.p_value[:3], expected[:3], rtol=0.1)


def test_anomaly_rate_on_fresh_data_is_about_alpha(fitted):
    fresh = simulate(20000, seed=9)
    rate = mixfit.score(fitted.model, fresh, alpha=0.05).n_anomalies / fresh.size
    assert 0.03 < rate < 0.07


def test_d_dimensional_scoring_and_dimension_check():
    X = blobs(400, 2, 2)
    result = mixfit.fit(X, k=2, seed=0)
    got = mixfit.score(result.model, X[:5])
    assert len(got.log_density) == 5 and all(np.isfinite(got.log_density))
    with pytest.raises(FitError, match="dimension"):
        mixfit.score(result.model, np.ones((3, 3)))


def test_far_points_are_finite_and_anomalous(fitted):
    got = mixfit.score(fitted.model, [1e150, -1e150])
    assert all(np.isfinite(got.log_density)) and all(got.is_anomaly)


def test_bad_points_and_alpha(fitted):
    with pytest.raises(FitError, match="NaN"):
        mixfit.score(fitted.model, [1.0, float("nan")])
    with pytest.raises(FitError, match="alpha"):
        mixfit.score(fitted.model, [1.0], alpha=1.5)


def test_beta_scoring_respects_the_support():
    x = np.random.default_rng(0).beta(2, 5, 500)
    result = mixfit.fit(x, family="beta", k=1)
    with pytest.raises(FitError, match="outside"):
        mixfit.score(result.model, [0.5, 1.5])
    with pytest.raises(FitError, match="exactly 0 or 1") as refused:
        mixfit.score(result.model, [0.0])
    # a score request has no boundary option: the advice is about the model's fit
    assert "the model was fitted with boundary='reject'" in str(refused.value)
    assert "send boundary" not in str(refused.value)
    squeezed = mixfit.fit(x, family="beta", k=1, boundary="squeeze")
    assert mixfit.score(squeezed.model, [0.0]).log_density[0] < -1


def test_model_json_form_scores_the_same(fitted):
    as_json = fitted.model.model_dump(mode="json")
    assert mixfit.score(as_json, [0.5]) == mixfit.score(fitted.model, [0.5])
