"""Values with counts reach the references their repeated points reach (2026-12-03).

The 1-D family references (``tests/fixtures/families``, ``families_more``, ``families_third``;
the beta cells aside, which have their own rule) on data with ties (at most 80 % of the values
distinct), each fitted as its distinct values with their counts as weights, under
``test_family_references``'s bar and spurious-reference rule.

Before ``mixfit.data.point_weight``, one point's worth was the mean weight: R's epil seizure
counts (236 points, 36 distinct values, a mean count of 6.6) lost K = 3 and 4, every start
"a component kept less than one point's worth", and so did esoph's cases at K = 3. Over these
cells and the beta ones (312 fits, seeds 0..2, by hand) 17 fits ended below the bar before
and 1 after, at a spike reference; this test (seed 0, 90 cells, 22 s on 2 processes) failed 5
cells on the code before (Poisson discoveries K = 3, epil K = 3 and 4, esoph K = 3, gamma
wind speeds K = 3). ``make validate``, not ``make test``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from .test_family_references import reaches_reference

ROOT = Path(__file__).resolve().parents[1] / "fixtures"
DIRECTORIES = ("families", "families_more", "families_third")
TIES = 0.8  # at most this share of the values distinct


def _cells() -> list:
    cells = []
    for directory in DIRECTORIES:
        for path in sorted((ROOT / directory).glob("*.json")):
            doc = json.loads(path.read_text())
            x = np.asarray(doc["x"], dtype=float)
            if doc["family"] == "beta" or x.ndim != 1 or np.unique(x).size > TIES * x.size:
                continue
            for cell in doc["cells"]:
                shared = cell.get("shared_df", False)
                name = f"{directory}-{path.stem}-k{cell['k']}" + ("-shared" if shared else "")
                cells.append(pytest.param(directory, path.name, cell["k"], shared, id=name))
    return cells


@pytest.mark.validate
@pytest.mark.parametrize(("directory", "name", "k", "shared"), _cells())
def test_values_with_counts_reach_the_reference(
    directory: str, name: str, k: int, shared: bool
) -> None:
    reaches_reference(ROOT / directory / name, k, shared, counts=True)
