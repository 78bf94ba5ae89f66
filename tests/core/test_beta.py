"""Beta mixtures: stationarity of the ML M-step, boundary policies, starts."""

import numpy as np
import pytest
from scipy.special import betaln, logsumexp

import mixfit
from mixfit import FitError
from mixfit.families.beta import newton_beta

from .conftest import beta_data


def mixture_loglik(theta: np.ndarray, x: np.ndarray, k: int) -> float:
    """theta = (k-1 free logits, k log alphas, k log betas)."""
    logits = np.concatenate([[0.0], theta[: k - 1]])
    logw = logits - logsumexp(logits)
    a, b = np.exp(theta[k - 1 : 2 * k - 1]), np.exp(theta[2 * k - 1 :])
    comp = (a[:, None] - 1) * np.log(x) + (b[:, None] - 1) * np.log1p(-x) - betaln(a, b)[:, None]
    return float(logsumexp(comp + logw[:, None], axis=0).sum())


@pytest.mark.parametrize("k", [2, 3])
def test_fit_is_a_stationary_point(k):
    x = beta_data(1500, seed=k, k=k)
    r = mixfit.fit(x, family="beta", k=k, n_starts=8, tol=1e-14, max_iter=5000, seed=1).results[0]
    assert r.converged
    p = r.params
    w = np.asarray(p.weights)
    theta = np.concatenate([np.log(w[1:] / w[0]), np.log(p.alphas), np.log(p.betas)])
    assert mixture_loglik(theta, x, k) == pytest.approx(r.loglik, rel=1e-12)
    h = 1e-5
    grad = [
        (mixture_loglik(theta + h * e, x, k) - mixture_loglik(theta - h * e, x, k)) / (2 * h)
        for e in np.eye(theta.size)
    ]
    assert np.max(np.abs(grad)) < 1e-3, grad
    assert np.max(np.abs(grad)) < 1e-6 * abs(r.loglik)


def test_newton_solves_the_likelihood_equations():
    rng = np.random.default_rng(0)
    x = rng.beta(3.0, 5.0, 200_000)
    a, b = newton_beta(
        np.array([[1.0]]),
        np.array([[1.0]]),
        np.array([[np.log(x).mean()]]),
        np.array([[np.log1p(-x).mean()]]),
        steps=20,  # from a cold start; a fit's M-steps start where the last one ended
    )
    assert a[0, 0] == pytest.approx(3.0, rel=0.02) and b[0, 0] == pytest.approx(5.0, rel=0.02)


def test_recovers_two_components():
    r = mixfit.fit(beta_data(4000), family="beta", k=2, seed=2).results[0]
    order = np.argsort(np.asarray(r.params.alphas) / (np.asarray(r.params.alphas) + r.params.betas))
    np.testing.assert_allclose(np.asarray(r.params.weights)[order], [0.35, 0.65], atol=0.03)
    np.testing.assert_allclose(np.asarray(r.params.alphas)[order], [2, 6], rtol=0.2)
    np.testing.assert_allclose(np.asarray(r.params.betas)[order], [8, 2], rtol=0.2)


def test_boundary_reject_says_how_many():
    x = np.concatenate([beta_data(100), [0.0, 1.0, 1.0]])
    with pytest.raises(FitError, match="3 point"):
        mixfit.fit(x, family="beta", k=2)


def test_values_outside_the_unit_interval_are_refused_whatever_the_policy():
    with pytest.raises(FitError, match=r"2 point\(s\) lie outside"):
        mixfit.fit(np.concatenate([beta_data(50), [-0.1, 1.5]]), family="beta", boundary="clip")


@pytest.mark.parametrize("policy", ["squeeze", "clip"])
def test_boundary_policies_move_points_inside(policy):
    x = np.concatenate([beta_data(300), [0.0, 0.0, 1.0]])
    result = mixfit.fit(x, family="beta", k=2, boundary=policy, seed=0)
    assert result.boundary_moved == 3
    assert all(np.isfinite(r.loglik) for r in result.results)
    scored = mixfit.score(result.model, [0.0, 0.5, 1.0])
    assert np.all(np.isfinite(scored.log_density))


def test_squeeze_is_smithson_verkuilen():
    x = np.array([0.0, 0.25, 0.5, 1.0] * 10)
    result = mixfit.fit(x, family="beta", k=1, boundary="squeeze")
    n = x.size
    squeezed = (x * (n - 1) + 0.5) / n
    a, b = result.model.params.alphas[0], result.model.params.betas[0]
    direct = ((a - 1) * np.log(squeezed) + (b - 1) * np.log1p(-squeezed) - betaln(a, b)).sum()
    assert result.results[0].loglik == pytest.approx(direct, rel=1e-10)


@pytest.mark.parametrize("init", ["kmeans++", "kmeans", "quantile", "random", "moments"])
def test_every_start_method(init):
    r = mixfit.fit(beta_data(600), family="beta", k=2, init=init, n_starts=4, seed=5).results[0]
    assert {s.init for s in r.starts} == {init}
    assert r.converged and np.isfinite(r.loglik)


def test_collapsing_components_are_reported():
    # Nearly constant data with a few outliers: extra components have nothing to hold.
    x = np.concatenate([np.full(200, 0.5) + np.linspace(-1e-9, 1e-9, 200), [0.1, 0.9]])
    result = mixfit.fit(x, family="beta", k=[1, 4], n_starts=3, seed=0)
    assert all(np.isfinite(r.loglik) for r in result.results if r.status == "ok")
    events = {e.kind for r in result.results for s in r.starts for e in s.events}
    assert events & {"precision_cap", "weight_collapse"}


def test_shapes_past_where_betaln_is_finite_are_no_parameter():
    """A SQUAREM extrapolation of the log shapes reached alpha = 1.35e93, beta = 1.43e83 on R's
    quakes magnitudes (beta K = 4): finite shapes whose ``betaln`` is -inf, so the E-step met
    inf - inf. The family's validity check turns such a point down (the cycle ends at its
    plain EM step instead)."""
    from mixfit.families.beta import Beta

    assert not np.isfinite(betaln(1.35e93, 1.43e83))
    a = np.array([[2.0, 1.35e93], [2.0, 3.0]])[..., None]
    b = np.array([[5.0, 1.43e83], [5.0, 4.0]])[..., None]
    family = Beta.__new__(Beta)  # the check reads only the parameters
    assert family.valid({"alpha": a, "beta": b}).tolist() == [False, True]
