"""Where a component's variance may go below the variance floor: a tight cluster of its own,
too small to set the floor (in 1-D, and in d > 1 below).

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

In d > 1 (Gaussian and t, every covariance type) the same defect: 50 points of sd 0.001 at
(10, 10) beside 950 of sd 1 chose K = 1 (full: K = 2 at -3977.98, where scikit-learn reaches
-2343.36). A component whose covariance falls below the floor (a variance under its column's
floor; a full or tied covariance with an eigenvalue of F^-1/2 C F^-1/2 below 1, F the floors) is
kept (``TightFloor.exempt``) where all of these hold:

- at least ``DISTINCT`` distinct points lie within ``WINDOW`` of its Mahalanobis distance;
- they stand apart: widened ``APART`` times along its directions below the floor, the window
  holds at most ``CROWD`` times as many distinct points. A component on a few points of a
  broad cloud that happen to lie close to a line (a strip of the cloud, the likelihood's
  spurious maximum, which the floor is there to refuse) has about ``APART`` times as many in
  the widened window; a cluster of its own has about none more. (In 1-D the window rule alone
  suffices: ``DISTINCT`` values within 6 floor sds are denser than a cloud can be.)
- every variance (eigenvalue) below the floor is at least ``MIN_SHARE`` of it;
- no direction below the floor is within ``mixfit.oblique.AXIS_COS`` of the span of the
  columns with many ties (``mixfit.oblique.tied_columns``): a component collapsing onto one of
  a tied column's values, or onto a lattice's line, is held by the floor as before.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .data import LOCAL_POINTS, ROBUST_POINTS
from .oblique import MIN_SHARE, along_ties, tied_columns

WINDOW = 3.0
DISTINCT = LOCAL_POINTS
APART = 10.0
CROWD = 2.0
CHUNK = 1 << 20  # candidate points counted at once (``TightFloor._distinct``)


class TightFloor:
    """The points a component's variance below the floor is measured against, sorted once,
    when a variance first falls below the floor (a fit of 1e6 points whose floor never binds
    does not sort them).

    Parameters
    ----------
    Z : ndarray of shape (n, d)
        The data in the engine's units.
    w : ndarray of shape (n,) or None
        Their weights (points of weight 0 are left out, when first read).
    """

    def __init__(self, Z: np.ndarray, w: np.ndarray | None = None) -> None:
        self.data, self.w = Z, w

    @cached_property
    def Z(self) -> np.ndarray:
        """The points of positive weight, (m, d)."""
        return self.data if self.w is None else self.data[self.w > 0]

    @cached_property
    def values(self) -> np.ndarray:
        """1-D: the distinct values, sorted, (m,)."""
        return np.unique(self.Z[:, 0])

    @cached_property
    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The points in lexicographic order (first column first), (n, d), and which of them
        differ from the one before, (n,), bool: a window's distinct points are its number of
        these (equal points are all in a window or all out)."""
        first = self.Z[:, 0]
        order = np.argsort(first, kind="stable")
        if np.any(first[order[1:]] == first[order[:-1]]):  # ties in the first column
            # (without them the first column's order is lexicographic already: for 1e5
            # points in 10-D this property took 18 ms against lexsort's 108, by cProfile)
            order = np.lexsort(self.Z.T[::-1])
        rows = self.Z[order]
        new = np.ones(rows.shape[0], dtype=bool)
        new[1:] = np.any(rows[1:] != rows[:-1], axis=1)
        return rows, new

    @cached_property
    def tied(self) -> np.ndarray:
        """``mixfit.oblique.tied_columns`` of every k-th point beyond ``ROBUST_POINTS``,
        (d,)."""
        return tied_columns(self.Z[:: -(-self.Z.shape[0] // ROBUST_POINTS)])

    def floored(self, mean: np.ndarray, var: np.ndarray, floor: float) -> np.ndarray:
        """Which variances stay floored: those below ``floor``, except where a tight cluster
        of their own holds them (module docstring).

        Parameters
        ----------
        mean, var : ndarray of shape (S, K, d)
        floor : float or ndarray of shape (d,)

        Returns
        -------
        ndarray of shape (S, K, d), bool
        """
        low = var < floor
        if not low.any():
            return low
        if var.shape[-1] > 1:  # a component's columns together (module docstring)
            f = np.broadcast_to(np.asarray(floor, dtype=float), var.shape[-1:])
            where = np.nonzero(low.any(axis=-1))
            v = var[where] / f
            vectors = np.broadcast_to(np.eye(v.shape[-1]), v.shape + v.shape[-1:])
            keep = self.exempt(mean[where], v, vectors, 1.0 / np.sqrt(f))
            low[tuple(i[keep] for i in where)] = False
            return low
        where = np.nonzero(low)
        m, v = mean[where], var[where]
        half = WINDOW * np.sqrt(np.maximum(v, 0.0))
        inside = np.searchsorted(self.values, m + half, side="right") - np.searchsorted(
            self.values, m - half, side="left"
        )
        low[where] = ~((inside >= DISTINCT) & (v >= MIN_SHARE * floor))
        return low

    def exempt(
        self, mean: np.ndarray, values: np.ndarray, vectors: np.ndarray, scale: np.ndarray
    ) -> np.ndarray:
        """Which components (d > 1) below the floor are tight clusters of their own (module
        docstring), (L,), bool: their means (L, d), and ``values``, ``vectors`` and ``scale``
        as ``mixfit.oblique.ObliqueFloor.exempt`` takes them (for a diagonal C, each
        variance over its floor and the identity)."""
        below = values < 1.0
        tied = along_ties(vectors, self.tied)
        ok = np.all(values >= MIN_SHARE, axis=1) & ~np.any(below & tied, axis=1)
        if ok.any():
            wide = np.where(below, APART * APART * values, values)[ok]
            near, far = self._distinct(mean[ok], vectors[ok], values[ok], wide, scale)
            ok[ok] = (near >= DISTINCT) & (far <= CROWD * near)
        return ok

    def _distinct(
        self,
        mean: np.ndarray,
        vectors: np.ndarray,
        values: np.ndarray,
        wide: np.ndarray,
        scale: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The distinct points within ``WINDOW`` of each component's Mahalanobis distance
        (covariance F^1/2 V diag(values) V' F^1/2 about its mean), and within it of the
        covariance with eigenvalues ``wide`` (each at least the other's), (L,) each; means
        (L, d), vectors (L, d, d), values and wide (L, d)."""
        L = mean.shape[0]
        basis = vectors * scale[None, :, None]  # whitened coordinates: (x - mean) @ basis
        # the widened ellipsoids' bounding boxes along each column
        half = WINDOW * np.sqrt(np.sum(vectors * vectors * wide[:, None, :], axis=2)) / scale
        rows, new = self.rows
        lo = np.searchsorted(rows[:, 0], mean[:, 0] - half[:, 0], side="left")
        size = np.searchsorted(rows[:, 0], mean[:, 0] + half[:, 0], side="right") - lo
        near, far = np.zeros(L, dtype=np.int64), np.zeros(L, dtype=np.int64)
        go = np.flatnonzero(size >= DISTINCT)
        # the candidates of several components at once (equal points are all in or all out),
        # about ``CHUNK`` at a time
        group = np.cumsum(size[go]) // CHUNK
        limit = WINDOW * WINDOW
        for g in np.unique(group):
            some = go[group == g]
            seg = np.repeat(some, size[some])
            start = np.cumsum(size[some]) - size[some]
            idx = np.arange(seg.size) - np.repeat(start - lo[some], size[some])
            X = rows[idx] - mean[seg]
            box = new[idx] & np.all(np.abs(X) <= half[seg], axis=1)
            X, seg = X[box], seg[box]
            W = np.einsum("nd,nde->ne", X, basis[seg])
            W *= W
            far += np.bincount(seg[np.sum(W / wide[seg], axis=1) <= limit], minlength=L)
            near += np.bincount(seg[np.sum(W / values[seg], axis=1) <= limit], minlength=L)
        return near, far
