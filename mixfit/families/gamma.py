"""Gamma mixtures of positive values, with an exact maximum-likelihood M-step.

A component's log-density ``(a - 1) log x - b x + a log b - log Gamma(a)`` (shape ``a``, rate
``b``) is an exponential family with statistics ``(x, log x)``: the engine's batched E-step
serves it unchanged. Given a component's weighted means ``m = E[x]`` and ``l = E[log x]``, the
M-step's rate is ``a / m`` and its shape solves ``log a - psi(a) = log m - l`` (> 0 by Jensen),
a one-dimensional concave problem: Minka's (2002) closed-form approximation, then
``NEWTON_STEPS`` of his generalized Newton iteration on ``1 / a`` (quadratic: four reach machine
precision), vectorized over every start and component, so the M-step is exact and the trace
cannot fall but for rounding: a component of shape 1e8 (on values far from 0 and close
together) sums log-density terms of 1e9 a point (``mixfit.em.fall_detail``).

Degeneracy. As a Gaussian's variance can shrink onto one point, a gamma component can narrow
onto tied values (shape to infinity, variance ``m^2 / a`` to zero), where the likelihood is
unbounded. The shape is capped so that the component's variance stays at least the floor
(``var_floor`` times the data's variance), except where it is a tight cluster of its own
(``mixfit.tight``); a capped component is degenerate, as a floored variance is.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field
from scipy.special import digamma, gammaln, zeta

from ..errors import FitError
from ..options import (
    INIT_DESCRIPTION,
    FitOptions,
    InitMethod,
    PositiveFloat,
    Schema,
    StartValues,
    Vector,
)
from . import register
from .base import Events, Family, ParamArrays, check_positive, data_rows, resp_sums

NEWTON_STEPS = 6
SHAPE_MIN = 1e-3


class GammaStart(StartValues):
    """Explicit start values for a gamma mixture (one start, K = len(weights))."""

    shapes: list[PositiveFloat]
    rates: list[PositiveFloat]

    per_component = ("shapes", "rates")


class GammaFitRequest(FitOptions):
    """Fit a gamma mixture to positive values (shape and rate per component)."""

    family: Literal["gamma"]
    init: InitMethod | Annotated[list[InitMethod], Field(min_length=1)] | GammaStart = Field(
        "auto",
        description=INIT_DESCRIPTION,
    )


class GammaParams(Schema):
    """Gamma mixture parameters: component k has density b^a x^(a-1) e^(-b x) / Gamma(a) with
    shape a and rate b (scipy's ``gamma(a, scale=1/b)``)."""

    weights: Vector
    shapes: Vector
    rates: Vector


def gamma_shape(s: np.ndarray, steps: int = NEWTON_STEPS) -> np.ndarray:
    """The shape ``a`` solving ``log a - psi(a) = s`` elementwise (s > 0).

    Minka (2002), "Estimating a Gamma distribution": start at
    ``(3 - s + sqrt((s - 3)^2 + 24 s)) / (12 s)`` (within 1.5 %), then Newton steps on ``1/a``:
    ``1/a <- 1/a + (log a - psi(a) - s) / (a^2 (1/a - psi'(a)))``.
    """
    s = np.maximum(s, 1e-300)
    a = (3.0 - s + np.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s)
    # trigamma as scipy's zeta(2, a), value by value: a's few values (starts x K) cost it
    # less than ``mixfit.special.trigamma``'s series, and every value's bits are its own
    for _ in range(steps):
        g = np.log(a) - digamma(a) - s  # the equation's residual
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            a_new = 1.0 / (1.0 / a + g / (a * a * (1.0 / a - zeta(2.0, a))))
        a = np.where(np.isfinite(a_new) & (a_new > 0), a_new, a)
    return a


@register
class Gamma(Family):
    """Gamma components. Parameters: ``shape`` and ``rate``, each of shape (S, K, 1)."""

    name = "gamma"
    robust_floor = True
    standardize = False
    floor_phrase = "shape reached its cap (variance at the floor)"
    log_params = frozenset({"shape", "rate"})
    request_model = GammaFitRequest
    start_model = GammaStart
    params_model = GammaParams
    support = (0.0, np.inf)

    def __init__(self, request: Any, d: int) -> None:
        if d != 1:
            raise FitError(f"gamma mixtures are univariate; the data have {d} columns")
        super().__init__(request, d)

    def prepare(self, X: np.ndarray) -> tuple[np.ndarray, int]:
        check_positive(X, self.name, "point(s)")
        return X, 0

    def validate_points(self, X: np.ndarray, n_train: float) -> np.ndarray:
        check_positive(X, self.name, "point(s) to score")
        return X

    # -- engine interface ------------------------------------------------------------------------
    def statistics(self, Z: np.ndarray) -> np.ndarray:
        return np.column_stack([Z[:, 0], np.log(Z[:, 0])])

    def natural(self, params: ParamArrays) -> tuple[np.ndarray, np.ndarray]:
        a, b = params["shape"][..., 0], params["rate"][..., 0]
        return np.stack([-b, a - 1.0], axis=-1), gammaln(a) - a * np.log(b)

    def _fit(self, m: np.ndarray, mlog: np.ndarray, floor: float, events: Events) -> ParamArrays:
        a = np.maximum(gamma_shape(np.log(m) - mlog), SHAPE_MIN)
        # variance m^2 / a at least the floor, but where a tight cluster of its own holds it
        # (``mixfit.tight``); a mean near 1e150 over a small floor overflows to no cap (a
        # RuntimeWarning, found by fuzzing), as it should
        with np.errstate(over="ignore"):
            cap = m * m / floor
            over = self.below_floor(m[..., None], (m * m / a)[..., None], floor)[..., 0]
        for s, k in zip(*np.nonzero(over), strict=True):
            events.append((int(s), int(k), "variance_floor", "shape capped (variance floor)"))
        a = np.maximum(np.where(over, np.minimum(a, cap), a), SHAPE_MIN)  # on ~0 values: capped
        return {"shape": a[..., None], "rate": (a / m)[..., None]}

    def maximize(
        self, stats: np.ndarray, previous: Any, floor: float, reevaluate: Any = None
    ) -> tuple[ParamArrays, Events]:
        counts = np.maximum(stats[..., 0], 1e-300)
        events: Events = []
        m = np.maximum(stats[..., 1] / counts, 1e-300)
        return self._fit(m, stats[..., 2] / counts, floor, events), events

    def initial(
        self, Z: np.ndarray, w: np.ndarray | None, resp: np.ndarray, floor: float
    ) -> ParamArrays:
        """The responsibility-weighted maximum-likelihood fit of every component."""
        return self.maximize(resp_sums(self.statistics(Z), w, resp), None, floor)[0]

    def random_params(
        self, rng: np.random.Generator, c: int, k: int, Z: np.ndarray, w: np.ndarray | None
    ) -> tuple[ParamArrays, np.ndarray]:
        """Means at random data points, shapes log-uniform on [0.5, 200] (from J-shaped to
        narrow bells), flat-Dirichlet weights."""
        # a mean at a point near the smallest normal float (a replicate's, or data's) would
        # make the rate overflow: no component is centred below 1e-300
        mean = np.maximum(Z[data_rows(rng, Z.shape[0], w, (c, k)), 0], 1e-300)
        a = np.exp(rng.uniform(np.log(0.5), np.log(200.0), (c, k)))
        params = {"shape": a[..., None], "rate": (a / mean)[..., None]}
        return params, np.log(rng.dirichlet(np.ones(k), size=c))

    def n_params(self, k: int) -> int:
        return 3 * k - 1

    # -- JSON --------------------------------------------------------------------------------------
    def to_json(self, params: ParamArrays, weights: np.ndarray, scaling: Any) -> GammaParams:
        return GammaParams(
            weights=weights.tolist(),
            shapes=params["shape"][:, 0].tolist(),
            rates=params["rate"][:, 0].tolist(),
        )

    def from_json(self, params: Any, scaling: Any) -> tuple[ParamArrays, np.ndarray]:
        a = np.asarray(params.shapes, dtype=float)
        b = np.asarray(params.rates, dtype=float)
        return {"shape": a[None, :, None], "rate": b[None, :, None]}, np.asarray(
            params.weights, float
        )

    def draw(self, params: Any, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        a = np.asarray(params.shapes, dtype=float)[labels]
        b = np.asarray(params.rates, dtype=float)[labels]
        return rng.gamma(a, 1.0 / b)[:, None]

    def log_pdf(self, params: Any, X: np.ndarray) -> np.ndarray:
        a = np.asarray(params.shapes, dtype=float)[:, None]
        b = np.asarray(params.rates, dtype=float)[:, None]
        x = X[:, 0][None, :]
        return (a - 1.0) * np.log(x) - b * x + a * np.log(b) - gammaln(a)

    def columns(self, params: Any) -> dict[str, list[float]]:
        a, b = np.asarray(params.shapes, float), np.asarray(params.rates, float)
        return {"shape": a.tolist(), "rate": b.tolist(), "mean": (a / b).tolist()}

    def moments(self, params: Any) -> tuple[np.ndarray, np.ndarray]:
        a, b = np.asarray(params.shapes, float), np.asarray(params.rates, float)
        return a / b, np.sqrt(a) / b
