"""The one request/result schema, shared by the core, the REST service, the client and the CLI.

Every model forbids unknown fields and non-finite floats, so a request that validates here is a
request the core can run. Names follow one ladder: ``FitRequest`` -> ``FitResult`` (whose
``model`` is a ``Model``), ``ScoreRequest`` -> ``ScoreResult``.

Caps (documented in the README, enforced here so every face of mixfit shares them):
``MAX_K`` components, ``MAX_STARTS`` starts, ``MAX_ITER`` iterations, ``MAX_DIM`` dimensions and
``MAX_ABS`` for the magnitude of any data value.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    Tag,
    field_validator,
    model_validator,
)

MAX_K = 20
MAX_STARTS = 200
MAX_ITER = 10_000
MAX_DIM = 16
MAX_ABS = 1e150

Family = Literal["gaussian", "beta"]
CovarianceType = Literal["full", "diag", "spherical", "tied"]
BoundaryPolicy = Literal["reject", "squeeze", "clip"]
InitMethod = Literal[
    "auto", "kmeans++", "kmeans", "hc", "random", "partition", "dirichlet", "params", "quantile"
]
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
Criterion = Literal["bic", "aic", "icl"]
TolType = Literal["absolute", "relative", "per_sample"]

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]
ComponentCount = Annotated[int, Field(ge=1, le=MAX_K)]
Vector = list[float]
Matrix = list[list[float]]


def _shape_tag(value: Any) -> str:
    """Points are rows (d-dim) when the first entry is a list, else numbers (1-D). Deciding
    up front keeps errors to one shape: a NaN among a million numbers is one error, not a
    million "not a list" errors from the other member of a union."""
    if isinstance(value, list | tuple) and value and isinstance(value[0], list | tuple):
        return "rows"
    return "numbers"


POINT_TAGS = ("numbers", "rows")  # the tags above, as they appear in validation error locations


def check_points(data: list, weights: list | None) -> None:
    """The shape rules of every model that carries points: not empty, rows of one non-zero
    length, one weight per point. Raises ``ValueError`` (a validation error in a model)."""
    if len(data) == 0:
        raise ValueError("data is empty")
    if isinstance(data[0], list):
        d = len(data[0])
        if d == 0 or any(len(row) != d for row in data):
            raise ValueError("data rows must all have the same, non-zero length")
    if weights is not None and len(weights) != len(data):
        raise ValueError(f"weights has {len(weights)} entries but data has {len(data)} points")


Points = Annotated[
    Annotated[Vector, Tag("numbers")] | Annotated[Matrix, Tag("rows")],
    Discriminator(_shape_tag),
]


class Schema(BaseModel):
    """Base of every mixfit model: unknown fields and NaN/Infinity are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _check_weights(weights: list[float]) -> list[float]:
    total = sum(weights)
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"start weights must sum to 1 (they sum to {total:.6g})")
    return weights


class KRange(Schema):
    """An inclusive range of component counts."""

    min: ComponentCount
    max: ComponentCount

    @model_validator(mode="after")
    def _ordered(self) -> KRange:
        if self.min > self.max:
            raise ValueError(f"k.min ({self.min}) must not exceed k.max ({self.max})")
        return self


KSpec = (
    ComponentCount | Annotated[list[ComponentCount], Field(min_length=1, max_length=MAX_K)] | KRange
)


class GaussianStart(Schema):
    """Explicit start values for a Gaussian mixture (one start, K = len(weights)).

    1-D: ``means`` and ``sds`` (standard deviations, normalmixEM's ``sigma``; one value means equal
    variances). d-dim: ``means`` as K rows of d and ``covariances`` as K d-by-d matrices.
    """

    weights: Annotated[list[Probability], Field(min_length=1, max_length=MAX_K)]
    means: Vector | Matrix
    sds: list[PositiveFloat] | None = None
    covariances: list[Matrix] | None = None

    _weights_sum = field_validator("weights")(_check_weights)

    @model_validator(mode="after")
    def _consistent(self) -> GaussianStart:
        k = len(self.weights)
        if len(self.means) != k:
            raise ValueError(f"means has {len(self.means)} entries but weights has {k}")
        one_d = all(isinstance(m, float | int) for m in self.means)
        if one_d:
            if self.sds is None or self.covariances is not None:
                raise ValueError(
                    "1-D start values need 'sds' (standard deviations), not 'covariances'"
                )
            if len(self.sds) not in (1, k):
                raise ValueError(f"sds needs 1 or {k} values, got {len(self.sds)}")
        else:
            if self.covariances is None or self.sds is not None:
                raise ValueError("d-dimensional start values need 'covariances', not 'sds'")
            d = len(self.means[0])
            if any(len(row) != d for row in self.means):
                raise ValueError("every start mean must have the same dimension")
            if len(self.covariances) != k or any(
                len(c) != d or any(len(r) != d for r in c) for c in self.covariances
            ):
                raise ValueError(f"covariances must be {k} matrices of shape {d}x{d}")
        return self


class BetaStart(Schema):
    """Explicit start values for a beta mixture (one start, K = len(weights))."""

    weights: Annotated[list[Probability], Field(min_length=1, max_length=MAX_K)]
    alphas: list[PositiveFloat]
    betas: list[PositiveFloat]

    _weights_sum = field_validator("weights")(_check_weights)

    @model_validator(mode="after")
    def _consistent(self) -> BetaStart:
        k = len(self.weights)
        if len(self.alphas) != k or len(self.betas) != k:
            raise ValueError(f"alphas and betas need {k} values each, like weights")
        return self


class FitOptions(Schema):
    """Options shared by every family; ``data``, ``weights`` or ``dataset_id`` carry the data."""

    data: Points | None = Field(
        None, description="Inline data: a list of numbers (1-D) or a list of rows (d-dim)."
    )
    weights: list[NonNegativeFloat] | None = Field(
        None, description="Optional per-point weights (counts) for binned or deduplicated data."
    )
    dataset_id: Annotated[str, Field(pattern=r"^[0-9a-f]{16,64}$")] | None = Field(
        None, description="An uploaded dataset to fit instead of inline data (REST only)."
    )
    k: KSpec = Field(
        default_factory=lambda: KRange(min=1, max=5),
        description="Component counts to fit: an int, a list, or {min, max}. Default 1..5.",
    )
    n_starts: Annotated[int, Field(ge=1, le=MAX_STARTS)] | None = Field(
        None, description="Starts per K. Default 10 (1 with explicit start values)."
    )
    tol: Annotated[float, Field(gt=0.0, le=1e6)] = Field(
        1e-8, description="Stop when the log-likelihood gain of an iteration is at most this."
    )
    tol_type: TolType = Field(
        "relative",
        description="absolute: gain <= tol (normalmixEM's epsilon); relative: gain <= tol*|LL|; "
        "per_sample: gain <= tol*n (scikit-learn's tol).",
    )
    max_iter: Annotated[int, Field(ge=1, le=MAX_ITER)] = 1000
    criterion: Criterion = Field("bic", description="How K is selected (lower is better).")
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = Field(
        None, description="Seed for every start's own recorded seed; None draws one and records it."
    )
    keep_path: bool = Field(False, description="Return the best start's parameters per iteration.")
    var_floor: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        1e-6, description="Variance floor relative to the data's variance."
    )
    screen_factor: Annotated[int, Field(ge=1, le=100)] = Field(
        30,
        description="Short-EM screening (emEM): draw screen_factor x n_starts candidate starts "
        "(at most 5 (K - 1)^2 x n_starts), "
        "run rounds of screen_iter EM iterations on at most 4,000 points, halving the "
        "candidates after each round, and continue the best n_starts. 1 turns screening off.",
    )
    screen_iter: Annotated[int, Field(ge=0, le=200)] | None = Field(
        None,
        description="EM iterations per screening round (successive halving: every round halves "
        "the candidates). None: as many as a fixed budget affords, 3 to 30.",
    )
    accelerate: bool = Field(
        True,
        description="SQUAREM acceleration of EM (Varadhan & Roland 2008); false gives plain EM "
        "(normalmixEM's exact iterates with variance_update='normalmixem').",
    )
    init: Any = "auto"  # each family narrows this

    @model_validator(mode="after")
    def _data_shape(self) -> FitOptions:
        if self.data is not None:
            check_points(self.data, self.weights)
            if self.dataset_id is not None:
                raise ValueError("give either inline data or a dataset_id, not both")
        return self

    @property
    def explicit_start(self) -> GaussianStart | BetaStart | None:
        """The explicit start values, if ``init`` holds them."""
        return self.init if isinstance(self.init, GaussianStart | BetaStart) else None

    def k_values(self) -> list[int]:
        """The sorted, distinct component counts this request fits."""
        if self.explicit_start is not None:
            return [len(self.explicit_start.weights)]
        return self._requested_k()

    def starts_per_k(self) -> int:
        """How many starts each K gets."""
        return 1 if self.explicit_start is not None else (self.n_starts or 10)

    def _requested_k(self) -> list[int]:
        if isinstance(self.k, int):
            return [self.k]
        if isinstance(self.k, KRange):
            return list(range(self.k.min, self.k.max + 1))
        return sorted(set(self.k))

    @model_validator(mode="after")
    def _check_explicit(self) -> FitOptions:
        """Explicit start values define K and one start (every family's request)."""
        start = self.explicit_start
        if start is None:
            return self
        if self.n_starts not in (None, 1):
            raise ValueError(
                "explicit start values define exactly one start; drop n_starts or set it to 1"
            )
        k = len(start.weights)
        if "k" in self.model_fields_set and self._requested_k() != [k]:
            raise ValueError(f"k must be {k} (or omitted) with these start values")
        return self


class GaussianFitRequest(FitOptions):
    """Fit a Gaussian mixture. In 1-D, ``tied`` means equal variances (mclust E); the other
    covariance types all mean free variances (mclust V)."""

    family: Literal["gaussian"] = "gaussian"
    covariance: CovarianceType = "full"
    variance_update: Literal["exact", "normalmixem"] = Field(
        "exact",
        description="exact: the M-step's variances use the new means. normalmixem: use the "
        "previous iteration's means, as mixtools::normalmixEM does (an ECM-like variant), to "
        "reproduce its iterates from the same start.",
    )
    init: InitMethod | Annotated[list[InitMethod], Field(min_length=1)] | GaussianStart = Field(
        "auto",
        description="auto (the family's start portfolio, recorded per start), one start "
        "method, a list of methods cycled over the candidates, or explicit start values.",
    )

    @model_validator(mode="after")
    def _plain_for_normalmixem(self) -> GaussianFitRequest:
        """normalmixEM's iterates are plain EM's: unless asked otherwise, no acceleration."""
        if self.variance_update == "normalmixem" and "accelerate" not in self.model_fields_set:
            self.accelerate = False
        return self


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
        description="auto (the family's start portfolio, recorded per start), one start "
        "method, a list of methods cycled over the candidates, or explicit start values.",
    )


def _family_tag(value: Any) -> str:
    if isinstance(value, dict):
        return value.get("family", "gaussian")
    return getattr(value, "family", "gaussian")


FitRequestUnion = Annotated[
    Annotated[GaussianFitRequest, Tag("gaussian")] | Annotated[BetaFitRequest, Tag("beta")],
    Discriminator(
        _family_tag,
        custom_error_type="unknown_family",
        custom_error_message="family must be 'gaussian' or 'beta'",
    ),
]


class FitRequest(RootModel[FitRequestUnion]):
    """A fit request: one member per family, chosen by ``family`` (default ``gaussian``)."""


# ---------------------------------------------------------------------------------------------
# Results


class Event(Schema):
    """Something that happened to one start during EM."""

    iteration: int
    kind: Literal[
        "variance_floor", "precision_cap", "weight_collapse", "degenerate", "restart", "ll_decrease"
    ]
    component: int | None = None
    detail: str


class GaussianParams(Schema):
    """Gaussian mixture parameters. 1-D: ``sds`` are standard deviations; d-dim: ``covariances``
    are full K x d x d matrices whatever the covariance type."""

    weights: Vector
    means: Vector | Matrix
    sds: Vector | None = None
    covariances: list[Matrix] | None = None


class BetaParams(Schema):
    """Beta mixture parameters: component k has density x^(a-1) (1-x)^(b-1) / B(a, b)."""

    weights: Vector
    alphas: Vector
    betas: Vector


Params = GaussianParams | BetaParams


class StartSummary(Schema):
    """One start of one K: how it began, how it ended, and its log-likelihood per iteration."""

    start: int
    seed: int
    init: str = Field(description="The start's method (auto's portfolio, split or explicit).")
    candidate: int | None = Field(
        None, description="Its index among the screened candidates (None: not screened)."
    )
    screen_loglik: float | None = Field(
        None, description="Its log-likelihood on the screening sample after screening."
    )
    status: Literal["converged", "max_iter", "degenerate"]
    degenerate_reason: Literal["floor", "weight"] | None = Field(
        None,
        description="floor: a variance (beta: precision) held at the floor; weight: a "
        "component kept less than one point's worth of weight.",
    )
    loglik: float | None
    n_iter: int
    evaluations: int = Field(
        0,
        description="E-steps spent on the start (each EM iteration is one; SQUAREM's "
        "cycles take three, a rejected extrapolation included).",
    )
    accelerated: int = Field(0, description="SQUAREM extrapolations accepted.")
    restarts: int
    trace: Vector = Field(description="Log-likelihood at the start values and after each M-step.")
    events: list[Event]


class ScreeningSummary(Schema):
    """How one K's starts were chosen (emEM)."""

    candidates: int = Field(description="Candidate starts drawn.")
    iterations: int = Field(description="EM iterations each candidate ran before the choice.")
    points: int = Field(description="Points the candidates were screened on.")
    degenerate: int = Field(description="Candidates that degenerated during screening.")


class KResult(Schema):
    """Everything fitted for one K. Information criteria: lower is better."""

    k: int
    status: Literal["ok", "failed"]
    message: str | None = None
    loglik: float | None = None
    n_params: int
    bic: float | None = Field(None, description="-2 LL + p ln n (lower is better).")
    aic: float | None = Field(None, description="-2 LL + 2 p (lower is better).")
    icl: float | None = Field(
        None, description="BIC + 2 x classification entropy (lower is better)."
    )
    converged: bool = False
    n_iter: int = 0
    best_start: int | None = None
    params: Params | None = None
    points: Vector | None = Field(
        None, description="Points' worth of weight per component: n x weight."
    )
    small_components: list[int] = Field(
        default_factory=list,
        description="Components with fewer points' worth of weight than the parameters they "
        "hold on their own: well defined, but resting on little data.",
    )
    screening: ScreeningSummary | None = None
    starts: list[StartSummary]
    path: list[Params] | None = Field(
        None, description="Best start's parameters at each iteration (keep_path only)."
    )


class ReferenceDensity(Schema):
    """The training log-densities' distribution, for p-values: ECDF points (value, probability).

    ``exact`` means every training point is represented (weighted ECDF); otherwise quantiles."""

    values: Vector
    probs: Vector
    exact: bool


class Model(Schema):
    """A fitted mixture: what scoring needs."""

    family: Family
    k: int
    d: int
    covariance: CovarianceType | None = None
    boundary: BoundaryPolicy | None = None
    n_train: float = Field(description="Training sample size (sum of weights).")
    params: Params
    reference: ReferenceDensity


class FitResult(Schema):
    """The result of a fit: per-K results, the selection, and the selected model."""

    family: Family
    criterion: Criterion
    k_selected: int
    n: int
    d: int
    n_effective: float = Field(description="Sum of point weights (n when unweighted).")
    boundary_moved: int = Field(0, description="Points moved off 0/1 by squeeze or clip.")
    results: list[KResult]
    model: Model
    seed: int
    data_hash: str
    versions: dict[str, str]
    options: dict[str, Any] = Field(description="The validated request, without the data.")

    def _repr_html_(self) -> str:
        """Jupyter's summary: the K table, the selected parameters, the density as SVG."""
        from .display import result_html

        return result_html(self)

    def plot(self, x: Any = None, weights: Any = None, *, pairs: bool = False) -> Any:
        """A matplotlib ``Figure`` of the data (optional) and fitted density, every start's
        trace of the selected K and the criteria against K; see ``mixfit.display.figure``.
        Needs the ``plot`` extra: ``pip install 'mixfit[plot]'``."""
        from .display import figure

        return figure(self, x, weights, pairs=pairs)


class ScoreRequest(Schema):
    """Points to score against a fitted model."""

    points: Annotated[Points, Field(min_length=1)]
    alpha: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.01
    responsibilities: bool = False


class ScoreResult(Schema):
    """Per point: log-density, most responsible component, p-value and anomaly flag.

    ``p_value`` is the share of training points whose log-density is at or below the point's;
    ``is_anomaly`` is ``p_value < alpha``. Log-densities are clipped at -1e300."""

    log_density: Vector
    component: list[int]
    p_value: Vector
    is_anomaly: list[bool]
    alpha: float
    n_anomalies: int
    responsibilities: list[Vector] | None = None
