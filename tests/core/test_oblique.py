"""Clusters thin along a direction no column follows (``mixfit.oblique``): a full or tied
covariance below the per-column floor along such a direction is a component where the data are
as thin there, and is held at the floor as before where they are not."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import mixfit
import mixfit.families.gaussian as gaussian
import mixfit.oblique as oblique
from mixfit.em import accurate_loglik
from mixfit.estep import Batch
from mixfit.fit import parse_request, prepare
from mixfit.oblique import ObliqueFloor
from mixfit.smem import engine_params

from .split import split_loglik

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _correlated_pair(rho: float, apart: float, seed: int = 1) -> list[np.ndarray]:
    """200 points of correlation ``rho`` at the origin, 200 round ones ``apart`` along x."""
    rng = np.random.default_rng(seed)
    thin = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], 200)
    return [thin, rng.normal([apart, 0.0], 1.0, (200, 2))]


@pytest.mark.parametrize("apart", [10.0, 100.0])
@pytest.mark.parametrize("rho", [0.99999, 0.999999, 0.9999999])
def test_a_cluster_thin_along_no_column_is_a_component(rho: float, apart: float) -> None:
    """Correlation 0.99999 and on: its smallest variance (1e-5 and below) is under 1e-6 of the
    columns' references. Before, every start held it at the floor: 10 apart K = 2 ended at a
    worse maximum (-1765.33 against scikit-learn's -308.18 at 0.99999), 100 apart K = 2 was
    refused from 0.9999 on. Now K = 2 is the two clusters at their own maximum, and BIC
    chooses it."""
    parts = _correlated_pair(rho, apart)
    fit = mixfit.fit(np.vstack(parts), k={"min": 1, "max": 3}, seed=0)
    assert fit.k_selected == 2
    two = fit.results[1]
    assert sorted(np.round(two.points).tolist()) == [200, 200]
    # The engine's own sum stood up to 2.5e-4 off (0.9999999, 100 apart: its terms reach
    # 1e10 and cancel, in an order the BLAS picks); the reported value is evaluated in data
    # units (``mixfit.em.accurate_loglik``): 1.3e-12 from 50-digit arithmetic there, and the
    # split's numpy value 2.7e-7 from it.
    assert two.loglik == pytest.approx(split_loglik(parts), abs=1e-6)


def test_the_log_likelihood_is_evaluated_again_only_on_the_datas_own_problem() -> None:
    """``accurate_loglik`` evaluates the parameters at the problem's points X in data units:
    a problem derived with another batch (the split-and-merge moves' sample, whose X holds
    engine units and whose log-likelihoods the moves compare among themselves) is left alone.
    Evaluated there, the sample's K = 3 fits of the simulator's data (n = 200) were given
    log-likelihoods of other points (-465.96, -465.98), the moves took another path, and the
    grid ended at -428.05 against -426.52 (K = 4: -422.14 against -421.94)."""
    parts = _correlated_pair(0.9999999, 100.0)
    X = np.vstack(parts)
    problem = prepare(parse_request({"k": 2, "seed": 0}), X)
    fit = mixfit.fit(X, k=2, seed=0).results[0]
    params, weights = engine_params(problem, fit.params)
    logw = np.log(weights)
    assert accurate_loglik(problem, params, logw) == pytest.approx(fit.loglik, abs=1e-9)
    Z = problem.Z
    sample = dataclasses.replace(problem, X=Z, batch=Batch(problem.family.statistics(Z), None))
    assert accurate_loglik(sample, params, logw) is None


def test_the_t_and_the_tied_covariance_fit_thin_clusters_too() -> None:
    """The Student t's scale matrix is lifted as the Gaussian's covariance is; a tied covariance
    is thin where both clusters are (two parallel lines y = x + N(0, 1e-4), 5 apart)."""
    parts = _correlated_pair(0.999999, 100.0)
    t = mixfit.fit(np.vstack(parts), k=2, family="student_t", seed=0).results[0]
    assert t.status == "ok"
    assert sorted(np.round(t.points).tolist()) == [200, 200]
    assert t.loglik >= split_loglik(parts) - 1e-6
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 1.0, (2, 150))
    lines = [np.c_[x[i], x[i] + 5.0 * i + rng.normal(0, 1e-4, 150)] for i in range(2)]
    tied = mixfit.fit(np.vstack(lines), k=2, covariance="tied", seed=0).results[0]
    assert sorted(np.round(tied.points).tolist()) == [150, 150]
    cov = np.asarray(tied.params.covariances[0])
    assert np.linalg.eigvalsh(cov)[0] == pytest.approx(0.5e-8, rel=0.3)


def test_a_cluster_near_a_line_is_a_component() -> None:
    """y = x + N(0, 0.001), x ~ N(0, 1), beside a round cluster: its smallest eigenvalue is
    1e-7 of the columns' variances. The README's limit until this change (by default K = 2
    ended 1,256 units lower, at a maximum that was not the two clusters; ``var_floor=1e-10``
    was the way out): now the default fits it, as the smaller floor does."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, 150)
    parts = [np.c_[x, x + rng.normal(0.0, 1e-3, 150)], rng.normal([5.0, -5.0], 1.0, (150, 2))]
    X = np.vstack(parts)
    default = mixfit.fit(X, k=2, seed=0).results[0]
    assert sorted(np.round(default.points).tolist()) == [150, 150]
    smaller = mixfit.fit(X, k=2, seed=0, var_floor=1e-10).results[0]
    assert default.loglik == pytest.approx(smaller.loglik, rel=1e-9)
    assert default.loglik == pytest.approx(split_loglik(parts), rel=1e-6)


def _exact_line(seed: int = 0) -> np.ndarray:
    """60 points exactly on y = x beside 200 round ones: a component on the line is singular."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, 60)
    return np.r_[np.c_[x, x], rng.normal([3.0, -3.0], 1.0, (200, 2))]


def test_points_exactly_on_a_line_still_degenerate(monkeypatch) -> None:
    """A component collapsing onto points exactly on an oblique line has a thin direction that
    tends to the line's normal, along which the data's projection thins with it: only
    ``MIN_SHARE`` holds it (and, far below it, ``ROUNDOFF``). With it, no reported covariance is
    singular (the default fit is the one the per-column floor alone gives); without both (0),
    K = 2's winner sat on the line with an eigenvalue of 1e-15 and a log-likelihood of +120."""
    X = _exact_line()

    def smallest(fit: mixfit.FitResult) -> float:
        return min(
            float(np.linalg.eigvalsh(np.asarray(c))[0])
            for r in fit.results
            for c in r.params.covariances
        )

    fit = mixfit.fit(X, k=[1, 2, 3], seed=0)
    assert smallest(fit) > 1e-4
    assert fit.results[1].loglik < -800.0
    monkeypatch.setattr(oblique, "MIN_SHARE", 0.0)
    assert smallest(mixfit.fit(X, k=[1, 2, 3], seed=0)) > 1e-4  # ROUNDOFF holds it
    monkeypatch.setattr(gaussian, "ROUNDOFF", 0.0)
    unheld = mixfit.fit(X, k=[1, 2, 3], seed=0)
    assert smallest(unheld) < 1e-10


def _floor_of(X: np.ndarray) -> ObliqueFloor:
    """The data as the engine's units (the floor's scale is declared by each test)."""
    return ObliqueFloor.of(X, None, 1e-6)


def _eigen(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eigh(cov)
    return values[None], vectors[None]


def test_the_exemption_asks_for_thin_data_along_the_direction() -> None:
    """In floor units (a per-column floor of 1): an eigenvalue of 0.01 along (1, -1) is kept
    where the data hold a cluster that thin along it, lifted in a round blob, lifted below
    ``MIN_SHARE`` and where a second eigenvalue is below the floor too."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, 300)
    thin = np.r_[np.c_[x, x + rng.normal(0.0, 1e-5, 300)], rng.normal([4.0, 0.0], 1.0, (100, 2))]
    blob = rng.normal(0.0, 1.0, (400, 2))
    v = np.array([1.0, -1.0]) / np.sqrt(2.0)
    along = np.array([1.0, 1.0]) / np.sqrt(2.0)
    scale = np.full(2, 1e3)  # 1 / sqrt(a floor of 1e-6)

    def cov(small: float, large: float) -> np.ndarray:
        return small * np.outer(v, v) + large * np.outer(along, along)

    assert _floor_of(thin).exempt(*_eigen(cov(0.01, 1e6)), scale)[0]
    assert not _floor_of(blob).exempt(*_eigen(cov(0.01, 1e6)), scale)[0]
    assert not _floor_of(thin).exempt(*_eigen(cov(0.5 * oblique.MIN_SHARE, 1e6)), scale)[0]
    assert not _floor_of(thin).exempt(*_eigen(cov(0.01, 0.5)), scale)[0]


def test_a_tied_columns_axis_keeps_the_columns_floor() -> None:
    """A component collapsing onto one value of a column with ties has a thin direction that
    tends to the column's axis: within ``AXIS_COS`` of it the exemption does not apply, even
    where the data are thin along it; the same direction in data without ties is exempt."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, 400)
    tilt = 0.05  # the thin cluster's direction, 3 degrees off the second axis
    y = np.where(np.arange(400) < 300, tilt * x + rng.normal(0, 1e-6, 400), rng.normal(5, 1, 400))
    v = np.array([-tilt, 1.0]) / np.hypot(tilt, 1.0)
    assert abs(v[1]) > oblique.AXIS_COS
    along = np.array([1.0, tilt]) / np.hypot(tilt, 1.0)
    cov = 0.01 * np.outer(v, v) + 1e6 * np.outer(along, along)
    scale = np.full(2, 1e3)
    untied = _floor_of(np.c_[x, y])
    assert not untied.tied.any()
    assert untied.exempt(*_eigen(cov), scale)[0]
    tied = _floor_of(np.c_[x, np.round(y, 1)])
    assert tied.tied.tolist() == [False, True]
    assert not tied.exempt(*_eigen(cov), scale)[0]


def test_counts_give_what_repeated_points_give() -> None:
    """Weights are counts: the floor's data with counts is the floor's data with the points
    repeated, and a fit's exemption with it."""
    rng = np.random.default_rng(0)
    parts = _correlated_pair(0.999999, 100.0)
    X = np.vstack(parts)
    counts = rng.integers(1, 4, X.shape[0]).astype(float)
    weighted = mixfit.fit(X, k=2, weights=counts, seed=0).results[0]
    repeated = mixfit.fit(np.repeat(X, counts.astype(int), axis=0), k=2, seed=0).results[0]
    assert weighted.loglik == pytest.approx(repeated.loglik, abs=1e-4)  # 2.5e-7 a point
    assert sorted(np.round(weighted.points).tolist()) == sorted(np.round(repeated.points).tolist())


def test_a_lattice_of_tied_columns_is_no_thin_cluster(monkeypatch) -> None:
    """MASS's Boston (506 tracts, 14 columns, the town-level ones of 2 to 81 values): full
    K = 3 is refused as degenerate, as before this module and as mclust refuses VVV K >= 2.
    Along a direction 97 % tax and 22 % zn the tracts' few town values project to close but
    distinct values; without the rule on the span of the tied columns (``AXIS_COS`` past 1)
    K = 3 "fitted" a component of 70 tracts 4.5e-3 of the floor thin there."""
    doc = json.loads((FIXTURES / "mclust_more" / "mclust_Boston.json").read_text())
    X = np.asarray(doc["x"])
    assert mixfit.fit(X, k=[2, 3], covariance="full", seed=0).results[1].status == "failed"
    monkeypatch.setattr(oblique, "AXIS_COS", 1.01)
    three = mixfit.fit(X, k=[2, 3], covariance="full", seed=0).results[1]
    assert three.status == "ok"
    assert min(three.points) < 100


# found by fuzzing mixfit.fit: 8 points in 3-D, half of them one repeated row
REPEATED_ROW = [[-1.5884146636421816, -1.4742743694888887, 0.347559318262695]] * 4 + [
    [0.322926316299067, 0.6781791931238226, 0.9883379801311569],
    [-0.03560856555400529, -1.5461716537104244, -0.8798020693817842],
    [-1.5064909560624462, -0.34880878786859815, 0.3521791518850566],
    [0.44716209621759384, -1.0790080059107818, -1.460786704127817],
]


def test_a_covariance_singular_but_for_rounding_is_never_exempt() -> None:
    """Tied K = 3 on ``REPEATED_ROW`` pools a within-cluster scatter of rank 2 (5 distinct
    points, 3 clusters). At ``var_floor=4e-9`` the floor's ``MIN_SHARE`` came within the
    rounding of a covariance from uncentred moments, and half the starts converged on that
    rank-2 covariance (an eigenvalue of 1e-17; log-likelihood 128.28, indefinite in data
    units) as a regular fit; the split-and-merge moves from it then failed on NaN
    responsibilities (numpy's ``LinAlgError``: a 500 in the service). An exemption now needs
    the smallest eigenvalue at least 1e-12 of the moments it came from
    (``mixfit.families.gaussian.ROUNDOFF``)."""
    options = {"covariance": "tied", "var_floor": 4.043467888738148e-09, "init": "quantile"}
    options.update(tol_type="per_sample")
    result = mixfit.fit(REPEATED_ROW, k=[1, 2, 4], seed=852, **options)
    assert [r.status for r in result.results] == ["ok"] * 3
    three = mixfit.fit(REPEATED_ROW, k=3, seed=852, **options).results[0]
    assert three.status == "ok" and three.loglik < 0.0
    cov = np.asarray(three.params.covariances[0])
    assert np.linalg.eigvalsh(cov)[0] > 1e-3 * np.linalg.eigvalsh(cov)[-1]
