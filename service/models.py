"""The HTTP-only models: uploads, resource documents, errors, health.

The fit and score payloads themselves are the core's models (``FitRequest``, ``FitResult``,
``Model``, ``ScoreRequest``, ``ScoreResult``); these wrap them in REST documents. Every model here
is also a component schema of openapi.yaml (``python -m service.openapi_gen`` regenerates them).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from fitqueue.jobs import FitProgress, JobError, PartRecord
from mixfit.options import BootstrapResult, LRTResult
from mixfit.schema import (
    MAX_ABS,
    MAX_K,
    FitResult,
    Model,
    NonNegativeFloat,
    Points,
    Schema,
    Vector,
    check_points,
)

HexId = str
FitState = Literal["queued", "started", "finished", "failed", "canceled"]


class Error(Schema):
    """Every error answer: the HTTP status, what to change, and details (validation errors)."""

    code: int = Field(description="The HTTP status code.")
    message: str = Field(description="What went wrong and what to change.")
    detail: Any = Field(
        None,
        description="Validation errors ({errors, error_count}: at most 50 listed, never the "
        "input echoed back) or other structured detail; null when there is none.",
    )


class DatasetUpload(Schema):
    """A dataset as JSON. CSV (``text/csv``) and ``.npy`` (``application/x-npy``) bodies are
    accepted too."""

    data: Points = Field(description="A list of numbers (1-D) or of equally long rows.")
    weights: list[NonNegativeFloat] | None = Field(
        None, description="Optional per-point weights (counts)."
    )

    @model_validator(mode="after")
    def _shape(self) -> DatasetUpload:
        check_points(self.data, self.weights)
        return self


class DatasetSummary(Schema):
    """Per-dimension weighted statistics of a dataset."""

    n_effective: float = Field(description="Sum of the weights (n when unweighted).")
    min: Vector
    max: Vector
    mean: Vector
    sd: Vector


class DatasetLinks(Schema):
    self: str
    fits: str = Field(description="Where to POST a fit of this dataset (with its dataset_id).")


class Dataset(Schema):
    """An uploaded dataset (its data are not echoed back). The id is the data's SHA-256."""

    id: HexId
    n: int
    d: int
    weighted: bool
    summary: DatasetSummary
    created_at: str
    expires_in: int | None = Field(description="Seconds until it expires; null: never.")
    links: DatasetLinks


class FitLinks(Schema):
    self: str
    dataset: str
    model: str | None = Field(description="The selected model, once the fit has finished.")


class FitPart(PartRecord):
    """One RQ job of a fit: which Ks and starts (``[first, last + 1]``) it runs, on which
    worker, for how long (once finished), and how it stands. A small fit is one part; a large
    one fans out into a part per K (or per chunk of starts)."""

    status: FitState


class FitStatus(Schema):
    """A fit: its state, live progress while it runs, the result or the error."""

    id: HexId
    status: FitState
    created_at: str | None
    started_at: str | None
    ended_at: str | None
    dataset_id: HexId
    queue_position: int | None = Field(description="0 = next in line (queued fits only).")
    progress: FitProgress | None
    result: FitResult | None
    model_id: HexId | None
    error: JobError | None
    parts: list[FitPart] = Field(description="The fit's RQ jobs and the workers that ran them.")
    links: FitLinks


class ModelLinks(Schema):
    self: str
    score: str
    fit: str


class ModelInfo(Schema):
    """The selected model of a finished fit, with everything scoring needs."""

    id: HexId
    fit_id: HexId
    created_at: str
    expires_in: int | None = Field(description="Seconds until it expires; null: never.")
    model: Model
    links: ModelLinks


class FamilyOption(Schema):
    """A family-specific option and its allowed values."""

    name: str
    values: list[str]
    default: str
    description: str | None


class FamilyInfo(Schema):
    name: str
    description: str
    options: list[FamilyOption]


class Families(Schema):
    """The registered mixture families (``family`` in a FitRequest)."""

    families: list[FamilyInfo]
    max_abs: float = Field(MAX_ABS, description="Largest magnitude a data value may have.")
    caps: dict[str, int] = Field(
        description="MAX_K, MAX_STARTS, MAX_ITER, MAX_DIM; MAX_PATH_VALUES and MAX_PATH_KEPT "
        "(keep_path: (max_iter + 1) x free parameters over the Ks, and n_starts times that); "
        "MAX_HELD_VALUES (starts one K holds at once x its free parameters); MAX_SCORE_POINTS."
    )


class Health(Schema):
    status: Literal["ok"]


class Ready(Schema):
    status: Literal["ready"]
    redis: Literal["ok"]
    workers: int = Field(
        description="Live RQ workers on the fit queue: a heartbeat in the last 10 seconds."
    )


class FitQuery(Schema):
    """Query parameters of ``GET /v1/fits/{id}``."""

    wait: float = Field(
        0.0,
        ge=0.0,
        le=30.0,
        description="Hold the answer until the fit ends or this many seconds pass (at most 30).",
    )


class LRTRequest(Schema):
    """Body of ``POST /v1/models/{id}/lrt``: the bootstrap likelihood-ratio test of K against
    K+1 for K = ``k_min`` .. ``max_k``, with the fit's own options, on the fit's data."""

    k_min: int = Field(1, ge=1, le=MAX_K - 1, description="The first null K.")
    max_k: int | None = Field(
        None,
        ge=1,
        le=MAX_K - 1,
        description="The last null K (every K up to it is tested against K+1); default the "
        f"model's K, at most {MAX_K - 1}.",
    )
    nboot: int = Field(99, ge=1, le=9999, description="Bootstrap replicates per test.")
    level: float = Field(
        0.05,
        gt=0.0,
        lt=1.0,
        description="Significance level: the first K whose test is not "
        "significant at it is selected.",
    )
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Every replicate's randomness.")
    replicate_starts: Literal["search", "warm"] = Field(
        "search",
        description="What each replicate's K+1 fit starts from besides its two warm starts "
        "(the data's K+1 fit, the replicate's K fit with a component split): search, the "
        "fit's own start settings, screened (calibrated p-values); warm, nothing more (about "
        "mclust's cost; p-values can run small).",
    )


class BootstrapRequest(Schema):
    """Body of ``POST /v1/models/{id}/bootstrap``: standard errors and percentile intervals of
    the model's parameters, refitted on resampled data (or, for ``observed_information``, from
    the 1-D Gaussian's observed information, no refit)."""

    method: Literal["nonparametric", "weighted", "observed_information"] = Field(
        "nonparametric",
        description="nonparametric: resample the points; weighted: Dirichlet point weights "
        "(weighted likelihood bootstrap); observed_information: the 1-D Gaussian family only, "
        "Wald intervals at conf_level; the job fails, recommending the bootstrap, where the fit "
        "is no strict maximum (a component on tied values): no standard error exists there.",
    )
    nboot: int = Field(199, ge=2, le=9999, description="Bootstrap replicates.")
    conf_level: float = Field(0.95, gt=0.0, lt=1.0, description="Of the intervals.")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Every replicate's randomness.")


class ReplicateCount(Schema):
    """Replicates done over all parts, of the total (every step's ``nboot``)."""

    done: int
    total: int


class InferenceLinks(Schema):
    self: str
    model: str = Field(description="The model tested (it may have been deleted since).")


class LRTStatus(Schema):
    """A bootstrap likelihood-ratio test: its state, progress, the result or the error."""

    id: HexId
    model_id: HexId
    status: FitState
    created_at: str | None
    progress: ReplicateCount
    result: LRTResult | None
    error: JobError | None
    links: InferenceLinks


class BootstrapStatus(Schema):
    """A bootstrap of a model's parameters: its state, progress, the result or the error."""

    id: HexId
    model_id: HexId
    status: FitState
    created_at: str | None
    progress: ReplicateCount
    result: BootstrapResult | None
    error: JobError | None
    links: InferenceLinks
