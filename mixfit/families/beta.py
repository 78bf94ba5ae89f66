"""Beta mixtures on (0, 1) with a maximum-likelihood M-step.

The M-step solves the weighted likelihood equations
``psi(a) - psi(a + b) = mean log x`` and ``psi(b) - psi(a + b) = mean log(1 - x)`` by Newton's
method (digamma/trigamma), for every start and component at once, warm-started from the previous
iteration (from the weighted method of moments at the start). The objective is concave, and each
Newton step is halved until it stays positive and does not lower it, so the EM trace cannot fall.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field
from scipy.special import betaln, digamma

from ..errors import FitError
from ..options import (
    INIT_DESCRIPTION,
    BoundaryPolicy,
    FitOptions,
    PositiveFloat,
    Schema,
    StartValues,
    Vector,
)
from ..special import trigamma
from . import register
from .base import Events, Family, ParamArrays, data_rows, resp_sums

CLIP_EPS = 1e-6
NEWTON_STEPS = 2  # per M-step, warm-started from the last iteration: a generalized EM step
# where they do not reach the M-step's maximum (they do within a few EM iterations). Measured on
# make bench's n=200, K=3 beta fit: 8 steps cost 2x; 3 took 126 ms, 2 took 114 ms for 13 % more
# E-steps (which at n=1e6, where E-steps dominate, moved that fit from 1.21 to 1.26 s).
NEWTON_RTOL = 1e-13
ROUNDING = 64 * np.finfo(float).eps  # the objective's rounding, relative to its terms
HALVINGS = 3  # fixed-cost safeguard: a step that lowers the objective is cut to 1/4, 3 times


def _objective(a: np.ndarray, b: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    return (a - 1.0) * s1 + (b - 1.0) * s2 - betaln(a, b)


def newton_beta(
    a: np.ndarray, b: np.ndarray, s1: np.ndarray, s2: np.ndarray, steps: int = NEWTON_STEPS
) -> tuple[np.ndarray, np.ndarray]:
    """Increase ``(a-1) s1 + (b-1) s2 - betaln(a, b)`` elementwise from (a, b), to its maximum
    when the steps suffice.

    The objective is concave (``betaln`` is the log-partition of the beta family), so Newton's
    direction ascends; each step is first shortened so that neither shape falls below half its
    value, and where it still lowers the objective it is cut to a quarter at most ``HALVINGS``
    times, then dropped. The cost is fixed: at most ``steps`` x (1 + ``HALVINGS``)
    vectorized evaluations over every start and component, and the objective never falls, so
    the EM trace cannot either (a generalized EM step when the steps do not reach the maximum;
    warm starts make them reach it within a few EM iterations).

    Parameters
    ----------
    a, b : ndarray of shape (S, K)
        Starting shape parameters (positive).
    s1, s2 : ndarray of shape (S, K)
        Weighted means of log x and log(1 - x).
    steps : int, default NEWTON_STEPS
        Newton steps at most (a cold start needs about 10 to converge).
    """
    a, b = a.copy(), b.copy()
    f = _objective(a, b, s1, s2)
    # The objective is a difference of terms far larger than itself: a fall within their
    # rounding is no fall (near the maximum such falls of ~1e-11 |f| had every call spend its
    # halvings on noise: 10 objective evaluations a call instead of 4).
    linear = np.abs((a - 1.0) * s1) + np.abs((b - 1.0) * s2)
    slack = ROUNDING * (2.0 * linear + np.abs(f))
    x = np.empty((3,) + np.shape(a))  # a, b, a + b: one call per special function
    frozen = None  # the pairs that moved at most NEWTON_RTOL at some step
    for _ in range(steps):
        x[0], x[1] = a, b
        np.add(a, b, out=x[2])
        psi, tri = digamma(x), trigamma(x)
        tri_ab = tri[2]
        g1 = s1 - psi[0] + psi[2]
        g2 = s2 - psi[1] + psi[2]
        h11 = tri[0] - tri_ab  # minus the Hessian: positive definite
        h22 = tri[1] - tri_ab
        det = h11 * h22 - tri_ab * tri_ab
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            da = (h22 * g1 + tri_ab * g2) / det
            db = (h11 * g2 + tri_ab * g1) / det
            # A flat objective (huge a, b: the precision cap's business) takes no step.
            stuck = ~(np.isfinite(da) & np.isfinite(db))
            da, db = np.where(stuck, 0.0, da), np.where(stuck, 0.0, db)
            step = np.minimum(
                1.0,
                np.minimum(
                    np.where(da < 0, -0.5 * a / da, np.inf), np.where(db < 0, -0.5 * b / db, np.inf)
                ),
            )
        for _ in range(HALVINGS + 1):
            na, nb = a + step * da, b + step * db
            nf = _objective(na, nb, s1, s2)
            ok = nf >= f - slack
            if ok.all():
                break
            step = np.where(ok, step, 0.25 * step)
        else:
            step = np.where(ok, step, 0.0)
            na, nb = a + step * da, b + step * db
            nf = np.where(ok, nf, f)
        # A shape pair that has converged stays where it is while others go on, so each
        # pair's steps are its own, whatever pairs share the call (a fanned-out part's fewer
        # starts: ``mixfit.estep.Batch._chunk``).
        if frozen is not None:
            na, nb, nf = np.where(frozen, a, na), np.where(frozen, b, nb), np.where(frozen, f, nf)
        done = (np.abs(na - a) <= NEWTON_RTOL * a) & (np.abs(nb - b) <= NEWTON_RTOL * b)
        a, b, f = na, nb, nf
        # (the array's methods, not np.all / np.any: their dispatch costs more than the test)
        if done.all():
            break
        if done.any():
            frozen = done if frozen is None else frozen | done
    return a, b


BetaInitMethod = Literal[
    "auto",
    "kmeans++",
    "kmeans",
    "hc",
    "random",
    "partition",
    "dirichlet",
    "quantile",
    "moments",
    "params",
]


class BetaStart(StartValues):
    """Explicit start values for a beta mixture (one start, K = len(weights))."""

    alphas: list[PositiveFloat]
    betas: list[PositiveFloat]

    per_component = ("alphas", "betas")


class BetaFitRequest(FitOptions):
    """Fit a beta mixture on (0, 1) with a maximum-likelihood M-step."""

    family: Literal["beta"]
    boundary: BoundaryPolicy = Field(
        "reject",
        description="Points at 0 or 1: reject (error), squeeze ((y(n-1)+0.5)/n, Smithson & "
        "Verkuilen 2006) or clip (to [1e-6, 1-1e-6]).",
    )
    init: BetaInitMethod | Annotated[list[BetaInitMethod], Field(min_length=1)] | BetaStart = Field(
        "auto",
        description=INIT_DESCRIPTION,
    )


class BetaParams(Schema):
    """Beta mixture parameters: component k has density x^(a-1) (1-x)^(b-1) / B(a, b)."""

    weights: Vector
    alphas: Vector
    betas: Vector


@register
class Beta(Family):
    """Beta components. Parameters: ``alpha`` and ``beta``, each of shape (S, K, 1)."""

    name = "beta"
    standardize = False
    floor_phrase = "precision a+b reached its cap (the variance floor)"
    log_params = frozenset({"alpha", "beta"})
    request_model = BetaFitRequest
    start_model = BetaStart
    params_model = BetaParams
    support = (0.0, 1.0)
    portfolio = ("params", "kmeans++", "quantile", "hc", "dirichlet", "kmeans", "moments", "params")
    # a spike on a few close points is a maximum at every K (swiss agriculture K=2, n=47: the
    # brute force's 7.55 needed K = 3's 20 candidates a start; 5 stopped at 7.02)
    rough = True

    def __init__(self, request: Any, d: int) -> None:
        if d != 1:
            raise FitError(f"beta mixtures are univariate; the data have {d} columns")
        super().__init__(request, d)

    def _apply_boundary(
        self, X: np.ndarray, n: float, what: str, remedy: str
    ) -> tuple[np.ndarray, int]:
        x = X[:, 0]
        outside = int(np.count_nonzero((x < 0) | (x > 1)))
        if outside:
            raise FitError(
                f"{outside} {what} lie outside [0, 1]; the beta family's support is (0, 1)"
            )
        at = int(np.count_nonzero((x == 0) | (x == 1)))
        policy = self.request.boundary
        if policy == "squeeze":
            # Smithson & Verkuilen (2006): (y (n - 1) + 0.5) / n, applied to every point.
            return ((x * (n - 1.0) + 0.5) / n)[:, None], at
        if policy == "clip":
            return np.clip(x, CLIP_EPS, 1.0 - CLIP_EPS)[:, None], at
        if at:
            raise FitError(
                f"{at} {what} lie at exactly 0 or 1, outside the beta family's support (0, 1); "
                f"{remedy}"
            )
        return X, 0

    def prepare(self, X: np.ndarray) -> tuple[np.ndarray, int]:
        remedy = "send boundary='squeeze' or boundary='clip' to move them inside"
        return self._apply_boundary(X, float(X.shape[0]), "point(s)", remedy)

    def validate_points(self, X: np.ndarray, n_train: float) -> np.ndarray:
        # a score request has no boundary of its own: the model's fit chose it
        remedy = (
            "the model was fitted with boundary='reject'; a model fitted with "
            "boundary='squeeze' or boundary='clip' moves them inside"
        )
        return self._apply_boundary(X, n_train, "point(s) to score", remedy)[0]

    # -- engine interface ------------------------------------------------------------------------
    def statistics(self, Z: np.ndarray) -> np.ndarray:
        return np.column_stack([np.log(Z[:, 0]), np.log1p(-Z[:, 0])])

    def natural(self, params: ParamArrays) -> tuple[np.ndarray, np.ndarray]:
        a, b = params["alpha"][..., 0], params["beta"][..., 0]
        return np.stack([a - 1.0, b - 1.0], axis=-1), betaln(a, b)

    def valid(self, params: ParamArrays) -> np.ndarray:
        """Finite shapes whose log partition (``betaln``) is finite too. A SQUAREM
        extrapolation of the log shapes can land on shapes like 1e93 and 1e83, finite but past
        where ``betaln`` is: it returns -inf, and the E-step would meet inf - inf (R's quakes
        magnitudes as proportions, K = 4)."""
        ok = super().valid(params)
        a, b = params["alpha"][..., 0], params["beta"][..., 0]
        with np.errstate(all="ignore"):
            return ok & np.isfinite(betaln(a, b)).all(axis=1)

    def _cap(self, a: np.ndarray, b: np.ndarray, floor: float, events: Events) -> tuple:
        """Cap each precision a+b (S, K) so that the component's variance stays at least the
        floor, except where it is a tight cluster of its own (``mixfit.tight``)."""
        mean = a / (a + b)
        cap = np.maximum(mean * (1 - mean) / floor - 1.0, 1.0)
        over = a + b > cap
        if not np.count_nonzero(over):  # the common case: nothing to cap
            return a, b
        var = (mean * (1 - mean) / (a + b + 1.0))[..., None]
        kept = (var < floor) & ~self.below_floor(mean[..., None], var, floor)  # a tight cluster
        over &= ~kept[..., 0]
        for s, k in zip(*np.nonzero(over), strict=True):
            events.append(
                (int(s), int(k), "precision_cap", "precision a+b capped (variance floor)")
            )
        factor = np.where(over, cap / (a + b), 1.0)
        return a * factor, b * factor

    def maximize(
        self, stats: np.ndarray, previous: ParamArrays, floor: float, reevaluate: Any = None
    ) -> tuple[ParamArrays, Events]:
        counts = np.maximum(stats[..., 0], 1e-300)
        s1, s2 = stats[..., 1] / counts, stats[..., 2] / counts
        a, b = newton_beta(previous["alpha"][..., 0], previous["beta"][..., 0], s1, s2)
        events: Events = []
        a, b = self._cap(a, b, floor, events)
        return {"alpha": a[..., None], "beta": b[..., None]}, events

    def initial(
        self, Z: np.ndarray, w: np.ndarray | None, resp: np.ndarray, floor: float
    ) -> ParamArrays:
        """Responsibility-weighted method of moments per component."""
        x = Z[:, 0]
        sums = resp_sums(np.column_stack([x, x * x]), w, resp)
        counts = np.maximum(sums[..., 0], 1e-300)
        mean = np.clip(sums[..., 1] / counts, 1e-6, 1 - 1e-6)
        var = np.maximum(sums[..., 2] / counts - mean * mean, floor)
        common = np.maximum(mean * (1 - mean) / var - 1.0, 1e-2)
        a, b = self._cap(mean * common, (1 - mean) * common, floor, [])
        return {"alpha": a[..., None], "beta": b[..., None]}

    def random_params(
        self, rng: np.random.Generator, c: int, k: int, Z: np.ndarray, w: np.ndarray | None
    ) -> tuple[ParamArrays, np.ndarray]:
        """Half the components with shapes log-uniform on [0.2, 50] (U: both < 1, J: one < 1,
        bells), half centred on a random data point with a precision a+b log-uniform on
        [0.5, 1e5] (from nearly flat to a narrow spike on a few close points: the small sharp
        components that partitions by location and moments rarely reach)."""
        a, b = np.exp(rng.uniform(np.log(0.2), np.log(50.0), (2, c, k)))
        mean = Z[data_rows(rng, Z.shape[0], w, (c, k)), 0]
        precision = np.exp(rng.uniform(np.log(0.5), np.log(1e5), (c, k)))
        spiky = rng.random((c, k)) < 0.5
        a = np.where(spiky, np.maximum(mean * precision, 0.05), a)
        b = np.where(spiky, np.maximum((1.0 - mean) * precision, 0.05), b)
        logw = np.log(rng.dirichlet(np.ones(k), size=c))
        return {"alpha": a[..., None], "beta": b[..., None]}, logw

    def n_params(self, k: int) -> int:
        return 3 * k - 1

    # -- JSON --------------------------------------------------------------------------------------
    def to_json(self, params: ParamArrays, weights: np.ndarray, scaling: Any) -> BetaParams:
        return BetaParams(
            weights=weights.tolist(),
            alphas=params["alpha"][:, 0].tolist(),
            betas=params["beta"][:, 0].tolist(),
        )

    def from_json(self, params: Any, scaling: Any) -> tuple[ParamArrays, np.ndarray]:
        a = np.asarray(params.alphas, dtype=float)
        b = np.asarray(params.betas, dtype=float)
        return {"alpha": a[None, :, None], "beta": b[None, :, None]}, np.asarray(
            params.weights, float
        )

    def draw(self, params: Any, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        a = np.asarray(params.alphas, dtype=float)[labels]
        b = np.asarray(params.betas, dtype=float)[labels]
        return rng.beta(a, b)[:, None]

    def columns(self, params: Any) -> dict[str, list[float]]:
        a, b = np.asarray(params.alphas, float), np.asarray(params.betas, float)
        return {"alpha": a.tolist(), "beta": b.tolist(), "mean": (a / (a + b)).tolist()}

    def moments(self, params: Any) -> tuple[np.ndarray, np.ndarray]:
        a, b = np.asarray(params.alphas, float), np.asarray(params.betas, float)
        return a / (a + b), np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))

    def log_pdf(self, params: Any, X: np.ndarray) -> np.ndarray:
        a = np.asarray(params.alphas, dtype=float)[:, None]
        b = np.asarray(params.betas, dtype=float)[:, None]
        x = X[:, 0][None, :]
        return (a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x) - betaln(a, b)
