"""What a fit's RQ jobs carry: their arguments, their return values and the progress they write
to ``job.meta``, as pydantic models validated where they are written.

The service writes ``FitArgs`` (the job's keyword arguments) and reads the rest; the workers
read ``FitArgs`` and write ``FitOutput``/``PartOutput``/``FinishOutput``, ``FitProgress`` and
``JobError``. Both sides go through these models, so a field renamed on one side fails the
writer's validation, not a reader far away. Everything is plain JSON (RQ's JSON serializer;
never pickle).

``job.meta`` keys: ``progress`` (``FitProgress``; ``ReplicateProgress`` for the parts of an
LRT or a bootstrap), ``error`` (``JobError``: a ``FitError`` recorded before the job fails),
``parts`` (``PartPlan`` list: a fit's planned jobs, set at submission; ``ReplicatePlan`` list for
an LRT or a bootstrap), ``finishes`` (a fanned-out fit's finishing jobs' ids, in increasing K),
``work`` (the job's work estimate, ``job_work``).

The bootstrap LRT (``mixfit.lrt``) runs as a plan job (``LRTPlanArgs``: the data's fits, it returns
the ``LRTPlan`` JSON), part jobs (``LRTPartArgs``: a range of one step's replicates, read from the
plan job's result; they return ``LRTPartOutput``) and a combining job (``LRTCombineArgs``; it
returns ``InferenceOutput``). A bootstrap (``mixfit.inference``) runs as part jobs
(``BootstrapPartArgs`` -> ``BootstrapPartOutput``) and a combining job (``BootstrapCombineArgs``
-> ``InferenceOutput``). The combining job's id is the LRT's or bootstrap's id.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field

from mixfit.schema import Schema


class Contract(Schema):
    """Base of the job models: unknown fields and NaN are errors (a writer's slip fails at once,
    where it is made)."""


class FitArgs(Contract):
    """Keyword arguments of ``worker.jobs.fit`` and ``worker.jobs.reduce``."""

    fit_id: str
    dataset_id: str
    request: dict[str, Any] = Field(
        description="The validated FitRequest as JSON, without data, weights or dataset_id."
    )
    model_ttl: int = 0
    tombstone_ttl: int = 30 * 86400


class ReduceArgs(FitArgs):
    """Keyword arguments of ``worker.jobs.reduce``: ``FitArgs``, the ids of the parts and of
    the finishing jobs (``FinishArgs``; none where the merge finishes every K itself)."""

    parts: list[str]
    finishes: list[str] = []


class FinishArgs(Contract):
    """Keyword arguments of ``worker.jobs.finish``: finish K from its ``parts`` once the
    finishing jobs of the smaller Ks (``before``, in increasing K) have ended."""

    fit_id: str
    dataset_id: str
    request: dict[str, Any]
    k: int
    parts: list[str]
    before: list[str]


class PartArgs(Contract):
    """Keyword arguments of ``worker.jobs.fit_part``: starts ``starts[0] .. starts[1] - 1`` of
    one K."""

    fit_id: str
    dataset_id: str
    request: dict[str, Any]
    k: int
    starts: list[int] = Field(min_length=2, max_length=2)


class KProgress(Contract):
    """Live progress of one K: starts finished, iteration, best log-likelihood so far, and the
    leading start's log-likelihood trace (its last values, from index ``trace_start``)."""

    k: int
    state: Literal["running", "done"]
    starts_done: int
    n_starts: int
    iteration: int
    best_loglik: float | None
    trace: list[float | None]
    trace_start: int


class FitProgress(Contract):
    """Progress of a running fit, written by the worker at most every 200 ms."""

    k_values: list[int]
    per_k: list[KProgress]


class JobError(Contract):
    """Why a fit failed: ``FitError`` messages say what to change; other types are crashes
    (``JobTimeoutException``, a killed worker, a bug)."""

    type: str
    message: str


class PartPlan(Contract):
    """One planned job of a fit (``job.meta["parts"]``)."""

    job_id: str
    k: list[int]
    starts: list[int] = Field(
        min_length=2, max_length=2, description="[first, last + 1]: the range of start indices."
    )


class PartRecord(PartPlan):
    """One job of a finished fit: where it ran and for how long."""

    worker: str | None = Field(description="The RQ worker that ran (or runs) it.")
    seconds: float | None = Field(description="How long it ran, once it has finished.")


class FitOutput(Contract):
    """What ``worker.jobs.fit`` and ``worker.jobs.reduce`` return."""

    model_id: str
    result: dict[str, Any] = Field(description="The FitResult as JSON.")
    parts: list[PartRecord]


class PartOutput(Contract):
    """What ``worker.jobs.fit_part`` returns: its K's result over its starts."""

    k: int
    starts: list[int] = Field(min_length=2, max_length=2)
    worker: str | None
    seconds: float
    result: dict[str, Any] = Field(description="The part's KResult as JSON.")


class FinishOutput(Contract):
    """What ``worker.jobs.finish`` returns: K's finished result, whether the request asked for
    K (else it was fitted for K+1's growth moves only), and every K-1 the fit keeps for
    growth so far (``mixfit.fit.hidden_parent``), as KResult JSON."""

    k: int
    hidden: bool
    result: dict[str, Any]
    kept_parents: list[dict[str, Any]]


class ReplicatePlan(Contract):
    """One planned job of an LRT or a bootstrap (``job.meta["parts"]`` of its combining job):
    replicates ``replicates[0] .. replicates[1] - 1`` of one step (a bootstrap has step 0 only).
    """

    job_id: str
    step: int = Field(ge=0)
    replicates: list[int] = Field(min_length=2, max_length=2)


class ReplicateProgress(Contract):
    """Progress of a part of an LRT or a bootstrap: replicates done of its range."""

    done: int = Field(ge=0)
    total: int = Field(ge=0)


class LRTPlanArgs(Contract):
    """Keyword arguments of ``worker.inference.lrt_plan``: fit the data at K = ``k_min`` ..
    ``max_k`` + 1 (``mixfit.lrt.lrt_plan``)."""

    lrt_id: str
    dataset_id: str
    options: dict[str, Any] = Field(
        description="The fit's options less its K, seed and data (mixfit.replicates.OWN_OPTIONS)."
    )
    k_min: int = Field(ge=1)
    max_k: int = Field(ge=1)
    nboot: int = Field(ge=1)
    level: float = Field(gt=0.0, lt=1.0)
    seed: int = Field(ge=0)
    replicate_starts: Literal["search", "warm"] = "search"


class LRTPartArgs(Contract):
    """Keyword arguments of ``worker.inference.lrt_part``: replicates ``replicates[0] ..
    replicates[1] - 1`` of step ``step``, simulated from the plan job's result."""

    lrt_id: str
    plan_job: str
    step: int = Field(ge=0)
    replicates: list[int] = Field(min_length=2, max_length=2)


class LRTPartOutput(Contract):
    """What ``worker.inference.lrt_part`` returns: its replicates' statistics, in order."""

    step: int
    replicates: list[int] = Field(min_length=2, max_length=2)
    statistics: list[float]
    worker: str | None
    seconds: float


class LRTCombineArgs(Contract):
    """Keyword arguments of ``worker.inference.lrt_combine``: the plan job and every part."""

    lrt_id: str
    plan_job: str
    parts: list[str]


class BootstrapPartArgs(Contract):
    """Keyword arguments of ``worker.inference.bootstrap_part``: refit replicates
    ``replicates[0] .. replicates[1] - 1`` of the data at the model's K."""

    bootstrap_id: str
    dataset_id: str
    model: dict[str, Any] = Field(description="The fitted Model as JSON.")
    options: dict[str, Any] = Field(description="The fit's options (FitResult.options).")
    method: Literal["nonparametric", "weighted"]
    seed: int = Field(ge=0)
    replicates: list[int] = Field(min_length=2, max_length=2)


class BootstrapPartOutput(Contract):
    """What ``worker.inference.bootstrap_part`` returns: its ``BootstrapDraws`` as JSON."""

    replicates: list[int] = Field(min_length=2, max_length=2)
    draws: dict[str, Any]
    worker: str | None
    seconds: float


class BootstrapCombineArgs(Contract):
    """Keyword arguments of ``worker.inference.bootstrap_combine``: summarize the parts (or,
    for ``observed_information``, which has none, compute it from the data)."""

    bootstrap_id: str
    dataset_id: str
    model: dict[str, Any]
    options: dict[str, Any]
    method: Literal["nonparametric", "weighted", "observed_information"]
    conf_level: float = Field(gt=0.0, lt=1.0)
    seed: int = Field(ge=0)
    parts: list[str]


class InferenceOutput(Contract):
    """What an LRT's or a bootstrap's combining job returns."""

    result: dict[str, Any] = Field(description="The LRTResult or BootstrapResult as JSON.")
    seconds: float


ABANDONED = JobError(
    type="AbandonedJobError",
    message="the worker running this fit stopped (it died or was killed) and no retries were "
    "left; submit the fit again",
)


def job_error(meta: dict[str, Any], exc_string: str | None) -> JobError:
    """Why a job failed: the ``FitError`` it recorded in its meta, else the last line of the
    traceback RQ kept (``Type: message``), else a generic reason.

    Parameters
    ----------
    meta : dict
        The job's ``meta``.
    exc_string : str or None
        RQ's failure text (``job.latest_result().exc_string``).
    """
    error = meta.get("error")
    if error:
        return JobError.model_validate(error)
    text = exc_string or ""
    if "AbandonedJobError" in text:
        return ABANDONED
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return JobError(type="WorkerError", message="the fit failed")
    kind, sep, message = lines[-1].partition(": ")
    if sep and re.fullmatch(r"[\w.]+", kind):
        return JobError(type=kind.rsplit(".", 1)[-1], message=message)
    return JobError(type="WorkerError", message=lines[-1])


def job_work(n: int, d: int, k_total: int, starts: int) -> int:
    """A job's work estimate for ``job.meta["work"]``: ``n * k_total * starts`` scaled by
    ((d + 1) / 2)^2, so 1-D counts points x components x starts and a component's cost in d
    dimensions grows as its covariance's (the job timeout's (d + 1)^2 too). Replicates of an LRT
    or a bootstrap count as starts. The worker runs jobs of at most ``inline_max_work`` in its
    own process (``fitqueue.settings``)."""
    return n * k_total * starts * (d + 1) ** 2 // 4
