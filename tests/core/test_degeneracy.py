"""The degeneracy policy, one test per rule (``mixfit.em``'s docstring states the policy).

Degenerate means the likelihood is unbounded there: a variance held at the floor, or a component
with less than one point's worth of weight. Small but well-defined components are results.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixfit
from mixfit.data import local_variance
from mixfit.em import run_k
from mixfit.finish import refine_k
from mixfit.fit import parse_request, prepare

from .orphan import fit_orphan
from .split import split_loglik

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _far_cluster(d: int, seed: int = 0) -> np.ndarray:
    """200 points around the origin and 3 (distinct) points close together far away."""
    rng = np.random.default_rng(seed)
    big = rng.normal(0.0, 1.0, (200, d))
    small = 12.0 + rng.normal(0.0, 0.3, (3, d))
    return np.vstack([big, small])


@pytest.mark.parametrize("covariance", ["tied", "spherical"])
def test_a_three_point_component_is_kept_when_its_covariance_needs_few_points(covariance):
    """Tied: the 3-point component borrows the shared covariance; spherical: one variance from
    3 x 5 coordinates. Both are well defined: kept, and flagged small."""
    X = _far_cluster(5)
    r = mixfit.fit(X, k=2, covariance=covariance, seed=1).results[0]
    assert r.status == "ok"
    small = int(np.argmin(r.points))
    assert r.points[small] == pytest.approx(3.0, abs=1e-6)
    assert r.small_components == [small]
    assert not any(s.status == "degenerate" for s in r.starts if s.start == r.best_start)


def test_a_three_point_full_covariance_in_five_dimensions_is_singular():
    """Full: 3 points cannot span 5 dimensions, so a component on them alone drives its
    covariance to the floor. Started right there, the start is degenerate (the event says why)
    and is re-drawn; the screened default fit never returns such a spike."""
    X = _far_cluster(5)
    start = {
        "weights": [200 / 203, 3 / 203],
        "means": [X[:200].mean(axis=0).tolist(), X[200:].mean(axis=0).tolist()],
        "covariances": [np.eye(5).tolist(), (0.09 * np.eye(5)).tolist()],
    }
    request = parse_request({"init": start, "covariance": "full", "seed": 1})
    r = run_k(prepare(request, X), 2)
    events = r.starts[0].events
    floor = next(e for e in events if e.kind == "degenerate")
    assert floor.iteration <= 3 and floor.component == 1
    assert "variance reached the floor with 3 points' worth of weight" in floor.detail
    assert any(e.kind == "restart" for e in events)
    if r.status == "failed":  # every re-drawn start degenerated too: the message says so
        assert r.message.startswith("k=2: its only start was degenerate after 3 restarts")
    default = mixfit.fit(X, k=2, covariance="full", seed=1).results[0]
    assert default.status == "ok" and min(default.points) > 3.5
    assert default.starts[default.best_start].status != "degenerate"


def test_a_component_on_repeated_values_is_degenerate_and_never_chosen():
    """Five copies of one value: a component on them has zero variance (a degenerate spike of
    unbounded likelihood). Starts that find it are restarted or marked; the result is the best
    non-degenerate maximum, with no variance at the floor."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0.0, 1.0, 150), rng.normal(6.0, 1.0, 150), np.full(5, 3.0)])
    r = mixfit.fit(x, k=3, n_starts=20, seed=2).results[0]
    assert r.status == "ok"
    floor_sd = np.sqrt(1e-6 * x.var())
    assert min(r.params.sds) > 1.5 * floor_sd  # small components, but none at the floor
    hit = [
        e
        for s in r.starts
        for e in s.events
        if e.kind == "degenerate" and "variance reached the floor" in e.detail
    ]
    restarted = [e for s in r.starts for e in s.events if e.kind == "restart"]
    assert hit and len(restarted) >= len(hit) - sum(s.status == "degenerate" for s in r.starts)
    for s in r.starts:
        if s.status == "degenerate":
            assert s.degenerate_reason == "floor" and s.start != r.best_start


def test_a_component_left_with_less_than_one_point_is_degenerate():
    """Explicit start values with a component far from every point: its weight falls below
    one point's worth at the first E-step; the start is re-drawn and the event says why."""
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(0.0, 1.0, 100), rng.normal(5.0, 1.0, 100)])
    start = {"weights": [0.5, 0.4999, 0.0001], "means": [0.0, 5.0, 1e4], "sds": [1.0, 1.0, 1.0]}
    r = mixfit.fit(x, init=start, seed=0).results[0]
    events = r.starts[0].events
    collapse = next(e for e in events if e.kind == "weight_collapse")
    assert collapse.component == 2 and "less than one point" in collapse.detail
    assert any(e.kind == "restart" for e in events)
    assert r.status == "ok" and min(r.points) > 1.0


def test_the_failure_message_counts_what_happened():
    """A K fails only when every start was degenerate; its message counts each rule."""
    from mixfit.em import failure_message
    from mixfit.schema import StartSummary

    def start(i: int, reason: str) -> StartSummary:
        return StartSummary(
            start=i,
            seed=i,
            init="kmeans",
            status="degenerate",
            degenerate_reason=reason,
            loglik=-1.0,
            n_iter=3,
            restarts=3,
            trace=[-2.0, -1.0],
            events=[],
        )

    message = failure_message(4, [start(0, "floor"), start(1, "weight"), start(2, "weight")])
    assert message.startswith("k=4: every one of its 3 starts was degenerate")
    assert "in 1 a component's variance reached the floor" in message
    assert "in 2 a component kept less than one point's worth of weight" in message
    only_weight = failure_message(2, [start(0, "weight")])
    assert "floor" not in only_weight.split(";")[0]


@pytest.mark.parametrize(
    ("family", "phrase", "remedy"),
    [
        ("gaussian", "variance reached the floor", "covariance='tied' or 'spherical'"),
        ("student_t", "scale reached the floor", "family='gaussian'"),
        ("beta", "precision a+b reached its cap", "fewer components or a larger var_floor"),
        ("gamma", "shape reached its cap", "fewer components or a larger var_floor"),
        ("lognormal", "variance reached the floor", "fewer components or a larger var_floor"),
    ],
)
def test_a_failed_k_is_told_what_its_own_family_can_try(family, phrase, remedy):
    """A sweep of the other families found the Gaussian advice (covariance='tied' or
    'spherical') in every family's failure message, and a beta cap called a variance floor:
    the message uses the family's words and names only options the family has."""
    from mixfit.em import failure_message
    from mixfit.families import get_family

    fam = get_family(family)(parse_request({"family": family, "k": 2}), 1)
    starts = [
        s.model_copy(update={"degenerate_reason": "floor", "status": "degenerate"})
        for s in mixfit.fit(np.linspace(0.1, 0.9, 30), family=family, k=1, seed=0)
        .results[0]
        .starts[:2]
    ]
    message = failure_message(3, starts, fam)
    assert f"in 2 a component's {phrase}" in message and remedy in message
    if family != "gaussian":  # 1-D: the t's one scale has no shape to choose either
        assert "spherical" not in message and "tied" not in message and "diag" not in message
    alone = failure_message(1, starts, fam)  # K = 1: no fewer components to try
    assert "fewer components" not in alone and alone.endswith("try " + fam.remedy(1))
    assert fam.remedy(1).endswith("a larger var_floor")
    if family == "student_t":  # in d > 1 the t's scale has a shape to choose
        wide = get_family(family)(parse_request({"family": family, "k": 2}), 3)
        assert "covariance='diag'" in failure_message(3, starts, wide)


def test_the_t_on_a_heavy_tie_names_the_gaussian() -> None:
    """R's ships' incidents (14 of 40 are 0): every start of the t's K = 1 degenerates (its
    degrees of freedom shrink onto the zeros); the message says to try the Gaussian (not fewer
    components, nor a covariance type the 1-D t does not have), and the Gaussian fits."""
    doc = json.loads((FIXTURES / "families_third" / "poisson_ships.json").read_text())
    x = np.asarray(doc["x"], dtype=float)
    with pytest.raises(mixfit.FitError) as failed:
        mixfit.fit(x, family="student_t", k=1, seed=0)
    message = str(failed.value)
    assert message.endswith("; try family='gaussian' or a larger var_floor")
    assert mixfit.fit(x, family="gaussian", k=1, seed=0).results[0].status == "ok"


def test_singular_data_are_not_a_degenerate_component():
    """Collinear columns: one component on all the data already needs the floor, so the floor
    is the data's, every K still fits, and the events record it."""
    t = np.linspace(0.0, 1.0, 200)
    X = np.column_stack([t, 2.0 * t + 1.0])
    r = mixfit.fit(X, k=2, covariance="full", seed=0).results[0]
    assert r.status == "ok"
    assert all(s.status != "degenerate" for s in r.starts)
    assert any(e.kind == "variance_floor" for s in r.starts for e in s.events)


@pytest.mark.parametrize("covariance", ["full", "diag", "tied"])
def test_a_constant_column_beside_one_in_large_units_fits(covariance: str) -> None:
    """A constant column next to one of scale 1e5: centring leaves the constant column a
    variance of rounding (1e-73 of the other's), which once set its floor; covariances then
    failed their Cholesky factorization or every start "degenerated", K = 1 included (by hand,
    on the old code: 28 of 60 fits, 20 data sets like these x full, diag, tied). It now counts
    as constant (``mixfit.data.FLAT_COLUMN``)."""
    rng = np.random.default_rng(0)
    for s in range(4):
        v = np.r_[rng.normal(0, 5e4, 100), rng.normal(3e5, 5e4, 100)]
        X = np.c_[np.full(200, 1.0 if s % 2 else 0.1), v]
        result = mixfit.fit(X, k=[1, 2, 3], covariance=covariance, seed=s)
        assert [r.status for r in result.results] == ["ok"] * 3
        assert result.k_selected == 2


def test_beta_spike_is_degenerate_by_its_precision_cap():
    """Beta's floor is a cap on the precision a+b: a component on repeated values reaches it."""
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.beta(2.0, 5.0, 300), np.full(6, 0.8)])
    r = mixfit.fit(x, family="beta", k=2, n_starts=10, seed=1).results[0]
    caps = [e for s in r.starts for e in s.events if e.kind == "degenerate"]
    if r.status == "ok":
        best = r.starts[r.best_start]
        assert best.status != "degenerate"
    assert all("precision a+b reached its cap" in e.detail for e in caps)


def test_a_k_whose_every_start_degenerates_is_rescued_from_parameter_space():
    """R's cats heart weights (n = 144, 73 distinct values), K = 3: under seeds 0 and 1 every
    screened start and its three soft restarts degenerate, yet mclust reaches a regular maximum
    (-324.41, its smallest component 10 points). The K's rescue starts, drawn in parameter
    space (``mixfit.finish.rescue``, ten times the K's starts), find a maximum at least as high:
    -324.03 under seed 0 (smallest component 16 points) and -323.01 under seed 1 (a 3.8-point
    component beside two of 68 and 72, the maximum seeds 2 and 3 reach without a rescue)."""
    doc = json.loads((FIXTURES / "rescue" / "cats_hwt.json").read_text())
    x = np.asarray(doc["x"])
    for seed in (0, 1):
        r = fit_orphan(x, k=3, seed=seed)  # no K = 2 to grow from
        assert [s.status for s in r.starts[:10]] == ["degenerate"] * 10
        assert r.status == "ok" and r.starts[r.best_start].init == "params (rescue)"
        assert r.loglik >= doc["loglik"] - 1e-6 * x.size
        assert r.loglik >= -324.03 - 0.01  # the README's figure
        assert min(r.points) >= 1  # no weight collapse: an admissible maximum
        # asked alone, K = 3 also grows from K = 2's fit, which can only add
        assert mixfit.fit(x, k=3, seed=seed).results[0].loglik >= r.loglik
    assert fit_orphan(x, k=3, seed=1).loglik >= -323.01 - 0.01  # the README's figure
    # without a rescue the K was refused: the message counts the rescue starts apart
    refused = mixfit.fit(np.array([0.0] * 10 + [1.0]), k=[1, 2], n_starts=2, seed=0).results[1]
    assert refused.status == "failed"
    counted = "every one of its 2 starts was degenerate after 3 restarts each, and so were 600 more"
    assert counted in refused.message
    alone = mixfit.fit(np.array([0.0] * 10 + [1.0]), k=[1, 2], n_starts=1, seed=0).results[1]
    assert "its only start was degenerate after 3 restarts, and so were 300 more" in alone.message


def test_a_k_that_fits_on_fewer_than_half_its_starts_gets_the_rescue_draws_too():
    """carData's Davis heights (n = 200, integer centimetres), Student t K = 3: under seeds 0
    and 2 only 1 and 2 of the 10 starts end regular, both at -726.747, below the maximum the
    brute force finds (-726.296: 6 points' worth at scale 0.93 on 183 and 184 cm). The K gets
    the rescue's first round all the same (``mixfit.finish.fitted_sparsely``: 100 parameter
    draws), which reaches it; K = 2, all of whose starts end regular, gets none."""
    doc = json.loads((FIXTURES / "families_fourth" / "student_t_davis_height.json").read_text())
    x = np.asarray(doc["x"])
    reference = next(c["loglik"] for c in doc["cells"] if c["k"] == 3)
    for seed in (0, 2):
        two, three = mixfit.fit(x, family="student_t", k=[2, 3], seed=seed).results
        assert [s.init for s in two.starts].count("params (rescue)") == 0
        assert sum(s.status != "degenerate" for s in three.starts[:10]) < 5
        assert [s.init for s in three.starts].count("params (rescue)") == 100
        assert three.starts[three.best_start].init == "params (rescue)"
        assert three.loglik >= reference - 1e-6 * x.size


def test_a_beta_k_on_discrete_values_is_rescued():
    """R's quakes magnitudes as proportions (22 distinct values, n = 1000), beta K = 4, seed 0:
    the ten screened starts, their restarts and once ten rescue starts all collapsed a
    component onto single values (precision at its cap) and the K was refused, though a
    regular maximum exists (the brute force's 494.877, smallest component 8 points) and EM from
    it stays there. 11 of 400 rescue draws reach it; with ten times the starts the rescue does
    (494.84: EM continued at tol 1e-10 climbs the last 0.03 along a flat ridge in 949
    iterations, past where the default stopping rule ends)."""
    doc = json.loads((FIXTURES / "rescue" / "quakes_mag.json").read_text())
    x = (np.asarray(doc["mag"]) - 3.95) / 2.5
    ref = doc["brute_force"]
    r = mixfit.fit(x, family="beta", k=4, seed=0).results[0]
    assert r.status == "ok", r.message
    assert r.starts[r.best_start].init == "params (rescue)"
    assert r.loglik >= ref["regular_loglik"] - 0.05
    assert min(r.points) >= 1
    p = ref["regular_params"]
    held = mixfit.fit(x, family="beta", init=p, seed=0).results[0]
    assert held.status == "ok" and held.loglik >= ref["regular_loglik"] - 1e-6 * x.size


def test_a_k_whose_first_rescue_degenerates_gets_a_second_round():
    """MASS's geyser waiting times (n = 299, 52 distinct integers), K = 9: about 0.2 % of
    parameter-space draws stay regular, so under seeds 1 and 3 the ten screened starts, their
    restarts and the first round's 100 rescue draws all collapsed onto single values and the K
    was refused, though mclust fits it (-1145.86, a point on a climb towards a collapse) and
    regular maxima exist (-1138.40, seeds 0 and 5). The second round, 3,000 draws in all,
    finds one (20 seeds of 20 fit the K; 8 did before)."""
    doc = json.loads((FIXTURES / "rescue" / "geyser_waiting.json").read_text())
    x = np.asarray(doc["x"])
    for seed in (1, 3):
        r = fit_orphan(x, k=9, seed=seed)  # no K = 8 to grow from
        rescued = [s for s in r.starts if s.init == "params (rescue)"]
        assert len(rescued) == 3_000
        assert all(s.status == "degenerate" for s in rescued[:100])  # the first round's
        assert r.status == "ok" and r.starts[r.best_start].init == "params (rescue)"
        assert min(r.points) >= 1
        assert r.loglik >= doc["loglik"] - 1e-6 * x.size  # -1144.32 under both


def test_a_k_that_fails_after_its_rescue_grows_from_k_minus_1():
    """R's esoph counts (n = 88, cases and controls per stratum), diagonal K = 1..7, seed 1:
    every start of K = 7, its restarts and all 3,000 rescue draws collapsed onto tied counts and
    the K was refused (mclust fits none from its default start either). K = 6's fit and a
    seventh component (``mixfit.finish.regrow``: its growth moves as starts) is regular: -458.82,
    above K = 6. Where the growth moves collapse too, the message counts them."""
    doc = json.loads((FIXTURES / "growth" / "esoph.json").read_text())
    x = np.asarray(doc["x"], dtype=float)
    grid = mixfit.fit(x, k={"min": 1, "max": 7}, covariance="diag", seed=1).results
    seven = grid[6]
    rescued = [s for s in seven.starts if s.init == "params (rescue)"]
    assert len(rescued) == 3_000 and all(s.status == "degenerate" for s in rescued)
    assert seven.status == "ok" and seven.starts[seven.best_start].init.startswith("grow")
    assert seven.loglik >= grid[5].loglik
    assert seven.loglik == pytest.approx(-458.817, abs=1e-3)
    assert min(seven.points) >= 1
    # K = 6 fitted without K = 5 ends elsewhere, and no growth move from it stays regular
    problem = prepare(parse_request({"k": 7, "covariance": "diag", "seed": 1}), x)
    six = refine_k(problem, run_k(problem, 6))
    failed = refine_k(problem, run_k(problem, 7), parent=six)
    assert failed.status == "failed"
    grown = sum(s.init.startswith("grow") for s in failed.starts)
    assert grown > 0
    assert f"3000 more drawn in parameter space and {grown} grown from k=6's fit" in failed.message
    # K = 7 asked alone: K = 6 fitted by itself gives no regular growth either, so K = 6 is
    # fitted as the grid fits it (``mixfit.fit.final_fit``), and K = 7 regrows from it
    alone = mixfit.fit(x, k=7, covariance="diag", seed=1).results
    assert [r.k for r in alone] == [7]
    assert alone[0].loglik == pytest.approx(seven.loglik, abs=1e-6)
    assert alone[0].starts[alone[0].best_start].init.startswith("grow")


def test_the_rescue_draws_fewer_starts_on_large_data():
    """Ten, then 300 times the K's starts where one E-step of them all stays within the screening's
    budget (``mixfit.screen.SCREEN_CELLS``), never fewer than the starts themselves: a failed
    K of a million points must not cost ten times a failed K's fit."""
    from mixfit.finish import rescue_count

    rng = np.random.default_rng(0)

    def count(n: int, k: int, factor: int = 10, **options) -> int:
        request = parse_request({"k": k, "seed": 0, **options})
        return rescue_count(prepare(request, rng.normal(size=n)), k, factor)

    assert count(1_000, 4) == 100
    assert count(1_000, 4, factor=300) == 3_000
    assert count(1_000, 4, n_starts=200) == 2_000
    assert count(1_000, 4, n_starts=200, factor=300) == 3_333  # 4e7 / (1,000 x 4 x 3)
    assert count(10_000, 4, n_starts=200) == 333  # 4e7 / (10,000 x 4 x 3)
    assert count(200_000, 2) == 33
    assert count(1_000_000, 2) == 10


def test_a_restart_runs_on_a_budget_of_its_own():
    """R's first 1,500 monthly sunspot numbers (57 of them exactly 0), K = 1..5: at K = 4 most
    starts narrow a component onto the zeros. With SQUAREM the E-steps of a start's collapses
    once counted against its last run, which then stopped on the same climb (``max_iter``, not
    converged) above every regular maximum and was K = 4's fit: -7352.37 under seed 0 and
    -7322.98 under seed 5, and BIC chose K = 4 for it. Each run has its own ``max_iter`` now
    (``mixfit.em``'s docstring): K = 4 ends at a converged regular maximum below K = 5's and
    BIC chooses K = 5, as under seeds 1..4."""
    doc = json.loads((FIXTURES / "mclust_extra" / "mclust_sunspot_month.json").read_text())
    x = np.asarray(doc["x"])
    for seed in (0, 5):
        r = mixfit.fit(x, k={"min": 1, "max": 5}, seed=seed)
        assert all(q.status == "ok" and q.converged for q in r.results)
        assert r.results[3].loglik < r.results[4].loglik < -7354.0
        assert r.k_selected == 5


@pytest.mark.parametrize("family", ["gaussian", "student_t"])
@pytest.mark.parametrize("apart", [1e3, 3e3, 1e4, 1e5])
def test_clusters_far_apart_are_components_not_degenerate(family: str, apart: float) -> None:
    """Two clusters of sd 1, ``apart`` units apart: each is a component. With a floor of
    1e-6 of the data's variance alone (2.25e6 at 3,000 apart) each cluster's component sat at
    the floor, every start of K = 2 degenerated but one whose components coincided, and
    K = 1 was chosen from 3,000 apart on (the t refused K = 2). The floor's reference is at most
    ``CLUSTER_SPREAD`` times the clusters' own spread (``mixfit.data.local_variance``)."""
    rng = np.random.default_rng(0)
    parts = [rng.normal(0.0, 1.0, 100), rng.normal(apart, 1.0, 100)]
    r = mixfit.fit(np.concatenate(parts), k={"min": 1, "max": 3}, family=family, seed=0)
    assert r.k_selected == 2
    two = r.results[1]
    assert sorted(np.round(two.points)) == [100, 100]
    if family == "gaussian":
        # the E-step's moments in standardized units: rounding grows as (apart / sd)^2 (at
        # 1e5 apart 2e-8 relative on one machine's BLAS, 1.1e-7 on an AMD EPYC's)
        assert two.loglik == pytest.approx(split_loglik(parts), rel=3e-7)
    assert r.results[2].loglik > two.loglik + 1.0  # K = 3 is a fit of its own, no copy of 2


def test_clusters_of_very_different_spreads_each_get_a_component() -> None:
    """150 points of sd 0.001 at 0, 50 of sd 1 at 1,000 and 100 of sd 10 at -1,000: K = 3 is
    the three clusters (the tightest's variance is 1.5e-12 of the data's, the floor's
    reference is set by it) and BIC chooses it; in 2-D, two clusters 1e4 apart along one
    column are K = 2 under every covariance type."""
    rng = np.random.default_rng(0)
    parts = [rng.normal(0, 1e-3, 150), rng.normal(1e3, 1, 50), rng.normal(-1e3, 10, 100)]
    r = mixfit.fit(np.concatenate(parts), k={"min": 1, "max": 4}, seed=0)
    assert r.results[2].loglik == pytest.approx(split_loglik(parts), rel=1e-6)  # sd 1e-6 of
    assert r.k_selected == 3  # the data's: the README's precision of a log-likelihood there
    flat = [rng.normal([0, 0], 1, (100, 2)), rng.normal([1e4, 0], 1, (100, 2))]
    for covariance in ("full", "diag", "spherical", "tied"):
        r = mixfit.fit(np.vstack(flat), k=2, covariance=covariance, seed=0)
        assert sorted(np.round(r.results[0].points)) == [100, 100]
        if covariance == "full":
            assert r.results[0].loglik == pytest.approx(split_loglik(flat), rel=1e-8)


def test_the_local_variance_is_the_variance_of_one_cluster_and_counts_as_points() -> None:
    """``mixfit.data.local_variance``: about the variance on Gaussian data (0.25 to 1 of it
    for n = 20 to 1e5, so the floor of ordinary data is the variance's), about the tightest
    cluster's spread where clusters are far apart, 0 where every window lies inside a tie,
    and values with counts give exactly what their repeated points give."""
    rng = np.random.default_rng(0)
    for n in (20, 200, 5000):
        z = rng.normal(0.0, 3.0, (n, 2))
        assert np.all((local_variance(z, None) > 0.15 * 9) & (local_variance(z, None) < 1.5 * 9))
    apart = np.r_[rng.normal(0, 1e-3, 150), rng.normal(1e3, 1, 50), rng.normal(-1e3, 10, 100)]
    assert local_variance(apart[:, None], None)[0] < 1e-4  # not the data's 6e5
    ties = np.r_[np.zeros(50), np.ones(50)][:, None]  # only windows across the two say a gap
    assert local_variance(ties, None)[0] > ties.var()
    assert local_variance(np.zeros((30, 1)), None)[0] == 0.0
    for _ in range(50):
        x = np.round(rng.normal(0, rng.choice([1, 10]), int(rng.integers(2, 2000))), 1)
        values, counts = np.unique(x, return_counts=True)
        as_counts = local_variance(values[:, None], counts.astype(float))
        assert as_counts == local_variance(x[:, None], None)


def _far_apart_cases() -> dict[str, tuple[np.ndarray, dict, list[int]]]:
    rng = np.random.default_rng(7)
    six = np.concatenate([rng.normal(i * 1e4, 1 + i, 60) for i in range(6)])
    rounded = np.round(np.r_[rng.normal(0, 3, 150), rng.normal(1e4, 3, 150)])
    gamma = np.r_[rng.gamma(50, 0.02, 100), rng.gamma(50, 200, 100)]
    return {
        "six clusters of sd 1 to 6, 1e4 apart": (six, {"k": [5, 6, 7]}, [60] * 6),
        "two rounded to integers, 1e4 apart": (rounded, {"k": [1, 2, 3]}, [150, 150]),
        "the t on them": (rounded, {"k": [1, 2, 3], "family": "student_t"}, [150, 150]),
        "gamma, means 1 and 1e4": (gamma, {"k": [1, 2, 3], "family": "gamma"}, [100, 100]),
    }


@pytest.mark.parametrize("case", list(_far_apart_cases()))
def test_far_apart_clusters_of_other_shapes_are_found(case: str) -> None:
    """More shapes of the far-apart clusters (before the local variance: six clusters gave
    K = 5..7 all K = 5's log-likelihood, the rounded pair and the gamma pair K = 1, the t
    refused K = 2 and 3): the clusters are the selected K's components."""
    x, options, points = _far_apart_cases()[case]
    r = mixfit.fit(x, seed=0, **options)
    chosen = next(q for q in r.results if q.k == r.k_selected)
    assert sorted(np.round(chosen.points).tolist()) == points


def test_no_fixture_data_set_has_its_floor_moved_by_the_local_variance() -> None:
    """The README's figures: on every fixture data set each column's local variance is at
    least 0.02 of the smaller of its variance and robust variance (0.023, Theoph), and on the log of
    every positive one (the log-normal's scale) at least 0.012 (the beta sets' logs), so
    ``CLUSTER_SPREAD`` (100) times it lowers no floor the fixtures' references were reached
    with (it would below 0.01)."""
    from mixfit.data import CLUSTER_SPREAD, robust_variance

    seen: set[bytes] = set()
    least = {False: np.inf, True: np.inf}  # raw, and log
    for path in sorted(FIXTURES.rglob("*.json")):
        doc = json.loads(path.read_text())
        if not isinstance(doc, dict) or "x" not in doc:
            continue
        x = np.asarray(doc["x"], dtype=float)
        x = x[:, None] if x.ndim == 1 else x
        if not np.all(np.isfinite(x)) or x.tobytes() in seen:
            continue
        seen.add(x.tobytes())
        for logged in [False, True] if np.all(x > 0) else [False]:
            z = np.log(x) if logged else x
            var, robust = z.var(axis=0), robust_variance(z, None)
            reference = np.where(robust > 0, np.minimum(var, robust), var)
            local = local_variance(z, None)
            ratio = float(np.min(np.where(local > 0, local / reference, np.inf)))
            least[logged] = min(least[logged], ratio)
    assert len(seen) >= 180
    assert least[False] >= 0.02 and least[True] >= 0.012
    assert CLUSTER_SPREAD * min(least.values()) > 1.0


def test_a_refused_k_names_the_columns_of_few_values_and_too_few_points_for_full_covariances():
    """R's mtcars (32 cars, d = 11): five columns take 2 to 6 values, so diagonal K = 4 and full
    K = 3 find no component with spread in every column; the message says where."""
    x = json.loads((FIXTURES / "mclust_more" / "mclust_mtcars.json").read_text())["x"]
    columns = (
        "columns 1, 7, 8, 9 and 10 (counting from 0) take only 3, 2, 2, 3 and 6 distinct "
        "values, and a component on one value of such a column has no spread in it"
    )
    with pytest.raises(mixfit.FitError) as diag:
        mixfit.fit(x, k=4, covariance="diag", seed=0)
    assert str(diag.value).endswith(f"or a larger var_floor. Here {columns}")
    with pytest.raises(mixfit.FitError) as full:
        mixfit.fit(x, k=3, covariance="full", seed=0)
    assert (
        "Here the data's 32 distinct points give k=3 components fewer than d + 1 = 12 each on "
        f"average, too few for a full covariance in d=11; {columns}"
    ) in str(full.value)


def test_the_spread_hint_speaks_only_of_what_the_data_hold():
    from mixfit.data import spread_hint

    rng = np.random.default_rng(0)
    smooth = rng.normal(size=(60, 3))
    assert spread_hint(smooth, None, 4, full=True) == ""  # 60 >= 4 x 4 distinct points
    assert spread_hint(smooth[:, :1], None, 4, full=True) == ""  # 1-D: its message says it
    binary = smooth.copy()
    binary[:, 2] = rng.integers(0, 2, 60)
    assert spread_hint(binary, None, 2, full=False) == (
        "column 2 (counting from 0) takes only 2 distinct values, and a component on one "
        "value of such a column has no spread in it"
    )
    # rows of weight 0 are left out: the 20 of positive weight give k = 5 full covariances
    # in d = 3 their d + 1 = 4 each on average, k = 6 fewer
    w = np.r_[np.ones(20), np.zeros(40)]
    assert spread_hint(smooth, w, 5, full=True) == ""
    assert "the data's 20 distinct points give k=6 components" in spread_hint(smooth, w, 6, True)


def test_a_k_that_fails_everything_else_gets_flat_starts_and_only_a_maximum_above_k_minus_1():
    """scikit-learn's diabetes data (n = 442, d = 10, column 1 binary), diagonal K = 8, seed 0:
    screened starts, restarts, rescue draws and growth moves all put a component on one value
    of the binary column, and the K was refused; regular maxima exist (scikit-learn reaches
    8259.76). Starts from flat responsibilities (``mixfit.finish.rescue_flat``) reach one, above
    K = 7. On ten 0s and a 1 such starts end as K = 1's fit repeated: no maximum of K = 2, which
    stays refused (``test_hostile.py::test_all_k_failing_is_a_fit_error``)."""
    from sklearn.datasets import load_diabetes

    from mixfit.em import FLAT_INIT

    seven, eight = mixfit.fit(load_diabetes().data, k=[7, 8], covariance="diag", seed=0).results
    assert eight.status == "ok" and eight.starts[eight.best_start].init == FLAT_INIT
    assert eight.loglik > seven.loglik + 30  # 8259.73 against 8222.07
    assert min(eight.points) > 30
    refused = mixfit.fit([0.0] * 10 + [1.0], k=[1, 2], n_starts=2, seed=0).results[1]
    assert refused.status == "failed"
    assert not any(s.init == FLAT_INIT for s in refused.starts)
