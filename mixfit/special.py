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
    170 ns a value here; the beta M-step's Newton steps spent most of their time in it. Here
    every value takes the recurrence ``psi1(x) = psi1(x + 1) + 1 / x^2`` SHIFT times, its
    terms added row after row, then the asymptotic series at x + SHIFT to z^-15 (Abramowitz
    & Stegun 6.4.12) by Horner's rule: elementwise arithmetic only, so a value's bits never
    depend on how many values share the call. Relative error at most 1e-15 against
    ``zeta(2, x)`` on x in [1e-4, 1e8] (``tests/core/test_special.py``).

    Until 2026-12-05 arrays of fewer than 100 values went to ``zeta`` instead (on 20 values 4
    against 15 us), so a start's M-step rounded otherwise when fewer starts shared its batch
    (a fanned-out part) and its fit could end elsewhere; values of at least SHIFT skipped the
    recurrence, which costs the masks more than it saves. Timed on 20, 90, 300 and 1,200
    values: 15, 16, 20 and 29 us, against zeta's 4, 16, 70 and 220 (2026-12-05, a busy hour).
    The beta M-step calls it (3 S K values); the Gamma and Student t M-steps, whose S K values
    are few, call ``zeta`` itself, value by value too. Never choose between the two by an
    array's size: that is the batch's, not the value's.
    """
    x = np.asarray(x, dtype=float)
    flat = x.reshape(-1)
    t = _STEPS + flat  # (SHIFT, n): x + i
    with np.errstate(over="ignore", divide="ignore"):  # x past 1e154: 1 / inf = 0, as it is
        t *= t
        np.divide(1.0, t, out=t)
    out = t[0].copy()
    for row in t[1:]:  # in turn, not np.add.reduce (which sums few columns pairwise)
        out += row
    inv = flat + SHIFT
    np.divide(1.0, inv, out=inv)
    inv2 = inv * inv
    series = inv2 * BERNOULLI[-1]
    for c in BERNOULLI[-2:0:-1]:
        series += c
        series *= inv2
    series += BERNOULLI[0]
    series *= inv
    series += 0.5
    series *= inv2
    out += inv
    out += series
    return out.reshape(x.shape)
