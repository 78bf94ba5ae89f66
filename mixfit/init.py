"""Start partitions: hard labels for each start, from which a family builds its start values.

Starts are computed on a subsample of at most ``SUBSAMPLE`` points drawn by each start's own
generator (all points when there are fewer): the first E-step then runs on all the data, so a
start costs O(SUBSAMPLE) however large n is.

Methods (each start draws from its own generator, so starts differ and reruns repeat):

- ``kmeans++``: k-means++ seeding (D^2 sampling) on a subsample, then nearest-center labels.
- ``kmeans``: k-means++ seeding followed by Lloyd iterations on the subsample.
- ``quantile``: equal-weight groups along the data (the first principal axis in d dimensions);
  the first start cuts at exact quantiles, later ones at jittered quantiles.
- ``random``: K distinct data points as centers, nearest-center labels.
- ``moments`` (beta): K groups cut at uniformly random points of the data's range; the beta
  family then starts every group at its weighted method-of-moments estimate.
"""

from __future__ import annotations

import numpy as np

SUBSAMPLE = 20_000
LLOYD_STEPS = 25


def _sq_dist(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Squared distances of shape (n, K) between X (n, d) and centers (K, d)."""
    d2 = (X * X).sum(1)[:, None] - 2.0 * X @ centers.T + (centers * centers).sum(1)[None, :]
    return np.maximum(d2, 0.0)


def _nearest(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    if X.shape[1] == 1:  # 1-D: a binary search among the midpoints of the sorted centers
        order = np.argsort(centers[:, 0], kind="stable")
        c = centers[order, 0]
        return order[np.searchsorted((c[1:] + c[:-1]) / 2.0, X[:, 0], side="left")]
    return np.argmin(_sq_dist(X, centers), axis=1)


def _probabilities(w: np.ndarray | None, n: int) -> np.ndarray | None:
    return None if w is None else w / w.sum()


def subsample(
    X: np.ndarray, w: np.ndarray | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """At most ``SUBSAMPLE`` points (drawn with probability proportional to weight, then
    unweighted), or all points with their weights."""
    n = X.shape[0]
    if n <= SUBSAMPLE:
        return X, w
    idx = rng.choice(n, SUBSAMPLE, replace=False, p=_probabilities(w, n))
    return X[np.sort(idx)], None


def kmeans_pp_centers(X: np.ndarray, w: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: each next center drawn with probability proportional to w * D^2."""
    n = X.shape[0]
    centers = np.empty((k, X.shape[1]))
    centers[0] = X[rng.choice(n, p=w / w.sum())]
    closest = _sq_dist(X, centers[:1])[:, 0]
    for j in range(1, k):
        weight = w * closest
        total = weight.sum()
        idx = rng.choice(n, p=weight / total) if total > 0 else rng.integers(n)
        centers[j] = X[idx]
        closest = np.minimum(closest, _sq_dist(X, centers[j : j + 1])[:, 0])
    return centers


def _lloyd(X: np.ndarray, w: np.ndarray, centers: np.ndarray) -> np.ndarray:
    for _ in range(LLOYD_STEPS):
        labels = _nearest(X, centers)
        k = centers.shape[0]
        mass = np.bincount(labels, weights=w, minlength=k)
        moved = centers.copy()
        for j in range(X.shape[1]):
            sums = np.bincount(labels, weights=w * X[:, j], minlength=k)
            moved[:, j] = np.where(mass > 0, sums / np.maximum(mass, 1e-300), centers[:, j])
        if np.allclose(moved, centers, rtol=0, atol=1e-10):
            break
        centers = moved
    return centers


def _axis(X: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    if X.shape[1] == 1:
        return X[:, 0]
    centered = X - np.average(X, axis=0, weights=w)
    cov = np.cov(centered.T, aweights=w)
    return centered @ np.linalg.eigh(cov)[1][:, -1]


def _cut(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.sort(cuts), values, side="right")


def _weighted_quantiles(values: np.ndarray, w: np.ndarray | None, probs: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(np.ones(values.shape[0]) if w is None else w[order])
    return values[order][np.searchsorted(cum, probs * cum[-1], side="left").clip(0, len(cum) - 1)]


def _fill_empty(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Give every component at least one point, taking points from components that have two."""
    for _ in range(4 * k):
        counts = np.bincount(labels, minlength=k)
        empty = np.flatnonzero(counts == 0)
        if empty.size == 0:
            break
        donors = np.flatnonzero(counts[labels] > 1)
        if donors.size == 0:
            break
        labels[rng.choice(donors)] = empty[0]
    return labels


def partition(
    method: str,
    X: np.ndarray,
    w: np.ndarray | None,
    k: int,
    rng: np.random.Generator,
    first: bool,
) -> np.ndarray:
    """Hard labels for one start.

    Parameters
    ----------
    method : str
        One of ``kmeans++``, ``kmeans``, ``quantile``, ``random``, ``moments``.
    X : ndarray of shape (n, d)
    w : ndarray of shape (n,) or None
    k : int
    rng : numpy.random.Generator
        The start's own generator.
    first : bool
        Whether this is the first start of its method (``quantile`` then uses exact quantiles).

    Returns
    -------
    labels : ndarray of shape (n,), entries in [0, k)
    """
    n = X.shape[0]
    if k == 1:
        return np.zeros(n, dtype=np.intp)
    if method in ("kmeans++", "kmeans"):
        ones = np.ones(n) if w is None else w
        centers = kmeans_pp_centers(X, ones, k, rng)
        if method == "kmeans":
            centers = _lloyd(X, ones, centers)
        labels = _nearest(X, centers)
    elif method == "random":
        nonzero = n if w is None else int(np.count_nonzero(w))
        idx = rng.choice(n, size=min(k, nonzero), replace=False, p=_probabilities(w, n))
        labels = _nearest(X, X[idx])
    elif method == "quantile":
        values = _axis(X, w)
        probs = np.arange(1, k) / k
        if not first:
            probs = np.sort(probs + rng.uniform(-0.5, 0.5, k - 1) / k)
        labels = _cut(values, _weighted_quantiles(values, w, probs))
    elif method == "moments":
        values = X[:, 0]
        labels = _cut(values, rng.uniform(values.min(), values.max(), k - 1))
    else:  # pragma: no cover - the schema admits only the methods above
        raise ValueError(f"unknown init method {method!r}")
    return _fill_empty(labels.astype(np.intp), k, rng)
