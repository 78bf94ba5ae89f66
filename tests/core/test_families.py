"""One contract, checked for every registered family and covariance type."""

import numpy as np
import pytest
from scipy import stats

import mixfit
from mixfit.families import FAMILIES, get_family
from mixfit.fit import parse_request, prepare

from .conftest import beta_data, blobs, simulate

CASES = [
    ("gaussian", {"covariance": "full"}, "1d"),
    ("gaussian", {"covariance": "tied"}, "1d"),
    ("gaussian", {"covariance": "full", "variance_update": "normalmixem"}, "1d"),
    ("gaussian", {"covariance": "full"}, "3d"),
    ("gaussian", {"covariance": "diag"}, "3d"),
    ("gaussian", {"covariance": "spherical"}, "3d"),
    ("gaussian", {"covariance": "tied"}, "3d"),
    ("beta", {}, "unit"),
    ("poisson", {}, "counts"),
    ("gamma", {}, "positive"),
    ("lognormal", {}, "positive"),
    ("student_t", {"df": "per_component"}, "outliers"),
    ("student_t", {"covariance": "full", "df": "shared"}, "3d"),
]
IDS = [f"{f}-{'-'.join(o.values()) or 'default'}-{d}" for f, o, d in CASES]


def counts(n: int = 400, seed: int = 0) -> np.ndarray:
    """0.4 Poisson(2) + 0.6 Poisson(9)."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random(n) < 0.4, rng.poisson(2.0, n), rng.poisson(9.0, n)).astype(float)


def positive(n: int = 400, seed: int = 0) -> np.ndarray:
    """0.5 Gamma(2, rate 1) + 0.5 Gamma(30, rate 10/3): skewed and positive."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random(n) < 0.5, rng.gamma(2.0, 1.0, n), rng.gamma(30.0, 0.3, n))


def outliers(n: int = 400, seed: int = 0) -> np.ndarray:
    """The simulator's two Gaussians with 5 % of the points replaced by uniform outliers."""
    rng = np.random.default_rng(seed)
    x = simulate(n, seed=seed)
    wild = rng.random(n) < 0.05
    return np.where(wild, rng.uniform(-20.0, 25.0, n), x)


DATA = {
    "1d": lambda: simulate(400, seed=3),
    "3d": lambda: blobs(500, 3, 3),
    "unit": lambda: beta_data(500),
    "counts": counts,
    "positive": positive,
    "outliers": outliers,
}


def data_for(kind: str) -> np.ndarray:
    return DATA[kind]()


def fit_case(family, options, kind, **extra):
    return mixfit.fit(data_for(kind), family=family, seed=7, **options, **extra)


def test_every_registered_family_is_covered():
    assert {case[0] for case in CASES} == set(FAMILIES)


def scipy_logpdf(family, p, X):
    m = len(p.weights)
    if family == "beta":
        pairs = zip(p.alphas, p.betas, strict=True)
        return np.stack([stats.beta(a, b).logpdf(X[:, 0]) for a, b in pairs])
    if family == "poisson":
        return np.stack([stats.poisson(lam).logpmf(X[:, 0]) for lam in p.lambdas])
    if family == "gamma":
        pairs = zip(p.shapes, p.rates, strict=True)
        return np.stack([stats.gamma(a, scale=1 / b).logpdf(X[:, 0]) for a, b in pairs])
    if family == "lognormal":
        pairs = zip(p.meanlogs, p.sdlogs, strict=True)
        return np.stack([stats.lognorm(s, scale=np.exp(m)).logpdf(X[:, 0]) for m, s in pairs])
    if family == "student_t":
        if X.shape[1] == 1:
            rows = zip(p.means, p.scales, p.dfs, strict=True)
            return np.stack([stats.t(nu, m, s).logpdf(X[:, 0]) for m, s, nu in rows])
        rows = zip(p.means, p.scales, p.dfs, strict=True)
        return np.stack([stats.multivariate_t(m, s, df=nu).logpdf(X) for m, s, nu in rows])
    if X.shape[1] == 1:
        pairs = zip(p.means, p.sds, strict=True)
        return np.stack([stats.norm(mu, sd).logpdf(X[:, 0]) for mu, sd in pairs])
    return np.stack(
        [stats.multivariate_normal(p.means[c], p.covariances[c]).logpdf(X) for c in range(m)]
    )


@pytest.mark.parametrize(("family", "options", "kind"), CASES, ids=IDS)
def test_log_pdf_equals_scipy_stats(family, options, kind):
    result = fit_case(family, options, kind, k=3, n_starts=2)
    X = np.asarray(data_for(kind), dtype=float).reshape(len(data_for(kind)), -1)
    fam = get_family(family)(parse_request({"family": family, **options}), X.shape[1])
    params = next(r for r in result.results if r.k == 3).params
    ours = fam.log_pdf(params, X)
    np.testing.assert_allclose(ours, scipy_logpdf(family, params, X), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("family", "options", "kind"), CASES, ids=IDS)
def test_engine_log_likelihood_equals_direct_log_density(family, options, kind):
    """The engine's natural-parameter E-step (in its scaled space) and the data-space density
    must agree on the log-likelihood of the returned parameters."""
    result = fit_case(family, options, kind, k=2, n_starts=3)
    r = result.results[0]
    problem = prepare(parse_request({"family": family, **options}), data_for(kind))
    direct = problem.family.mixture_log_density(r.params, problem.X).sum()
    assert r.loglik == pytest.approx(direct, rel=1e-9, abs=1e-8)


def _rising_trace_points(result: mixfit.FitResult) -> int:
    """Assert no start's trace falls by more than 1e-9 of its size; the points checked."""
    checked = 0
    for r in result.results:
        for start in r.starts:
            trace = np.asarray(start.trace)
            drops = np.diff(trace)
            assert drops.min(initial=0.0) >= -1e-9 * (1 + np.abs(trace).max()), (r.k, start.start)
            checked += len(trace)
    return checked


@pytest.mark.parametrize(("family", "options", "kind"), CASES, ids=IDS)
def test_log_likelihood_trace_never_falls_after_screening_either(family, options, kind):
    """The defaults (screened starts, SQUAREM, moves and polish): every kept trace rises."""
    result = fit_case(family, options, kind, k=[2, 3], n_starts=4, tol=1e-10, max_iter=300)
    assert _rising_trace_points(result) > 20


@pytest.mark.parametrize("accelerate", [True, False], ids=["squarem", "plain"])
@pytest.mark.parametrize(("family", "options", "kind"), CASES, ids=IDS)
def test_log_likelihood_trace_never_falls(family, options, kind, accelerate):
    """Plain EM, and SQUAREM, whose trace holds only points it kept (every screened start
    continues, so the main loop does the climbing: screen_factor=1)."""
    result = fit_case(
        family,
        options,
        kind,
        k=[2, 3, 4],
        n_starts=6,
        tol=1e-10,
        max_iter=300,
        accelerate=accelerate,
        screen_factor=1,
    )
    assert _rising_trace_points(result) > 100
    for r in result.results:
        for start in r.starts:
            assert not any(e.kind == "ll_decrease" for e in start.events), (r.k, start.start)


@pytest.mark.parametrize(("family", "options", "kind"), CASES, ids=IDS)
def test_information_criteria_by_hand(family, options, kind):
    result = fit_case(family, options, kind, k=[1, 2], n_starts=2)
    n = result.n_effective
    for r in result.results:
        assert r.bic == pytest.approx(-2 * r.loglik + r.n_params * np.log(n), rel=1e-12)
        assert r.aic == pytest.approx(-2 * r.loglik + 2 * r.n_params, rel=1e-12)
        assert r.icl >= r.bic - 1e-9  # ICL adds twice a non-negative entropy
    assert result.k_selected == min(result.results, key=lambda r: r.bic).k


@pytest.mark.parametrize(
    ("family", "options", "d", "k", "expected"),
    [
        ("gaussian", {"covariance": "full"}, 1, 3, 2 + 3 + 3),
        ("gaussian", {"covariance": "tied"}, 1, 3, 2 + 3 + 1),
        ("gaussian", {"covariance": "full"}, 3, 2, 1 + 6 + 2 * 6),
        ("gaussian", {"covariance": "tied"}, 3, 2, 1 + 6 + 6),
        ("gaussian", {"covariance": "diag"}, 3, 2, 1 + 6 + 6),
        ("gaussian", {"covariance": "spherical"}, 3, 2, 1 + 6 + 2),
        ("beta", {}, 1, 3, 2 + 6),
        ("poisson", {}, 1, 3, 2 + 3),
        ("gamma", {}, 1, 3, 2 + 6),
        ("lognormal", {}, 1, 3, 2 + 6),
        ("student_t", {}, 1, 3, 2 + 3 + 3 + 3),
        ("student_t", {"df": "shared"}, 1, 3, 2 + 3 + 3 + 1),
        ("student_t", {"covariance": "full"}, 3, 2, 1 + 6 + 2 * 6 + 2),
        ("student_t", {"covariance": "diag"}, 3, 2, 1 + 6 + 6 + 2),
    ],
)
def test_parameter_counts(family, options, d, k, expected):
    fam = get_family(family)(parse_request({"family": family, **options}), d)
    assert fam.n_params(k) == expected


@pytest.mark.parametrize(("family", "options", "kind"), CASES, ids=IDS)
def test_results_are_finite_and_weights_sum_to_one(family, options, kind):
    result = fit_case(family, options, kind, k=[1, 2, 3], n_starts=3)
    for r in result.results:
        flat = np.concatenate(
            [np.ravel(v) for v in r.params.model_dump().values() if v is not None]
        )
        assert np.all(np.isfinite(flat))
        assert sum(r.params.weights) == pytest.approx(1.0, abs=1e-12)
        assert all(np.isfinite(s.trace).all() for s in r.starts)


@pytest.mark.parametrize(("family", "options", "kind"), CASES, ids=IDS)
def test_model_round_trips_through_json(family, options, kind):
    result = fit_case(family, options, kind, k=2, n_starts=2)
    again = mixfit.FitResult.model_validate_json(result.model_dump_json())
    assert again == result
    points = data_for(kind)[:20]
    assert mixfit.score(again.model, points) == mixfit.score(result.model, points)


def test_gamma_shape_solves_its_equation() -> None:
    """The gamma M-step's shape: log a - psi(a) = s to 1e-11 relative for shapes up to 5,000."""
    from scipy.special import digamma

    from mixfit.families.gamma import gamma_shape

    s = np.logspace(-4, 2, 61)
    a = gamma_shape(s)
    assert a.max() > 4000 and a.min() < 0.02
    np.testing.assert_allclose(np.log(a) - digamma(a), s, rtol=1e-11)


NEW_FAMILIES = ["poisson", "gamma", "lognormal", "student_t"]


@pytest.mark.parametrize("name", NEW_FAMILIES)
def test_a_family_lives_in_its_module_the_registry_and_the_page_table(name):
    """Outside tests and docs a family's name is in three files: its module, the registry's
    import and the page's family table (openapi.yaml is generated from the registry)."""
    import re
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    word = re.compile(rf"(?<![.\w]){name}\b")  # numpy's rng.gamma is not the family
    files = {
        path
        for path in tracked
        if not path.startswith(("tests/", "docs/"))
        and not path.endswith(".md")
        and path != "openapi.yaml"
        and (root / path).is_file()
        and word.search((root / path).read_text(errors="ignore"))
    }
    assert files == {
        f"mixfit/families/{name}.py",
        "mixfit/families/__init__.py",
        "service/static/page/families.js",
    }


@pytest.mark.parametrize("family", ["gaussian", "student_t", "gamma", "poisson"])
def test_a_log_scale_parameter_of_zero_is_no_parameter(family):
    """What ``exp`` gives back for a SQUAREM extrapolation far below zero on the log scale is
    exactly 0: finite, yet no variance, shape or rate (a Student t rescue start met 1 / 0 in
    its E-step). ``Family.valid`` turns it down as it does a non-finite value."""
    x = np.abs(simulate(200, seed=1)) + 0.5
    if family == "poisson":
        x = np.round(x)
    fam = prepare(parse_request({"family": family, "k": 2, "seed": 0}), x).family
    params, _ = fam.random_params(np.random.default_rng(0), 2, 2, x[:, None], None)
    assert fam.valid(params).tolist() == [True, True]
    name = "var" if "var" in fam.log_params else sorted(fam.log_params)[0]
    params[name][1, 0] = 0.0
    assert fam.valid(params).tolist() == [True, False]


# Models whose draws numpy rounds off the family's support or past the data caps: a gamma or beta
# shape of 0.003 (rng returns exactly 0.0 or 1.0), a rate past numpy's Poisson limit (~9.2e18:
# "lam value too large"), logs past exp's range, spreads past MAX_ABS, a t with half a df.
HOSTILE_DRAWS = {
    "gaussian": {"weights": [0.5, 0.5], "means": [1e150, -1e150], "sds": [1e150, 1e149]},
    "student_t": {"weights": [1.0], "means": [0.0], "scales": [1e149], "dfs": [0.5]},
    "lognormal": {"weights": [0.5, 0.5], "meanlogs": [0.0, 300.0], "sdlogs": [1000.0, 100.0]},
    "gamma": {"weights": [0.5, 0.5], "shapes": [0.003, 8.6], "rates": [1e-152, 5.8]},
    "beta": {"weights": [0.5, 0.5], "alphas": [0.003, 0.002], "betas": [0.003, 0.004]},
    "poisson": {"weights": [0.4, 0.3, 0.3], "lambdas": [2e20, 1e150, 3.0]},
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_draws_are_data_a_fit_accepts(family) -> None:
    """Every family's sample is finite, within MAX_ABS and in its support: a replicate is data
    ``check`` accepts, never an error blaming the user's data (or numpy's raw ValueError)."""
    from mixfit.fit import check
    from mixfit.options import MAX_ABS, ReferenceDensity
    from mixfit.sampling import sample

    params = HOSTILE_DRAWS[family]
    model = mixfit.Model(
        family=family,
        k=len(params["weights"]),
        d=1,
        n_train=1.0,
        params=params,
        reference=ReferenceDensity(values=[0.0], probs=[1.0], exact=True),
    )
    X, labels = sample(model, 4000, 1)
    assert np.all(np.isfinite(X)) and np.all(np.abs(X) <= MAX_ABS)
    check(parse_request({"family": family, "k": 1}), X)
    if family == "poisson":  # counts, and N(lambda, lambda) above numpy's limit
        assert np.all(X == np.round(X))
        big = X[labels == 0]
        assert abs(big.mean() - 2e20) < 5 * np.sqrt(2e20 / big.size)
        assert 0.8 < big.var() / 2e20 < 1.2
        assert np.all(np.abs(X[labels == 1] / 1e150 - 1.0) < 1e-60)


def test_gamma_random_starts_have_finite_rates_beside_the_smallest_normal_float() -> None:
    """A random start centred on a point near 2.2e-308 (a replicate's clipped draw) had a
    rate of shape / point, past float64's range."""
    fam = get_family("gamma")(parse_request({"family": "gamma", "k": 2}), 1)
    Z = np.array([[np.finfo(float).tiny], [1.0]])
    params, _ = fam.random_params(np.random.default_rng(0), 50, 2, Z, None)
    assert np.all(np.isfinite(params["rate"])) and np.all(params["rate"] > 0)


def test_a_gamma_mean_near_the_cap_over_a_small_floor_is_no_overflow() -> None:
    """Found by fuzzing: 149 values of |N(0, 1)| and one of 1e149 under the Gamma at
    ``var_floor=1e-12``. The shape's cap m^2 / floor of a component on the large value
    overflowed (a RuntimeWarning, an error under this suite); an infinite cap is no cap, and
    the fit is what it was."""
    rng = np.random.default_rng(0)
    x = np.abs(rng.normal(size=150))
    x[0] = 1e149
    result = mixfit.fit(x, family="gamma", k=[1, 2, 3], seed=0, var_floor=1e-12)
    assert [r.status for r in result.results] == ["ok"] * 3


# found by fuzzing: K = 2's component over both of two 3-D clusters 3.3e7 apart (sd about 0.3),
# in data units; its condition number is 1e16
ILL_CONDITIONED = [
    [7.4211567677655312e13, 7.4211568061656078e13, 7.4211566641391062e13],
    [7.4211568061656078e13, 7.4211568445656859e13, 7.4211567025391859e13],
    [7.4211566641391062e13, 7.4211567025391859e13, 7.4211565605126969e13],
]


@pytest.mark.parametrize("family", ["gaussian", "student_t"])
def test_a_covariance_that_numpy_cannot_factor_still_has_a_density(family: str) -> None:
    """numpy's Cholesky factorization fails on ``ILL_CONDITIONED``, which failed the fit's
    reference density (a ``LinAlgError``: the job failed) and would have failed every score.
    ``families.base.whitening`` takes its eigenvalues then, held at float64's rounding of the
    largest: a finite density, the ordinary one where the matrix can be factored."""
    from mixfit.families.base import whitening

    cov = np.asarray(ILL_CONDITIONED)
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(cov)
    inverse, half_logdet = whitening(cov)
    assert np.all(np.isfinite(inverse)) and np.isfinite(half_logdet)
    mean = [3.033590939186915e07, 3.033590937921087e07, 3.033590942602881e07]
    params = {"weights": [1.0], "means": [mean]}
    if family == "student_t":
        params.update(scales=[ILL_CONDITIONED], dfs=[5.0])
    else:
        params.update(covariances=[ILL_CONDITIONED])
    fam = get_family(family)(parse_request({"family": family, "k": 1, "covariance": "full"}), 3)
    X = np.asarray([mean, np.add(mean, 1.0), np.add(mean, [1e7, 1e7, 1e7])])
    log_pdf = fam.log_pdf(fam.params_model.model_validate(params), X)
    assert np.all(np.isfinite(log_pdf)) and log_pdf[0, 2] < log_pdf[0, 0]
    ordinary = np.diag([1.0, 2.0, 3.0])
    inverse, half_logdet = whitening(ordinary)
    np.testing.assert_allclose(inverse, np.diag(1 / np.sqrt([1.0, 2.0, 3.0])), rtol=1e-15)
    assert half_logdet == pytest.approx(0.5 * np.log(6.0), rel=1e-15)


def test_a_log_normal_whose_moments_pass_float64s_range_has_finite_ones() -> None:
    """A log-normal component of sdlog 40 has a mean of e^800 (found by fuzzing an LRT, whose
    split start of K + 1 reads the widest component's spread): its moments overflowed (a
    RuntimeWarning, an error under this suite) to infinities that a plot's grid would carry.
    They are held at 1e300; ordinary ones are numpy's own."""
    fam = get_family("lognormal")(parse_request({"family": "lognormal", "k": 2}), 1)
    model = fam.params_model.model_validate(
        {"weights": [0.5, 0.5], "meanlogs": [0.0, 1.0], "sdlogs": [40.0, 0.5]}
    )
    mean, spread = fam.moments(model)
    assert mean[0] == spread[0] == 1e300
    assert mean[1] == np.exp(1.125) and spread[1] == np.exp(1.125) * np.sqrt(np.expm1(0.25))


def test_positive_values_whose_logs_are_one_value_are_refused_as_constant() -> None:
    """Found by fuzzing: eight values at 1e10 one ulp apart are two distinct values, but
    their logs, which the log-normal family models, are one float64; EM divided by their
    variance of zero (a RuntimeWarning, an error under this suite). ``check`` now counts the
    transformed values too, so the service answers 422 before it queues the fit."""
    x = [1.0000000000000998e10] + [1.0000000000001001e10] * 7
    assert len(set(x)) == 2 and len(set(np.log(x).tolist())) == 1
    with pytest.raises(mixfit.FitError, match="the data's logs are constant"):
        mixfit.fit(x, family="lognormal", k=[1, 2], seed=0)
    with pytest.raises(mixfit.FitError, match="data's logs have only 2 distinct values"):
        mixfit.fit([1e10, np.nextafter(1e10, 2e10), 2e10, 2e10], family="lognormal", k=3)
    assert mixfit.fit(x, k=1).results[0].status == "ok"  # the Gaussian models the values
