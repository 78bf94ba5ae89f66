"""Where a full or tied covariance may go below the per-column variance floor: clusters thin
along a direction no column follows.

The floor is per column (``mixfit.fit.prepare``): ``var_floor`` times each column's reference,
never above ``CLUSTER_SPREAD`` times the column's local variance, so that a cluster thin along
a column keeps a floor of its own scale. A cluster thin along an oblique direction got no such
floor: two clusters 100 apart, one of them with correlation 0.9999 (its smallest variance 1e-4),
had that one held at the floor in every start, and K = 2 was refused as degenerate; 10 apart
with correlation 0.99999, K = 2 ended at a worse maximum (-1765.33 against scikit-learn's
-308.18). ``tests/core/test_oblique.py``.

A full or tied covariance C whose smallest eigenvalue in floor units (of F^-1/2 C F^-1/2,
F = diag(floor)) is below 1 is lifted (``mixfit.families.gaussian.lift``) unless, along that
eigenvector v (in floor units), the data are thin too (``ObliqueFloor.exempt``):

- the smallest eigenvalue is at least ``var_floor`` x ``CLUSTER_SPREAD`` x the local variance
  (``mixfit.data.local_variance``) of the data's projection on v: the 1-D rule along v, so
  that a component on a few points in a data set without thin structure is held as before;
- and at least ``MIN_SHARE`` of the floor (1e-10 of the columns' variances at the default
  ``var_floor``), where the log-likelihood is still good to about 1e-8 relative (README,
  Degeneracy): a component collapsing onto points exactly on a line of a lattice has a v
  that tends to the line's normal, and the projection's gaps shrink with it;
- its other eigenvalues are at or above the floor: a component thin in two directions is
  held as before;
- v is not within ``AXIS_COS`` of the span of the columns with many ties (at least
  ``LOCAL_QUANTILE`` of the distinct points share their value with another): a component
  collapsing onto one of a column's values has a v that tends to the column's axis, and the
  column's own floor stays the one that holds it; and a few values of several such columns
  project onto a direction between their axes as close but distinct values, which are a
  lattice's, not a cluster's. (On MASS's Boston, whose town-level columns take 2 to 81
  values in 506 tracts, full K = 3 and 4 had been refused as degenerate; along a direction 97 %
  tax, 22 % zn, the data's projection was that thin, and without this rule K = 3 and 4 "fitted" a
  component of 70 tracts 4.5e-3 of the floor thin, which BIC chose. mclust refuses
  VVV K >= 2 there.)

Nothing changes where no covariance falls below the floor: data sets without such clusters fit
exactly as before.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .data import CLUSTER_SPREAD, LOCAL_QUANTILE, ROBUST_POINTS, local_variance

MIN_SHARE = 1e-4
AXIS_COS = 0.995


class ObliqueFloor:
    """The data a full or tied covariance's smallest eigenvalue is measured against (read only
    where a covariance falls below the floor).

    Parameters
    ----------
    Z : ndarray of shape (m, d)
        The standardized points of positive weight (every k-th beyond ``ROBUST_POINTS``).
    w : ndarray of shape (m,) or None
        Their weights.
    var_floor : float
        The request's ``var_floor``.
    """

    def __init__(self, Z: np.ndarray, w: np.ndarray | None, var_floor: float) -> None:
        self.Z, self.w, self.var_floor = Z, w, float(var_floor)

    @classmethod
    def of(cls, Z: np.ndarray, w: np.ndarray | None, var_floor: float) -> ObliqueFloor:
        """From standardized data Z (n, d) with weights w (n,) or None."""
        step = -(-Z.shape[0] // ROBUST_POINTS)
        Z = Z[::step]
        if w is not None:
            w = w[::step]
            Z, w = Z[w > 0], w[w > 0]
        return cls(np.ascontiguousarray(Z), w, var_floor)

    @cached_property
    def tied(self) -> np.ndarray:
        """``tied_columns`` of these points, (d,)."""
        return tied_columns(self.Z)

    def exempt(self, values: np.ndarray, vectors: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """Which covariances below the floor are thin where the data are (module docstring).

        Parameters
        ----------
        values : ndarray of shape (L, d)
            Eigenvalues of F^-1/2 C F^-1/2, ascending, the smallest below 1.
        vectors : ndarray of shape (L, d, d)
            Its eigenvectors (columns).
        scale : ndarray of shape (d,)
            F^-1/2's diagonal: 1 / sqrt(floor).

        Returns
        -------
        ndarray of shape (L,), bool
        """
        v = vectors[..., 0]
        ok = (values[:, 1] >= 1.0) & (values[:, 0] >= MIN_SHARE)
        ok &= ~along_ties(vectors, self.tied)[:, 0]
        for i in np.flatnonzero(ok):
            projection = self.Z @ (v[i] * scale)  # in floor units along v
            local = float(local_variance(projection[:, None], self.w)[0])
            ok[i] = local > 0.0 and values[i, 0] >= self.var_floor * CLUSTER_SPREAD * local
        return ok


def along_ties(vectors: np.ndarray, tied: np.ndarray) -> np.ndarray:
    """Whether each eigenvector (the columns of vectors (L, d, d)) is within ``AXIS_COS`` of
    the span of the tied columns (tied (d,), bool), (L, d)."""
    return np.sum(vectors * vectors * tied[:, None], axis=1) >= AXIS_COS**2


def tied_columns(Z: np.ndarray) -> np.ndarray:
    """Whether at least ``LOCAL_QUANTILE`` of the distinct points (rows of Z (m, d)) share
    their value in a column with another, (d,)."""
    rows = np.unique(Z, axis=0)
    return np.array([_shared(rows[:, c]) >= LOCAL_QUANTILE for c in range(rows.shape[1])])


def _shared(values: np.ndarray) -> float:
    """The share of values (m,) equal to another of them."""
    _, counts = np.unique(values, return_counts=True)
    return float(counts[counts > 1].sum()) / max(values.size, 1)
