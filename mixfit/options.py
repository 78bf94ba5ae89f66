"""The family-independent half of the schema: caps, shared types, the options every fit request
shares, and the result models that do not name a family's parameters.

Every model forbids unknown fields and non-finite floats, so a request that validates here is a
request the core can run. Each family module (``mixfit.families``) defines its own request,
start-value and parameter models on top of these; ``mixfit.schema`` joins them into the unions.

Caps (documented in the README, enforced here so every face of mixfit shares them):
``MAX_K`` components, ``MAX_STARTS`` starts, ``MAX_ITER`` iterations, ``MAX_DIM`` dimensions,
``MAX_ABS`` for the magnitude of any data value, ``MAX_PATH_VALUES`` and ``MAX_PATH_KEPT`` for
what ``keep_path`` may return and keep and ``MAX_HELD_VALUES`` for the parameters a fit holds at
once (checked with the data, ``mixfit.fit.check``: they depend on d), and ``MAX_SCORE_POINTS``
for the points of one ``ScoreRequest``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

MAX_K = 20
MAX_STARTS = 200
MAX_ITER = 10_000
# 64 takes scikit-learn's digits (8x8 images) and breast-cancer (30) data; a full covariance
# costs d^2 per point and component and d^3 per component and iteration, so time, not the
# maths, sets the cap (digits, d=64, n=1797, K=5 full: about 12 s on 2 cores).
MAX_DIM = 64
MAX_ABS = 1e150
# keep_path returns the best start's parameters at every iteration of every K: (max_iter + 1) x
# (free parameters summed over the Ks) may be at most MAX_PATH_VALUES, about 40 MB of JSON at
# most (a full covariance is returned whole, about twice its free parameters). Until the best
# start is known every start's path is kept: n_starts x that, at most MAX_PATH_KEPT (80 MB of
# float64, twice that for full covariances). Uncapped, d = 64, K = 10, tol 5e-324 made a 235 MB
# result that took 46 s to GET. The page's default (1-D, K 1..4, 10 starts, 1,000 iterations,
# Student t's 4K - 1 parameters) returns 36,036 values and keeps 360,360; the library's Student
# t default (K 1..5, 5,000 iterations) keeps 2.75 million.
MAX_PATH_VALUES = 1_000_000
MAX_PATH_KEPT = 10_000_000
# Points one scoring request may carry: the service scores on an API thread while the client
# waits. 1.5M 1-D points with responsibilities (K = 5) held a thread for 33 s and answered 183 MB;
# 100,000 take about 1 s (1-D, K = 5, responsibilities: 16 MB out), and the worst the body limit
# lets through (d = 64, full, K = 20: about 50,000 points) 2.2 s.
MAX_SCORE_POINTS = 100_000
# Parameter values one K may hold at once: the most starts it batches (screening candidates,
# starts or split-and-merge moves) times its free parameters (mixfit.fit.check_held_size). A
# held value costs about 100 bytes in all (factors, statistics, M-step temporaries): 8 million
# keep a fit near 1 GB. Only extreme requests reach it (d = 64, full, K = 20: n_starts <= 35;
# the defaults there hold 2.3 million).
MAX_HELD_VALUES = 8_000_000
# Data must differ by at least this much somewhere (their largest range over the columns):
# squares of smaller differences, as variances in the data's units, fall out of float64's
# normal range as squares of values beyond MAX_ABS overflow (points 5e-324 and 0 made EM divide
# by a variance of zero).
MIN_SPREAD = 1e-150

CovarianceType = Literal["full", "diag", "spherical", "tied"]
BoundaryPolicy = Literal["reject", "squeeze", "clip"]
InitMethod = Literal[
    "auto", "kmeans++", "kmeans", "hc", "random", "partition", "dirichlet", "params", "quantile"
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


class StartValues(Schema):
    """Base of every family's explicit start values: one start, K = len(weights). The fields
    named in ``per_component`` must hold one value per component."""

    per_component: ClassVar[tuple[str, ...]] = ()

    weights: Annotated[list[Probability], Field(min_length=1, max_length=MAX_K)]

    _weights_sum = field_validator("weights")(_check_weights)

    @model_validator(mode="after")
    def _one_per_component(self) -> StartValues:
        k = len(self.weights)
        if any(len(getattr(self, name)) != k for name in self.per_component):
            names = " and ".join(self.per_component)
            raise ValueError(f"{names} need {k} values each, like weights")
        return self


INIT_DESCRIPTION = (
    "auto (the family's start portfolio, recorded per start), one start method, a list of "
    "methods cycled over the candidates (auto stands alone, never in a list), or explicit "
    "start values."
)


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
        description="Component counts to fit: an int, a list, or {min, max}. Default 1..5, "
        "cut to 1..m where the data hold only m < 5 points or distinct values.",
    )
    n_starts: Annotated[int, Field(ge=1, le=MAX_STARTS)] | None = Field(
        None, description="Starts per K. Default 10 (1 with explicit start values)."
    )
    tol: Annotated[float, Field(gt=0.0, le=1e6)] = Field(
        1e-8, description="Stop when the log-likelihood gain of an iteration is at most this."
    )
    tol_type: TolType = Field(
        "relative",
        description="absolute: gain <= tol (normalmixEM's epsilon); relative: gain <= "
        "tol*max(|LL0|, n), LL0 the log-likelihood of the data in units of each column's "
        "standard deviation (the same whatever the data's units); per_sample: gain <= tol*n "
        "(scikit-learn's tol).",
    )
    max_iter: Annotated[int, Field(ge=1, le=MAX_ITER)] = Field(
        1000,
        description="Most EM iterations of one run of a start (E-steps with SQUAREM, three to a "
        "cycle); a restart after a degenerate run is a new run.",
    )
    criterion: Criterion = Field("bic", description="How K is selected (lower is better).")
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = Field(
        None, description="Seed for every start's own recorded seed; None draws one and records it."
    )
    keep_path: bool = Field(
        False,
        description="Return the best start's parameters per iteration. (max_iter + 1) x the "
        f"free parameters summed over the Ks may be at most {MAX_PATH_VALUES:,}, and n_starts "
        f"times that at most {MAX_PATH_KEPT:,} (a 422 names the counts).",
    )
    var_floor: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        1e-6,
        description="Variance floor relative to the data's variance (in d > 1 each column's); a "
        "family whose floor is a variance takes the smallest of the variance, the robust "
        "variance (1.4826 MAD)^2 and 100 times the local variance (the spread of the tightest "
        "clusters, so that clusters far apart keep a floor of their own scale). A full or "
        "tied covariance may go below it along a direction where the data are as thin, and "
        "a Gaussian or t component where at least 10 distinct points lie within 3 of its sds "
        "(in d > 1, standing apart from the rest).",
    )
    screen_factor: Annotated[int, Field(ge=1, le=100)] = Field(
        30,
        description="Short-EM screening (emEM): draw screen_factor x n_starts candidate starts "
        "(at most 5 (K - 1)^2 x n_starts, and in d > 1 a twentieth more; K = 2 as "
        "K = 3 on at most 1,000 points in d > 1 "
        "or beta), run rounds of screen_iter EM iterations on at most 4,000 points, halving the "
        "candidates after each round, and continue the best n_starts. 1 turns screening off.",
    )
    screen_iter: Annotated[int, Field(ge=0, le=200)] | None = Field(
        None,
        description="EM iterations of the first screening round (successive halving: every "
        "round halves the candidates and doubles the iterations). None: as many as a fixed "
        "budget affords, 3 to 10.",
    )
    split_merge: Annotated[int, Field(ge=0, le=100)] | None = Field(
        None,
        description="Split-and-merge moves (SMEM, Ueda et al. 2000) tried from each K's best fit "
        "(K >= 3): merge the two most overlapping components, split the worst-fitting one, run "
        "EM; kept when better, repeated up to 3 rounds. None: K (K - 1), at least 10 and at "
        "most 100 (two per pair of components). 0 turns them off.",
    )
    accelerate: bool = Field(
        True,
        description="SQUAREM acceleration of EM (Varadhan & Roland 2008); false gives plain EM "
        "(normalmixEM's exact iterates with variance_update='normalmixem').",
    )
    polish: bool = Field(
        True,
        description="Run each K's winner on from where tol stopped it to 1e-3 of tol, within "
        "what is left of its max_iter (relative tolerances; not with explicit start values or "
        "keep_path): where EM creeps, gains below tol add up. false: stop where tol says "
        "(another program's stopping point reproduced).",
    )
    init: Any = "auto"  # each family narrows this

    @model_validator(mode="after")
    def _data_shape(self) -> FitOptions:
        if self.data is not None:
            check_points(self.data, self.weights)
            if self.dataset_id is not None:
                raise ValueError("give either inline data or a dataset_id, not both")
        elif self.dataset_id is not None and self.weights is not None:
            raise ValueError(
                "an uploaded dataset carries its own weights: upload them with the data "
                "(or send the data inline with 'weights')"
            )
        return self

    @property
    def explicit_start(self) -> StartValues | None:
        """The explicit start values, if ``init`` holds them."""
        return self.init if isinstance(self.init, StartValues) else None

    def k_values(self) -> list[int]:
        """The sorted, distinct component counts this request fits."""
        if self.explicit_start is not None:
            return [len(self.explicit_start.weights)]
        return self._requested_k()

    def starts_per_k(self) -> int:
        """How many starts each K gets."""
        return 1 if self.explicit_start is not None else (self.n_starts or 10)

    def gain_threshold(self, ll: Any, n_eff: float) -> Any:
        """The log-likelihood gain at or below which EM has converged (``tol`` read as
        ``tol_type`` says), for log-likelihoods ``ll`` (a float or an array) of data with
        ``n_eff`` points' worth of weight, measured in units of each column's standard
        deviation (``mixfit.em.Problem.gain_threshold`` converts).

        Relative to that log-likelihood, not to the one in the data's units: the latter moves
        by n log(a) when the data are multiplied by a, and so did where EM stopped (R's quakes
        magnitudes, Gaussian K = 4 from one start: after 146 iterations in magnitudes, after
        76 in thousandths, 0.014 lower). Never below ``tol * n``: a log-likelihood near 0
        would leave no gain small enough (there Gamma EM ran to ``max_iter``)."""
        if self.tol_type == "absolute":
            return self.tol
        if self.tol_type == "relative":
            return self.tol * np.maximum(np.abs(ll), n_eff)
        return self.tol * n_eff

    def _requested_k(self) -> list[int]:
        if isinstance(self.k, int):
            return [self.k]
        if isinstance(self.k, KRange):
            return list(range(self.k.min, self.k.max + 1))
        return sorted(set(self.k))

    @model_validator(mode="after")
    def _auto_alone(self) -> FitOptions:
        """``auto`` is the family's whole portfolio, not one method a list can cycle."""
        if isinstance(self.init, list) and "auto" in self.init:
            raise ValueError(
                "init 'auto' stands alone (it is the family's whole start portfolio): give "
                "init 'auto', or list the methods to cycle without it"
            )
        return self

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


def family_tag(value: Any) -> str:
    """The ``family`` of a request (a dict or a model); ``gaussian`` when it names none."""
    if isinstance(value, dict):
        return value.get("family", "gaussian")
    return getattr(value, "family", "gaussian")


# ---------------------------------------------------------------------------------------------
# Results that name no family's parameters


class Event(Schema):
    """Something that happened to one start during EM."""

    iteration: int
    kind: Literal[
        "variance_floor",
        "precision_cap",
        "weight_collapse",
        "degenerate",
        "restart",
        "ll_decrease",
        "quasi_newton",
    ]
    component: int | None = None
    detail: str


class StartSummary(Schema):
    """One start of one K: how it began, how it ended, and its log-likelihood per iteration."""

    start: int
    seed: int
    init: str = Field(
        description="The start's method: one of auto's portfolio, 'split' (K-1's widest "
        "component split), 'explicit', 'params (rescue)' (a failed K's rescue draws), "
        "'smem (...)' (a split-and-merge move), 'grow (...)' (K-1's fit and one more "
        "component), 'birth' (K = 2 under auto: a tight cluster of points apart) or "
        "'<family> fit' (the fit of the same K under a nested family: the Student t's "
        "Gaussian one, every nu at its bound)."
    )
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
        "component kept less than one point's worth of weight (a tied Gaussian's: 1e-12 "
        "points' worth, its weight gone).",
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


class ReferenceDensity(Schema):
    """The training log-densities' distribution, for p-values: ECDF points (value, probability).

    ``exact`` means every training point is represented (weighted ECDF); otherwise quantiles."""

    values: Vector
    probs: Vector
    exact: bool


class ScoreRequest(Schema):
    """Points to score against a fitted model: at most ``MAX_SCORE_POINTS`` a request (the
    service scores synchronously, on an API thread; ``mixfit.score`` in a caller's own process
    takes any number)."""

    points: Annotated[Points, Field(min_length=1, max_length=MAX_SCORE_POINTS)] = Field(
        description=f"Points to score: numbers (1-D) or rows; at most {MAX_SCORE_POINTS:,} "
        "(split more into several requests)."
    )
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


# ---------------------------------------------------------------------------------------------
# Inference: the bootstrap LRT for K and parameter uncertainty (mixfit.bootstrap)


class LRTStep(Schema):
    """One test of K against K+1."""

    k: int = Field(description="The null hypothesis' number of components.")
    loglik: float = Field(description="Log-likelihood of the data's K-component fit.")
    loglik_alternative: float = Field(description="... and of its (K+1)-component fit.")
    statistic: float = Field(description="Observed LRTS = 2 (LL_{K+1} - LL_K), at least 0.")
    p_value: float = Field(description="(1 + #{bootstrap LRTS >= observed}) / (nboot + 1).")
    bootstrap: Vector = Field(description="Every replicate's LRTS (for a histogram).")


class LRTResult(Schema):
    """A sequential parametric bootstrap likelihood-ratio test (mclust's semantics)."""

    nboot: int
    level: float
    seed: int
    steps: list[LRTStep]
    k_selected: int = Field(description="The first K whose test against K+1 was not significant.")
    replicate_starts: Literal["search", "warm"] = Field(
        "search",
        description="What each replicate's K+1 fit started from besides its two warm starts "
        "(the data's K+1 fit, the replicate's K fit with a component split): search, the fit's "
        "own start settings; warm, nothing more (faster; p-values can run small). A family "
        "whose replicates are not batched (the Student t) always uses warm, and says so.",
    )


class ParameterSpread(Schema):
    """One parameter array (shaped like the model's): estimate, standard error, interval."""

    estimate: list[Any]
    se: list[Any]
    lower: list[Any]
    upper: list[Any]


class BootstrapResult(Schema):
    """Parameter uncertainty of a fitted model and how it was obtained."""

    method: Literal["nonparametric", "weighted", "observed_information"]
    nboot: int
    failed: int = Field(description="Replicates whose refit failed (left out).")
    conf_level: float
    seed: int
    parameters: dict[str, ParameterSpread]
