"""The families' default fits reach their references on a third set of real data (2026-12-03).

Fixtures under ``tests/fixtures/families_third/`` (its README says how they were made): the
references of ``tests/fixtures/families_more/`` made the same way (R's drivers and the brute
force, spikes excluded) on 15 more R data sets at K = 2..4 (the Student t: K = 2, 3), and for
the beta family the peers' brute force (``tests/fixtures/peers``) on eight proportions, K = 1..3.
The bar and its spurious-reference rule are ``test_family_references``'s, for the beta cells
too: where the brute force's best is a spike (``spurious`` in the file: smallest / largest
component variance under 0.01), a fit may end below it at a regular maximum no lower than the
best regular one the brute force found. ``make validate``, not ``make test``.

The set was made to look for maxima the fits miss, and found one: Gamma on R's chick weights,
K = 2 (-406.57, a component of 10 points' worth with sd 10.8 at 328 beside one of sd 80).
Seeds 0, 1 and 2 all ended at -406.82, and so did 100 screened starts. Births at every
neighbourhood size reach it (``mixfit.neighbourhoods.clusters_at_every_scale``;
``tests/core/test_smem.py::test_a_birth_on_a_wider_neighbourhood_reaches_a_cluster_the_smallest_miss``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixfit

from .test_family_references import cells_in, reaches_reference

THIRD = Path(__file__).resolve().parents[1] / "fixtures" / "families_third"
# Cells where seed 0 misses the bar, with what was measured (expected failures, not strict).
MISSES = {
    "student_t-lakehuron-k3": "the reference is a spike (scale 0.0046 on 2.6 points' worth "
    "at 578.18, -153.956); seed 0 ends on a lower one (scale 0.0045 on 2.4 points at 579.37, "
    "-154.830), which the rule refuses; seeds 1, 2 and 3 reach the reference",
}


@pytest.mark.validate
@pytest.mark.parametrize(
    ("name", "k", "shared"),
    [c for c in cells_in(THIRD, MISSES) if not c.values[0].startswith("beta_")],
)
def test_default_fit_reaches_the_reference(name: str, k: int, shared: bool) -> None:
    reaches_reference(THIRD / name, k, shared)


def beta_cells(directory: Path) -> list:
    """One case per K of every ``beta_*.json`` brute-force file in ``directory``."""
    cells = []
    for path in sorted(directory.glob("beta_*.json")):
        for cell in json.loads(path.read_text())["cells"]:
            cells.append(pytest.param(path.name, cell["k"], id=f"{path.stem}-k{cell['k']}"))
    return cells


def beta_reaches(path: Path, k: int) -> None:
    """The beta default fit (seed 0) reaches the brute force's cell K - 1e-6 n or, below a
    spurious one, its best regular maximum without a spike of its own."""
    doc = json.loads(path.read_text())
    cell = next(c for c in doc["cells"] if c["k"] == k)
    x = np.asarray(doc["x"], dtype=float)
    r = mixfit.fit(x, family="beta", k=k, seed=0).results[0]
    assert r.status == "ok", r.message
    tol = 1e-6 * doc["n"]
    if cell["spurious"] and r.loglik < cell["loglik"] - tol:
        # attitude's ratings, K = 2: the best is a spike of precision 7,205 on 2.4 points'
        # worth of the tied 0.81, 0.81, 0.82 (23.99); seeds 0 and 1 end at the regular 23.88
        assert cell["regular"] is not None, "below a spike with no regular maximum to reach"
        assert r.loglik >= cell["regular"]["loglik"] - tol, (r.loglik, cell["regular"])
        variances = np.array(r.params.alphas) * np.array(r.params.betas)
        total = np.array(r.params.alphas) + np.array(r.params.betas)
        variances /= total**2 * (total + 1.0)
        assert variances.min() >= 0.01 * variances.max(), r.params  # no spike of its own
        return
    assert r.loglik >= cell["loglik"] - tol, (r.loglik, cell["loglik"])


@pytest.mark.validate
@pytest.mark.parametrize(("name", "k"), beta_cells(THIRD))
def test_beta_reaches_the_brute_force_maximum(name: str, k: int) -> None:
    beta_reaches(THIRD / name, k)
