"""mixfit's default fit against mclust on 15 more R data sets (2026-12-04; datasets and MASS,
sets no other fixture uses): volcano's heights (5,307 values on 101 integers), the monthly
sunspot numbers (2,820), uspop, lh, nhtemp, austres, mdeaths, fdeaths, JohnsonJohnson,
Michelson's speeds (100 values on 30 multiples of 10), log precipitation, the euro rates (11),
cement (13 rows, 5 columns), Insurance's holders and claims, leuk's log counts and times;
every model both have (VVV, VVI, VII, EEE; in 1-D V and E), K = 1..9 where mclust fitted.
mixfit's log-likelihood reaches mclust's - 1e-6 n.

Fixtures: ``tests/fixtures/mclust_third/make_mclust_third.R``. The sweep that made them found
two cells below mclust (of 250), neither a maximum (``NOT_A_BAR``, each with its test): EM from
mclust's own parameters climbs on, Michelson's V K = 5 as a component narrows onto the ten
speeds of 810, uspop's V K = 9 (19 points) as a component drains below one point's worth of
weight, each to a degenerate end. ``make validate``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixfit

from .given import given_start_degenerates
from .test_mclust_wide import cases_in, reaches_mclust

THIRD = Path(__file__).resolve().parents[1] / "fixtures" / "mclust_third"
NOT_A_BAR = {
    ("michelson", "V", 5): "mclust stops at -566.85 on a climb: EM from its parameters narrows "
    "its second component onto the ten speeds of 810 and degenerates",
    ("uspop", "V", 9): "mclust stops at -95.057 on a climb: EM from its parameters (mclust's "
    "own estep and mstep too) drains a component below one point's worth of weight",
}


def _doc(name: str) -> dict:
    return json.loads((THIRD / f"mclust_{name}.json").read_text())


def _mclust_v(name: str, k: int) -> tuple[np.ndarray, dict, dict]:
    """A set's points, mclust's V fit with ``k`` components (``mclust_V{k}``) and its
    parameters as mixfit's start values (weights summing to 1 in float64)."""
    doc = _doc(name)
    theirs = doc[f"mclust_V{k}"]
    start = {
        "weights": (np.asarray(theirs["weights"]) / np.sum(theirs["weights"])).tolist(),
        "means": theirs["means"],
        "sds": np.sqrt(theirs["variances"]).tolist(),
    }
    return np.asarray(doc["x"], dtype=float), theirs, start


@pytest.mark.validate
@pytest.mark.parametrize(("name", "model"), cases_in(THIRD))
def test_default_fit_reaches_mclust_at_k_1_to_9(name: str, model: str) -> None:
    reaches_mclust(_doc(name), model, NOT_A_BAR)


def test_michelson_v5_is_mclust_stopping_on_a_climb() -> None:
    """mclust's V K = 5 on Michelson's 100 speeds of light (-566.85; 30 distinct values, ten at
    810) is no maximum: EM from its parameters gains as its second component (mean 807.9, sd
    4.7) narrows onto the 810s, and run on it ends there, degenerate. mixfit's default K = 5
    ends at a regular -568.96; K = 1..4 are above mclust's."""
    x, theirs, start = _mclust_v("michelson", 5)
    common = {"k": 5, "init": start, "accelerate": False, "split_merge": 0, "seed": 0}
    climb = mixfit.fit(x, **common, max_iter=30, tol=1e-300)
    # still rising (0.21 in 30 iterations), each gain about mclust's tolerance, 1e-5 of it
    assert climb.results[0].loglik > theirs["loglik"] + 0.1
    given_start_degenerates(x, "degenerate", **common)


def test_uspop_v9_is_mclust_stopping_on_a_climb() -> None:
    """mclust's V K = 9 on the 19 census counts of uspop (-95.057, every component about two
    points' worth) is no maximum: EM from its parameters gains on while a component's weight
    drains (mclust's own ``estep`` and ``mstep`` from there: 2.05 points' worth to 1.48 in 200
    iterations, the log-likelihood -95.044), and run on it ends below one point's worth,
    degenerate. mixfit refuses K = 9 (K = 1..8 are above mclust's)."""
    x, theirs, start = _mclust_v("uspop", 9)
    common = {"k": 9, "init": start, "accelerate": False, "split_merge": 0, "seed": 0}
    climb = mixfit.fit(x, **common, max_iter=200, tol=1e-300).results[0]
    assert climb.loglik > theirs["loglik"] + 0.005  # still rising: no maximum
    assert min(climb.points) < 1.6  # its lightest component draining
    given_start_degenerates(x, "less than one point", **common)
