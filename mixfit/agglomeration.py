"""Hierarchical agglomeration for start values: mclust's model-based trees (Fraley 1998).

Both trees are built after mclust's default "SVD" transformation (standardize, rotate to the
principal axes, divide each by the square root of its singular value), once per fit, and cut at
any K: Ward's on at most ``HC_POINTS`` points, VVV's on all of at most ``VVV_POINTS`` points
(mclust agglomerates up to 2,000; the subsample matters: on quakes, below, 800 of its 1,000
points no longer lead to mclust's maximum) and on fewer as the data grow past that, 1e6 / n
but at least ``VVV_MIN_POINTS``: where the data are many, the tree, a start among many, should
cost little beside the fit (d = 10, K = 5, n = 1e5: 0.1 s of a 0.6 s fit at 1,000 points).

- **Ward** (``ward``): Ward's criterion, the agglomeration of the spherical equal-volume Gaussian
  model (mclust "EII"), by scipy. Points join the nearest cluster mean.
- **VVV** (``vvv``): the unconstrained Gaussian model, mclust's default tree for d > 1
  (``hc(modelName = "VVV")``). Each merge is the one that lowers the classification likelihood
  least; a cluster of n points with scatter matrix W contributes
  ``n log(det(W / n) + beta (tr W + alpha) / n)``, or ``n log(beta (tr W + alpha) / n)`` while
  n <= d, which keeps small and flat clusters finite as mclust's ``hcVVV`` does (its Fortran
  ``vvvtij``), with its defaults ``beta = 1`` and ``alpha = tr W(data) / (n d)``. Points join
  the cluster of highest Gaussian density (each cluster's mean and regularized covariance), so
  an elongated cluster keeps its far ends; the agglomerated points keep their own cluster.

The VVV tree finds starts that no partition by distance does: on R's ``quakes`` (n = 1000,
d = 5), the diagonal K = 3 fit from its cut reaches mclust's maximum (-16612.4: the two
geographic regions apart), which neither Ward's cut nor 200 random portfolio starts reach.
Its cost is a batched d x d determinant per cluster at every merge, and numpy's per-call cost
at every merge: 0.10-0.14 s at 1,000 points, 0.03 s at 400, 0.02 s at 200, once per fit of
d > 1 data.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

try:  # scipy's compiled tree and cut, without the public wrappers' checks (see ``ward_tree``)
    from scipy.cluster._hierarchy import cluster_maxclust_dist, nn_chain
except ImportError:  # pragma: no cover - another scipy: the public functions do the same
    nn_chain = cluster_maxclust_dist = None

HC_POINTS = 800  # Ward's subsample (its cost grows as n^2)
VVV_POINTS = 1000  # VVV's whole-data limit (its cost grows as n^2)
VVV_MIN_POINTS = 400  # VVV's subsample of large data: min(n, max(this, 1e6 / n)) points
MAX_CUT = 64  # VVV partitions are kept for K up to this many clusters (``MAX_K`` is less)
_BETA = 1.0
# svd_transform: a column whose standard deviation is at most this fraction of the largest
# column's is flat (squares of its values underflow, or nearly)
FLAT_SD = 1e-150
# svd_transform: a singular value at most this fraction of the largest is a direction of rounding
NULL_SV = 1e-30
_WARD = 5  # scipy's code of the Ward method (``scipy.cluster.hierarchy._LINKAGE_METHODS``)


def svd_transform(Y: np.ndarray) -> np.ndarray:
    """mclust's "SVD" transformation of points Y (n, d): standardized, rotated to the principal
    axes and divided by the square roots of the singular values; (n, d).

    A column whose standard deviation is below ``FLAT_SD`` of the largest one's is flat (its
    variance underflows, or nearly: ``mixfit.data.FLAT_COLUMN`` calls it constant long before)
    and becomes zeros. Standardized by its computed deviation instead, a column of 1e-194 in
    the units of one of 1 (values the data allow) came out in units of 1e106, since its squares
    underflow to a deviation of 0, and the VVV tree's determinants overflowed (found by
    fuzzing ``mixfit.fit``)."""
    sd = Y.std(axis=0)
    centred = Y - Y.mean(axis=0)
    flat = sd <= FLAT_SD * sd.max(initial=0.0)
    Y = np.where(flat, 0.0, centred / np.where(flat, 1.0, sd))
    _, sv, vt = np.linalg.svd(Y, full_matrices=False)
    out = Y @ vt.T / np.sqrt(np.maximum(sv, 1e-300))
    # a direction the points do not span (one point at 1e103 in every column beside nine near
    # 0: rank 1) holds rounding only, which the division made values of 1e133 (found by
    # fuzzing: the VVV tree's determinants overflowed); collinear columns' rounding of 1e-15
    # of the spread stays as it was (values of 1e-8)
    out[:, sv <= NULL_SV * sv.max(initial=0.0)] = 0.0
    return out


def ward_tree(Y: np.ndarray) -> np.ndarray:
    """Ward's tree of the points Y (m, d): scipy's ``linkage(Y, "ward")``, (m - 1, 4).

    scipy's own routine (the nearest-neighbour chain) on the points' distances, called directly:
    at the 200 points of a small fit the public wrapper's checks and conversions cost about a
    third of the tree itself. The result is the same array (``tests/core/test_agglomeration``
    compares both on tied and untied data); a scipy without the routine gets the wrapper."""
    m = Y.shape[0]
    if nn_chain is None or m < 2:
        return linkage(Y, method="ward")
    return np.asarray(nn_chain(pdist(Y), m, _WARD))


def ward_cut(tree: np.ndarray, k: int) -> np.ndarray:
    """Labels 0..c-1 (m,) of the tree's cut into at most ``k`` clusters: scipy's
    ``fcluster(tree, k, "maxclust") - 1`` (its compiled cut, as ``ward_tree``)."""
    m = tree.shape[0] + 1
    if cluster_maxclust_dist is None:
        return fcluster(tree, k, criterion="maxclust") - 1
    labels = np.empty(m, dtype=np.int32)
    cluster_maxclust_dist(np.ascontiguousarray(tree, dtype=np.float64), labels, m, int(k))
    return labels - 1


def _terms(n: np.ndarray, trace: np.ndarray, scatter, alpha: float, d: int) -> np.ndarray:
    """Clusters' terms of the VVV criterion: counts n (c,), traces (c,) and ``scatter``, a
    function of a boolean mask (c,) giving those clusters' scatter matrices (b, d, d), called
    only for clusters of more than d points (the others need no determinant)."""
    small = _BETA * (trace + alpha) / n
    out = np.log(small)
    big = n > d
    if np.any(big):
        det = np.maximum(_det(scatter(big)), 0.0) / n[big] ** d
        out[big] = np.log(det + small[big])
    return n * out


def _det(M: np.ndarray) -> np.ndarray:
    """Determinants of M (c, d, d): closed forms for d <= 3, LAPACK's LU above."""
    d = M.shape[-1]
    if d == 2:
        return M[:, 0, 0] * M[:, 1, 1] - M[:, 0, 1] * M[:, 1, 0]
    if d == 3:
        a, b, c = M[:, 0, 0], M[:, 0, 1], M[:, 0, 2]
        e, f, i = M[:, 1, 1], M[:, 1, 2], M[:, 2, 2]
        return a * (e * i - f * f) - b * (b * i - f * c) + c * (b * f - e * c)
    sign, logdet = np.linalg.slogdet(M)
    return np.where(sign > 0, np.exp(logdet), 0.0)


def vvv_partitions(Y: np.ndarray) -> dict[int, np.ndarray]:
    """mclust's VVV agglomeration of the points Y (m, d), from singletons.

    Returns
    -------
    dict
        For every K from 1 to ``min(m, MAX_CUT)``: cluster labels 0 .. K-1 of the m points,
        shape (m,).
    """
    m, d = Y.shape
    alpha = max(float(((Y - Y.mean(axis=0)) ** 2).sum()) / (m * d), np.finfo(float).eps)
    count = np.ones(m)
    mean = Y.copy()
    W = np.zeros((m, d, d))
    trace = np.zeros(m)
    term = np.full(m, np.log(_BETA * alpha))
    # Two singletons: W = delta delta' / 2, n = 2 <= d.
    sq = (Y * Y).sum(axis=1)
    dist = np.maximum(sq[:, None] + sq[None, :] - 2.0 * Y @ Y.T, 0.0)
    D = 2.0 * np.log(_BETA * (0.5 * dist + alpha) / 2.0) - 2.0 * term[0]
    np.fill_diagonal(D, np.inf)
    best = np.argmin(D, axis=1)
    low = D[np.arange(m), best]
    alive = np.ones(m, dtype=bool)
    group = np.arange(m)
    out: dict[int, np.ndarray] = {}
    if m <= MAX_CUT:
        out[m] = group.copy()
    for left in range(m - 1, 0, -1):
        a = int(np.argmin(low))
        b = int(best[a])
        i, j = min(a, b), max(a, b)
        ni, nj = count[i], count[j]
        delta = mean[j] - mean[i]
        f = ni * nj / (ni + nj)
        W[i] += W[j] + f * np.outer(delta, delta)
        trace[i] += trace[j] + f * float(delta @ delta)
        mean[i] = (ni * mean[i] + nj * mean[j]) / (ni + nj)
        count[i] = ni + nj
        one = slice(i, i + 1)
        term[i] = _terms(count[one], trace[one], lambda _, one=one: W[one], alpha, d)[0]
        alive[j] = False
        group[group == j] = i
        D[j, :] = np.inf
        D[:, j] = np.inf
        low[j] = np.inf
        if left <= MAX_CUT:
            out[left] = np.unique(group, return_inverse=True)[1]
        if left == 1:
            break
        others = np.flatnonzero(alive)
        others = others[others != i]
        nk = count[others]
        dk = mean[others] - mean[i]
        fk = count[i] * nk / (count[i] + nk)
        tk = trace[i] + trace[others] + fk * (dk * dk).sum(axis=1)

        def merged(big: np.ndarray, i=i, others=others, fk=fk, dk=dk) -> np.ndarray:
            o, f, v = others[big], fk[big], dk[big]
            return W[i] + W[o] + f[:, None, None] * v[:, :, None] * v[:, None, :]

        cost = _terms(count[i] + nk, tk, merged, alpha, d) - term[i] - term[others]
        D[i, others] = cost
        D[others, i] = cost
        row = int(np.argmin(D[i]))
        best[i], low[i] = row, D[i, row]
        # Rows whose best partner was i or j look again; the others may now prefer i.
        stale = others[(best[others] == i) | (best[others] == j)]
        if stale.size:
            best[stale] = np.argmin(D[stale], axis=1)
            low[stale] = D[stale, best[stale]]
        better = cost < low[others]
        if np.any(better):
            rows = others[better]
            best[rows], low[rows] = i, cost[better]
    return out


class Hierarchy:
    """The trees of one data set's subsample, built on first use and cut at any K.

    Parameters
    ----------
    Z : ndarray of shape (n, d)
        Points in engine space.
    w : ndarray of shape (n,) or None
        Point weights (the subsample is drawn by weight).
    seed : int
        Draws the subsample when n > ``HC_POINTS``.
    """

    def __init__(self, Z: np.ndarray, w: np.ndarray | None, seed: int) -> None:
        self.Z, self.w, self.seed = Z, w, seed
        self._samples: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._ward: np.ndarray | None = None
        self._vvv: dict[int, np.ndarray] | None = None

    def _subsample(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """At most ``size`` points (by weight): their rows (engine space) and transformed."""
        if size not in self._samples:
            n = self.Z.shape[0]
            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(0x4843,)))
            if n > size:
                p = None if self.w is None else self.w / self.w.sum()
                points = np.sort(rng.choice(n, size, replace=False, p=p))
            else:
                points = np.arange(n)
            sub = self.Z[points]
            self._samples[size] = (sub, svd_transform(sub))
        return self._samples[size]

    def labels(self, k: int, X: np.ndarray, kind: str = "ward") -> np.ndarray:
        """Labels (n,) of the points X (n, d) (engine space) from a tree cut at ``k`` clusters.

        ``kind`` ``"ward"``: each point joins the nearest cluster mean. ``"vvv"``: the
        agglomerated points keep their clusters when X is the agglomerated subsample, and
        otherwise each point joins the cluster of highest Gaussian density."""
        if kind == "ward":
            sub, Y = self._subsample(HC_POINTS)
            if self._ward is None:
                self._ward = ward_tree(Y)
            cut = ward_cut(self._ward, k)
            centers = np.stack([sub[cut == j].mean(axis=0) for j in range(int(cut.max()) + 1)])
            d2 = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2)
            return np.argmin(d2, axis=1)
        n = self.Z.shape[0]
        sub, Y = self._subsample(min(n, max(VVV_MIN_POINTS, VVV_POINTS**2 // n)))
        if self._vvv is None:
            self._vvv = vvv_partitions(Y)
        cut = self._vvv[min(k, max(self._vvv))]
        if X.shape == sub.shape and np.array_equal(X, sub):
            return cut
        return _gaussian_labels(sub, cut, X)


def _gaussian_labels(sub: np.ndarray, cut: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Each point of X (n, d) in the cluster of ``cut`` (labels of ``sub`` (m, d)) where its
    weighted Gaussian density is highest; covariances get 1 % of the mean variance on the
    diagonal, so clusters of a few points are proper."""
    m, d = sub.shape
    ridge = 0.01 * float(sub.var(axis=0).mean()) + 1e-300
    scores = []
    for j in range(int(cut.max()) + 1):
        part = sub[cut == j]
        mu = part.mean(axis=0)
        dev = part - mu
        cov = dev.T @ dev / part.shape[0] + ridge * np.eye(d)
        chol = np.linalg.cholesky(cov)
        z = np.linalg.solve(chol, (X - mu).T)
        logdet = 2.0 * np.log(np.diag(chol)).sum()
        scores.append(np.log(part.shape[0] / m) - 0.5 * ((z * z).sum(axis=0) + logdet))
    return np.argmax(np.stack(scores), axis=0)
