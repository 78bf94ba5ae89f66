"""RQ job functions. The service enqueues them by dotted name (``"worker.jobs.fit"``).

Arguments and return values travel through RQ's JSON serializer, so they are plain JSON: ids, the
validated request without its data, TTLs. The data itself is read from Redis
(``fitqueue.keys.dataset``) as binary float64.

Failure policy: nothing here catches an exception to mark a fit done. A ``FitError`` (the
domain error: its message says what to change) is recorded in the job's meta so the API can show
it verbatim, then re-raised, and RQ marks the job FAILED. Anything else (a bug, a timeout, a killed
work horse) also ends FAILED, and RQ keeps the reason.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import get_current_job
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from fitqueue import datasets, keys
from fitqueue.jobs import (
    FinishOutput,
    FitOutput,
    FitProgress,
    JobError,
    PartOutput,
    PartRecord,
    job_error,
)
from mixfit import FitError, FitRequest, KResult, assemble, prepare
from mixfit.em import Problem, merge_k, run_k, split_index
from mixfit.finish import refine_k
from mixfit.fit import final_fit, fit_ks, hidden_parent, parent_fit

from .metrics import record_fit_seconds
from .outage import REDIS_DOWN, through_outage

log = logging.getLogger("mixfit.worker")

PROGRESS_INTERVAL = 0.2  # seconds between job-meta writes
# The first write waits this long after the fit starts: a fit that ends sooner (most small fits
# take 10 ms) writes its progress once, when it ends, instead of twice; a poll could not have
# seen the first write in time anyway.
FIRST_PROGRESS_AFTER = 0.05
TRACE_TAIL = 1000  # progress keeps at most this many trailing log-likelihood values per K

# Fits asked to stop while running in the worker process itself (``python -m worker --inline``);
# filled from RQ's command thread, read by the progress callback at every EM iteration.
_STOP_REQUESTS: set[str] = set()


class FitStopped(Exception):
    """Raised inside a fit that a stop-job command reached (RQ then marks the job STOPPED)."""


def request_stop(job_id: str) -> None:
    """Ask the fit running as ``job_id`` in this process to stop at its next EM iteration."""
    _STOP_REQUESTS.add(job_id)


def stop_requested(job_id: str) -> bool:
    """Whether a stop request has reached the job ``job_id`` running in this process."""
    return job_id in _STOP_REQUESTS


def _finite(value: Any) -> float | None:
    """JSON has no NaN or Infinity: non-finite numbers become null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _now() -> str:
    return datetime.now(UTC).isoformat()


class ProgressReporter:
    """Keeps the per-K progress of a fit in ``job.meta["progress"]``, written at most every
    ``PROGRESS_INTERVAL`` seconds (the engine calls it every EM iteration), the first time
    ``FIRST_PROGRESS_AFTER`` seconds after the reporter is made, and always at the end.

    ``meta["progress"]`` is ``{"k_values": [...], "per_k": [{k, state, starts_done, n_starts,
    iteration, best_loglik, trace, trace_start}, ...]}`` with one entry per K begun so far;
    ``trace`` is the leading start's log-likelihood trace, its last ``TRACE_TAIL`` values from
    index ``trace_start``.
    """

    def __init__(self, job: Job | None, k_values: list[int], n_starts: int) -> None:
        self.job = job
        self.k_values = k_values
        self.n_starts = n_starts
        self.latest: dict[int, dict[str, Any]] = {}  # the engine's last report per K
        self.done: set[int] = set()
        self.last_write = time.monotonic() - PROGRESS_INTERVAL + FIRST_PROGRESS_AFTER

    def __call__(self, info: dict[str, Any]) -> None:
        if self.job is not None and self.job.id in _STOP_REQUESTS:
            raise FitStopped(f"fit {self.job.id} was stopped at k={info['k']}")
        # Called every EM iteration: keep the report, build JSON only when a write is due.
        self.latest[info["k"]] = info
        self.flush()

    def k_done(self, k: int) -> None:
        """Mark one K as finished (written with the next flush)."""
        self.done.add(k)
        self.flush()

    def entry(self, k: int) -> dict[str, Any]:
        """The JSON progress of one K."""
        info = self.latest.get(k, {})
        trace = list(info.get("trace", []))  # the engine's list is live: copy it
        start = max(0, len(trace) - TRACE_TAIL)
        done = k in self.done
        n_starts = int(info.get("n_starts", self.n_starts))
        return {
            "k": k,
            "state": "done" if done else "running",
            "starts_done": n_starts if done else int(info.get("starts_done", 0)),
            "n_starts": n_starts,
            "iteration": int(info.get("iteration", 0)),
            "best_loglik": _finite(info.get("best_loglik")),
            "trace": [_finite(v) for v in trace[start:]],
            "trace_start": start,
        }

    def flush(self, force: bool = False) -> None:
        """Write the progress to the job's meta unless the last write is under 200 ms old."""
        now = time.monotonic()
        if self.job is None or (not force and now - self.last_write < PROGRESS_INTERVAL):
            return
        self.last_write = now
        ks = sorted(set(self.latest) | self.done)
        self.job.meta["progress"] = FitProgress(
            k_values=self.k_values, per_k=[self.entry(k) for k in ks]
        ).model_dump()
        try:
            self.job.save_meta()
        except REDIS_DOWN:
            pass  # progress is best effort: the fit goes on through a Redis outage

    def fail(self, exc: FitError) -> None:
        """Record the domain error so the API can show its message."""
        if self.job is None:
            return
        self.job.meta["error"] = JobError(type=type(exc).__name__, message=str(exc)).model_dump()
        what = f"recording the error of job {self.job.id}"
        through_outage(self.job.connection, what, self.job.save_meta)

    @contextmanager
    def running(self, what: str) -> Iterator[None]:
        """Around a job's work: a ``FitError`` is recorded for the API and logged, then
        re-raised (RQ marks the job FAILED); a pending stop request is forgotten either way;
        on success the last progress is written."""
        try:
            yield
        except FitError as exc:
            self.fail(exc)
            log.warning("%s failed: %s", what, exc)
            raise
        finally:
            if self.job is not None:
                _STOP_REQUESTS.discard(self.job.id)
        self.flush(force=True)


def load_dataset(connection: Redis, dataset_id: str) -> tuple[Any, Any]:
    """A queued fit's dataset (``fitqueue.datasets.load``), waiting out a Redis outage."""

    def hgetall(key: str) -> dict:
        return through_outage(connection, f"reading dataset {dataset_id}", connection.hgetall, key)

    return datasets.load(connection, dataset_id, queued=True, hgetall=hgetall)


def fit(
    fit_id: str,
    dataset_id: str,
    request: dict[str, Any],
    model_ttl: int = 0,
    tombstone_ttl: int = 30 * 86400,
) -> dict[str, Any]:
    """Fit a dataset as the request asks; store the selected model under its own id.

    Parameters
    ----------
    fit_id : str
        The fit's id (also the RQ job id).
    dataset_id : str
        Key suffix of the data in Redis (``fitqueue.keys.dataset``).
    request : dict
        The validated ``FitRequest`` as JSON, without data, weights or dataset_id.
    model_ttl : int, default 0
        Seconds the model is kept; 0 keeps it until deleted.
    tombstone_ttl : int
        Seconds a model's tombstone outlives it (so an expired model answers 410).

    Returns
    -------
    dict
        ``{"model_id": str, "result": FitResult JSON}``.

    Raises
    ------
    FitError
        When the data cannot be fitted as asked; recorded in ``job.meta["error"]`` first.
    """
    job = get_current_job()
    if job is None:  # called outside a worker (tests, scripts): nothing to report to
        raise RuntimeError("worker.jobs.fit runs inside an RQ worker")
    connection = job.connection
    began = time.monotonic()
    req = FitRequest.model_validate(request).root
    reporter = ProgressReporter(job, req.k_values(), req.starts_per_k())
    log.info(
        "fit %s started: %s, k=%s, %d starts each",
        fit_id,
        req.family,
        req.k_values(),
        req.starts_per_k(),
    )
    with reporter.running(f"fit {fit_id}"):
        X, w = load_dataset(connection, dataset_id)
        problem = prepare(req, X, w)
        results = []
        for result in fit_ks(problem, reporter):
            results.append(result)
            reporter.k_done(result.k)
        result = assemble(problem, results)
    model_id = uuid.uuid4().hex
    store_model(
        connection,
        model_id,
        fit_id,
        result.model.model_dump_json(),
        model_ttl,
        tombstone_ttl,
        fitted_on(dataset_id, result.options),
    )
    seconds = time.monotonic() - began
    _record_seconds(connection, req.family, seconds)
    log.info(
        "fit %s finished in %.3f s: k=%d selected, model %s",
        fit_id,
        seconds,
        result.k_selected,
        model_id,
        extra={"duration_ms": round(seconds * 1000, 3)},
    )
    part = PartRecord(
        job_id=job.id,
        k=req.k_values(),
        starts=[0, req.starts_per_k()],
        worker=job.worker_name,
        seconds=round(seconds, 3),
    )
    return FitOutput(
        model_id=model_id, result=result.model_dump(mode="json"), parts=[part]
    ).model_dump()


def fit_part(
    fit_id: str, dataset_id: str, request: dict[str, Any], k: int, starts: list[int]
) -> dict[str, Any]:
    """One part of a fanned-out fit: starts ``starts[0]`` to ``starts[1] - 1`` of one K.

    Returns
    -------
    dict
        ``{"k", "starts", "worker", "seconds", "result"}`` with the part's ``KResult`` JSON; the
        fit's reducing job (``reduce``) merges the parts.
    """
    job = get_current_job()
    if job is None:
        raise RuntimeError("worker.jobs.fit_part runs inside an RQ worker")
    began = time.monotonic()
    req = FitRequest.model_validate(request).root
    reporter = ProgressReporter(job, [k], starts[1] - starts[0])
    log.info("fit %s: part %s started: k=%d, starts %d..%d", fit_id, job.id, k, *starts)
    with reporter.running(f"fit {fit_id}: part {job.id}"):
        X, w = load_dataset(job.connection, dataset_id)
        problem = prepare(req, X, w)
        result = run_k(problem, k, reporter, starts=range(starts[0], starts[1]))
        reporter.k_done(k)
    seconds = time.monotonic() - began
    log.info("fit %s: part %s finished in %.3f s", fit_id, job.id, seconds)
    return PartOutput(
        k=k,
        starts=starts,
        worker=job.worker_name,
        seconds=round(seconds, 3),
        result=result.model_dump(mode="json"),
    ).model_dump()


def _ended(
    connection: Redis, fit_id: str, ids: list[str], reporter: ProgressReporter, what: str
) -> list[Job]:
    """The jobs ``ids`` of a fanned-out fit (each a ``what``), each finished: a failed one fails
    the caller with its reason (a ``FitError`` keeping its message, recorded for the API;
    anything else a ``RuntimeError`` naming the job)."""
    jobs = through_outage(
        connection,
        f"reading the {what}s of fit {fit_id}",
        Job.fetch_many,
        ids,
        connection=connection,
        serializer=JSONSerializer,
    )
    for job_id, job in zip(ids, jobs, strict=True):
        if job is None:
            raise RuntimeError(f"{what} {job_id} of fit {fit_id} has expired")
        status = job.get_status(refresh=False)
        if status == JobStatus.FINISHED:
            continue
        if job.meta.get("error"):
            exc = FitError(job_error(job.meta, None).message)
            reporter.fail(exc)
            log.warning("fit %s failed in %s %s: %s", fit_id, what, job_id, exc)
            raise exc
        latest = job.latest_result()
        reason = job_error(job.meta, latest.exc_string if latest else None)
        raise RuntimeError(
            f"{what} {job_id} of fit {fit_id} ended {status}: {reason.type}: {reason.message}"
        )
    return jobs


def _finish_k(
    problem: Problem,
    k: int,
    results: list[KResult],
    final: dict[int, KResult],
    parents: dict[int, KResult],
    reporter: ProgressReporter,
) -> KResult:
    """One K of a fanned-out fit from its parts' ``results``, as ``mixfit.fit.fit_ks`` finishes
    it in one job: the split start (no part ran it: it needs K-1's final fit), the merge, then
    the final fit of a K the request asks for (into ``final``) or the refinement of a K-1
    fitted for K's growth moves (into ``parents``). Returns the K's finished result."""
    req = problem.request
    parent = final.get(k - 1) or parents.get(k - 1)
    if parent is None and k in req.k_values():
        parent = parent_fit(problem, k, final, reporter)  # None unless no part ran it
    held = split_index(req, k)
    if held is not None:
        results = [*results, run_k(problem, k, starts=range(held, held + 1), parent=parent)]
    merged = merge_k(results, problem.family)
    if k in req.k_values():
        final[k] = final_fit(problem, merged, final, parent, reporter)
        return final[k]
    # a K-1 fitted for K's moves, finished as mixfit.fit.parent_fit does
    parents[k] = hidden_parent(problem, refine_k(problem, merged, reporter, parent))
    return parents[k]


def _restore(
    problem: Problem, earlier: list[FinishOutput]
) -> tuple[dict[int, KResult], dict[int, KResult]]:
    """The state the finishing job of a K starts from: the final fits of the smaller Ks the
    request asks for, the K-1s fitted for growth, and the problem's hidden parents as the last
    finishing job left them (``mixfit.fit.hidden_parent``)."""
    final: dict[int, KResult] = {}
    parents: dict[int, KResult] = {}
    for out in earlier:
        (parents if out.hidden else final)[out.k] = KResult.model_validate(out.result)
    if earlier:
        for fit in earlier[-1].kept_parents:
            hidden_parent(problem, KResult.model_validate(fit))
    return final, parents


def finish(
    fit_id: str,
    dataset_id: str,
    request: dict[str, Any],
    k: int,
    parts: list[str],
    before: list[str],
) -> dict[str, Any]:
    """Finish one K of a fanned-out fit (``_finish_k``) once its parts and the finishing jobs
    of the smaller Ks (``before``, in increasing K) have ended: a chain of jobs, one per K,
    that starts while the larger Ks' parts still run (``service.fanout``). A failed part or
    finishing job fails it with that reason.

    Returns
    -------
    dict
        ``FinishOutput``: the K's finished result and the hidden parents the fit keeps so far.
    """
    job = get_current_job()
    if job is None:
        raise RuntimeError("worker.jobs.finish runs inside an RQ worker")
    connection = job.connection
    began = time.monotonic()
    req = FitRequest.model_validate(request).root
    reporter = ProgressReporter(job, [k], req.starts_per_k())
    log.info("fit %s: finishing k=%d", fit_id, k)
    part_jobs = _ended(connection, fit_id, parts, reporter, "part")
    earlier_jobs = _ended(connection, fit_id, before, reporter, "finishing job")
    with reporter.running(f"fit {fit_id}: finishing k={k}"):
        X, w = load_dataset(connection, dataset_id)
        problem = prepare(req, X, w)
        earlier = [FinishOutput.model_validate(j.return_value(refresh=False)) for j in earlier_jobs]
        final, parents = _restore(problem, earlier)
        results = [
            KResult.model_validate(PartOutput.model_validate(j.return_value(refresh=False)).result)
            for j in part_jobs
        ]
        done = _finish_k(problem, k, results, final, parents, reporter)
        reporter.k_done(k)
    seconds = time.monotonic() - began
    log.info("fit %s: k=%d finished in %.3f s", fit_id, k, seconds)
    kept = problem.extra.get("parents", {})
    return FinishOutput(
        k=k,
        hidden=k not in req.k_values(),
        result=done.model_dump(mode="json"),
        kept_parents=[kept[j].model_dump(mode="json") for j in sorted(kept)],
    ).model_dump()


def reduce(
    fit_id: str,
    dataset_id: str,
    request: dict[str, Any],
    parts: list[str],
    model_ttl: int = 0,
    tombstone_ttl: int = 30 * 86400,
    finishes: list[str] | None = None,
) -> dict[str, Any]:
    """Merge a fanned-out fit's parts (best start per K), select K, store the model.

    It runs once every part (and every finishing job) has ended (RQ dependency with
    ``allow_failure``): a failed one fails the fit with that reason, a ``FitError`` keeping its
    message. With ``finishes`` (``finish``: one job per K, in increasing K) each K is already
    finished and the merge only assembles; without them it finishes every K itself.

    Returns
    -------
    dict
        ``{"model_id", "result", "parts"}`` like ``fit``, ``parts`` saying which worker ran what.
    """
    job = get_current_job()
    if job is None:
        raise RuntimeError("worker.jobs.reduce runs inside an RQ worker")
    connection = job.connection
    req = FitRequest.model_validate(request).root
    reporter = ProgressReporter(job, req.k_values(), req.starts_per_k())
    log.info("fit %s: merging %d parts", fit_id, len(parts))
    done = _ended(connection, fit_id, parts, reporter, "part")
    finished = _ended(connection, fit_id, finishes or [], reporter, "finishing job")
    outputs = [PartOutput.model_validate(part.return_value(refresh=False)) for part in done]
    with reporter.running(f"fit {fit_id}"):
        X, w = load_dataset(connection, dataset_id)
        problem = prepare(req, X, w)
        if finished:
            chain = [FinishOutput.model_validate(j.return_value(refresh=False)) for j in finished]
            final, _ = _restore(problem, chain)
        else:
            by_k: dict[int, list[KResult]] = {}
            for out in outputs:
                by_k.setdefault(out.k, []).append(KResult.model_validate(out.result))
            final, parents = {}, {}  # the request's Ks; the K-1s fitted for growth
            for k in sorted(by_k):
                _finish_k(problem, k, by_k[k], final, parents, reporter)
        result = assemble(problem, [final[k] for k in sorted(final)])
    model_id = uuid.uuid4().hex
    store_model(
        connection,
        model_id,
        fit_id,
        result.model.model_dump_json(),
        model_ttl,
        tombstone_ttl,
        fitted_on(dataset_id, result.options),
    )
    seconds = _seconds_since([part.started_at for part in done if part is not None])
    _record_seconds(connection, req.family, seconds)
    log.info(
        "fit %s finished in %.3f s (%d parts): k=%d selected, model %s",
        fit_id,
        seconds,
        len(parts),
        result.k_selected,
        model_id,
        extra={"duration_ms": round(seconds * 1000, 3)},
    )
    described = [
        PartRecord(
            job_id=part_id, k=[out.k], starts=out.starts, worker=out.worker, seconds=out.seconds
        )
        for part_id, out in zip(parts, outputs, strict=True)
    ]
    return FitOutput(
        model_id=model_id, result=result.model_dump(mode="json"), parts=described
    ).model_dump()


def _seconds_since(started: list[datetime | None]) -> float:
    """Seconds from the earliest of ``started`` (RQ's UTC start times) until now."""
    known = [s if s.tzinfo else s.replace(tzinfo=UTC) for s in started if s is not None]
    if not known:
        return 0.0
    return max(0.0, (datetime.now(UTC) - min(known)).total_seconds())


def _record_seconds(connection: Redis, family: str, seconds: float) -> None:
    """The duration histogram is best effort: an outage must not cost the fit its result."""
    try:
        record_fit_seconds(connection, family, seconds)
    except REDIS_DOWN:
        log.warning("fit duration not recorded: Redis is unreachable")


def fitted_on(dataset_id: str, options: dict[str, Any]) -> dict[str, str]:
    """What a model keeps of its fit for an LRT or a bootstrap of it (``fitqueue.keys.model``):
    the dataset's id and the fit's options as JSON."""
    return {"dataset_id": dataset_id, "options": json.dumps(options, allow_nan=False)}


def store_model(
    connection: Redis,
    model_id: str,
    fit_id: str,
    model_json: str,
    model_ttl: int,
    tombstone_ttl: int,
    fitted: dict[str, str] | None = None,
) -> None:
    """Store a fitted model under its own id and link it from the fit's record (one
    transaction; waits for Redis through an outage). ``fitted`` (``fitted_on``) is stored
    beside it."""
    through_outage(
        connection,
        f"storing model {model_id}",
        _store_model,
        connection,
        model_id,
        fit_id,
        model_json,
        model_ttl,
        tombstone_ttl,
        fitted or {},
    )


def _store_model(
    connection: Redis,
    model_id: str,
    fit_id: str,
    model_json: str,
    model_ttl: int,
    tombstone_ttl: int,
    fitted: dict[str, str],
) -> None:
    pipe = connection.pipeline()
    key, tomb = keys.model(model_id), keys.tombstone("model", model_id)
    mapping = {"model": model_json, "fit_id": fit_id, "created_at": _now(), **fitted}
    pipe.hset(key, mapping=mapping)
    pipe.set(tomb, fit_id)
    if model_ttl > 0:
        pipe.expire(key, model_ttl)
        pipe.expire(tomb, model_ttl + tombstone_ttl)
    pipe.hset(keys.fit(fit_id), "model_id", model_id)
    pipe.execute()
