"""Turning user data into validated float64 arrays, and the scaling the engine works in."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .errors import FitError
from .options import MAX_ABS, MAX_DIM, MIN_SPREAD

# A column whose variance is below this fraction of the columns' mean variance counts as
# constant, for its variance floor (``mixfit.fit.prepare``) and where columns are scaled to unit
# variance (``kmeans-std``): its standard deviation is 1e-10 of theirs, and at float64's 16
# digits its values tie. Centring leaves an exactly constant column such a variance of rounding
# (1e-73 of the others' beside a column of scale 1e5), and a floor set by it sat below the
# rounding of the moments the M-step subtracts: covariances failed their Cholesky factorization
# and every start of K = 1 "degenerated" (found by fuzzing).
FLAT_COLUMN = 1e-20
# ``local_variance``: the gaps spanned by this share of the points, their LOCAL_QUANTILE
# quantile (over positions; gaps inside a tie left out), which for Gaussian data is LOCAL_GAP
# sd times the share (2.52 at the 10 % quantile: the densest tenth's spacing)
LOCAL_SHARE = 0.01
LOCAL_POINTS = 10  # and at least this many points' worth (spacings of fewer are mostly noise)
LOCAL_QUANTILE = 0.1
LOCAL_GAP = 2.52
# The variance floor's reference is at most this many times the data's local variance
# (``mixfit.fit.prepare``, ``mixfit.oblique``): var_floor 1e-6 puts the floor at 1e-4 of the
# spread of far-apart clusters.
CLUSTER_SPREAD = 100.0
ROBUST_POINTS = 20_000  # ``robust_variance`` reads at most about this many points (MAD: ~1 % error)
WEIGHT_RTOL = 1e-12  # weights below this fraction of the largest count as zero (``as_points``)


def as_points(data: object, weights: object | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate data (and weights) and return them as float64 arrays.

    Parameters
    ----------
    data : array-like of shape (n,) or (n, d)
    weights : array-like of shape (n,), optional
        Non-negative per-point weights (counts).

    Returns
    -------
    X : ndarray of shape (n, d)
    w : ndarray of shape (n,) or None
    """
    try:
        X = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FitError(
            "data must be a list of numbers or a list of equally long rows of numbers"
        ) from exc
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise FitError(f"data must have shape (n,) or (n, d) with n, d >= 1; got {X.shape}")
    if X.shape[1] > MAX_DIM:
        raise FitError(f"data has {X.shape[1]} dimensions; mixfit fits at most {MAX_DIM}")
    bad = ~np.isfinite(X)
    if bad.any():
        raise FitError(
            f"data contain {int(bad.any(axis=1).sum())} point(s) with NaN or infinite values; "
            "remove or impute them"
        )
    big = np.abs(X) > MAX_ABS
    if big.any():
        raise FitError(
            f"{int(big.any(axis=1).sum())} point(s) exceed {MAX_ABS:g} in magnitude; "
            "rescale the data (variances would overflow)"
        )
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.shape[0] != X.shape[0]:
            raise FitError(f"weights has {w.shape[0]} entries but data has {X.shape[0]} points")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise FitError("weights must be finite and non-negative")
        if not np.any(w > 0):
            raise FitError("weights must not all be zero")
        if np.any(w > MAX_ABS):
            raise FitError(f"weights must be at most {MAX_ABS:g}; rescale them")
        # A weight below 1e-12 of the largest is a zero: such points carry no mass at float64's
        # precision, yet counted as points they let K exceed the points that do (weights of
        # 1e-300 beside 1e5 ended in singular covariances instead of a FitError).
        w = np.where(w < WEIGHT_RTOL * w.max(), 0.0, w)
        if np.all(w == 1.0):
            w = None
    return np.ascontiguousarray(X), w


def equal_weights(w: np.ndarray | None) -> bool:
    """Whether the weights w (m,) are absent or all alike: then the search counts rows, as it
    does without weights; otherwise it counts weight, as the repeated points of count weights
    would be counted (``point_weight``, ``families.base.data_rows``,
    ``neighbourhoods.tight_clusters``)."""
    return w is None or bool(np.all(w == w[0]))


def point_weight(w: np.ndarray | None) -> float:
    """One point's worth of weight, the unit of the degeneracy rule (a component below it is
    degenerate): 1, a count of one, as in the repeated points that count weights stand for;
    or the mean of the positive weights w (rows,) when it is below 1 (weights scaled down,
    e.g. to sum to 1, keep each row a point). With the mean weight always, counts
    were points of their mean count: R's epil seizure counts (236 points, 36 distinct values)
    as values and counts lost K = 3 and 4, every start "a component kept less than one point's
    worth", a component of 5 counts being below the mean's 6.6; as 236 values they fit."""
    return 1.0 if w is None else min(1.0, float(w.sum()) / max(1, np.count_nonzero(w)))


def robust_variance(Z: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Each column's robust variance, (1.4826 MAD)^2 with the (weighted) median absolute
    deviation: the variance for Gaussian data, the bulk's spread for skewed data; (d,). Beyond
    ``ROBUST_POINTS`` points, of every k-th point (a scale for a floor needs no more)."""
    step = -(-Z.shape[0] // ROBUST_POINTS)
    Z = Z[::step]
    if w is None:  # by partition, O(n)
        center = np.median(Z, axis=0)
        return (1.4826 * np.median(np.abs(Z - center), axis=0)) ** 2
    w = w[::step]
    out = np.empty(Z.shape[1])
    for j in range(Z.shape[1]):
        center = _weighted_median(Z[:, j], w)
        out[j] = (1.4826 * _weighted_median(np.abs(Z[:, j] - center), w)) ** 2
    return out


def local_variance(Z: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Each column's spread at the scale of its tightest clusters, (d,).

    Sorted, a column's points fill positions 0..N of weight (a point of weight c spans c).
    The window h is ``LOCAL_SHARE`` N, at least ``LOCAL_POINTS`` points' worth and at most
    N / 2, in whole points' worth; over positions p, the ``LOCAL_QUANTILE`` quantile of the gap
    between the values at p and at p + h (gaps inside a tie left out), times
    N / (``LOCAL_GAP`` h), squared. For Gaussian data 0.25 to 1 times the variance (n = 20
    to 1e5); for clusters far apart about the spread of the tightest that holds a tenth of
    the points, not the distance between them; 0 where every window lies inside a tie (the
    caller keeps its other references there). Values with counts give what their repeated
    points give. Beyond ``ROBUST_POINTS`` points, of every k-th point."""
    step = -(-Z.shape[0] // ROBUST_POINTS)
    Z = Z[::step]
    if w is not None:
        w = w[::step]
        Z, w = Z[w > 0], w[w > 0]
    out = np.zeros(Z.shape[1])
    if Z.shape[0] < 2:
        return out
    unit = point_weight(w)
    total = float(Z.shape[0]) if w is None else float(w.sum())
    h = unit * np.ceil(max(LOCAL_SHARE * total / unit, LOCAL_POINTS))
    h = min(h, unit * np.floor(0.5 * total / unit))
    if h <= 0:
        return out
    if w is None:  # unit windows: the gaps to the point h places on
        j = int(h)
        S = np.sort(Z, axis=0)
        G = S[j:] - S[:-j]
        for c in range(Z.shape[1]):
            g = G[:, c][G[:, c] > 0]
            if g.size:
                k = max(0, int(np.ceil(LOCAL_QUANTILE * float(g.size))) - 1)
                out[c] = np.partition(g, k)[k]
    else:
        for c in range(Z.shape[1]):
            out[c] = _gap_quantile(Z[:, c], w, h, total)
    return (out * total / (LOCAL_GAP * h)) ** 2


def _gap_quantile(z: np.ndarray, w: np.ndarray, h: float, total: float) -> float:
    """``local_variance``'s quantile of one weighted column (n,): the gaps between positions p
    and p + h are constant between the points' starts and those less h, so each such
    segment is one value weighted by its length; 0 if every gap is."""
    order = np.argsort(z, kind="stable")
    v, wo = z[order], w[order]
    cum = np.cumsum(wo)
    last = total - h  # positions p in [0, last]: p + h stays within the points
    start = cum - wo
    cuts = np.concatenate(([0.0, last], start, start - h))
    cuts = np.unique(cuts[(cuts >= 0.0) & (cuts <= last)])
    if cuts.size < 2:
        return 0.0
    mid = 0.5 * (cuts[1:] + cuts[:-1])
    lo = np.minimum(np.searchsorted(cum, mid, side="right"), v.size - 1)
    hi = np.minimum(np.searchsorted(cum, mid + h, side="right"), v.size - 1)
    gap, length = v[hi] - v[lo], np.diff(cuts)
    moved = gap > 0  # windows inside a tie say nothing of a spread
    if not np.count_nonzero(moved):
        return 0.0
    return _weighted_quantile(gap[moved], length[moved], LOCAL_QUANTILE)


def _weighted_quantile(values: np.ndarray, w: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``values`` (n,) under weights ``w`` (n,): the smallest value
    whose cumulative weight reaches q of the total."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(w[order])
    return float(values[order][min(int(np.searchsorted(cum, q * cum[-1])), values.size - 1)])


def _weighted_median(values: np.ndarray, w: np.ndarray) -> float:
    """The median of ``values`` (n,) with weights ``w`` (n,): ``np.median`` of the data
    expanded by integer weights (the midpoint where the lower half's weight is exactly half)."""
    order = np.argsort(values, kind="stable")
    v, wo = values[order], w[order]
    cum = np.cumsum(wo)
    half = 0.5 * cum[-1]
    i = int(np.searchsorted(cum, half, side="left"))
    if cum[i] == half:  # the lower half ends at v[i]: halfway to the next point with weight
        rest = np.flatnonzero(wo[i + 1 :] > 0)
        if rest.size:
            return float(0.5 * (v[i] + v[i + 1 + rest[0]]))
    return float(v[i])


def data_hash(X: np.ndarray, w: np.ndarray | None) -> str:
    """SHA-256 of the float64 bytes of the data (and weights), as a hex string."""
    h = hashlib.sha256()
    h.update(np.asarray(X.shape, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(X, dtype=np.float64).tobytes())
    if w is not None:
        h.update(b"weights")
        h.update(np.ascontiguousarray(w, dtype=np.float64).tobytes())
    return h.hexdigest()


def check_fit_size(X: np.ndarray, w: np.ndarray | None, k_max: int, what: str = "data") -> None:
    """Raise FitError when the data cannot support ``k_max`` components. ``what``: the
    values' name in the messages (a family that models a transform of the data checks the
    transformed values too: ``mixfit.fit.check``)."""
    n = X.shape[0]
    support = n if w is None else int(np.count_nonzero(w))
    if support < k_max:
        raise FitError(
            f"{support} point(s) cannot fit {k_max} components; "
            f"ask for k <= {support} or send more data",
            largest_k=support,
        )
    pts = X if w is None else X[w > 0]
    distinct = _distinct_rows(pts, k_max)
    if distinct == 1:
        raise FitError(f"{what} are constant (every point is the same); a mixture needs spread")
    if distinct < k_max:
        raise FitError(
            f"{what} have only {distinct} distinct values, fewer than k={k_max} components; "
            f"ask for k <= {distinct}",
            largest_k=distinct,
        )
    spread = float(np.max(np.ptp(pts, axis=0)))
    if spread < MIN_SPREAD:
        raise FitError(
            f"{what} differ by at most {spread:.3g}, less than {MIN_SPREAD:g}; rescale the data "
            "(variances would underflow)"
        )


def supported_k(X: np.ndarray, w: np.ndarray | None, enough: int) -> int:
    """The most components X (n, d) under weights w (n,) or None can hold, ``check_fit_size``'s
    bound: its points of positive weight, or its distinct rows if fewer; any number >=
    ``enough`` once that many are certain."""
    support = X.shape[0] if w is None else int(np.count_nonzero(w))
    return min(support, _distinct_rows(X if w is None else X[w > 0], enough))


def _distinct_rows(X: np.ndarray, enough: int) -> int:
    """Number of distinct rows, or any number >= ``enough`` once that many are certain."""
    head = count_distinct(X[: 64 * max(enough, 2)])
    if head >= max(enough, 2):
        return head
    return count_distinct(X)


def count_distinct(X: np.ndarray) -> int:
    """Number of distinct rows of X (m, d), as ``np.unique(X, axis=0)`` counts them (-0.0 and
    0.0 alike). One column is sorted and its steps counted: ``np.unique`` along an axis views
    the rows as records first, 20 times the cost at a small fit's size (40 against 2 us)."""
    if X.shape[1] != 1:
        return int(np.unique(X, axis=0).shape[0])
    values = np.sort(X[:, 0])
    return int(values.size > 0) + int(np.count_nonzero(values[1:] != values[:-1]))


# A column with at most this many distinct values is named in a refused K's message: a
# component on one of its values has no spread in it (binary and categorical columns).
FEW_VALUES = 10


def _counted(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def spread_hint(X: np.ndarray, w: np.ndarray | None, k: int, full: bool) -> str:
    """Why components of X (n, d), d > 1, under weights w (n,) or None may find no spread:
    the columns (indexed from 0) that take at most ``FEW_VALUES`` distinct values, and for
    full covariances (``full``) too few distinct rows for k of them (a full covariance in d
    dimensions needs d + 1 points that do not lie in one hyperplane). "" when neither holds or
    d = 1, where a refused K's message says it already: too few distinct points."""
    d = X.shape[1]
    if d == 1:
        return ""
    pts = X if w is None else X[w > 0]
    hints = []
    rows = _distinct_rows(pts, k * (d + 1))
    if full and rows < k * (d + 1):
        hints.append(
            f"the data's {rows} distinct points give k={k} components fewer than d + 1 = "
            f"{d + 1} each on average, too few for a full covariance in d={d}"
        )
    few = [(j, m) for j in range(d) if (m := count_distinct(pts[:, j : j + 1])) <= FEW_VALUES]
    if few:
        where = "column" if len(few) == 1 else "columns"
        take = "takes" if len(few) == 1 else "take"
        hints.append(
            f"{where} {_counted([str(j) for j, _ in few])} (counting from 0) {take} only "
            f"{_counted([str(m) for _, m in few])} distinct values, and a component on one "
            "value of such a column has no spread in it"
        )
    return "; ".join(hints)


def log_spread(X: np.ndarray, w: np.ndarray | None) -> float:
    """The sum over the columns of X (n, d) of the log of their weighted standard deviations
    (a constant column, ``FLAT_COLUMN``, counts 0): n_eff times it turns a log-likelihood of X
    into one of X in units of each column's standard deviation, the same whatever the data's
    units."""
    big = np.max(np.abs(X), axis=0)
    big = np.where(big > 0, big, 1.0)
    Xs = X / big  # no overflow in the squares for values near MAX_ABS
    var = np.average((Xs - np.average(Xs, axis=0, weights=w)) ** 2, axis=0, weights=w)
    log_var = np.log(np.where(var > 0, var, 1.0)) + 2.0 * np.log(big)
    top = float(np.max(log_var))
    log_mean = top + float(np.log(np.mean(np.exp(log_var - top))))
    flat = ~(var > 0) | (log_var < np.log(FLAT_COLUMN) + log_mean)
    return float(0.5 * np.sum(np.where(flat, 0.0, log_var)))


@dataclass(frozen=True)
class Scaling:
    """Affine map z = (x - center) / scale the engine fits in (one scalar scale keeps every
    covariance structure intact). ``log_jacobian`` is d * ln(scale), subtracted per unit weight."""

    center: np.ndarray
    scale: float

    @classmethod
    def identity(cls, d: int) -> Scaling:
        return cls(np.zeros(d), 1.0)

    @classmethod
    def standardize(cls, X: np.ndarray, w: np.ndarray | None) -> Scaling:
        """Center at the weighted mean; scale by the overall weighted standard deviation."""
        big = float(np.max(np.abs(X)))
        Xs = X / big  # avoids overflow in the squares for values near MAX_ABS
        mean = np.average(Xs, axis=0, weights=w)
        var = np.average((Xs - mean) ** 2, axis=0, weights=w).mean()
        scale = float(np.sqrt(var)) * big
        if not np.isfinite(scale) or scale <= 0:
            scale = 1.0
        return cls(mean * big, scale)

    @property
    def d(self) -> int:
        return self.center.shape[0]

    @property
    def log_jacobian(self) -> float:
        return self.d * float(np.log(self.scale))

    def forward(self, X: np.ndarray) -> np.ndarray:
        return (X - self.center) / self.scale
