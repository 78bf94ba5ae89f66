"""A cluster too tight for the floor and too small to set it (``mixfit.tight``): a component
where at least ``DISTINCT`` distinct points lie within its window (in d > 1, standing apart),
held at the floor as before where tied or few values are all it covers."""

from __future__ import annotations

import numpy as np
import pytest

import mixfit
import mixfit.tight as tight
from mixfit.tight import TightFloor

from .split import split_loglik


@pytest.mark.parametrize("share", [0.02, 0.05, 0.08])
@pytest.mark.parametrize("sd", [1e-3, 1e-4])
def test_a_tight_cluster_of_a_few_points_is_a_component(share: float, sd: float) -> None:
    """``share`` of 1,000 points of sd ``sd`` at 10 beside the rest of sd 1 at 0: fewer than
    a tenth of the points, so the local variance does not follow them, and their variance is
    under the floor. Before (but for 2 % at sd 0.001), every start's component on them was
    floored and K = 1 was chosen (at 5 %, sd 0.001: K = 2 at -2285.88, scikit-learn
    -1246.25). Now K = 2 is the two clusters at their own maximum, and BIC chooses it."""
    rng = np.random.default_rng(0)
    m = int(1000 * share)
    parts = [rng.normal(0.0, 1.0, 1000 - m), rng.normal(10.0, sd, m)]
    fit = mixfit.fit(np.concatenate(parts), k=[1, 2, 3], seed=0)
    assert fit.k_selected == 2
    two = fit.results[1]
    assert sorted(np.round(two.points).tolist()) == [m, 1000 - m]
    assert two.loglik == pytest.approx(split_loglik(parts), abs=1e-4)


def test_the_t_and_the_log_normal_fit_a_tight_few_too() -> None:
    """The t's scale is floored as the Gaussian's variance is; the log-normal's is the
    Gaussian's on the logs (a tight few at e^3 beside a broad log-normal)."""
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(0.0, 1.0, 950), rng.normal(10.0, 1e-3, 50)]
    t = mixfit.fit(x, k=2, family="student_t", seed=0).results[0]
    assert sorted(np.round(t.points).tolist()) == [50, 950]
    y = np.exp(np.r_[rng.normal(0.0, 1.0, 950), rng.normal(3.0, 1e-4, 50)])
    ln = mixfit.fit(y, k=[1, 2], family="lognormal", seed=0)
    assert ln.k_selected == 2
    assert sorted(np.round(ln.results[1].points).tolist()) == [50, 950]


def _split(logpdf, fitted, parts: list[np.ndarray]) -> float:
    """The log-likelihood of each part fitted alone (scipy's ``fit``), weighted by its share."""
    n = sum(p.size for p in parts)
    return float(sum(logpdf(p, *fitted(p)).sum() + p.size * np.log(p.size / n) for p in parts))


def test_gamma_and_beta_fit_a_tight_few_too() -> None:
    """Their floors cap a component's variance (gamma: its shape; beta: its precision a+b) as
    the Gaussian's floor does. 50 points of sd 0.001 at 10 beside 950 of a gamma(2): K = 2 was
    -1795.43 (the few's component capped), now at least the split's -1431.00; 50 of sd 1e-4 at
    0.8 beside 950 of a beta(2, 5): 364.29, now at least the split's 662.03."""
    from scipy import stats

    rng = np.random.default_rng(0)
    parts = [rng.gamma(2.0, 1.0, 950), rng.normal(10.0, 1e-3, 50)]
    fit = mixfit.fit(np.concatenate(parts), k=[1, 2], family="gamma", seed=0)
    assert fit.k_selected == 2
    reference = _split(
        lambda x, a, s: stats.gamma.logpdf(x, a, 0.0, s),
        lambda x: stats.gamma.fit(x, floc=0.0)[::2],
        parts,
    )
    assert fit.results[1].loglik >= reference - 1e-6
    parts = [rng.beta(2.0, 5.0, 950), rng.normal(0.8, 1e-4, 50)]
    fit = mixfit.fit(np.concatenate(parts), k=[1, 2], family="beta", seed=0)
    assert fit.k_selected == 2
    reference = _split(
        stats.beta.logpdf, lambda x: stats.beta.fit(x, floc=0.0, fscale=1.0)[:2], parts
    )
    assert fit.results[1].loglik >= reference - 1e-6


def test_ties_and_a_few_close_values_stay_floored() -> None:
    """The window rule in the engine's units: a variance below the floor is kept with 10
    distinct values inside its 3 sds, floored with 9, with tied values (however many points),
    and below ``MIN_SHARE`` of the floor."""
    values = np.r_[np.linspace(-5.0, 5.0, 101), 2.0 + 1e-4 * np.arange(10)]
    rule = TightFloor(values[:, None])
    floor = 1e-6
    mean = np.array([[[2.00045]], [[2.0004]], [[0.0]], [[2.00045]]])
    var = np.array([[[2.5e-7]], [[1e-8]], [[1e-8]], [[0.5e-4 * floor]]])
    kept = ~rule.floored(mean, var, floor)[:, 0, 0]
    # 10 values within 1.5e-3 of 2.00045; 1e-4 sd around 2.0004 holds 7; 0 holds 1 (a tie of
    # nothing else); the last is below MIN_SHARE
    assert kept.tolist() == [True, False, False, False]
    tied = TightFloor(np.repeat(values[:101], 20)[:, None])
    assert tied.floored(np.array([[[0.0]]]), np.array([[[1e-8]]]), floor).all()


def test_a_component_on_a_few_close_values_is_still_degenerate(monkeypatch) -> None:
    """Three values 1e-4 apart at 5 beside 297 of sd 1: a component on them has a variance
    (6.7e-9) under the floor and three distinct values in its window, so it is floored and
    its starts degenerate, as before; counting one distinct value enough (``DISTINCT`` 1),
    K = 2 would be that component, the likelihood's spurious maximum."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0.0, 1.0, 297), 5.0 + 1e-4 * np.arange(3)]

    def narrowest(fit: mixfit.FitResult) -> float:
        return min(min(r.params.sds) for r in fit.results if r.status == "ok")

    assert narrowest(mixfit.fit(x, k=[1, 2, 3], seed=0)) > 5e-4  # the floor: 1e-3 sd
    monkeypatch.setattr(tight, "DISTINCT", 1)
    assert narrowest(mixfit.fit(x, k=[1, 2, 3], seed=0)) < 1e-4


def _few_beside_many(
    sd: float, d: int = 2, seed: int = 0, few: int = 50, many: int = 950
) -> list[np.ndarray]:
    """``few`` points of sd ``sd`` at (10, ..., 10) beside ``many`` of sd 1 at 0, in d
    dimensions."""
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 1.0, (many, d)), rng.normal(10.0, sd, (few, d))]


@pytest.mark.parametrize("covariance", ["full", "diag", "spherical"])
@pytest.mark.parametrize("sd", [1e-3, 1e-4])
def test_a_tight_cluster_of_a_few_points_is_a_component_in_d_dimensions(
    covariance: str, sd: float
) -> None:
    """The same in 2-D, where the tight cluster is below its columns' floors in every
    direction. Before, every start's component on it was floored and K = 1 was chosen (full,
    sd 0.001: K = 2 at -3977.98, where scikit-learn reaches -2343.36). Now K = 2 is the two
    clusters at their own maximum."""
    parts = _few_beside_many(sd)
    fit = mixfit.fit(np.concatenate(parts), k=[1, 2], covariance=covariance, seed=0)
    assert fit.k_selected == 2
    two = fit.results[1]
    assert sorted(np.round(two.points).tolist()) == [50, 950]
    assert two.loglik == pytest.approx(split_loglik(parts, covariance), abs=1e-4)


def test_the_t_and_three_dimensions_fit_a_tight_few_too() -> None:
    """The t's full scale matrix is lifted as the Gaussian's covariance is (30 points beside
    300: before, 7 and 323); and in 3-D."""
    parts = _few_beside_many(1e-3, few=30, many=300)
    t = mixfit.fit(np.concatenate(parts), k=2, family="student_t", seed=0).results[0]
    assert sorted(np.round(t.points).tolist()) == [30, 300]
    three = _few_beside_many(1e-3, d=3, seed=1)
    fit = mixfit.fit(np.concatenate(three), k=2, seed=0).results[0]
    assert fit.loglik == pytest.approx(split_loglik(three), abs=1e-4)


def _exempt(rule: TightFloor, mean, cov, floor: float = 1e-6) -> bool:
    """``TightFloor.exempt`` of one covariance below a scalar floor."""
    values, vectors = np.linalg.eigh(np.asarray(cov) / floor)
    scale = np.full(len(mean), 1.0 / np.sqrt(floor))
    return bool(rule.exempt(np.asarray([mean]), values[None], vectors[None], scale)[0])


def test_the_window_rule_in_d_dimensions() -> None:
    """A covariance below the floor is kept where at least ``DISTINCT`` distinct points lie in
    its window and no more than ``CROWD`` times as many in the window widened ``APART``
    times along its thin directions; floored with fewer points, with ties, below
    ``MIN_SHARE`` of the floor, and along a tied column."""
    rng = np.random.default_rng(0)
    cloud = rng.normal(0.0, 1.0, (5000, 2))
    blob = 5.0 + 1e-4 * rng.normal(size=(30, 2))
    rule = TightFloor(np.r_[cloud, blob])
    tiny = (1e-4) ** 2 * np.eye(2)
    assert _exempt(rule, [5.0, 5.0], tiny)
    # 30 distinct points that differ by round-off: below MIN_SHARE of the floor
    roundoff = TightFloor(np.r_[cloud, 5.0 + 1e-12 * rng.normal(size=(30, 2))])
    assert not _exempt(roundoff, [5.0, 5.0], 1e-24 * np.eye(2))
    few = TightFloor(np.r_[cloud, blob[:9]])
    assert not _exempt(few, [5.0, 5.0], tiny)  # 9 distinct points
    tied = TightFloor(np.r_[cloud, np.repeat(blob[:1], 30, axis=0)])
    assert not _exempt(tied, [5.0, 5.0], tiny)  # one point, repeated
    # a strip of the cloud: the points within 6e-3 of the line y = 0, a component of sd
    # 2e-3 across it (below a floor of 1e-4); widened 10x, it holds about 10x as many points,
    # and it is floored. The same strip with the cloud cleared beside it is kept.
    strip, floor = np.diag([0.5, 4e-6]), 1e-4
    inside = np.abs(cloud[:, 1]) <= 6e-3
    assert np.count_nonzero(inside) >= 2 * tight.DISTINCT
    assert not _exempt(TightFloor(cloud), [0.0, 0.0], strip, floor)
    cleared = np.r_[cloud[inside], cloud[np.abs(cloud[:, 1]) > 0.3]]
    assert _exempt(TightFloor(cleared), [0.0, 0.0], strip, floor)
    # thin along a column most of whose values are tied
    lattice = np.c_[rng.normal(size=500), rng.integers(0, 5, 500).astype(float)]
    assert not _exempt(TightFloor(lattice), [0.0, 2.0], np.diag([0.5, 1e-7]))


def _tight_and_thin(seed: int) -> tuple[np.ndarray, int]:
    """A random mixture in 2 to 4 dimensions of 2 to 4 clusters of 20 to 400 points, each
    round (sd 0.5 to 2), tight (sd 1e-4 to 1e-2), thin along one column (sd 1e-4 to 1e-2
    there), or thin along an oblique direction (1e-7 to 1e-4 of its largest variance)."""
    rng = np.random.default_rng(seed)
    d, k = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    parts = []
    for _ in range(k):
        n, mean = int(rng.integers(20, 400)), rng.uniform(-10, 10, d)
        kind = rng.choice(["round", "tight", "thin", "corr"])
        if kind == "round":
            parts.append(rng.normal(mean, rng.uniform(0.5, 2), (n, d)))
        elif kind == "tight":
            parts.append(rng.normal(mean, 10 ** rng.uniform(-4, -2), (n, d)))
        elif kind == "thin":
            sd = rng.uniform(0.5, 2, d)
            sd[rng.integers(d)] = 10 ** rng.uniform(-4, -2)
            parts.append(rng.normal(mean, sd, (n, d)))
        else:
            A = rng.normal(size=(d, d))
            w, V = np.linalg.eigh(A @ A.T)
            w[0] = 10 ** rng.uniform(-7, -4) * w[-1]
            parts.append(rng.multivariate_normal(mean, (V * w) @ V.T, n))
    return np.concatenate(parts), k


@pytest.mark.parametrize(
    ("seed", "covariance"), [(1, "full"), (33, "full"), (33, "diag"), (59, "full"), (77, "full")]
)
def test_random_tight_and_thin_clusters_reach_scikit_learn(seed: int, covariance: str) -> None:
    """Of 80 such mixtures (seeds 0..79) at their true K, full and diagonal, the fits before
    the d > 1 rule ended below scikit-learn's best of 10 (``reg_covar=1e-12``) on 6 of 160,
    by 478 to 2,388 (these five and seed 59's diagonal one); now on none, and 154 agree to
    1e-6 (the other 6 above). A script, not kept, ran all 160 against the code before and
    after."""
    from sklearn.mixture import GaussianMixture

    X, k = _tight_and_thin(seed)
    ours = mixfit.fit(X, k=k, covariance=covariance, seed=0).results[0]
    peer = GaussianMixture(
        k,
        covariance_type=covariance,
        n_init=10,
        random_state=0,
        reg_covar=1e-12,
        max_iter=2000,
        tol=1e-8,
    ).fit(X)
    assert ours.status == "ok"
    assert ours.loglik >= peer.score(X) * len(X) - 1e-6 * abs(ours.loglik)


@pytest.mark.parametrize("decimals", [None, 1])
def test_rows_are_in_lexicographic_order_with_or_without_ties(decimals: int | None) -> None:
    """``TightFloor.rows`` sorts by the first column alone where it has no ties, by every
    column where it has: either way the order ``np.lexsort`` gives, and equal points adjacent."""
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(3000, 3))
    if decimals is not None:  # ties in every column, and repeated points
        Z = np.round(Z, decimals)
    rows, new = TightFloor(Z).rows
    np.testing.assert_array_equal(rows, Z[np.lexsort(Z.T[::-1])])
    distinct = np.unique(Z, axis=0).shape[0]
    assert new.sum() == distinct
    assert (distinct < Z.shape[0]) == (decimals is not None)
