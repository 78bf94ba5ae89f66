"""The benchmark's arithmetic floor counts what the E-steps evaluate (``tests.benchmarks.core``)."""

from __future__ import annotations

import mixfit
from mixfit import estep
from tests.benchmarks.core import (
    estep_seconds_per_density,
    evaluated_cells,
    exp_seconds_per_value,
    simulate,
)


def test_evaluated_cells_counts_starts_times_points_per_k_and_puts_the_e_step_back() -> None:
    x = simulate(200)
    original = estep.Batch.estep
    fits = []
    cells = evaluated_cells(
        lambda: fits.append(
            mixfit.fit(
                x,
                k=2,
                n_starts=3,
                screen_factor=1,
                split_merge=0,
                polish=False,
                accelerate=False,
                seed=0,
            )
        )
    )
    starts = fits[0].results[0].starts
    # plain EM, nothing screened: one E-step per iteration of each start, and one more at its end
    assert cells == {2: x.size * sum(s.n_iter + 1 for s in starts)}
    assert estep.Batch.estep is original


def test_the_rates_are_plausible_durations() -> None:
    assert 1e-11 < exp_seconds_per_value() < 1e-7
    assert 1e-11 < estep_seconds_per_density(simulate(200), starts=20, k=3) < 1e-6
