"""A K's fit with no K - 1 fit to grow from.

Since ``mixfit.fit.parent_fit`` a K asked alone fits K - 1 for its growth moves, as a grid
does. The tests of what runs before growth (screening, the rescue, the split-and-merge rounds)
look at a K through ``fit_orphan``: what ``mixfit.fit`` gave a K asked alone before.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mixfit import KResult
from mixfit.em import run_k
from mixfit.finish import refine_k
from mixfit.fit import parse_request, prepare


def fit_orphan(x: np.ndarray, **options: Any) -> KResult:
    """The one K of ``options`` (``mixfit.fit``'s options) fitted with no K - 1 fit: its
    starts, their rescue, the split-and-merge rounds and the polish."""
    problem = prepare(parse_request(options), x)
    (k,) = problem.request.k_values()
    return refine_k(problem, run_k(problem, k))
