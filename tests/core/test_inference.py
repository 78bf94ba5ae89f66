"""The bootstrap LRT for K and the parameters' uncertainty against mclust's.

Fixtures: ``tests/fixtures/inference/make_inference_fixtures.R`` (mclust's
``mclustBootstrapLRT(x, "V", maxG = 3, nboot = 999)`` on Old Faithful waiting times and acidity,
and ``MclustBootstrap`` of the waiting times' two-component fit, nboot = 999, both types).
Bootstrap figures are compared within Monte Carlo error; the replicate counts here are small
to keep the suite short, so the bounds are wide (each says how it was sized).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixfit
from mixfit.lrt import lrt_plan

from .test_agglomeration import MCLUST_LIKE  # mclust's start strategy and tolerance

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inference"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.mark.parametrize("dataset", ["waiting", "acidity"])
def test_observed_statistics_rest_on_maxima_at_least_mclusts(dataset: str) -> None:
    doc = load(f"lrt_{dataset}.json")
    result = mixfit.bootstrap_lrt(doc["x"], max_k=3, nboot=2, seed=1)
    assert [s.k for s in result.steps] == [1, 2, 3]
    for step in result.steps:
        assert step.statistic == pytest.approx(
            2 * (step.loglik_alternative - step.loglik), abs=1e-9
        )
        assert step.statistic >= 0 and min(step.bootstrap) >= 0
        # mclust's log-likelihoods of K = 1..4 (its single hierarchical start, tol 1e-5)
        for ours, k in ((step.loglik, step.k), (step.loglik_alternative, step.k + 1)):
            assert ours >= doc["loglik"][k - 1] - 1e-6 * doc["n"]
    # Where both reach the same maxima (waiting, K = 1 and 2, to mclust's tolerance: 0.006),
    # the statistics agree to that tolerance; mclust's 2-vs-3 statistic there is -0.13.
    if dataset == "waiting":
        assert result.steps[0].statistic == pytest.approx(doc["steps"][0]["statistic"], abs=0.02)
        assert doc["steps"][1]["statistic"] < 0 < result.steps[1].statistic


@pytest.mark.validate  # 4 s of replicates: make validate (make test keeps the suite short)
def test_p_value_is_mclusts_within_monte_carlo_error() -> None:
    """acidity, 3 vs 4 components, on mclust's start strategy (one hc start, tol 1e-5) for
    the data and the replicates alike, as mclust fits both: mclust's p = 0.297 from 999
    replicates; ours from 99 has a Monte Carlo sd of about 0.046, so 0.15 is 3.3 sd. (With the
    default, thorough search the replicates find higher spurious K+1 maxima, as the data's fit
    does, and p is 0.75: a different, calibrated test; see test_inference_calibration.py.)"""
    doc = load("lrt_acidity.json")
    result = mixfit.bootstrap_lrt(doc["x"], k_min=3, max_k=3, nboot=99, seed=1, **MCLUST_LIKE)
    step = result.steps[0]
    count = sum(b >= step.statistic for b in step.bootstrap)
    assert step.p_value == (1 + count) / 100
    assert abs(step.p_value - doc["steps"][2]["p_value"]) <= 0.15
    assert step.statistic == pytest.approx(doc["steps"][2]["statistic"], rel=0.2)


@pytest.mark.parametrize(
    ("dataset", "k"), [("acidity", 1), ("waiting", 1), ("waiting", 2), ("waiting", 3)]
)
def test_every_step_s_p_value_is_mclusts_within_monte_carlo_error(dataset: str, k: int) -> None:
    """The other steps of the two fixtures (acidity's 3 vs 4 is the test above), on mclust's
    start strategy with 99 replicates: p within 0.15 of mclust's from 999 (3.3 Monte Carlo sd
    at p = 0.3; where mclust's p is 0.001 ours is 1/100, its least). Not acidity's 2 vs 3: there
    one hc start reaches other maxima than mclust's (K = 2 -184.65 against -187.24, K = 3
    -182.91 against -178.78; measured 2026-12-05), so the statistics differ (3.5 against 16.9)
    and so do the p-values (0.45 against 0.003): a difference of maxima, not of the test."""
    doc = load(f"lrt_{dataset}.json")
    result = mixfit.bootstrap_lrt(doc["x"], k_min=k, max_k=k, nboot=99, seed=1, **MCLUST_LIKE)
    step, theirs = result.steps[0], doc["steps"][k - 1]
    assert step.k == theirs["k"] == k
    assert abs(step.p_value - theirs["p_value"]) <= 0.15, (step.p_value, theirs["p_value"])
    if theirs["p_value"] <= 0.01:
        assert step.p_value == 0.01  # no replicate reached the observed statistic


@pytest.mark.validate  # 3 s of replicates: make validate
def test_the_sequence_stops_at_the_first_test_that_is_not_significant() -> None:
    doc = load("lrt_waiting.json")
    result = mixfit.bootstrap_lrt(doc["x"], nboot=19, level=0.1, seed=3)
    assert [s.k for s in result.steps] == [1, 2]
    assert result.steps[0].p_value == 0.05 and result.steps[1].p_value >= 0.1
    assert result.k_selected == 2


def test_replicates_are_reproducible_from_the_seed() -> None:
    x = load("lrt_waiting.json")["x"]
    first = mixfit.bootstrap_lrt(x, max_k=1, nboot=4, seed=9)
    again = mixfit.bootstrap_lrt(x, max_k=1, nboot=4, seed=9)
    other = mixfit.bootstrap_lrt(x, max_k=1, nboot=4, seed=10)
    assert first == again and first.steps[0].bootstrap != other.steps[0].bootstrap


def test_warm_replicate_starts_are_a_subset_of_the_search() -> None:
    """``replicate_starts="warm"`` drops the screened starts of each replicate's K+1 fit and
    keeps its two warm starts: the same data fits and K fits, so no bootstrap statistic can
    exceed the search's, none is negative, and the search finds a higher K+1 maximum on some."""
    x = load("lrt_waiting.json")["x"]
    search = mixfit.bootstrap_lrt(x, k_min=2, max_k=2, nboot=12, seed=5)
    warm = mixfit.bootstrap_lrt(x, k_min=2, max_k=2, nboot=12, seed=5, replicate_starts="warm")
    assert (search.replicate_starts, warm.replicate_starts) == ("search", "warm")
    assert warm.steps[0].statistic == search.steps[0].statistic
    ours, theirs = np.asarray(warm.steps[0].bootstrap), np.asarray(search.steps[0].bootstrap)
    assert ours.min() >= 0 and np.all(ours <= theirs + 1e-9)
    assert np.any(ours < theirs - 1e-6)
    with pytest.raises(mixfit.FitError, match="replicate_starts"):
        mixfit.bootstrap_lrt(x, max_k=1, nboot=2, replicate_starts="cold")


@pytest.fixture(scope="module")
def waiting_fit() -> tuple[mixfit.FitResult, list[float], dict]:
    doc = load("se_waiting.json")
    return mixfit.fit(doc["x"], k=2, seed=0), doc["x"], doc


def _by_mean(values: list[float], means: list[float]) -> np.ndarray:
    return np.asarray(values)[np.argsort(means)]


@pytest.mark.parametrize(("method", "mclust"), [("nonparametric", "bs"), ("weighted", "wlbs")])
def test_bootstrap_standard_errors_are_mclusts(waiting_fit, method: str, mclust: str) -> None:
    """199 replicates: a standard error's Monte Carlo relative sd is about 1 / sqrt(2 x 199),
    5 %; mclust's (999) about 2 %: 20 % is 3.5 combined sd."""
    result, x, doc = waiting_fit
    boot = mixfit.bootstrap(result, x, nboot=199, method=method, seed=2)
    assert boot.failed == 0 and boot.nboot == 199
    ours = boot.parameters
    means = ours["means"].estimate
    ref = doc[mclust]["se"]
    order = np.argsort(doc["fit"]["means"])
    np.testing.assert_allclose(
        _by_mean(ours["weights"].se, means), np.asarray(ref["weights"])[order], rtol=0.2
    )
    np.testing.assert_allclose(
        _by_mean(ours["means"].se, means), np.asarray(ref["means"])[order], rtol=0.2
    )
    # mclust reports variances; a variance's se is 2 sd x the sd's se (delta method)
    sds = np.asarray(ours["sds"].estimate)
    var_se = 2 * sds * np.asarray(ours["sds"].se)
    np.testing.assert_allclose(
        _by_mean(var_se, means), np.asarray(ref["variances"])[order], rtol=0.25
    )
    for spread in ours.values():
        assert np.all(np.asarray(spread.lower) <= np.asarray(spread.estimate))
        assert np.all(np.asarray(spread.estimate) <= np.asarray(spread.upper))


def test_observed_information_agrees_with_the_bootstrap(waiting_fit) -> None:
    result, x, doc = waiting_fit
    info = mixfit.observed_information(result, x)
    assert info.method == "observed_information"
    ref = doc["bs"]["se"]
    order = np.argsort(doc["fit"]["means"])
    means = info.parameters["means"].estimate
    np.testing.assert_allclose(
        _by_mean(info.parameters["means"].se, means), np.asarray(ref["means"])[order], rtol=0.25
    )
    np.testing.assert_allclose(
        _by_mean(info.parameters["weights"].se, means),
        np.asarray(ref["weights"])[order],
        rtol=0.25,
    )


def test_observed_information_intervals_are_at_conf_level(waiting_fit) -> None:
    """Wald intervals estimate -/+ z se with z the normal quantile of ``conf_level`` (it was
    1.96 and a reported 0.95 whatever was asked)."""
    from scipy.stats import norm

    result, x, _ = waiting_fit
    for level in (0.5, 0.99):
        info = mixfit.observed_information(result, x, conf_level=level)
        assert info.conf_level == level
        for spread in info.parameters.values():
            estimate, se = np.asarray(spread.estimate), np.asarray(spread.se)
            assert np.all(np.isfinite(se)) and np.all(se > 0)
            z = norm.ppf(0.5 + level / 2)
            np.testing.assert_allclose(spread.lower, estimate - z * se, rtol=1e-12)
            np.testing.assert_allclose(spread.upper, estimate + z * se, rtol=1e-12)


def test_observed_information_refuses_a_fit_that_is_no_strict_maximum() -> None:
    """Two components on tied values: the observed information is not positive definite,
    and a FitError says so and names the bootstrap (it was "finished" with every standard
    error and bound NaN, null in JSON)."""
    x = np.array([0.2] * 10 + [0.7] * 10)
    result = mixfit.fit(x, k=2, seed=0)
    with pytest.raises(mixfit.FitError, match="not positive definite.*'nonparametric'"):
        mixfit.observed_information(result, x, conf_level=0.5)


def test_observed_information_is_for_the_1d_gaussian_only() -> None:
    x = np.random.default_rng(0).poisson(4, 100).astype(float)
    result = mixfit.fit(x, family="poisson", k=1, seed=0)
    with pytest.raises(mixfit.FitError, match="1-D Gaussian"):
        mixfit.observed_information(result, x)


def test_observed_statistics_equal_mclusts_where_the_maxima_are_equal() -> None:
    """mclust run to tol 1e-13 (``make_observed_fixture.R``): where both reach the same maxima
    at K and K+1 (log-likelihoods within 1e-8 relative), the statistics agree to 1e-6
    relative; elsewhere ours rest on the higher maxima (acidity K = 2: mclust's single start
    stops 2.59 lower)."""
    tight = load("observed_tight.json")["sets"]
    compared = 0
    for name, ref in tight.items():
        plan = lrt_plan(load(f"lrt_{name}.json")["x"], k_min=1, max_k=3, nboot=1, seed=1)
        ours = [s.loglik for s in plan.steps] + [plan.steps[-1].loglik_alternative]
        for step in plan.steps:
            k = step.k
            same = all(
                abs(ours[j - 1] - ref["loglik"][j - 1]) <= 1e-8 * abs(ref["loglik"][j - 1])
                for j in (k, k + 1)
            )
            if same:
                theirs = 2 * (ref["loglik"][k] - ref["loglik"][k - 1])
                assert step.statistic == pytest.approx(theirs, rel=1e-6)
                compared += 1
            for j in (k, k + 1):
                assert ours[j - 1] >= ref["loglik"][j - 1] - 1e-6 * ref["n"]
    assert compared >= 1  # waiting, 1 vs 2: 122.574101338206 here, 122.574101338095 in mclust


def test_count_weights_test_as_the_repeated_points_do() -> None:
    """Weights are counts: the replicates hold their sum of points, so weights of 2 test as
    every point twice (replicates of n points made the statistic, which weighs each point by
    its count, incomparable with its bootstrap distribution)."""
    x = np.asarray(load("lrt_waiting.json")["x"])[::4]
    weighted = mixfit.bootstrap_lrt(x, np.full(x.size, 2.0), max_k=1, nboot=4, seed=5)
    repeated = mixfit.bootstrap_lrt(np.repeat(x, 2), max_k=1, nboot=4, seed=5)
    a, b = weighted.steps[0], repeated.steps[0]
    assert a.statistic == pytest.approx(b.statistic, rel=1e-6)
    np.testing.assert_allclose(a.bootstrap, b.bootstrap, rtol=1e-3)
    with pytest.raises(mixfit.FitError, match="weights as counts"):
        mixfit.bootstrap_lrt(x, np.full(x.size, 0.01), max_k=1, nboot=4)


def test_bootstrap_standard_errors_of_parameters_near_1e300_are_finite() -> None:
    """Found by fuzzing: a covariance of data in units of 1e149 is about 1e298, and the
    squares in numpy's standard deviation of its bootstrap draws overflowed (a RuntimeWarning,
    an error under this suite; without it an infinite se). They are the draws' spread now,
    computed on the draws divided by their largest magnitude."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 2)) * np.array([1.0, 1.4e149])
    fit = mixfit.fit(X, k=1, covariance="full", seed=0)
    boot = mixfit.bootstrap(fit, X, nboot=8, seed=1)
    se = np.asarray(boot.parameters["covariances"].se, dtype=float)
    assert np.all(np.isfinite(se)) and se[0, 1, 1] > 1e296
    means_se = np.asarray(boot.parameters["means"].se, dtype=float)
    assert np.isfinite(means_se).all() and 0.0 < means_se[0, 0] < 1.0


def test_bootstrap_matches_components_whose_spreads_are_held_at_1e300() -> None:
    """Found by fuzzing: a log-normal fit of values 1e-12 and 1e141 has an sdlog of 153, its
    spread held at 1e300 (``Family.moments``), and squaring it to match a replicate's
    components to the fit's overflowed (a RuntimeWarning, an error under this suite). The
    matching divides by the spreads' hypot and subtracts their logs now."""
    x = [1e-12] * 8
    x[2], x[6] = 8.5156806985113074e141, 6.0746452635266724e141
    fit = mixfit.fit(x, family="lognormal", k=1, seed=400)
    assert fit.model.params.sdlogs[0] > 100
    boot = mixfit.bootstrap(fit, x, nboot=5, seed=1)
    assert np.isfinite(np.asarray(boot.parameters["sdlogs"].se, dtype=float)).all()


def test_the_result_says_which_replicate_starts_were_used() -> None:
    """A Student t's replicates are fitted from the two warm starts alone
    (``mixfit.lrt._replicate_lrts``): asked for ``search``, the result says ``warm``."""
    x = np.concatenate(
        [np.random.default_rng(2).standard_t(5, 60), np.random.default_rng(3).normal(6, 1, 40)]
    )
    t = mixfit.bootstrap_lrt(x, max_k=1, nboot=3, seed=1, family="student_t")
    assert t.replicate_starts == "warm"
    gaussian = mixfit.bootstrap_lrt(x, max_k=1, nboot=3, seed=1)
    assert gaussian.replicate_starts == "search"
