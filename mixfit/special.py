"""Special functions the M-steps call often enough for their cost to matter."""

from __future__ import annotations

import numpy as np

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
    8x faster on 1,800 values (31 against 244 us). Measured: the beta fit of ``make bench``'s
    n=200, K=3 line took 138 ms against 160 ms. The recurrence adds its SHIFT terms row after
    row, one numpy call each (in turn, as a loop over the values would).

    Every value takes this same arithmetic, however many share the call: until 2026-12-05
    arrays of fewer than 100 values went to ``zeta`` (cheaper there, 4 against 17 us on 20
    values), so a start's M-step rounded otherwise when fewer starts shared its batch (a
    fanned-out part), and its fit could end in other last digits.
    """
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    z = x.copy()
    small = x < SHIFT
    if small.any():
        xs = x[small]
        # 1 / (x + i)^2 for i < SHIFT as rows, summed row after row (not by ``np.add.reduce``,
        # which on one or two columns sums a column pairwise: another rounding for a value
        # with few beside it)
        t = _STEPS + xs
        t *= t
        np.divide(1.0, t, out=t)
        acc = t[0]
        for row in t[1:]:
            acc += row
        out[small] = acc
        z[small] = xs + SHIFT
    inv = 1.0 / z
    inv2 = inv * inv
    series = np.full_like(z, BERNOULLI[-1])
    for c in BERNOULLI[-2::-1]:
        series *= inv2
        series += c
    out += inv + inv2 * (0.5 + inv * series)
    return out
