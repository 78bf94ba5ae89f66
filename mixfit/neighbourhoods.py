"""Tight clusters of points: neighbourhoods where a nearest-neighbour density estimate exceeds a
fitted mixture's density the most (Loftsgaarden & Quesenberry 1965). The births of the
split-and-merge moves (``mixfit.smem.births``, ``mixfit.smem.growth``) and K = 2's birth
candidates (``mixfit.screen.birth_partitions``) put a new component on them.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import gammaln

from .data import equal_weights

BIRTH_SEEDS = 1000


class Neighbours:
    """The nearest rows of Z (m, d) to the birth seeds (at most ``BIRTH_SEEDS`` rows, evenly
    spaced), one k-d tree and one query per k, kept for the calls that ask again
    (``clusters_at_every_scale``)."""

    def __init__(self, Z: np.ndarray) -> None:
        rows = Z.shape[0]
        # in 10-D the query from all 4,000 sample rows took 0.16 s
        self.seeds = np.arange(0, rows, max(1, rows // BIRTH_SEEDS))
        self._tree, self._points = cKDTree(Z), Z[self.seeds]
        self._queries: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def query(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances and rows (seeds, k) of each seed's k nearest rows, nearest first: the
        first k of a wider query already made (``clusters_at_every_scale`` asks the widest
        first; in 1-D on 4,000 rows a query of 800 took 77 ms, one of 400 37 ms more)."""
        wider = [j for j in self._queries if j >= k]
        if wider:
            dist, rows = self._queries[min(wider)]
            return dist[:, :k], rows[:, :k]
        dist, rows = self._tree.query(self._points, k=k)
        # scipy drops the k axis for k = 1 (a counts-weighted sample whose lightest row
        # reaches every size alone: two points of weights 284 and 1e7, found by fuzzing)
        self._queries[k] = (dist.reshape(-1, k), rows.reshape(-1, k))
        return self._queries[k]


def tight_clusters(
    Z: np.ndarray,
    weights: np.ndarray,
    log_density: np.ndarray,
    least: float,
    count: int,
    apart: bool = False,
    scales: tuple[int, ...] = (1, 2, 4),
    neighbours: Neighbours | None = None,
) -> list[np.ndarray]:
    """Up to ``count`` disjoint neighbourhoods (rows of ``Z`` (m, d)) where a nearest-neighbour
    density estimate exceeds the fit's ``log_density`` (m,) the most (``births``). ``apart``:
    a neighbourhood taken also keeps the next ones off its seed's largest neighbourhood, so
    they go to other clusters rather than to the rest of the same one. Neighbourhoods hold
    ``scale`` x a points for each of ``scales`` (a = max(5, 2 x ``least``)), at most a quarter
    of them: a rows, or, where the ``weights`` (m,) differ (counts), the nearest rows whose
    weights first reach a, so that count weights find the neighbourhoods their repeated
    points would."""
    rows, d = Z.shape
    uniform = equal_weights(weights)
    total = float(weights.sum())
    a = int(max(5, 2 * np.ceil(least)))
    sizes = [s * a for s in scales if s * a <= (rows // 4 if uniform else total / 4)]
    if not sizes or count < 1:
        return []
    if uniform:
        widest = max(sizes)
    else:  # as many rows as the lightest ones need to reach the largest size
        widest = min(rows, int(np.searchsorted(np.cumsum(np.sort(weights)), max(sizes))) + 1)
    neighbours = neighbours or Neighbours(Z)
    seeds = neighbours.seeds
    dist, near = neighbours.query(widest)
    cum = None if uniform else np.cumsum(weights[near], axis=1)
    log_ball = 0.5 * d * np.log(np.pi) - gammaln(0.5 * d + 1.0)  # log volume of the unit ball
    values, centres, reaches = [], [], []
    for m in sizes:
        if cum is None:
            reach = np.full(seeds.size, m)
            mass = weights[near[:, :m]].sum(axis=1)
        else:  # the nearest rows up to the first whose cumulative weight reaches m
            reach = np.argmax(cum >= m, axis=1) + 1
            mass = cum[np.arange(seeds.size), reach - 1]
        radius = dist[np.arange(seeds.size), reach - 1]
        with np.errstate(divide="ignore"):
            excess = np.log(mass / total) - log_ball - d * np.log(radius) - log_density[seeds]
        # m copies of one point are no component (its variance would sit at the floor)
        excess[~(radius > 0.0) | ~np.isfinite(excess)] = -np.inf
        finite = np.flatnonzero(np.isfinite(excess))
        values.append(excess[finite])
        centres.append(finite)
        reaches.append(reach)
    # every neighbourhood, the largest excess first (ties in the order built); the first one
    # clear of the points taken is taken, then the search goes on after it
    order = np.argsort(-np.concatenate(values), kind="stable")
    centre = np.concatenate(centres)[order]
    size = np.concatenate([r[c] for r, c in zip(reaches, centres, strict=True)])[order]
    block = near[centre]  # (N, widest) rows of each neighbourhood's seed
    inside = np.arange(widest)[None, :] < size[:, None]
    out: list[np.ndarray] = []
    taken = np.zeros(rows, dtype=bool)
    at = 0
    while len(out) < count and at < centre.size:
        clear = np.flatnonzero(~np.any(taken[block[at:]] & inside[at:], axis=1))
        if not clear.size:
            break
        at += int(clear[0])
        c, m = centre[at], size[at]
        members = np.asarray(near[c, :m])
        taken[near[c, : reaches[-1][c]] if apart else members] = True
        out.append(members)
        at += 1
    return out


def clusters_at_every_scale(
    Z: np.ndarray, weights: np.ndarray, log_density: np.ndarray, least: float, count: int
) -> list[np.ndarray]:
    """``tight_clusters`` (kept apart), and besides them the neighbourhood of each larger size
    (2a and 4a rows) whose density excess is largest at that size alone.

    The excess of the smallest neighbourhoods is the largest almost everywhere a few values
    lie close (their radius is the noisiest), so the common ranking seldom takes a larger
    one; a birth on a few of a cluster's points then stays a narrow component on those
    points. R's chick weights (n = 71) under the Gamma family, K = 2: its four births were
    5-point neighbourhoods, ending at -407.89 and below, and every start at -406.82; the
    10-point one reaches the maximum at -406.57 (a component of 10 points' worth, sd 10.8 at
    328, beside one of sd 80), which mixtools' gammamixEM and 100 screened starts missed."""
    near = Neighbours(Z)
    out = tight_clusters(Z, weights, log_density, least, count, True, neighbours=near)
    for scale in (2, 4):
        for members in tight_clusters(Z, weights, log_density, least, 1, True, (scale,), near):
            if not any(np.array_equal(np.sort(members), np.sort(o)) for o in out):
                out.append(members)
    return out
