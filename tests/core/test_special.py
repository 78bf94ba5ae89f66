"""mixfit.special against scipy."""

import numpy as np
from scipy.special import zeta

from mixfit.special import trigamma


def test_trigamma_matches_scipys_hurwitz_zeta():
    x = np.geomspace(1e-4, 1e8, 100_001)
    ref = zeta(2.0, x)
    assert np.max(np.abs(trigamma(x) - ref) / ref) < 5e-15
    grid = np.array([[0.5, 1.0], [7.999, 8.0]])
    np.testing.assert_allclose(trigamma(grid), zeta(2.0, grid), rtol=5e-14)
    assert trigamma(grid).shape == (2, 2)
    assert abs(trigamma(1.0) - np.pi**2 / 6) < 1e-14
    big = np.full((30, 30), 1.0)
    np.testing.assert_allclose(trigamma(big), np.pi**2 / 6, rtol=5e-14)
    mid = np.geomspace(0.01, 50.0, 100)
    np.testing.assert_allclose(trigamma(mid), zeta(2.0, mid), rtol=5e-14)


def test_a_value_s_trigamma_does_not_depend_on_the_values_beside_it():
    """A start's M-step rounds the same beside any number of other starts (a fanned-out part
    holds fewer): each value's bits are the same alone, among a few and among many."""
    rng = np.random.default_rng(0)
    x = np.exp(rng.uniform(np.log(1e-3), np.log(1e4), 1000))
    many = trigamma(x)
    for size in (1, 2, 7, 30, 99, 100, 101, 500):
        np.testing.assert_array_equal(trigamma(x[:size]), many[:size])
    np.testing.assert_array_equal(trigamma(x.reshape(10, 100))[3], many[300:400])
