"""mixfit's default fit against mclust on 25 more R data sets (2026-12-03; datasets, MASS and
mclust's own, columns and transforms no other fixture uses): quakes' depths and all four
columns, co2, Boston's medv, ldeaths, Melanoma's thickness and four columns, infert's ages,
GAGurine (GAG, and both columns), attenuation distances (log) and three columns, Aids2's ages,
the first 1,500 monthly sunspot numbers, Cars93, survey, gilgais, topo, nlschools, Pima.te,
wdbc's standard errors, Theoph, state.x77, crabs (log), iris (log); n = 50 to 2,843, d = 1 to
10, every model both have (VVV, VVI, VII, EEE; in 1-D V and E), K = 1..9: 644 cells. mixfit's
log-likelihood reaches mclust's - 1e-6 n.

Fixtures: ``tests/fixtures/mclust_extra/make_mclust_extra.R``. The sweep that made them
(seed 0, every set) found no cell below mclust but nlschools VVI K = 9; seeds 1 and 2 one more,
the first 1,500 monthly sunspot numbers, V K = 4 (-7370.63 against mclust's -7362.70). Neither
is a maximum (``NOT_A_BAR``, each with its test): EM from mclust's own parameters climbs on
as a component narrows onto tied values, to a degenerate end. Seed 0's -7359.05 at the sunspot
cell was a start stopped by ``max_iter`` on that same climb; with a budget for each restart
(``mixfit.em``) it ends at a regular -7373.43. The test keeps the 17 sets whose
fits take a few seconds; ``make validate``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixfit

from .given import given_start_degenerates
from .test_mclust_wide import cases_in, reaches_mclust

EXTRA = Path(__file__).resolve().parents[1] / "fixtures" / "mclust_extra"
NOT_A_BAR = {
    ("nlschools", "VVI", 9): "mclust stops at -20791.40 on a climb: EM from its parameters "
    "gains 18 in 60 iterations as a component narrows onto tied SES values, then degenerates",
    ("sunspot_month", "V", 4): "mclust stops at -7362.70 on a climb: EM from its parameters "
    "narrows its first component onto the 57 zeros and degenerates",
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
    # seeded: a degenerate start's restarts draw from the seed
    common = {"k": 9, "covariance": "diag", "init": start, "accelerate": False, "split_merge": 0}
    common["seed"] = 0
    climb = mixfit.fit(x, **common, max_iter=40, tol=1e-300)
    assert climb.results[0].loglik > theirs["loglik"] + 5.0  # still rising: no maximum
    given_start_degenerates(x, "degenerate", **common)


def test_sunspot_v4_is_mclust_stopping_on_a_climb() -> None:
    """mclust's V K = 4 on the first 1,500 monthly sunspot numbers (-7362.70; 57 of them
    exactly 0) is no maximum: EM from its parameters gains more than 1 in 60 iterations while its
    first component (mean 5.7, sd 4.6) narrows and moves toward the zeros, and run on it ends
    with that component on them, degenerate. Seeds 1 and 2 end at -7370.63, a regular maximum
    (each of their starts that passes mclust's value goes on to the zeros); seed 0 at
    -7373.43 (``test_degeneracy.py::test_a_restart_runs_on_a_budget_of_its_own``)."""
    doc = _doc("sunspot_month")
    x = np.asarray(doc["x"], dtype=float)
    theirs = doc["mclust_V4"]
    start = {
        "weights": theirs["weights"],
        "means": theirs["means"],
        "sds": np.sqrt(theirs["variances"]).tolist(),
    }
    # seeded: a degenerate start's restarts draw from the seed (each of seeds 0..7 fails; when
    # the restarts shared one budget, seed 5's last ran out of it on the climb, at -7360.43)
    common = {"k": 4, "init": start, "n_starts": 1, "split_merge": 0, "seed": 0}
    climb = mixfit.fit(x, **common, accelerate=False, max_iter=60, tol=1e-300).results[0]
    assert climb.loglik > theirs["loglik"] + 1.0  # still rising: no maximum
    assert climb.params.sds[0] < 0.95 * np.sqrt(theirs["variances"][0])  # narrowing
    given_start_degenerates(x, "degenerate", **common)
    ours = mixfit.fit(x, k=4, seed=1).results[0]
    assert ours.converged and ours.loglik < theirs["loglik"] - 1.0  # what the bar skips


def test_plain_em_reports_a_climb_to_a_spike_unconverged() -> None:
    """With ``accelerate=False`` and the default ``max_iter``, every start of the sunspot
    months' K = 4 is still climbing to a spike on the zeros at 1,000 iterations: the K is
    reported as it stands, above every regular maximum and marked unconverged (README,
    Acceleration); SQUAREM reaches the spikes, degenerates and rescues a regular maximum."""
    x = np.asarray(_doc("sunspot_month")["x"], dtype=float)
    plain = mixfit.fit(x, k=4, seed=0, accelerate=False).results[0]
    assert not plain.converged and plain.starts[plain.best_start].status == "max_iter"
    assert plain.loglik == pytest.approx(-7267.91, abs=0.01)
    fast = mixfit.fit(x, k=4, seed=0).results[0]
    assert fast.converged and fast.loglik < plain.loglik - 50.0
