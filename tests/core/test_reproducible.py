"""Reproducibility, weights and the result's provenance."""

import json
from pathlib import Path

import numpy as np
import pytest

import mixfit
from mixfit.screen import BIRTHS

from .conftest import blobs, simulate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_rerun_with_the_same_seed_is_bit_identical():
    x = simulate(5000)
    a = mixfit.fit(x, k=[1, 2, 3], seed=42)
    b = mixfit.fit(x, k=[1, 2, 3], seed=42)
    assert a.model_dump_json() == b.model_dump_json()


def test_large_threaded_fit_is_bit_identical():
    x = simulate(120_000, seed=2)  # above the threading threshold
    a = mixfit.fit(x, k=2, n_starts=3, seed=1)
    b = mixfit.fit(x, k=2, n_starts=3, seed=1)
    assert a.model_dump_json() == b.model_dump_json()


def test_unseeded_fit_records_a_seed_that_reproduces_it():
    x = simulate(500)
    first = mixfit.fit(x, k=2)
    again = mixfit.fit(x, k=2, seed=first.seed)
    assert first.results == again.results


def test_every_start_has_its_own_recorded_seed():
    r = mixfit.fit(simulate(300), k=[2, 3], n_starts=5, seed=1)
    seeds = [s.seed for res in r.results for s in res.starts]
    assert len(set(seeds)) == len(seeds)


def test_seeds_of_one_k_do_not_depend_on_the_other_ks():
    """A K's screened starts are the same whichever other Ks are fitted; only the last start
    differs when K-1 is asked for too: it splits K-1's widest component (not a K-1 fitted
    only for K's growth moves, ``mixfit.em.parent_ks``). The same starts end in the same
    bits: a start's arithmetic is its own
    (``test_every_start_ends_the_same_bits_beside_any_other_starts``)."""
    x = simulate(300)
    alone = mixfit.fit(x, k=3, seed=9).results[0]
    among = next(r for r in mixfit.fit(x, k=[1, 2, 3], seed=9).results if r.k == 3)
    # the 10 starts, then the split-and-merge moves from the best of them (mixfit.smem)
    for a, b in zip(alone.starts[:9], among.starts[:9], strict=True):
        same = ("start", "seed", "init", "candidate", "screen_loglik", "status", "restarts")
        assert [getattr(a, f) for f in same] == [getattr(b, f) for f in same]
        assert (a.loglik, a.n_iter, a.trace) == (b.loglik, b.n_iter, b.trace)
    assert alone.starts[9].init != "split" and among.starts[9].init == "split"
    gap = next(r for r in mixfit.fit(x, k=[1, 3], seed=9).results if r.k == 3)
    assert gap.starts[9].init != "split"  # K-1 = 2 fitted for K = 3's moves only
    assert [s.seed for s in gap.starts[:10]] == [s.seed for s in alone.starts[:10]]


def test_provenance():
    x = simulate(100)
    r = mixfit.fit(x, k=1, seed=0)
    assert set(r.versions) == {"mixfit", "numpy", "scipy", "python"}
    assert len(r.data_hash) == 64
    assert r.data_hash != mixfit.fit(x + 1, k=1, seed=0).data_hash
    assert r.options["k"] == 1 and "data" not in r.options


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_weights_as_counts_equal_repeated_points(covariance):
    X = np.round(blobs(300, 2, 2, seed=1), 1)
    unique, counts = np.unique(X, axis=0, return_counts=True)
    start = {
        "weights": [0.5, 0.5],
        "means": [X[:150].mean(0).tolist(), X[150:].mean(0).tolist()],
        "covariances": [np.eye(2).tolist()] * 2,
    }
    options = dict(init=start, covariance=covariance, tol=1e-12, tol_type="absolute")
    expanded = mixfit.fit(X, **options).results[0]
    weighted = mixfit.fit(unique, weights=counts, **options).results[0]
    assert weighted.loglik == pytest.approx(expanded.loglik, rel=1e-10)
    np.testing.assert_allclose(weighted.params.means, expanded.params.means, rtol=1e-8)
    assert mixfit.fit(unique, weights=counts, k=1).n_effective == X.shape[0]


def test_counts_are_points_to_the_degeneracy_rule():
    """R's epil seizure counts (MASS; 236 points, 36 distinct values) as values and counts:
    one point's worth is a count of one, not the mean count (6.6), so K = 3 and 4 fit as the
    236 values do (``data.point_weight``) instead of every start being refused."""
    doc = json.loads((FIXTURES / "families_more" / "poisson_epil.json").read_text())
    x = np.asarray(doc["x"], dtype=float)
    values, counts = np.unique(x, return_counts=True)
    for k in (3, 4):
        weighted = mixfit.fit(values, weights=counts, family="poisson", k=k, seed=0).results[0]
        repeated = mixfit.fit(x, family="poisson", k=k, seed=0).results[0]
        assert weighted.status == "ok", weighted.message
        assert weighted.loglik == pytest.approx(repeated.loglik, rel=1e-9)
    assert mixfit.fit(values, weights=counts / counts.sum(), family="poisson", k=2).results[0]


def test_count_weights_search_as_their_repeated_points_do():
    """Starts centred on data points draw a row in proportion to its count, and births
    measure neighbourhoods in counts (``families.base.data_rows``,
    ``neighbourhoods.tight_clusters``):
    gamma data rounded to 0.1 (300 points, 113 distinct values), K = 3, reach the repeated
    points' maximum (-747.06, a narrow component on the ties around 2.5) under seeds 0..2;
    drawn and measured by rows they stopped at -747.72 under all three."""
    rng = np.random.default_rng(3)
    rng.normal(0, 1, 150), rng.normal(4, 1, 150), rng.standard_t(4, 150), rng.normal(5, 1, 150)
    x = np.round(np.r_[rng.gamma(2, 1, 150), rng.gamma(20, 0.5, 150)], 1) + 0.1
    values, counts = np.unique(x, return_counts=True)
    best = mixfit.fit(x, family="gamma", k=3, seed=0).results[0].loglik
    assert best == pytest.approx(-747.0575, abs=1e-4)
    for seed in range(3):
        r = mixfit.fit(values, weights=counts, family="gamma", k=3, seed=seed).results[0]
        assert r.loglik == pytest.approx(best, abs=1e-6)


def test_per_iteration_path_on_request():
    r = mixfit.fit(simulate(200), k=2, seed=0, keep_path=True).results[0]
    assert len(r.path) == r.n_iter + 1
    assert r.path[-1] == r.params
    start = {"weights": [0.5, 0.5], "means": [1.0, 2.0], "sds": [1.0, 1.0]}
    path = mixfit.fit(simulate(200), init=start, keep_path=True).results[0].path
    np.testing.assert_allclose(path[0].means, start["means"], rtol=1e-12)
    np.testing.assert_allclose(path[0].sds, start["sds"], rtol=1e-12)
    assert path[1].means != path[0].means and path[2].means != path[1].means
    assert mixfit.fit(simulate(200), k=2, seed=0).results[0].path is None


def test_start_methods_cycle_over_starts_without_screening():
    r = mixfit.fit(
        simulate(300), k=2, n_starts=4, init=["quantile", "random"], screen_factor=1, seed=0
    )
    assert [s.init for s in r.results[0].starts] == ["quantile", "random"] * 2
    assert r.results[0].screening.iterations == 0


def test_auto_records_each_starts_method_and_candidate():
    r = mixfit.fit(simulate(300), k=[1, 2], n_starts=6, seed=0).results[1]
    # 5 (K-1)^2 x 6 in 1-D, and K = 2's BIRTHS tight clusters apart (``birth_partitions``)
    # with up to two larger neighbourhoods (``neighbourhoods.clusters_at_every_scale``)
    assert 30 + BIRTHS < r.screening.candidates <= 30 + BIRTHS + 2
    assert r.screening.iterations > 0
    # small multivariate data: K = 2 screens as K = 3 does, 5 x 2^2 candidates a start, one
    # more from Ward's tree beside mclust's (hc) and 120 / 20 k-means on standardized columns
    X = np.column_stack([simulate(300), simulate(300)[::-1]])
    drawn = mixfit.fit(X, k=2, n_starts=6, seed=0).results[0].screening.candidates
    assert 127 + BIRTHS < drawn <= 127 + BIRTHS + 2
    # screening off draws the starts alone, in d > 1 too (no extra candidates to screen)
    off = mixfit.fit(X, k=2, n_starts=6, screen_factor=1, seed=0).results[0].screening
    assert (off.candidates, off.iterations) == (6, 0)
    assert r.starts[-1].init == "split" and r.starts[-1].candidate is None
    screened = r.starts[:-1]
    assert {s.init for s in screened} <= {
        "kmeans++",
        "kmeans",
        "hc",
        "random",
        "dirichlet",
        "partition",
        "params",
        "quantile",
        "birth",
    }
    assert len({s.candidate for s in screened}) == len(screened)
    lls = [s.screen_loglik for s in screened]
    assert lls == sorted(lls, reverse=True)  # the best candidates continue, best first


def _family_data(family: str) -> np.ndarray:
    rng = np.random.default_rng(11)
    third = rng.choice(3, 400, p=[0.3, 0.4, 0.3])
    if family == "beta":
        return np.choose(third, [rng.beta(2, 12, 400), rng.beta(20, 20, 400), rng.beta(9, 2, 400)])
    if family == "poisson":
        return np.choose(third, [rng.poisson(2, 400), rng.poisson(9, 400), rng.poisson(25, 400)])
    if family in ("gamma", "lognormal"):
        return np.choose(
            third, [rng.gamma(3, 1, 400), rng.gamma(20, 0.5, 400), rng.gamma(9, 3, 400)]
        )
    return np.choose(
        third, [rng.standard_t(3, 400), 4 + rng.normal(0, 0.5, 400), 9 + rng.normal(0, 2, 400)]
    )


@pytest.mark.parametrize(
    "family", ["gaussian", "beta", "gamma", "lognormal", "poisson", "student_t"]
)
def test_every_start_ends_the_same_bits_beside_any_other_starts(family):
    """A start's arithmetic is its own: run beside all of its K's starts, beside a few (a
    fanned-out part) or alone, it takes the same iterations to the same bits. Until 2026-12-05
    a 2-D matrix product over every start's rows rounded a row by its place in BLAS's blocks,
    ``trigamma`` took another method on fewer values and the beta M-step's Newton steps went
    on while any pair in the batch moved: 256 of 1,140 starts of the fixtures' data sets
    ended in other last digits in parts, and R's quakes magnitudes (Gamma, K = 4) ended 1.2e-5
    apart fanned out. One-dimensional families only: multivariate fits keep one product over
    every start's rows (``mixfit.estep.OWN_PRODUCTS_MAX``)."""
    from mixfit.em import run_k
    from mixfit.fit import parse_request, prepare

    x = _family_data(family)
    request = parse_request({"family": family, "k": 3, "n_starts": 7, "seed": 5})
    whole = run_k(prepare(request, x), 3)
    parts = [
        s
        for a, b in [(0, 1), (1, 3), (3, 7)]
        for s in run_k(prepare(request, x), 3, starts=range(a, b)).starts
    ]
    assert [s.start for s in parts] == list(range(7))
    for one, part in zip(whole.starts, parts, strict=True):
        assert (part.n_iter, part.status, part.trace) == (one.n_iter, one.status, one.trace)
        assert part.loglik == one.loglik


@pytest.mark.parametrize("k", [3, 4])
def test_a_start_s_bits_are_its_own_on_data_of_several_chunks(k):
    """The same on 13,000 points: the E-step's chunks hold a start's products to its own
    too. Not K = 2 there: its kernel of large data (``mixfit.estep._logistic``) keeps 2-D
    products for speed."""
    from mixfit.em import run_k
    from mixfit.fit import parse_request, prepare

    x = simulate(13_000)
    request = parse_request({"k": k, "n_starts": 4, "seed": 2})
    whole = run_k(prepare(request, x), k)
    parts = [
        s
        for a, b in [(0, 1), (1, 4)]
        for s in run_k(prepare(request, x), k, starts=range(a, b)).starts
    ]
    for one, part in zip(whole.starts, parts, strict=True):
        assert (part.n_iter, part.trace, part.loglik) == (one.n_iter, one.trace, one.loglik)


@pytest.mark.parametrize("k", [2, 3])
def test_starts_split_over_jobs_merge_to_the_whole(k):
    """Fan-out runs disjoint ranges of one K's starts in separate jobs; merging them gives the
    unsplit result."""
    from mixfit.em import merge_k, run_k
    from mixfit.fit import parse_request, prepare

    problem = prepare(parse_request({"k": k, "n_starts": 7, "seed": 3}), simulate(3000))
    whole = run_k(problem, k)
    merged = merge_k([run_k(problem, k, starts=range(4, 7)), run_k(problem, k, starts=range(4))])
    assert [s.start for s in merged.starts] == list(range(7))
    assert [s.seed for s in merged.starts] == [s.seed for s in whole.starts]
    assert merged.best_start == whole.best_start
    assert merged.loglik == whole.loglik
    assert merged.icl == whole.icl
    np.testing.assert_array_equal(merged.params.means, whole.params.means)


def test_student_t_e_step_groups_many_starts_without_changing_one(monkeypatch):
    """The Student t E-step takes many starts (screening) in groups and points in chunks by K
    alone: every start's sums are the bits it has alone or beside any others, and a chunk's
    arrays stay near ``CHUNK_CELLS`` (here made small, so 40 starts make several groups)."""
    from mixfit.families import student_t
    from mixfit.fit import parse_request, prepare

    monkeypatch.setattr(student_t, "CHUNK_CELLS", 4096)
    x = _family_data("student_t")
    problem = prepare(parse_request({"family": "student_t", "k": 2, "seed": 1}), x)
    fam = problem.family
    rng = np.random.default_rng(0)
    params, logw = fam.random_params(rng, 40, 2, problem.Z, None)
    params["df"] = np.exp(rng.uniform(0.0, 4.0, (40, 2, 1)))
    cells = []
    original = student_t.StudentT._chunk

    def chunk(self, batch, part, lw, a, size, ll, stats):
        cells.append(lw.size * min(size, batch.n - a))
        return original(self, batch, part, lw, a, size, ll, stats)

    monkeypatch.setattr(student_t.StudentT, "_chunk", chunk)
    ll, stats = fam.estep(problem.batch, params, logw)
    assert max(cells) <= student_t.CHUNK_CELLS and len(cells) == 10  # 5 groups x 2 chunks
    for rows in (slice(0, 1), slice(5, 8), slice(13, 40)):
        part = {name: value[rows] for name, value in params.items()}
        one_ll, one_stats = fam.estep(problem.batch, part, logw[rows])
        np.testing.assert_array_equal(one_ll, ll[rows])
        np.testing.assert_array_equal(one_stats, stats[rows])
