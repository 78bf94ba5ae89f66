"""Start methods (``mixfit.starts``) that depend on the data's geometry."""

from __future__ import annotations

import numpy as np

from mixfit.starts import Sample, responsibilities


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
