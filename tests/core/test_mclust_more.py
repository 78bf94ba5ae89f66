"""mixfit's default fit against mclust on 26 R data sets that no other fixture uses: at every
K = 1..5 and every covariance model both have, mixfit's log-likelihood reaches mclust's
- 1e-6 n (about 40 CPU-seconds: ``make validate``; beside the service tests' workers on two
cores in ``make test`` it starved them past their waits).

Fixtures: ``tests/fixtures/mclust_more/make_mclust_more.R`` (mclust's log-likelihood from its
BIC). VVV, VVI, VII and EEE are mixfit's full, diag, spherical and tied; V and E in 1-D its free
and tied variances. Three cells are mclust's and not a maximum mixfit should reach (seeds 0..3
alike), listed in ``NOT_A_BAR``. This sweep found the skewed-data floor of ``test_skewed``:
before it, islands V K = 4 stopped at -290.72 against mclust's -289.32.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixfit

MORE = Path(__file__).resolve().parents[1] / "fixtures" / "mclust_more"
COVARIANCE = {
    "VVV": "full",
    "VVI": "diag",
    "VII": "spherical",
    "EEE": "tied",
    "V": "full",
    "E": "tied",
}
NOT_A_BAR = {
    ("women", "VVV", 3): "mclust stops at -43.76 at its tolerance 1e-5; its own em continued "
    "from there ends in a singular covariance (three collinear points), as mixfit's does",
    ("pressure", "VVV", 5): "mclust's first component has variance 8e-7 across the curve, "
    "2.5e-7 of the column's robust variance: below mixfit's floor, degenerate by design",
    ("pressure", "VVI", 5): "the same component, variance 6e-6: below the floor by design",
}


def _cases() -> list:
    cases = []
    for path in sorted(MORE.glob("mclust_*.json")):
        doc = json.loads(path.read_text())
        for model in doc["loglik"]:
            cases.append(pytest.param(path.name, model, id=f"{doc['dataset']}-{model}"))
    return cases


@pytest.mark.validate
@pytest.mark.parametrize(("name", "model"), _cases())
def test_default_fit_reaches_mclust(name: str, model: str) -> None:
    doc = json.loads((MORE / name).read_text())
    x = np.asarray(doc["x"], dtype=float)
    result = mixfit.fit(x, k={"min": 1, "max": 5}, covariance=COVARIANCE[model], seed=0)
    for ours, theirs in zip(result.results, doc["loglik"][model], strict=True):
        if theirs is None or (doc["dataset"], model, ours.k) in NOT_A_BAR:
            continue
        assert ours.loglik is not None, f"K={ours.k} refused: {ours.message}"
        assert ours.loglik >= theirs - 1e-6 * doc["n"], (ours.k, ours.loglik, theirs)
