"""Start methods (``mixfit.starts``) that depend on the data's geometry."""

from __future__ import annotations

import numpy as np

from mixfit.starts import Sample, _nearest, kmeans_pp, lloyd, responsibilities


def test_standardized_kmeans_sees_a_column_in_small_units() -> None:
    """Two clusters apart only in a column of small units, beside a noise column in large
    units: k-means on the raw columns cuts the noise, on standardized columns the clusters."""
    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1], 100)
    X = np.column_stack([rng.normal(0, 1000, 200), truth * 0.01 + rng.normal(0, 0.001, 200)])
    s = Sample(X, None, True)
    for method, agrees in (("kmeans", False), ("kmeans-std", True)):
        resp = responsibilities(method, 4, s, 2, np.random.default_rng(1), None, True)
        for labels in resp.argmax(axis=2):
            same = max(np.mean(labels == truth), np.mean(labels != truth))
            assert bool(same == 1.0) == agrees, method


def _lloyd_by_distances(X: np.ndarray, w: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Lloyd's iterations from distances to every center (the general path of any d)."""
    c, k, _ = centers.shape
    labels = _nearest(X, centers)
    for _ in range(100):
        mass = np.stack([np.bincount(row, weights=w, minlength=k) for row in labels])
        sums = np.stack([np.bincount(row, weights=w * X[:, 0], minlength=k) for row in labels])
        empty = mass <= 0
        centers = np.where(empty, centers[..., 0], sums / np.where(empty, 1.0, mass))[..., None]
        moved = _nearest(X, centers)
        if np.array_equal(moved, labels):
            break
        labels = moved
    return labels


def test_lloyd_on_a_line_equals_lloyd_by_distances() -> None:
    """On a line ``lloyd`` finds each center's points between midpoints of the sorted data;
    on data without ties at a midpoint that is the nearest-center partition of every
    iteration, so both reach the same labels (weighted and not, any K, any scale)."""
    for seed in range(60):
        rng = np.random.default_rng(seed)
        n, k, c = int(rng.integers(5, 300)), int(rng.integers(2, 7)), int(rng.integers(1, 15))
        X = rng.normal(size=(n, 1)) * [1.0, 1e-3, 1e4][seed % 3]
        w = rng.random(n) if seed % 2 else np.ones(n)
        centers = kmeans_pp(X, w, k, c, np.random.default_rng(seed))
        np.testing.assert_array_equal(lloyd(X, w, centers), _lloyd_by_distances(X, w, centers))
