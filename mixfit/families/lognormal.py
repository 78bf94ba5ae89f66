"""Log-normal mixtures of positive values: a Gaussian mixture of ``log x``.

``x`` is log-normal with ``meanlog`` and ``sdlog`` exactly when ``log x`` is normal with that mean
and standard deviation, and the densities differ by the Jacobian ``1 / x``. The family therefore
hands the engine ``log x`` (``transform``, whose Jacobian ``-sum log x`` enters the reported
log-likelihood) and is the 1-D Gaussian family from there on: its exact M-step, floors,
degeneracy rule and starts. Parameters are reported as scipy's ``lognorm(s=sdlog,
scale=exp(meanlog))``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from ..data import Scaling
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
from .base import ParamArrays, check_positive
from .gaussian import LOG_2PI, Gaussian, GaussianParams, GaussianStart


class LognormalStart(StartValues):
    """Explicit start values for a log-normal mixture (one start, K = len(weights))."""

    meanlogs: list[float]
    sdlogs: list[PositiveFloat]

    per_component = ("meanlogs", "sdlogs")


class LognormalFitRequest(FitOptions):
    """Fit a log-normal mixture to positive values (a normal mixture of their logs)."""

    family: Literal["lognormal"]
    init: InitMethod | Annotated[list[InitMethod], Field(min_length=1)] | LognormalStart = Field(
        "auto",
        description=INIT_DESCRIPTION,
    )


class LognormalParams(Schema):
    """Log-normal mixture parameters: log x of component k is normal(meanlog, sdlog)."""

    weights: Vector
    meanlogs: Vector
    sdlogs: Vector


LOG_TINY = float(np.log(np.finfo(float).tiny))
LOG_HUGE = float(np.log(np.finfo(float).max))


@register
class Lognormal(Gaussian):
    """Log-normal components: the 1-D Gaussian family on ``log x``."""

    name = "lognormal"
    remedies = ("a larger var_floor",)  # no covariance option: one column
    request_model = LognormalFitRequest
    start_model = LognormalStart
    params_model = LognormalParams
    support = (0.0, np.inf)
    modelled = "the data's logs"

    def __init__(self, request: Any, d: int) -> None:
        if d != 1:
            raise FitError(f"lognormal mixtures are univariate; the data have {d} columns")
        self.request, self.d = request, 1
        self.dense = self.tied = self.spherical = self.lagged = False
        self._iu = np.triu_indices(1)

    def prepare(self, X: np.ndarray) -> tuple[np.ndarray, int]:
        check_positive(X, self.name, "point(s)")
        return X, 0

    def validate_points(self, X: np.ndarray, n_train: float) -> np.ndarray:
        check_positive(X, self.name, "point(s) to score")
        return X

    def transform(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logs = np.log(X)
        return logs, -logs[:, 0]

    # -- JSON, in data space ------------------------------------------------------------------
    def to_json(self, params: ParamArrays, weights: np.ndarray, scaling: Scaling) -> Any:
        g = super().to_json(params, weights, scaling)
        return LognormalParams(weights=g.weights, meanlogs=g.means, sdlogs=g.sds)

    def from_json(self, params: Any, scaling: Scaling) -> tuple[ParamArrays, np.ndarray]:
        start = GaussianStart.model_construct(
            weights=params.weights, means=params.meanlogs, sds=params.sdlogs
        )
        return super().from_json(start, scaling)

    def _gaussian(self, params: Any) -> GaussianParams:
        return GaussianParams(weights=params.weights, means=params.meanlogs, sds=params.sdlogs)

    def draw(self, params: Any, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # exp of a log past float64's range is inf or 0 (and numpy warns): from the log of the
        # smallest normal float to the log of the largest, ``inside`` then takes the caps
        logs = super().draw(self._gaussian(params), labels, rng)
        return np.exp(np.clip(logs, LOG_TINY, LOG_HUGE))

    def log_pdf(self, params: Any, X: np.ndarray) -> np.ndarray:
        logs = np.log(X[:, 0])
        mu = np.asarray(params.meanlogs, dtype=float)[:, None]
        sd = np.asarray(params.sdlogs, dtype=float)[:, None]
        z = (logs[None, :] - mu) / sd
        return -0.5 * z * z - np.log(sd) - 0.5 * LOG_2PI - logs[None, :]

    def columns(self, params: Any) -> dict[str, list[float]]:
        mu, sd = np.asarray(params.meanlogs, float), np.asarray(params.sdlogs, float)
        return {
            "meanlog": mu.tolist(),
            "sdlog": sd.tolist(),
            "median": np.exp(mu).tolist(),
        }

    def moments(self, params: Any) -> tuple[np.ndarray, np.ndarray]:
        mu, sd = np.asarray(params.meanlogs, float), np.asarray(params.sdlogs, float)
        with np.errstate(over="ignore"):
            mean = np.exp(mu + 0.5 * sd * sd)
            spread = mean * np.sqrt(np.expm1(np.minimum(sd * sd, 700.0)))
        # past float64's range (an sdlog near 40, found by fuzzing an LRT): held at 1e300, so
        # the grid of a plot and the LRT's split start of K + 1 stay finite
        return np.minimum(mean, 1e300), np.minimum(spread, 1e300)
