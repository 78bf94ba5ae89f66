"""Special functions the M-steps call often enough for their cost to matter."""

from __future__ import annotations

import numpy as np
from scipy.special import zeta

SERIES_FROM = 100  # fewer values: zeta's per-value cost is below the series' ~18 us of calls
SHIFT = 8  # recurrence steps below which the asymptotic series is not yet accurate
# B_2k of the asymptotic series psi1(z) ~ 1/z + 1/(2 z^2) + sum_k B_2k / z^(2k+1), k = 1..7
BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)
_STEPS = np.arange(float(SHIFT))[:, None]  # the recurrence's shifts, one row each


def trigamma(x: np.ndarray) -> np.ndarray:
    """The trigamma function psi1(x) = d^2/dx^2 log Gamma(x) for positive x, any shape.

    ``scipy.special.polygamma(1, x)`` is ``zeta(2, x)``, a Hurwitz zeta series costing about
    136 ns a value here; the beta M-step's Newton steps spent most of their time in it. Here:
    below ``SHIFT`` the recurrence ``psi1(x) = psi1(x + 1) + 1 / x^2`` moves x up by SHIFT,
    then the asymptotic series to z^-15 (Abramowitz & Stegun 6.4.12). Relative error at most
    2.2e-14 against ``zeta(2, x)`` on x in [1e-4, 1e8] (``tests/core/test_special.py``); about
    8x faster on 1,800 values (31 against 244 us), slower on a few dozen (the series is some
    30 numpy calls), so fewer than ``SERIES_FROM`` values go to ``zeta``. Measured: the beta
    fit of ``make bench``'s n=200, K=3 line took 138 ms against 160 ms. Since 2026-12-04 the
    recurrence is four numpy calls instead of 32, bit for bit the same sums (on 300 values
    37 -> 21 us), which moved the break-even with ``zeta`` from 256 values to about 100 (there
    zeta 16 us, the series 18; on 150 values 27 against 19, on 225 41 against 21): the beta
    K=3 fit's Newton steps, replayed from their recorded arguments, 63 -> 56 ms (the best of
    15 alternating runs).
    """
    x = np.asarray(x, dtype=float)
    if x.size < SERIES_FROM:
        return zeta(2.0, x)
    out = np.zeros_like(x)
    z = x.copy()
    small = x < SHIFT
    if small.any():
        xs = x[small]
        # 1 / (x + i)^2 for i < SHIFT as rows, summed row after row: the same additions in the
        # same order as a loop over i (a reduction over the outer axis adds its rows in turn),
        # in four numpy calls instead of 4 SHIFT
        t = _STEPS + xs
        t *= t
        np.divide(1.0, t, out=t)
        out[small] = np.add.reduce(t, axis=0)
        z[small] = xs + SHIFT
    inv = 1.0 / z
    inv2 = inv * inv
    series = np.full_like(z, BERNOULLI[-1])
    for c in BERNOULLI[-2::-1]:
        series *= inv2
        series += c
    out += inv + inv2 * (0.5 + inv * series)
    return out
