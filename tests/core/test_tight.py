"""A 1-D cluster too tight for the floor and too small to set it (``mixfit.tight``): a component
where at least ``DISTINCT`` distinct values lie within its window, held at the floor as before
where tied or few values are all it covers."""

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


def test_ties_and_a_few_close_values_stay_floored() -> None:
    """The window rule in the engine's units: a variance below the floor is kept with 10
    distinct values inside its 3 sds, floored with 9, with tied values (however many points),
    and below ``MIN_SHARE`` of the floor."""
    values = np.r_[np.linspace(-5.0, 5.0, 101), 2.0 + 1e-4 * np.arange(10)]
    rule = TightFloor.of(values[:, None], None)
    floor = 1e-6
    mean = np.array([[[2.00045]], [[2.0004]], [[0.0]], [[2.00045]]])
    var = np.array([[[2.5e-7]], [[1e-8]], [[1e-8]], [[0.5e-4 * floor]]])
    kept = ~rule.floored(mean, var, floor)[:, 0, 0]
    # 10 values within 1.5e-3 of 2.00045; 1e-4 sd around 2.0004 holds 7; 0 holds 1 (a tie of
    # nothing else); the last is below MIN_SHARE
    assert kept.tolist() == [True, False, False, False]
    tied = TightFloor.of(np.repeat(values[:101], 20)[:, None], None)
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
