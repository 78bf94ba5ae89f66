"""mclust's model-based agglomeration (``mixfit.agglomeration``) against mclust's own trees.

Fixtures: ``tests/fixtures/hc/make_hc_fixtures.R`` (``hclass(hc(x, "VVV", use = "SVD"), 1:8)``
and ``Mclust`` fits started from that tree)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixfit
from mixfit.agglomeration import Hierarchy, svd_transform, vvv_partitions, ward_cut, ward_tree
from mixfit.families.gaussian import Gaussian
from mixfit.fit import parse_request
from mixfit.screen import candidate_methods

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hc"
# mclust's start strategy and tolerance: one start from model-based hierarchical agglomeration,
# no screening and no split-and-merge moves, EM to a relative change of 1e-5 (and no polish).
MCLUST_LIKE = {
    "init": "hc",
    "n_starts": 1,
    "screen_factor": 1,
    "split_merge": 0,
    "tol": 1e-5,
    "polish": False,  # mclust stops where its tolerance says
}


def load(name: str) -> tuple[np.ndarray, dict]:
    doc = json.loads((FIXTURES / f"hc_{name}.json").read_text())
    return np.asarray(doc["x"], dtype=float), doc


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to the labels' names: every (a, b) label pair is one cluster."""
    return (
        len(set(zip(a.tolist(), b.tolist(), strict=True)))
        == len(set(a.tolist()))
        == len(set(b.tolist()))
    )


@pytest.mark.parametrize("name", ["quakes", "iris", "banknote"])
def test_vvv_tree_is_mclusts(name: str) -> None:
    """The cuts at K = 1..8 are mclust's partitions (Old Faithful is left out: its rounded
    values tie many merge costs exactly, and ties are broken in another order)."""
    X, doc = load(name)
    ours = vvv_partitions(svd_transform(X))
    for k in range(1, 9):
        theirs = np.asarray(doc["partitions"][str(k)])
        assert same_partition(ours[k], theirs), k
        assert ours[k].max() == k - 1


def test_auto_draws_both_trees_in_d_above_one() -> None:
    """``auto`` draws one ``hc`` candidate (mclust's VVV tree in d > 1, Ward's in 1-D) and, in
    d > 1, one more from Ward's tree and one k-means on standardized columns per 20 candidates;
    the other methods' candidates are as in 1-D."""
    request = parse_request({"k": 3})
    portfolio = Gaussian.portfolio
    one, more = (candidate_methods(request, portfolio, 40, d > 1) for d in (1, 2))
    assert one.count("hc") == 1 and "ward" not in one and len(one) == 40
    assert more == [*one, "ward", "kmeans-std", "kmeans-std"]
    for init in ("hc", ["hc", "kmeans"]):  # what was asked for, and no more
        asked = candidate_methods(parse_request({"k": 3, "init": init}), portfolio, 4, True)
        assert asked == ["hc", "kmeans", "kmeans", "kmeans"]


def test_a_different_tree_from_wards() -> None:
    """Ward's cut is not the VVV cut (else the second tree would add nothing)."""
    X, _ = load("quakes")
    tree = Hierarchy(X, None, 0)
    vvv, ward = tree.labels(3, X, "vvv"), tree.labels(3, X, "ward")
    assert not same_partition(vvv, ward)


def test_points_outside_the_subsample_join_a_cluster() -> None:
    """Above ``VVV_POINTS`` the tree is built on a subsample; every point gets a label, the
    subsample's points mostly their own cluster's."""
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(0, 1, (700, 2)), rng.normal(6, 1, (700, 2))])
    labels = Hierarchy(X, None, 0).labels(2, X, "vvv")
    assert labels.shape == (1400,) and set(labels.tolist()) == {0, 1}
    assert same_partition(labels, (np.arange(1400) >= 700).astype(int))


@pytest.mark.parametrize(("model", "covariance", "k"), [("VVI", "diag", 3), ("VVV", "full", 6)])
def test_quakes_reaches_mclusts_maximum(model: str, covariance: str, k: int) -> None:
    """R's quakes (n = 1000, d = 5): mclust's one start from its VVV tree reaches maxima that
    Ward's tree and 200 random portfolio starts missed (-16628.8 and -14408.3 before this
    tree). On mclust's strategy we reach its log-likelihood; the default fit at least as high."""
    X, doc = load("quakes")
    mclust = next(f["loglik"] for f in doc["fits"] if f["model"] == model)
    for seed in (0, 1):  # mclust's strategy: one start from the tree, its tolerance
        one = mixfit.fit(X, k=k, covariance=covariance, seed=seed, **MCLUST_LIKE).results[0]
        assert [s.init for s in one.starts] == ["hc"]
        # mclust's own log-likelihood (diagonal: to the last digit; full: it stops sooner)
        assert one.loglik == pytest.approx(mclust, abs=0.5)
    default = mixfit.fit(X, k=k, covariance=covariance, seed=0).results[0]
    assert default.loglik >= mclust - 1e-6 * X.shape[0]
    # what the README states: above mclust's, at regular maxima (every weight >= 0.05)
    assert default.loglik >= {"diag": -16570.37, "full": -14329.76}[covariance] - 0.01
    assert min(default.params.weights) >= 0.05


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("tied", [False, True])
def test_ward_tree_and_cut_are_scipys(d: int, tied: bool) -> None:
    """``ward_tree`` and ``ward_cut`` (scipy's compiled routines called directly) give the very
    arrays of ``linkage(Y, "ward")`` and ``fcluster(..., "maxclust") - 1``, ties included."""
    from scipy.cluster.hierarchy import fcluster, linkage

    rng = np.random.default_rng(d + 2 * tied)
    for m in (2, 3, 57, 200):
        Y = rng.normal(size=(m, d))
        if tied:
            Y = np.round(Y * 3)
        Y = svd_transform(Y) if m > d else Y
        tree = ward_tree(Y)
        expected = linkage(Y, method="ward")
        assert np.array_equal(tree, expected)
        for k in range(1, 9):
            cut = fcluster(expected, k, criterion="maxclust") - 1
            assert np.array_equal(ward_cut(tree, k), cut)


def test_a_column_whose_squares_underflow_is_flat_in_the_svd_transform() -> None:
    """Columns of 1e94, 1e149 and 1e-45 (each allowed): in the engine's units, scaled by one
    scalar, the last is 1e-194, its squares underflow and its computed deviation is 0. It was
    standardized by the 1e-300 guard into units of 1e106 and the VVV tree's 3 x 3 determinants
    overflowed (a RuntimeWarning, an error under this suite); it is a flat column now, zeros,
    and the other columns come out as without it."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 2))
    flat = svd_transform(np.column_stack([a, 1e-194 * rng.normal(size=200)]))
    assert np.all(flat[:, 2] == 0.0)
    np.testing.assert_allclose(np.abs(flat[:, :2]), np.abs(svd_transform(a)), rtol=1e-12)
    X = rng.normal(size=(100, 3)) * np.array([9e93, 1.4e149, 1.5e-45])
    result = mixfit.fit(X, k=[1, 2], covariance="full", seed=269, init="hc")
    assert all(r.status == "ok" and np.isfinite(r.loglik) for r in result.results)


def test_a_direction_the_points_do_not_span_is_zeros_in_the_svd_transform() -> None:
    """One point at 1.2e103 in every column beside nine near 0, in 5-D (found by fuzzing):
    standardized, the nine are one point, the data span one direction, and the other four
    singular values are 0 but for rounding, which the division by their roots made values of
    1e133 (the VVV tree's determinants overflowed, a RuntimeWarning). Those below ``NULL_SV``
    of the first are zeros now, and the others hold rounding divided by at least 1e-15: how
    many fall below depends on the LAPACK (singular values 8e-19, 1e-34, 3e-51 and 3e-67 of
    the first on one machine: the last three zeros, the first values of 5e-7); collinear
    columns, whose third singular value is 1e-16 of the first, keep the values they had."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 5))
    X[0] = 1.222e103
    Y = svd_transform(X)
    assert np.all(np.abs(Y[:, 1:]) < 1e-3) and np.all(np.abs(Y) < 10.0)
    assert np.count_nonzero(np.abs(Y[:, 1:]).max(axis=0) == 0.0) >= 2
    result = mixfit.fit(X, family="student_t", k=[1, 2, 3], seed=796)
    assert result.results[0].status == "ok"
    a = rng.normal(size=(200, 2))
    collinear = svd_transform(np.column_stack([a, a[:, 0] + a[:, 1]]))
    assert 0.0 < np.abs(collinear[:, 2]).max() < 1e-6
