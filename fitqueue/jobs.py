"""What a fit's RQ jobs carry: their arguments, their return values and the progress they write
to ``job.meta``, as pydantic models validated where they are written.

The service writes ``FitArgs`` (the job's keyword arguments) and reads the rest; the workers
read ``FitArgs`` and write ``FitOutput``/``PartOutput``, ``FitProgress`` and ``JobError``. Both
sides go through these models, so a field renamed on one side fails the writer's validation,
not a reader far away. Everything is plain JSON (RQ's JSON serializer; never pickle).

``job.meta`` keys: ``progress`` (``FitProgress``), ``error`` (``JobError``: a ``FitError``
recorded before the job fails), ``parts`` (``PartPlan`` list: a fit's planned jobs, set at
submission), ``work`` (the fit's work estimate, ``n * sum(K) * starts``).
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
    """Keyword arguments of ``worker.jobs.reduce``: ``FitArgs`` and the ids of the parts."""

    parts: list[str]


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
