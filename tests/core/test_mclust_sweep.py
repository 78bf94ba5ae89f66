"""mixfit's default fit against mclust on 58 more R data sets (the fourteenth session's sweep:
datasets, MASS, flexmix and mclust's own; returns, counts, tied integers, compositions, 1-D to
10-D) at every K of mclust's default grid, 1..9, and every covariance model both have (VVV,
VVI, VII, EEE; in 1-D V and E): mixfit's log-likelihood reaches mclust's - 1e-6 n.
About 110 CPU-seconds: ``make validate``.

Fixtures: ``tests/fixtures/mclust_sweep/make_mclust_sweep.R``. The sweep ran 92 sets (2,079
cells, seeds 0, 1 and 2 where seed 0 missed); seed 0 reached mclust everywhere but the cells in
``NOT_A_BAR``, none a regular maximum.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixfit

from .test_mclust_wide import cases_in, reaches_mclust

SWEEP = Path(__file__).resolve().parents[1] / "fixtures" / "mclust_sweep"
ROUND_OFF = (
    "Skye's rows are compositions summing to 100: the data lie on a plane, the sample "
    "covariance's third eigenvalue is round-off (4e-14), and mclust's +578.46 is the log of "
    "that determinant; mixfit holds the eigenvalue at its floor (-73.01). Unbounded, not a bar"
)
NOT_A_BAR = {
    ("Skye", "VVV", 1): ROUND_OFF,
    ("Skye", "EEE", 1): ROUND_OFF,
    ("quine", "V", 4): "mclust stops at -552.45 on a climb to a spike on the 19 tied fives "
    "(test_quine_v4_is_mclust_stopping_on_a_climb)",
}


def _doc(name: str) -> dict:
    return json.loads((SWEEP / f"mclust_{name}.json").read_text())


@pytest.mark.validate
@pytest.mark.parametrize(("name", "model"), cases_in(SWEEP))
def test_default_fit_reaches_mclust_at_k_1_to_9(name: str, model: str) -> None:
    reaches_mclust(_doc(name), model, NOT_A_BAR)


@pytest.mark.validate
def test_quine_v4_is_mclust_stopping_on_a_climb() -> None:
    """mclust's V K=4 on quine's days absent (-552.45) is above every fit mixfit ends with
    (-560.87 under seeds 0..7 and 50 starts). It is no maximum: its second component (weight
    0.15, sd 0.42) sits on the 19 pupils absent exactly 5 days, and plain EM from mclust's own
    parameters goes on climbing as it narrows, to a degenerate end."""
    doc = _doc("quine")
    x = np.asarray(doc["x"], dtype=float)
    theirs = doc["mclust_V4"]
    start = {name: theirs[name] for name in ("weights", "means", "sds")}
    climb = mixfit.fit(
        x, k=4, init=start, n_starts=1, accelerate=False, split_merge=0, max_iter=50, tol=1e-300
    )
    assert climb.results[0].loglik > theirs["loglik"] + 0.1  # still rising: no maximum
    end = mixfit.fit(x, k=4, init=start, n_starts=1, accelerate=False, split_merge=0)
    kinds = [e.kind for e in end.results[0].starts[0].events]
    assert "degenerate" in kinds and end.results[0].starts[0].restarts >= 1, kinds
    ours = mixfit.fit(x, k=4, seed=0).results[0]
    assert ours.loglik < theirs["loglik"] - 1.0  # the figure the sweep skips
    assert min(ours.params.sds) > 0.5  # no component on one tied value
