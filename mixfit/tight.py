"""Where a 1-D component's variance may go below the variance floor: a tight cluster of its
own, too small to set the floor.

The floor's reference is never above ``CLUSTER_SPREAD`` times the local variance
(``mixfit.fit.prepare``), the spread of the tightest clusters that hold a tenth of the points.
A tighter cluster of fewer points kept the floor of the rest: 50 points of sd 0.001 at 10
beside 950 of sd 1 had every start's component on them floored, and K = 1 was chosen (K = 2 at
-2285.88, where scikit-learn reaches -1246.25); 20 points of sd 1e-4 likewise.

A component's variance below the floor is kept (``TightFloor.floored``) where at least
``DISTINCT`` distinct values lie within ``WINDOW`` of its standard deviations of its mean, and
it is at least ``MIN_SHARE`` of the floor (``mixfit.oblique``): a component collapsing onto
tied values, or onto a few close ones, has fewer and fewer distinct values in its shrinking
window and is held as before; values that differ only by round-off meet the bound.
``tests/core/test_tight.py``.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .data import LOCAL_POINTS
from .oblique import MIN_SHARE

WINDOW = 3.0
DISTINCT = LOCAL_POINTS


class TightFloor:
    """The distinct values a 1-D component's variance below the floor is measured against,
    sorted once, when a variance first falls below the floor (a fit of 1e6 points whose
    floor never binds does not sort them).

    Parameters
    ----------
    z : ndarray of shape (n,)
        The data in the engine's units (of positive weight).
    """

    def __init__(self, z: np.ndarray) -> None:
        self.z = z

    @classmethod
    def of(cls, Z: np.ndarray, w: np.ndarray | None) -> TightFloor:
        """From 1-D data Z (n, 1) in the engine's units, with weights w (n,) or None."""
        return cls(Z[:, 0] if w is None else Z[w > 0, 0])

    @cached_property
    def values(self) -> np.ndarray:
        """The distinct values, sorted, (m,)."""
        return np.unique(self.z)

    def floored(self, mean: np.ndarray, var: np.ndarray, floor: float) -> np.ndarray:
        """Which variances stay floored: those below ``floor``, except where a tight cluster
        of their own holds them (module docstring).

        Parameters
        ----------
        mean, var : ndarray of shape (S, K, 1)
        floor : float

        Returns
        -------
        ndarray of shape (S, K, 1), bool
        """
        low = var < floor
        if not low.any():
            return low
        where = np.nonzero(low)
        m, v = mean[where], var[where]
        half = WINDOW * np.sqrt(np.maximum(v, 0.0))
        inside = np.searchsorted(self.values, m + half, side="right") - np.searchsorted(
            self.values, m - half, side="left"
        )
        low[where] = ~((inside >= DISTINCT) & (v >= MIN_SHARE * floor))
        return low
