"""mixfit.special against scipy."""

import numpy as np
from scipy.special import zeta

from mixfit.special import SERIES_FROM, trigamma


def test_trigamma_matches_scipys_hurwitz_zeta():
    x = np.geomspace(1e-4, 1e8, 100_001)  # the series (many values) ...
    ref = zeta(2.0, x)
    assert np.max(np.abs(trigamma(x) - ref) / ref) < 5e-14
    grid = np.array([[0.5, 1.0], [7.999, 8.0]])  # ... and zeta (a few)
    np.testing.assert_allclose(trigamma(grid), zeta(2.0, grid), rtol=5e-14)
    assert trigamma(grid).shape == (2, 2)
    assert abs(trigamma(1.0) - np.pi**2 / 6) < 1e-14
    big = np.full((30, 30), 1.0)
    np.testing.assert_allclose(trigamma(big), np.pi**2 / 6, rtol=5e-14)
    mid = np.geomspace(0.01, 50.0, SERIES_FROM)  # the smallest array the series takes
    np.testing.assert_allclose(trigamma(mid), zeta(2.0, mid), rtol=5e-14)
