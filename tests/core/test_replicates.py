"""Batched replicate fits (``mixfit.replicates``): the same maxima as one fit per data set, and
the same bits whichever replicates share a batch (so a fan-out's parts agree with one process)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

import mixfit
from mixfit.fit import parse_request, prepare
from mixfit.inference import bootstrap_replicates
from mixfit.lrt import lrt_plan, lrt_replicates
from mixfit.replicates import best_of, refit, start_values
from mixfit.scoring import model_family


def _two(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(rng.random(n) < 0.4, rng.normal(0, 1, n), rng.normal(3, 0.7, n))


@pytest.mark.parametrize(
    ("family", "make", "options"),
    [
        ("gaussian", lambda r: r.normal(0, 1, 150) + 3 * (r.random(150) < 0.5), {}),
        (
            "gaussian",
            lambda r: r.normal(0, 1, (150, 2)) + 3 * (r.random((150, 1)) < 0.5),
            {"covariance": "full"},
        ),
        ("poisson", lambda r: r.poisson(np.where(r.random(150) < 0.5, 2.0, 9.0)), {}),
        ("beta", lambda r: np.where(r.random(150) < 0.5, r.beta(2, 8, 150), r.beta(9, 3, 150)), {}),
    ],
)
def test_a_batched_refit_reaches_each_data_sets_own_maximum(family, make, options) -> None:
    rng = np.random.default_rng(5)
    data = [make(rng) for _ in range(6)]
    fit = mixfit.fit(data[0], k=2, family=family, seed=0, **options)
    request = parse_request({"family": family, "k": 2, "n_starts": 1, "tol": 1e-12, **options})
    start = start_values(fit.model.params)
    batched = refit(request, data, None, 2, [start], (data[0], None))
    for X, params in zip(data, batched, strict=True):
        alone = best_of(prepare(request, X), 2, [start])
        assert params is not None and alone is not None
        model = fit.model.model_copy(update={"params": params})
        L = model_family(model).log_pdf(params, np.asarray(X, float).reshape(len(X), -1))
        ll = float(logsumexp(L + np.log(np.asarray(params.weights))[:, None], axis=0).sum())
        assert ll == pytest.approx(alone.loglik, rel=1e-9, abs=1e-9)


def test_lrt_replicates_are_the_same_bits_however_they_are_split() -> None:
    plan = lrt_plan(_two(120, 1), k_min=1, max_k=2, nboot=9, seed=4, n_starts=3)
    for step in range(2):
        whole = lrt_replicates(plan, step)
        parts = lrt_replicates(plan, step, 0, 4) + lrt_replicates(plan, step, 4, 9)
        assert whole == parts
        assert min(whole) >= 0.0


@pytest.mark.parametrize("method", ["nonparametric", "weighted"])
def test_bootstrap_replicates_are_the_same_bits_however_they_are_split(method: str) -> None:
    x = _two(150, 2)
    fit = mixfit.fit(x, k=2, seed=0)
    args = {"method": method, "seed": 3}
    whole = bootstrap_replicates(fit.model, fit.options, x, stop=10, **args)
    a = bootstrap_replicates(fit.model, fit.options, x, start=0, stop=3, **args)
    b = bootstrap_replicates(fit.model, fit.options, x, start=3, stop=10, **args)
    for name, values in whole.draws.items():
        assert values == a.draws[name] + b.draws[name]


@pytest.mark.parametrize(
    "data, options",
    [
        # fitted rates of 2e20: numpy's Poisson sampler stops at ~9.2e18 ("lam value too large")
        ([1e20, 2e20, 3e20, 1.5e20, 2.5e20], {"family": "poisson", "max_k": 1, "nboot": 3}),
        # fitted shapes of 0.003: rng.gamma returned exactly 0.0, and replicate 0 (every part's
        # reference) was refused as "1 point(s) are not positive", blaming the user's data
        ([1e-150, 1e150, 1.0, 2.0], {"family": "gamma", "max_k": 2, "nboot": 20}),
    ],
)
def test_an_lrt_simulates_replicates_from_any_fitted_model(data, options) -> None:
    result = mixfit.bootstrap_lrt(data, seed=0, replicate_starts="warm", **options)
    for step in result.steps:
        assert len(step.bootstrap) == options["nboot"]
        assert all(np.isfinite(step.bootstrap)) and min(step.bootstrap) >= 0.0
        assert 0.0 < step.p_value <= 1.0


def test_an_lrt_whose_replicate_zero_cannot_be_fitted_takes_the_first_that_can() -> None:
    """The reference replicate (the scaling every part of a fan-out shares) is the first usable
    one, so a step whose replicate 0 is all ties still has its statistics, the same bits
    however the replicates are split."""
    from mixfit.replicates import first_usable

    request = parse_request({"family": "gaussian", "k": 1})
    sets = [np.zeros(5), np.ones(5), np.arange(5.0)]
    assert np.array_equal(first_usable(request, sets.__getitem__, 3), np.arange(5.0))
    assert np.array_equal(first_usable(request, sets.__getitem__, 2), np.zeros(5))
