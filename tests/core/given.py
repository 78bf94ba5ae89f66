"""EM from given start values that ends degenerate (mclust's stopping points on a climb)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

import mixfit
from mixfit.em import MAX_RESTARTS, RESCUE_INIT


def given_start_degenerates(x: np.ndarray, match: str, **options: Any) -> None:
    """Fit the one K of ``options`` from its explicit start values and check that the given
    start ends degenerate, with every restart: either the K is refused with a message matching
    ``match``, or (``mixfit.finish.rescue``) a rescue draw wins it and the given start is marked
    degenerate, its events matching ``match``."""
    try:
        r = mixfit.fit(x, **options).results[0]
    except mixfit.FitError as error:
        assert re.search(match, str(error))
        return
    given = r.starts[0]
    assert given.status == "degenerate" and given.restarts == MAX_RESTARTS
    assert any(re.search(match, f"{e.kind}: {e.detail}") for e in given.events)
    assert r.starts[r.best_start].init == RESCUE_INIT
