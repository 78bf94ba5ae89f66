"""The families' default fits reach their references on a fourth set of real data (2026-12-04).

Fixtures under ``tests/fixtures/families_fourth/`` (its README says how they were made): the
references of ``tests/fixtures/families_third/`` made the same way (R's drivers and the brute
force, spikes excluded) on 15 more R data sets at K = 2..4 (the Student t: K = 2, 3), and for
the beta family the peers' brute force on five proportions, K = 1..3. The bar and its
spurious-reference rule are ``test_family_references``'s, for the beta cells too. ``make
validate``, not ``make test``.

It found two cells that seed 0 missed, both maxima that a narrow component makes on tied
values inside a broad one. The t on Davis's heights (integer centimetres), K = 3, where 9 of 10
starts degenerated, is now reached (a K that fits on fewer than half its starts gets the
rescue draws, ``mixfit.finish.fitted_sparsely``). The log-normal on the earthquake magnitudes of
``quakes`` (1,000 values on 22 tenths), K = 4, where every start ends regular, stays in
``MISSES`` with what was measured: more starts reach it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_family_references import cells_in, reaches_reference
from .test_family_third import beta_cells, beta_reaches

FOURTH = Path(__file__).resolve().parents[1] / "fixtures" / "families_fourth"
# Cells where seed 0 misses the bar, with what was measured (expected failures, not strict).
MISSES = {
    "lognormal-quakes_mag-k4": "a regular maximum (EM from it stays there 5,000 iterations) "
    "with a component of 18 points' worth and sdlog 0.014 on the tied magnitudes 5.0 and 5.1 "
    "inside a broad one, -435.125; seeds 0, 2 and 3 end at -435.201, seed 1 at -435.141; "
    "n_starts=100 reaches it, n_starts=30 ends above it (-434.990)",
}


@pytest.mark.validate
@pytest.mark.parametrize(
    ("name", "k", "shared"),
    [c for c in cells_in(FOURTH, MISSES) if not c.values[0].startswith("beta_")],
)
def test_default_fit_reaches_the_reference(name: str, k: int, shared: bool) -> None:
    reaches_reference(FOURTH / name, k, shared)


@pytest.mark.validate
@pytest.mark.parametrize(("name", "k"), beta_cells(FOURTH))
def test_beta_reaches_the_brute_force_maximum(name: str, k: int) -> None:
    beta_reaches(FOURTH / name, k)
