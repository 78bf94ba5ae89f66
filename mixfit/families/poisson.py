"""Poisson mixtures of counts.

A component's log-probability ``x log(lambda) - lambda - log(x!)`` is an exponential family with
statistic ``x``, natural parameter ``log(lambda)`` and log-partition ``lambda``: the M-step is the
responsibility-weighted mean, exact, and the engine's batched E-step serves it unchanged. The
likelihood is bounded (a component on the zeros has probability 1 there, no more), so nothing
is degenerate except a weight below one point's worth; a rate is held at ``RATE_MIN`` so that
a component on zeros only keeps a finite log.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field
from scipy.special import gammaln

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
from .base import Events, Family, ParamArrays, resp_sums

RATE_MIN = 1e-12


class PoissonStart(StartValues):
    """Explicit start values for a Poisson mixture (one start, K = len(weights))."""

    lambdas: list[PositiveFloat]

    per_component = ("lambdas",)


class PoissonFitRequest(FitOptions):
    """Fit a Poisson mixture to counts (non-negative integers)."""

    family: Literal["poisson"]
    init: InitMethod | Annotated[list[InitMethod], Field(min_length=1)] | PoissonStart = Field(
        "auto",
        description=INIT_DESCRIPTION,
    )


class PoissonParams(Schema):
    """Poisson mixture parameters: component k has probability lambda^x e^-lambda / x!."""

    weights: Vector
    lambdas: Vector


# Above this rate a count is drawn as N(lambda, lambda) rounded: the Poisson's distance from it
# is of the order of its skewness lambda^-1/2 (1e-9 here), far below what 9999 replicates
# resolve; numpy's own sampler stops at about 9.2e18 (it returns int64).
NORMAL_RATE = 1e18


def check_counts(X: np.ndarray, what: str) -> None:
    """Counts are non-negative integers in one column."""
    x = X[:, 0]
    bad = int(np.count_nonzero((x < 0) | (x != np.round(x))))
    if bad:
        raise FitError(
            f"{bad} {what} are not non-negative integers; the poisson family models counts"
        )


@register
class Poisson(Family):
    """Poisson components. Parameter: ``lam`` of shape (S, K, 1)."""

    name = "poisson"
    remedies = ()  # a rate has no floor: its components only lose their weight
    standardize = False
    log_params = frozenset({"lam"})
    request_model = PoissonFitRequest
    start_model = PoissonStart
    params_model = PoissonParams
    support = (0.0, np.inf)
    discrete = True

    def __init__(self, request: Any, d: int) -> None:
        if d != 1:
            raise FitError(f"poisson mixtures are univariate; the data have {d} columns")
        super().__init__(request, d)

    def prepare(self, X: np.ndarray) -> tuple[np.ndarray, int]:
        check_counts(X, "point(s)")
        return X, 0

    def validate_points(self, X: np.ndarray, n_train: float) -> np.ndarray:
        check_counts(X, "point(s) to score")
        return X

    # -- engine interface ------------------------------------------------------------------------
    def statistics(self, Z: np.ndarray) -> np.ndarray:
        return Z[:, :1].copy()

    def base_measure(self, Z: np.ndarray) -> np.ndarray:
        return -gammaln(Z[:, 0] + 1.0)

    def natural(self, params: ParamArrays) -> tuple[np.ndarray, np.ndarray]:
        lam = params["lam"]
        return np.log(lam), lam[..., 0]

    def maximize(
        self, stats: np.ndarray, previous: Any, floor: float, reevaluate: Any = None
    ) -> tuple[ParamArrays, Events]:
        counts = np.maximum(stats[..., 0], 1e-300)
        return {"lam": np.maximum(stats[..., 1] / counts, RATE_MIN)[..., None]}, []

    def initial(
        self, Z: np.ndarray, w: np.ndarray | None, resp: np.ndarray, floor: float
    ) -> ParamArrays:
        sums = resp_sums(Z[:, :1], w, resp)
        return self.maximize(sums, None, floor)[0]

    def random_params(
        self, rng: np.random.Generator, c: int, k: int, Z: np.ndarray, w: np.ndarray | None
    ) -> tuple[ParamArrays, np.ndarray]:
        """Rates log-uniform between a tenth of the smallest count (at least 0.05) and the
        largest count, flat-Dirichlet weights."""
        lo = max(0.05, 0.1 * float(Z.min()))
        hi = max(float(Z.max()), 2.0 * lo)
        lam = np.exp(rng.uniform(np.log(lo), np.log(hi), (c, k)))
        return {"lam": lam[..., None]}, np.log(rng.dirichlet(np.ones(k), size=c))

    def n_params(self, k: int) -> int:
        return 2 * k - 1

    # -- JSON --------------------------------------------------------------------------------------
    def to_json(self, params: ParamArrays, weights: np.ndarray, scaling: Any) -> PoissonParams:
        return PoissonParams(weights=weights.tolist(), lambdas=params["lam"][:, 0].tolist())

    def from_json(self, params: Any, scaling: Any) -> tuple[ParamArrays, np.ndarray]:
        lam = np.asarray(params.lambdas, dtype=float)
        return {"lam": lam[None, :, None]}, np.asarray(params.weights, float)

    def draw(self, params: Any, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Counts from numpy's sampler up to ``NORMAL_RATE``, above it N(lambda, lambda)
        rounded: numpy refuses rates past about 9.2e18 ("lam value too large"), yet counts to
        ``MAX_ABS`` are data and their fits' rates are that large."""
        lam = np.asarray(params.lambdas, dtype=float)[labels]
        big = lam > NORMAL_RATE
        out = np.empty(lam.shape)
        out[~big] = rng.poisson(lam[~big])
        out[big] = np.round(lam[big] + np.sqrt(lam[big]) * rng.standard_normal(int(big.sum())))
        return np.maximum(out, 0.0)[:, None]

    def log_pdf(self, params: Any, X: np.ndarray) -> np.ndarray:
        lam = np.asarray(params.lambdas, dtype=float)[:, None]
        x = X[:, 0][None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x == 0, 0.0, x * np.log(lam)) - lam - gammaln(x + 1.0)

    def columns(self, params: Any) -> dict[str, list[float]]:
        return {"lambda": list(params.lambdas)}

    def moments(self, params: Any) -> tuple[np.ndarray, np.ndarray]:
        lam = np.asarray(params.lambdas, dtype=float)
        return lam, np.sqrt(lam)
