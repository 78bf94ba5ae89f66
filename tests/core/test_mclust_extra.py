"""mixfit's default fit against mclust on 25 more R data sets (2026-12-03; datasets, MASS and
mclust's own, columns and transforms no other fixture uses): quakes' depths and all four
columns, co2, Boston's medv, ldeaths, Melanoma's thickness and four columns, infert's ages,
GAGurine (GAG, and both columns), attenuation distances (log) and three columns, Aids2's ages,
the first 1,500 monthly sunspot numbers, Cars93, survey, gilgais, topo, nlschools, Pima.te,
wdbc's standard errors, Theoph, state.x77, crabs (log), iris (log); n = 50 to 2,843, d = 1 to
10, every model both have (VVV, VVI, VII, EEE; in 1-D V and E), K = 1..9: 644 cells. mixfit's
log-likelihood reaches mclust's - 1e-6 n.

Fixtures: ``tests/fixtures/mclust_extra/make_mclust_extra.R``. The sweep that made them
(seed 0, every set) found no cell below mclust but the one in ``NOT_A_BAR``, which is no
maximum (``test_nlschools_vvi9_is_mclust_stopping_on_a_climb``). Under seeds 1 and 2 one
more cell fell below: the first 1,500 monthly sunspot numbers, V K = 4. Seed 0 reaches it
(-7359.05 against mclust's -7362.70); seeds 1, 2, 3, 4 and 6 of 0..7 end at -7370.63 or
-7372.66: every screened start slides onto the 57 zeros (a spike) and the rescue's draws find
only lower regular maxima. Recorded, not asked of another seed. The test keeps the 17 sets
whose fits take a few seconds; ``make validate``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixfit

from .test_mclust_wide import cases_in, reaches_mclust

EXTRA = Path(__file__).resolve().parents[1] / "fixtures" / "mclust_extra"
NOT_A_BAR = {
    ("nlschools", "VVI", 9): "mclust stops at -20791.40 on a climb: EM from its parameters "
    "gains 18 in 60 iterations as a component narrows onto tied SES values, then degenerates",
}
# Sets whose fits over K = 1..9 take more than about 10 s each model (the fixtures keep them).
SLOW = {"aids_age", "gilgais", "gagurine2", "co2", "crabs_log", "cars93", "attenu3", "gag"}


def _doc(name: str) -> dict:
    return json.loads((EXTRA / f"mclust_{name}.json").read_text())


@pytest.mark.validate
@pytest.mark.parametrize(("name", "model"), [c for c in cases_in(EXTRA) if c.values[0] not in SLOW])
def test_default_fit_reaches_mclust_at_k_1_to_9(name: str, model: str) -> None:
    reaches_mclust(_doc(name), model, NOT_A_BAR)


def test_nlschools_vvi9_is_mclust_stopping_on_a_climb() -> None:
    """mclust's VVI K = 9 on nlschools (n = 2,287; lang, IQ, SES of 21 to 47 distinct values)
    is a point EM climbs on from: a component narrows onto tied SES values and the start
    degenerates, so mixfit refuses the K rather than report mclust's stopping point."""
    doc = _doc("nlschools")
    x = np.asarray(doc["x"], dtype=float)
    theirs = doc["mclust_VVI9"]
    start = {
        "weights": theirs["weights"],
        "means": theirs["means"],
        "covariances": [np.diag(v).tolist() for v in theirs["variances"]],
    }
    common = {"k": 9, "covariance": "diag", "init": start, "accelerate": False, "split_merge": 0}
    climb = mixfit.fit(x, **common, max_iter=40, tol=1e-300)
    assert climb.results[0].loglik > theirs["loglik"] + 5.0  # still rising: no maximum
    with pytest.raises(mixfit.FitError, match="degenerate"):
        mixfit.fit(x, **common)
