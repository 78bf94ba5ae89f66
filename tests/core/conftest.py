"""Shared data for the core tests."""

import numpy as np
import pytest


def simulate(n: int, seed: int = 0) -> np.ndarray:
    """The EM simulator's setup: mu = (0, 4), sd = (1, 1.5), pi = (0.4, 0.6)."""
    rng = np.random.default_rng(seed)
    first = rng.random(n) < 0.4
    return np.where(first, rng.normal(0.0, 1.0, n), rng.normal(4.0, 1.5, n))


@pytest.fixture
def simulator_data() -> np.ndarray:
    return simulate(200)


def blobs(n: int = 600, d: int = 3, k: int = 3, seed: int = 0) -> np.ndarray:
    """Well separated, anisotropic Gaussian blobs in d dimensions."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 6.0, (k, d))
    labels = rng.integers(0, k, n)
    scales = rng.uniform(0.5, 2.0, (k, d))
    mix = rng.normal(0.0, 0.3, (k, d, d)) + np.eye(d)
    noise = np.einsum("nij,nj->ni", mix[labels], rng.normal(size=(n, d)) * scales[labels])
    return centers[labels] + noise


def beta_data(n: int = 1000, seed: int = 0, k: int = 2) -> np.ndarray:
    """Two components (0.35 Beta(2, 8) + 0.65 Beta(6, 2)), or three with Beta(20, 20) added."""
    rng = np.random.default_rng(seed)
    if k == 3:
        which = rng.choice(3, n, p=[0.3, 0.4, 0.3])
        return np.choose(which, [rng.beta(2, 12, n), rng.beta(20, 20, n), rng.beta(12, 2, n)])
    first = rng.random(n) < 0.35
    return np.where(first, rng.beta(2.0, 8.0, n), rng.beta(6.0, 2.0, n))
