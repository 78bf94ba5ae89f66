"""Start values: a portfolio of methods, drawn for many candidates at once.

A start is born as *responsibilities* on a subsample of the data (one-hot for a partition, soft
for Dirichlet draws), from which the family's ``initial`` computes parameters; the beta family can
also draw parameters directly. Every method is vectorized over the candidates that use it, so
drawing a hundred candidates costs about as much as drawing a few one at a time.

Methods (all draw from one generator per K, so candidates differ and reruns repeat):

- ``kmeans++``: k-means++ seeding (D^2 sampling), nearest-center labels.
- ``kmeans``: k-means++ seeding, then Lloyd's iterations to convergence (scikit-learn's default).
- ``hc``: model-based hierarchical agglomeration, mclust's default start (Fraley 1998;
  ``mixfit.agglomeration``): in d > 1 mclust's own tree, the unconstrained model's ("VVV"); in
  1-D Ward's criterion (the equal-volume model's). Built once per fit on a subsample after
  mclust's "SVD" transformation and cut at every K. Deterministic, so a K gets one ``hc``
  candidate (``mixfit.screen.candidate_methods``).
- ``ward``: the Ward tree's cut in d > 1 (points join the nearest cluster mean); ``auto``
  adds one where candidates are screened.
- ``kmeans-std``: in d > 1, ``kmeans`` on the columns scaled to unit variance, where a column
  in large units does not decide the partition alone (``auto`` adds a few).
- ``random``: K distinct data points as centers, nearest-center labels.
- ``partition``: every point labelled uniformly at random (random partitions).
- ``dirichlet``: every point's responsibilities drawn from a flat Dirichlet (random soft
  responsibilities).
- ``quantile``: equal-weight groups along the data (the first principal axis in d dimensions);
  the first candidate cuts at exact quantiles, later ones at jittered quantiles.
- ``moments`` (beta): groups cut at uniformly random points of the range (each group then starts
  at its method-of-moments fit).
- ``params``: parameters drawn directly (the family's ``random_params``). Gaussian: means at
  random data points, variances log-uniform from 1e-3 to 1 times the data's, flat-Dirichlet
  weights (normalmixEM's kind of random start; narrow components on a few tied values are among
  them). Beta: shapes log-uniform on [0.2, 50] (U-, J- and bell-shaped components alike) or
  centred on a data point with a precision up to 1e5, weights from a flat Dirichlet.
  Partitions by location can never put both tails of the data into one component; these can.
- ``split`` is not drawn here but from the best K-1 fit (``split_start``).

A family's ``portfolio`` lists what ``init="auto"`` cycles through.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .agglomeration import Hierarchy
from .data import FLAT_COLUMN

SCREEN_POINTS = 4000  # candidates are drawn and screened on at most this many points
LLOYD_MAX = 100


@dataclass
class Sample:
    """The points candidates are drawn and screened on: all of them when there are at most
    ``SCREEN_POINTS``, else a subsample drawn with probability proportional to weight (then
    unweighted)."""

    Z: np.ndarray  # (m, d) engine space
    w: np.ndarray | None  # (m,)
    full: bool  # the sample is the whole data set

    @property
    def weights(self) -> np.ndarray:
        return np.ones(self.Z.shape[0]) if self.w is None else self.w


def sample(
    Z: np.ndarray, w: np.ndarray | None, rng: np.random.Generator, size: int = SCREEN_POINTS
) -> Sample:
    """At most ``size`` points of Z (n, d), drawn by ``rng``."""
    n = Z.shape[0]
    if n <= size:
        return Sample(Z, w, True)
    p = None if w is None else w / w.sum()
    idx = np.sort(rng.choice(n, size, replace=False, p=p))
    return Sample(Z[idx], None, False)


# -- geometry --------------------------------------------------------------------------------
def _sq_dist(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Squared distances of shape (C, n, K) between X (n, d) and centers (C, K, d)."""
    cross = np.einsum("nd,ckd->cnk", X, centers)
    d2 = (X * X).sum(1)[None, :, None] - 2.0 * cross + (centers * centers).sum(2)[:, None, :]
    return np.maximum(d2, 0.0)


def _one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    """(C, n) integer labels -> (C, n, K) responsibilities."""
    return (labels[..., None] == np.arange(k)).astype(float)


def _nearest(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    return np.argmin(_sq_dist(X, centers), axis=2)


def _distinct_rows(rng: np.random.Generator, c: int, k: int, w: np.ndarray) -> np.ndarray:
    """(c, k) indices of k distinct rows per candidate, never a row of weight 0: uniform; where
    the positive weights w (m,) differ, the even candidates' in proportion to them
    (Efraimidis & Spirakis 2006: the k smallest -log(u) / w), as the repeated points would
    be drawn, and the odd ones' uniformly (``families.base.data_rows``)."""
    m, positive = w.shape[0], w[w > 0]
    if np.all(positive == positive[0]):
        keys = rng.random((c, m)) - (w > 0)
    else:
        with np.errstate(divide="ignore"):
            keys = -np.log(rng.random((c, m))) / w
        keys[1::2] = rng.random((keys[1::2].shape[0], m)) - (w > 0)
    return np.argsort(keys, axis=1)[:, :k]


def _draw_rows(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One index per row of the (C, n) probabilities ``p`` (rows sum to 1)."""
    cum = np.cumsum(p, axis=1)
    u = rng.random((p.shape[0], 1)) * cum[:, -1:]
    return np.minimum((cum < u).sum(axis=1), p.shape[1] - 1)


def kmeans_pp(X: np.ndarray, w: np.ndarray, k: int, c: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding for ``c`` candidates at once: centers of shape (c, k, d)."""
    n = X.shape[0]
    centers = np.empty((c, k, X.shape[1]))
    first = _draw_rows(rng, np.broadcast_to(w / w.sum(), (c, n)))
    centers[:, 0] = X[first]
    closest = _sq_dist(X, centers[:, :1])[..., 0]
    for j in range(1, k):
        weight = w * closest
        total = weight.sum(axis=1, keepdims=True)
        flat = total[:, 0] <= 0  # every point on a center already: any point will do
        p = np.where(flat[:, None], 1.0 / n, weight / np.where(flat[:, None], 1.0, total))
        centers[:, j] = X[_draw_rows(rng, p)]
        closest = np.minimum(closest, _sq_dist(X, centers[:, j : j + 1])[..., 0])
    return centers


def lloyd(X: np.ndarray, w: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Lloyd's iterations to convergence (labels unchanged) for all candidates: (c, n) labels
    from X (n, d), weights (n,) and first centers (c, k, d)."""
    c, k, d = centers.shape
    if d == 1:
        return _lloyd_line(X[:, 0], w, centers[..., 0])
    labels = _nearest(X, centers)
    offsets = (np.arange(c) * k)[:, None]
    for _ in range(LLOYD_MAX):
        flat = (labels + offsets).ravel()
        mass = np.bincount(flat, weights=np.tile(w, c), minlength=c * k).reshape(c, k)
        sums = np.stack(
            [np.bincount(flat, weights=np.tile(w * X[:, j], c), minlength=c * k) for j in range(d)],
            axis=-1,
        ).reshape(c, k, d)
        empty = mass <= 0
        centers = np.where(empty[..., None], centers, sums / np.where(empty, 1.0, mass)[..., None])
        moved = _nearest(X, centers)
        if np.array_equal(moved, labels):
            break
        labels = moved
    return labels


def _lloyd_line(x: np.ndarray, w: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """``lloyd`` on a line: x (n,), w (n,), centers (c, k); (c, n) labels.

    On a line the points nearest each center are a run of the sorted data between the midpoints
    of neighbouring centers, so one iteration is a search of the midpoints in the sorted data
    and differences of cumulative sums: no (c, n, k) distances (12 candidates, K = 2, 200
    points: 140 against 590 us to convergence). A point exactly at a midpoint joins the lower
    center (``_nearest``'s rounding decides such ties otherwise)."""
    c, k = centers.shape
    n = x.shape[0]
    order = np.argsort(x, kind="stable")
    xs = x[order]
    ws = w[order]
    cum_w = np.concatenate([[0.0], np.cumsum(ws)])
    cum_wx = np.concatenate([[0.0], np.cumsum(ws * xs)])
    rows = np.arange(c)[:, None]
    centers = centers.copy()
    bounds = None
    for _ in range(LLOYD_MAX + 1):
        rank = np.argsort(centers, axis=1, kind="stable")  # (c, k) center of each rank
        sorted_centers = centers[rows, rank]
        mids = 0.5 * (sorted_centers[:, :-1] + sorted_centers[:, 1:])
        moved = np.searchsorted(xs, mids.ravel(), side="right").reshape(c, k - 1)
        if bounds is not None and np.array_equal(moved, bounds):
            break
        bounds = moved
        edges = np.concatenate([np.zeros((c, 1), np.intp), bounds, np.full((c, 1), n)], axis=1)
        mass = cum_w[edges[:, 1:]] - cum_w[edges[:, :-1]]
        sums = cum_wx[edges[:, 1:]] - cum_wx[edges[:, :-1]]
        empty = mass <= 0
        updated = np.where(empty, sorted_centers, sums / np.where(empty, 1.0, mass))
        centers[rows, rank] = updated
    assert bounds is not None
    run = (np.arange(n)[None, :, None] >= bounds[:, None, :]).sum(axis=2)  # (c, n) rank
    labels = np.empty((c, n), dtype=np.intp)
    labels[:, order] = rank[rows, run]
    return labels


def _principal_axis(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    if X.shape[1] == 1:
        return X[:, 0]
    centered = X - np.average(X, axis=0, weights=w)
    cov = np.cov(centered.T, aweights=w)
    return centered @ np.linalg.eigh(cov)[1][:, -1]


def _cut(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """(c, n) labels: how many of each candidate's sorted cuts (c, k - 1) are at most each
    value (n,)."""
    return (cuts[:, None, :] <= values[None, :, None]).sum(axis=2)


def _weighted_quantiles(values: np.ndarray, w: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The weighted quantiles of ``values`` (n,) at ``probs`` (any shape; the same shape)."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(w[order])
    idx = np.searchsorted(cum, probs * cum[-1], side="left").clip(0, len(cum) - 1)
    return values[order][idx]


def _fill_empty(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Give every component of every candidate at least one point, taken from components with
    two or more (a partition with an empty group has no start values for it)."""
    c = labels.shape[0]
    counts = np.bincount((labels + (np.arange(c) * k)[:, None]).ravel(), minlength=c * k)
    short = np.flatnonzero((counts.reshape(c, k) == 0).any(axis=1))
    for i in short:
        row = labels[i]  # a view: changed in place
        for _ in range(2 * k):
            counts = np.bincount(row, minlength=k)
            empty = np.flatnonzero(counts == 0)
            if empty.size == 0:
                break
            donors = np.flatnonzero(counts[row] > 1)
            if donors.size == 0:
                break
            row[rng.choice(donors)] = empty[0]
    return labels


# -- the candidates ---------------------------------------------------------------------------
def responsibilities(
    method: str,
    c: int,
    s: Sample,
    k: int,
    rng: np.random.Generator,
    hierarchy: Hierarchy | None,
    first: bool,
) -> np.ndarray:
    """Responsibilities of shape (c, m, k) for ``c`` candidates of ``method`` on the sample.

    Parameters
    ----------
    method : str
        One of the module's methods except ``params`` and ``split``.
    first : bool
        Whether these include the method's first candidate of the K (``quantile`` then cuts its
        first candidate at exact quantiles).
    """
    X, w = s.Z, s.weights
    m = X.shape[0]
    if k == 1:
        return np.ones((c, m, 1))
    if method == "dirichlet":
        return rng.dirichlet(np.ones(k), size=(c, m))
    if method in ("kmeans++", "kmeans"):
        centers = kmeans_pp(X, w, k, c, rng)
        labels = lloyd(X, w, centers) if method == "kmeans" else _nearest(X, centers)
    elif method == "kmeans-std":  # k-means on columns of unit variance: units set no weight
        sd = X.std(axis=0)
        flat = sd * sd <= FLAT_COLUMN * np.mean(sd * sd)  # left as it is: it would blow up
        Xs = X / np.where(flat, 1.0, sd)
        labels = lloyd(Xs, w, kmeans_pp(Xs, w, k, c, rng))
    elif method == "random":
        labels = _nearest(X, X[_distinct_rows(rng, c, k, w)])
    elif method == "partition":
        labels = rng.integers(0, k, size=(c, m))
    elif method == "quantile":
        values = _principal_axis(X, w)
        probs = np.broadcast_to(np.arange(1, k) / k, (c, k - 1)).copy()
        jitter = rng.uniform(-0.5, 0.5, (c, k - 1)) / k
        if first:
            jitter[0] = 0.0
        probs = np.sort(probs + jitter, axis=1)
        labels = _cut(values, _weighted_quantiles(values, w, probs))
    elif method == "moments":
        values = X[:, 0]
        labels = _cut(values, np.sort(rng.uniform(values.min(), values.max(), (c, k - 1)), axis=1))
    elif method in ("hc", "ward"):
        assert hierarchy is not None
        kind = "vvv" if method == "hc" and X.shape[1] > 1 else "ward"
        labels = np.broadcast_to(hierarchy.labels(k, X, kind), (c, m)).copy()
    else:  # pragma: no cover - the schema admits only the methods above
        raise ValueError(f"unknown init method {method!r}")
    return _one_hot(_fill_empty(labels.astype(np.intp), k, rng), k)


def split_responsibilities(s: Sample, resp: np.ndarray) -> np.ndarray:
    """Split the widest component of a K-1 fit in two: responsibilities (m, K) from (m, K-1).

    The widest component has the largest responsibility-weighted spread (trace of its scatter
    about its mean); its points are divided by the side of its principal axis they lie on.
    """
    X, w = s.Z, s.weights
    rw = resp * w[:, None]
    mass = np.maximum(rw.sum(axis=0), 1e-300)
    means = (rw.T @ X) / mass[:, None]
    spread = np.array(
        [np.sum(rw[:, j] @ (X - means[j]) ** 2) / mass[j] for j in range(resp.shape[1])]
    )
    j = int(np.argmax(spread))
    centered = X - means[j]
    scatter = (centered * rw[:, j : j + 1]).T @ centered / mass[j]
    axis = np.linalg.eigh(scatter)[1][:, -1]
    side = centered @ axis >= 0.0
    out = np.concatenate([resp, np.zeros((resp.shape[0], 1))], axis=1)
    out[side, -1] = resp[side, j]
    out[side, j] = 0.0
    return out
