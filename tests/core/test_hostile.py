"""Ugly data: every case ends in a FitError that says what to change, or a documented result;
never a NaN."""

import warnings

import numpy as np
import pytest

import mixfit
from mixfit import FitError
from mixfit.schema import MAX_ABS

from .conftest import simulate


def assert_finite(result: mixfit.FitResult) -> None:
    text = result.model_dump_json()
    assert "NaN" not in text and "Infinity" not in text


@pytest.mark.parametrize(
    ("data", "options", "message"),
    [
        ([3.0] * 50, {"k": 2}, "constant"),
        ([1.0, 2.0], {"k": 3}, "2 point"),
        ([1.0, 1.0, 2.0, 2.0], {"k": 3}, "only 2 distinct"),
        ([1.0, np.nan, 2.0], {"k": 1}, "NaN"),
        ([1.0, np.inf, 2.0], {"k": 1}, "NaN or infinite"),
        ([1e300, -1e300, 5.0], {"k": 1}, "rescale"),
        ([5e-324, 0.0, 1e-323], {"k": 1}, "less than 1e-150; rescale"),
        ([[1.0, 0.0], [1.0, 1e-200], [1.0, 0.0]], {"k": 1}, "less than 1e-150; rescale"),
        ([], {"k": 1}, "shape"),
        ([[1.0, 2.0], [3.0]], {"k": 1}, "list"),
        ([[[1.0]]], {"k": 1}, "shape"),
        (np.zeros((5, 65)), {"k": 1}, "at most 64"),
        ([0.2, 0.5, 1.2], {"k": 1, "family": "beta"}, "outside [0, 1]"),
        ([[0.2, 0.3], [0.5, 0.1]], {"k": 1, "family": "beta"}, "univariate"),
    ],
)
def test_bad_data_gets_a_fit_error_that_says_what_to_change(data, options, message):
    with pytest.raises(FitError, match=message.replace("[", r"\[").replace("]", r"\]")):
        mixfit.fit(data, **options)


def test_zero_weights_do_not_count_as_support():
    with pytest.raises(FitError, match="1 point"):
        mixfit.fit([1.0, 2.0, 3.0], weights=[0, 0, 5], k=2)
    with pytest.raises(FitError, match="all be zero"):
        mixfit.fit([1.0, 2.0, 3.0], weights=[0, 0, 0], k=1)


def test_huge_but_allowed_values_fit_finitely():
    x = simulate(300) * 1e140
    result = mixfit.fit(x, k=[1, 2], seed=0)
    assert_finite(result)
    assert max(abs(m) for m in result.model.params.means) < MAX_ABS
    ratio = np.asarray(result.model.params.means) / 1e140
    assert np.sort(ratio) == pytest.approx([0, 4], abs=0.8)


def test_tiny_scale_financial_returns_fit_in_log_space():
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(0, 1e-6, 500), rng.normal(0, 5e-6, 100)])
    result = mixfit.fit(x, k=2, seed=0)
    assert_finite(result)
    sds = sorted(result.model.params.sds)
    assert sds[0] == pytest.approx(1e-6, rel=0.2) and sds[1] == pytest.approx(5e-6, rel=0.3)


def test_many_duplicates_hit_the_floor_and_say_so():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.zeros(300), rng.normal(0, 1, 300)])
    result = mixfit.fit(x, k=2, n_starts=4, seed=0)
    assert_finite(result)
    r = result.results[0]
    assert min(result.model.params.sds) > 0
    # screening froze the candidates that put a component on the zeros, and counts them ...
    assert r.screening.degenerate > 0 and r.starts[r.best_start].status == "converged"
    # ... and unscreened starts that go there log the floor and are marked degenerate
    r = mixfit.fit(x, k=2, n_starts=4, seed=0, screen_factor=1).results[0]
    assert any(e.kind == "variance_floor" for s in r.starts for e in s.events)
    assert any(s.status == "degenerate" for s in r.starts) and r.status == "ok"


def test_too_many_components_for_the_data_are_degenerate_and_reported():
    x = np.array([0.0, 0.0, 0.0, 10.0, 10.0, 10.0, 5.0])
    result = mixfit.fit(x, k=[1, 2, 3], n_starts=3, seed=0)
    assert_finite(result)
    assert result.k_selected in (1, 2, 3)
    for r in result.results:
        if r.status == "failed":
            assert f"k={r.k}: every one of its 3 starts was degenerate" in r.message
            assert "variance reached the floor" in r.message
            assert "covariance='tied' or 'spherical'" in r.message


def test_all_k_failing_is_a_fit_error():
    x = np.array([0.0] * 10 + [1.0])
    with pytest.raises(FitError, match="k=2: every one of its 2 starts was degenerate"):
        mixfit.fit(x, k=2, n_starts=2, seed=0)


def test_two_dimensional_collinear_data_stays_finite():
    t = np.linspace(0, 1, 200)
    X = np.column_stack([t, 2 * t + 1])  # rank one
    result = mixfit.fit(X, k=2, covariance="full", seed=0)
    assert_finite(result)
    r = result.results[0]
    assert any(e.kind == "variance_floor" for s in r.starts for e in s.events)


@pytest.mark.parametrize(
    ("family", "data"),
    [
        ("poisson", [0, 0, 0, 1]),
        ("poisson", [1e6, 2e6, 3e6, 5]),
        ("gamma", [1e-300, 1.0, 2.0]),  # a component on a value near 0 once made a NaN trace
        ("gamma", [1e-8, 1e-8, 2e-8, 3e-8]),
        ("gamma", [1e100, 2e100, 3e100]),
        ("lognormal", [2.0, 2.0, 2.0, 3.0]),
        ("student_t", [0.0, 1e100, -1e100]),
        ("student_t", [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]),
    ],
)
def test_new_families_on_ugly_data_fit_finitely_or_say_why(family, data) -> None:
    try:
        result = mixfit.fit(data, family=family, k={"min": 1, "max": 3}, seed=0, n_starts=3)
    except FitError as error:
        assert "k=" in str(error) or "distinct" in str(error), error
        return
    assert_finite(result)
    assert "NaN" not in mixfit.score(result.model, data[:2]).model_dump_json()


@pytest.mark.parametrize(
    ("family", "data", "message"),
    [
        ("poisson", [0.5, 1.0, 2.0], "not non-negative integers"),
        ("poisson", [-1.0, 1.0, 2.0], "not non-negative integers"),
        ("gamma", [0.0, 1.0, 2.0], "not positive"),
        ("lognormal", [-1.0, 1.0, 2.0], "not positive"),
        ("gamma", [[1.0, 2.0], [2.0, 3.0]], "univariate"),
    ],
)
def test_new_families_refuse_data_outside_their_support(family, data, message) -> None:
    with pytest.raises(FitError, match=message):
        mixfit.fit(data, family=family, k=1, seed=0)


def test_distinct_points_are_counted_as_numpy_unique_counts_them() -> None:
    """``count_distinct`` (a sort of the one column) agrees with ``np.unique(axis=0)`` on tied
    data, signed zeros and the empty case, in one column and in two."""
    from mixfit.data import count_distinct

    rng = np.random.default_rng(3)
    cases = [np.round(rng.normal(size=(n, d)) * 2) for n in (0, 1, 2, 40, 300) for d in (1, 2)]
    cases.append(np.array([[0.0], [-0.0], [1.0], [1.0]]))
    for X in cases:
        assert count_distinct(X) == np.unique(X, axis=0).shape[0], X


def test_a_start_whose_covariance_is_singular_in_floating_point_is_degenerate() -> None:
    """Fuzzing found (d = 3, 33 points alike but for three entries, one weight 8e5,
    var_floor 1e-12, K = 3): one start's covariance, singular in floating point, failed the
    whole batch (numpy's LinAlgError, then again on its NaN in the next M-step). Such a start
    now counts as degenerate (``families.base.factor``): the fit ends in a finite result or a
    FitError that says what to change."""
    X = np.full((33, 3), -385397.7056400771)
    X[0, 2], X[11, 1], X[18, 0] = 3.0, -1.0, 3.0
    w = np.ones(33)
    w[[13, 16, 17, 29]], w[31] = 0.0, 806799.4862086268
    options = {"k": 3, "covariance": "full", "var_floor": 1e-12, "n_starts": 2, "seed": 0}
    try:
        result = mixfit.fit(X, weights=w, max_iter=100, **options)
    except FitError as exc:
        assert "try fewer components" in str(exc)
    else:
        assert_finite(result)


def test_singular_matrices_get_nan_factors_and_the_others_numpys() -> None:
    from mixfit.families.base import factor

    rng = np.random.default_rng(0)
    A = rng.normal(size=(2, 3, 3, 3))
    cov = A @ A.transpose(0, 1, 3, 2) + 0.1 * np.eye(3)
    cov[1, 2] = np.diag([1.0, 1.0, -1e-300])
    chol, prec = factor(cov)
    assert np.isnan(chol[1, 2]).all() and np.isnan(prec[1, 2]).all()
    good = np.ones((2, 3), dtype=bool)
    good[1, 2] = False
    assert np.array_equal(chol[good], np.linalg.cholesky(cov[good]))
    assert np.array_equal(prec[good], np.linalg.inv(cov[good]))


def test_weights_below_1e_12_of_the_largest_are_zeros_and_beyond_1e150_refused() -> None:
    """Weights of 1e-300 counted as points let K exceed the points that carry mass: eight
    points, seven of them weighted 1e-300, ended in numpy's LinAlgError (fuzzing); now the one
    point that counts cannot fit two components. Weights of 1e308 overflowed their sum."""
    from mixfit.data import as_points

    _, w = as_points([1.0, 2.0, 3.0], [1e-300, 1e-13, 1.0])
    assert w.tolist() == [0.0, 0.0, 1.0]
    _, w = as_points([1.0, 2.0, 3.0], [1e-11, 0.5, 1.0])
    assert w.tolist() == [1e-11, 0.5, 1.0]
    with pytest.raises(FitError, match="weights must be at most 1e\\+150"):
        mixfit.fit([1.0, 2.0, 3.0], weights=[1e308, 1.0, 1.0], k=1)
    X = np.ones((8, 3))
    X[0, 0], X[2, 2] = 0.0, 615423.8968487086
    w = np.r_[0.0, np.full(7, 1e-300)]
    w[-1] = 615423.8968487086
    with pytest.raises(FitError, match="1 point\\(s\\) cannot fit 2 components"):
        mixfit.fit(X, weights=w, k=2, covariance="full", var_floor=0.5, seed=0)


# -- work a request within every other cap could ask for: refused before anything is fitted ---


def test_a_keep_path_over_its_caps_is_a_fit_error_and_the_pages_default_is_well_inside() -> None:
    """keep_path kept every start's parameters at every iteration: d = 64, K = 10, tol 5e-324
    made a 235 MB result. What it returns, (max_iter + 1) x free parameters over the Ks, and
    what it keeps while fitting, n_starts times that, are capped; the simulator page's default
    request (1-D, K 1..4, 10 starts, 1,000 iterations) and every family's library default are
    inside, and the LRT's and bootstrap's refits of such a fit drop keep_path."""
    from mixfit.fit import check, parse_request
    from mixfit.inference import model_options
    from mixfit.replicates import fit_options
    from mixfit.schema import MAX_PATH_KEPT, MAX_PATH_VALUES

    wide = np.random.default_rng(0).normal(size=(3000, 64))
    message = (
        r"keep_path would return up to 21,470,449 parameter values \(\(max_iter 1000 \+ 1\) x "
        r"21,449 parameters over k\); at most 1,000,000: lower max_iter or k, or drop keep_path"
    )
    with pytest.raises(FitError, match=message):
        mixfit.fit(wide, k=10, tol=5e-324, keep_path=True)
    x = simulate(200)
    message = (
        r"keep_path would keep up to 10,001,000 parameter values while fitting \(n_starts 200 x "
        r"\(max_iter 10000 \+ 1\) x 5 parameters over k\); at most 10,000,000: lower n_starts"
    )
    with pytest.raises(FitError, match=message):
        mixfit.fit(x, k=2, n_starts=200, max_iter=10_000, keep_path=True)
    check(parse_request({"k": 2, "n_starts": 200, "max_iter": 10_000}), x)  # keep_path's own caps
    for family in ("gaussian", "student_t", "beta", "gamma", "lognormal", "poisson"):
        data = {"beta": x / 20 + 0.4, "poisson": np.round(np.abs(x))}.get(family, np.abs(x) + 0.1)
        check(parse_request({"family": family, "keep_path": True}), data)  # the defaults pass
        page = {"family": family, "k": {"min": 1, "max": 4}, "n_starts": 10, "max_iter": 1000}
        fam = check(parse_request({**page, "keep_path": True}), data)[0]
        returned = 1001 * sum(fam.n_params(k) for k in range(1, 5))
        assert returned <= MAX_PATH_VALUES / 25 and 10 * returned <= MAX_PATH_KEPT / 25
    assert "keep_path" not in fit_options({"keep_path": True}) | model_options({"keep_path": True})


def test_starts_held_at_once_over_their_cap_are_a_fit_error_whatever_max_iter() -> None:
    """d = 64, K = 20, n_starts 200, screen_factor 100, max_iter 1 on 1,400 points screened
    1,051 candidates of 42,899 parameters together and grew a worker to 3.5 GB in 60 s:
    max_iter bounds none of that. Refused before anything is drawn; the default n_starts (10)
    there is inside the cap."""
    from mixfit.fit import check, held_at_once, parse_request

    X = np.random.default_rng(0).normal(size=(1400, 64))
    options = {"k": 20, "n_starts": 200, "screen_factor": 100, "max_iter": 1}
    message = (
        r"k=20 would hold 1,051 starts of 42,899 parameters at once \(screening candidates, "
        r"starts or split-and-merge moves, whichever are more\): 45,086,849 values, more than "
        r"8,000,000; lower n_starts, screen_factor"
    )
    with pytest.raises(FitError, match=message):
        mixfit.fit(X, **options)
    request = parse_request({**options, "n_starts": 10})
    family = check(request, X)[0]  # no error
    assert held_at_once(request, family, X, 20) == 100  # the split-and-merge moves
    # a list of Ks is judged by its worst K
    with pytest.raises(FitError, match="k=20 would hold"):
        check(parse_request({**options, "k": [1, 2, 20]}), X)
    # the screening count the check uses is the one screening draws
    Y = X[:300, :8]
    options = {"k": 3, "n_starts": 4, "screen_factor": 50, "split_merge": 0}
    request = parse_request(options)
    result = mixfit.fit(Y, **options, seed=0)
    held = held_at_once(request, check(request, Y)[0], Y, 3)
    assert held == result.results[0].screening.candidates > 4


def test_score_requests_carry_at_most_100_000_points() -> None:
    """1.5 million points with responsibilities held an API thread for 33 s and answered
    183 MB; a ScoreRequest (REST, client, CLI) takes at most MAX_SCORE_POINTS."""
    from pydantic import ValidationError

    from mixfit.schema import MAX_SCORE_POINTS, ScoreRequest

    assert MAX_SCORE_POINTS == 100_000
    ScoreRequest(points=[0.5] * 100_000)
    for points in ([0.5] * 100_001, [[0.5, 1.0]] * 100_001):
        with pytest.raises(ValidationError, match="at most 100000 items"):
            ScoreRequest(points=points)


def test_a_split_start_with_an_empty_half_warns_nothing() -> None:
    """Gamma on values 1e9 + N(0, 0.001): K - 1's fit split in two can leave a half with no
    sample point; its log weight is -inf (the start's weight collapses and it restarts), with
    no RuntimeWarning for a service log to repeat on every such fit."""
    x = 1e9 + np.random.default_rng(0).normal(0.0, 1e-3, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = mixfit.fit(x, family="gamma", k={"min": 1, "max": 4}, seed=0)
    assert all(r.status == "ok" for r in result.results)


OUT_OF_RANGE_STARTS = [
    ("gaussian", {"weights": [0.5, 0.5], "means": [1.0, 3.0], "sds": [1e308, 1.0]}),
    ("gaussian", {"weights": [0.5, 0.5], "means": [1.0, 3.0], "sds": [1e-308, 1.0]}),
    ("gaussian", {"weights": [0.5, 0.5], "means": [1e300, 3.0], "sds": [1.0, 1.0]}),
    ("gamma", {"weights": [1.0], "shapes": [1e308], "rates": [1e-308]}),
    ("gamma", {"weights": [1.0], "shapes": [1e-308], "rates": [1e308]}),
    ("beta", {"weights": [1.0], "alphas": [1e308], "betas": [1.0]}),
    ("lognormal", {"weights": [1.0], "meanlogs": [1e308], "sdlogs": [1e-308]}),
]


@pytest.mark.parametrize(("family", "start"), OUT_OF_RANGE_STARTS)
def test_start_values_past_float64s_range_in_the_datas_units_are_refused(family, start) -> None:
    """Found by fuzzing the service: an sd of 1e308 squared, one of 1e-308 squared to a
    variance of 0, a mean of 1e300 whose natural parameter's square overflows, a shape whose
    log partition overflows, a beta alpha whose product with log x overflows the E-step's
    matrix product. Each ran into overflows and divisions by zero (RuntimeWarnings, errors
    under this suite) and failed in the worker as "degenerate after 3 restarts"; ``check``
    refuses them now, so the service answers 422 before it queues the fit. The same data
    with ordinary start values fit."""
    x = [0.2, 0.5, 0.7, 0.9] if family == "beta" else [1.0, 2.0, 3.0, 4.0, 6.0]
    with pytest.raises(FitError, match="start values leave float64's range"):
        mixfit.fit(x, family=family, k=len(start["weights"]), init=start)
    ordinary = {
        name: [1.0 if name != "weights" else v for v in values] for name, values in start.items()
    }
    result = mixfit.fit(x, family=family, k=len(start["weights"]), init=ordinary)
    assert result.results[0].loglik is not None


@pytest.mark.parametrize(
    ("data", "family", "ks"),
    [
        ([0.1, 0.4, 5.0], "gaussian", [1, 2, 3]),  # 3 points
        ([1.0, 2.0, 3.0] * 20, "gaussian", [1, 2, 3]),  # 3 distinct values
        ([0.0, 1.0, 1.0, 4.0] * 10, "poisson", [1, 2, 3]),
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "gamma", [1, 2, 3, 4, 5]),  # enough: the default
    ],
)
def test_the_default_k_range_is_cut_to_what_the_data_hold(data, family, ks) -> None:
    """Without ``k`` the default 1..5 is cut to the data's points or distinct values (it was
    a FitError for a K = 5 nobody asked for); with the range sent, it is still refused."""
    result = mixfit.fit(data, family=family, seed=0)
    assert [r.k for r in result.results] == ks and result.results[0].status == "ok"
    if ks[-1] < 5:
        with pytest.raises(FitError, match=f"ask for k <= {ks[-1]}"):
            mixfit.fit(data, family=family, seed=0, k={"min": 1, "max": 5})


def test_constant_data_without_k_are_still_refused() -> None:
    with pytest.raises(FitError, match="constant"):
        mixfit.fit([2.0] * 10)
