"""The sweeps' own logic (the sweeps themselves take minutes to an hour: not run here)."""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest

from tests.sweeps import (
    beta,
    compare,
    grids,
    normalmixem,
    options,
    refusals,
    requests,
    tied,
    traces,
)
from tests.sweeps.common import data_sets


def test_compare_counts_each_cell_once_and_finds_a_k_below_k_minus_1(tmp_path, capsys):
    old = [
        {"key": ["a", "gaussian", ""], "ll": {"1": -10.0, "2": -8.0, "3": -7.0}},
        {"key": ["b", "gaussian", ""], "ll": {"1": -10.0, "2": None}},
        {"key": ["c", "beta", ""], "error": "no"},
    ]
    new = [
        {"key": ["a", "gaussian", ""], "ll": {"1": -10.0, "2": -8.0 + 1e-9, "3": -9.0}},
        {"key": ["b", "gaussian", ""], "ll": {"1": -9.0, "2": -9.5}},
        {"key": ["c", "beta", ""], "error": "no"},
    ]
    paths = []
    for name, rows in (("old", old), ("new", new)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(rows))
        paths.append(str(path))
    counts = compare.main(paths)
    assert counts == {
        "identical": 1,
        "close": 1,
        "lower": 1,
        "higher": 1,
        "status changed": 1,
        "below K-1": 2,
    }
    assert "below K-1 ('a', 'gaussian', '') K 3" in capsys.readouterr().out


def test_families_follow_the_support():
    assert [f for f, _ in grids.families(np.array([0.2, 0.5, 0.9]))] == [
        "gaussian",
        "student_t",
        "gamma",
        "lognormal",
        "beta",
    ]
    assert [f for f, _ in grids.families(np.array([0.0, 3.0, 5.0]))] == [
        "gaussian",
        "student_t",
        "poisson",
    ]
    assert len(grids.families(np.zeros((5, 2)))) == 4
    assert tied.tied(np.zeros(5)) == [("gaussian", {"covariance": "tied"})]


def test_the_data_sets_are_distinct_and_the_simulated_beta_sets_inside_the_unit_interval():
    sets = list(data_sets())
    assert len(sets) > 150
    assert len({x.tobytes() for _, x in sets}) == len(sets)
    simulated = beta.simulated()
    assert len(simulated) == 24
    assert all(((x > 0) & (x < 1)).all() for _, x in simulated)


def test_the_option_fuzz_draws_each_request_from_its_seed_and_reports_defects():
    assert options.non_finite({"a": [1.0, float("nan")], "b": {"c": float("inf")}, "d": 2}) == [
        ".a[]",
        ".b.c",
    ]
    (x1, w1, o1), (x2, w2, o2) = options.request(7), options.request(7)
    np.testing.assert_array_equal(x1, x2)
    assert o1 == o2 and (w1 is None) == (w2 is None)

    class Broken:
        class FitError(Exception):
            pass

        @staticmethod
        def fit(*args, **kwargs):
            raise ValueError("a bug")

    assert options.check(Broken, 7) == ["ValueError: a bug"]


def test_the_normalmixem_figures_are_relative_to_r():
    assert normalmixem.relative([1.0, -2.0], [1.0, -2.0 * (1 + 4e-12)]) == pytest.approx(
        4e-12, rel=1e-3
    )
    assert normalmixem.relative([3.0], [3.0]) == 0.0


def test_the_request_sweep_counts_every_seed_and_reports_a_crash(monkeypatch, capsys):
    assert requests.main(["core", "0", "4"]) == 0
    counts = ast.literal_eval(capsys.readouterr().out.splitlines()[0])  # the printed dict
    assert sum(counts.values()) == 4

    def crash(*args, **kwargs):
        raise ValueError("unknown init method 'auto'")

    monkeypatch.setattr("mixfit.fit", crash)
    assert requests.main(["core", "0", "2"]) == 1
    assert "seed 0: ValueError: unknown init method 'auto'" in capsys.readouterr().out


def test_refusals_count_only_regular_maxima_above_k_minus_1(tmp_path, monkeypatch, capsys):
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (50, 2)), rng.normal(6, 1, (50, 2))])
    gm = GaussianMixture(2, random_state=0).fit(X)
    assert refusals.regular(gm, X)
    gm.covariances_ = gm.covariances_.copy()
    gm.covariances_[0] *= 1e-6  # a component without spread
    assert not refusals.regular(gm, X)
    gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    gm.weights_ = np.array([0.005, 0.995])  # half a point's worth
    assert not refusals.regular(gm, X)

    name = next(n for n, x in data_sets() if x.ndim == 1)
    grid = tmp_path / "grid.json"
    rows = [
        {"key": [name, "gaussian", ""], "ll": {"1": -10.0, "2": None, "3": None, "4": None}},
        {"key": [name, "student_t", ""], "ll": {"1": -9.0, "2": None}},
    ]
    grid.write_text(json.dumps(rows))
    # K = 2: K = 1 repeated; K = 3: above K = 1; K = 4: regular but below K = 1
    found = {2: (3, -10.0 + 1e-9), 3: (1, -9.5), 4: (2, -10.5)}
    monkeypatch.setattr(refusals, "best_regular", lambda X, k, cov, starts: found[k])
    out = refusals.main([str(grid)])
    assert [(r["k"], r["new"]) for r in out] == [(2, False), (3, True), (4, False)]
    assert "3 refused Ks; 1 with a new regular maximum" in capsys.readouterr().out


def test_the_trace_sweep_names_each_fall_by_its_event():
    """``tests.sweeps.traces``: a fall is counted under what its ``ll_decrease`` event says
    (the words ``mixfit.em.fall_detail`` writes), and a fall without one is a defect."""
    from mixfit.em import fall_detail
    from mixfit.fit import parse_request, prepare

    problem = prepare(parse_request({"k": 1}), np.arange(20.0))
    params = {"mean": np.zeros((1, 1, 1)), "var": np.ones((1, 1, 1))}
    logw = np.zeros(1)
    assert traces.cause(fall_detail(problem, params, logw, 1e-300, False)) == "rounding"
    assert traces.cause(fall_detail(problem, params, logw, 1.0, True)) == "floor"
    assert traces.cause(fall_detail(problem, params, logw, 1e-3, False, 1e-2)) == "allowance"
    assert traces.cause(fall_detail(problem, params, logw, 1.0, False, 1e-2)) == "unexplained"
    assert traces.cause(None) == "no event"


def test_the_unseen_sweep_holds_no_tested_data_and_flags_what_a_reference_beats():
    """``tests.sweeps.unseen``: its data sets are none of the fixtures' (the search was tuned
    on those) nor ``test_sklearn_datasets``'s, and a cell misses where the reference is above
    mixfit by more than 1e-6 n."""
    from tests.core import test_sklearn_datasets as whole
    from tests.sweeps import unseen

    tested = {x.tobytes() for _, x in data_sets(max_rows=10**6)}
    tested |= {np.asarray(whole._data(name), dtype=float).tobytes() for name in whole.SETS}
    sets = list(unseen.gaussian_sets().items()) + [
        item for by_name in unseen.family_sets().values() for item in by_name.items()
    ]
    assert len(sets) == 36
    for name, x in sets:
        x = np.asarray(x, dtype=float)
        # tobytes() is C-ordered, so a column and its vector give the same bytes
        assert np.isfinite(x).all() and x.tobytes() not in tested, name
    assert unseen.verdict(100, -10.0, -10.0 + 2e-4) == "miss"
    assert unseen.verdict(100, -10.0, -10.0 + 5e-5) == ""
    assert unseen.verdict(100, -10.0, -11.0) == ""
    assert unseen.verdict(100, None, -10.0) == "refused"
    assert unseen.verdict(100, None, None) == ""


def test_the_rdata_sweep_keeps_measurements_and_drops_codes_indices_and_fixtures():
    """``tests.sweeps.rdata``: a column is a data set when it is numeric, finite, of 60 to
    2,500 rows with at least max(30, n / 10) distinct values, not monotone and not named as an
    index; a data set a fixture holds is dropped."""
    from tests.sweeps import rdata

    rng = np.random.default_rng(0)
    good = rng.normal(size=200)
    columns = {
        "good": good,
        "rownames": rng.normal(size=200),  # named as an index
        "few": rng.integers(0, 5, 200).astype(float),  # a code
        "ramp": np.cumsum(rng.random(200)),  # a date or an index
        "missing": np.r_[good[:-1], np.nan],
        "short": good[:59],
        "text": np.array(["a"] * 200, dtype=object),
        "long": rng.normal(size=2501),
    }
    assert [name for name, _ in rdata.usable(columns)] == ["good"]
    assert [name for name, _ in rdata.usable({"short": good[:60]})] == ["short"]
    fixture = next(x for _, x in data_sets() if np.ndim(x) == 1)
    assert rdata.held(fixture) and not rdata.held(good)


def test_the_rdata_families_part_takes_proportions_inside_0_1_and_counts():
    """``tests.sweeps.rdata`` ``families``: a beta column lies strictly inside (0, 1) (the
    brute force takes no 0 or 1) with 30 to 2,000 rows and max(20, n / 10) distinct values; a
    Poisson column holds non-negative integers up to 500 on 40 to 800 rows, 8 distinct values
    at least, not named as an index."""
    from tests.sweeps import rdata

    rng = np.random.default_rng(0)
    p = rng.beta(2.0, 5.0, 100)
    columns = {
        "p": p,
        "at_one": np.r_[p[:-1], 1.0],
        "at_zero": np.r_[p[:-1], 0.0],
        "few_values": np.round(p, 1),
        "short": p[:29],
        "text": np.array(["a"] * 100, dtype=object),
    }
    assert [name for name, _ in rdata.proportions(columns)] == ["p"]
    n = rng.poisson(6.0, 100).astype(float)
    columns = {
        "n": n,
        "negative": np.r_[n[:-1], -1.0],
        "fraction": np.r_[n[:-1], 2.5],
        "large": np.r_[n[:-1], 501.0],
        "binary": rng.integers(0, 2, 100).astype(float),
        "id": n.copy(),
        "short": n[:39],
        "missing": np.r_[n[:-1], np.nan],
    }
    assert [name for name, _ in rdata.counts(columns)] == ["n"]
