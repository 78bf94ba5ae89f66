"""Fits: submission (idempotency keys, the queue, fan-out), status with progress, cancel. The
worker is reached only through the queue, by the dotted names ``FIT_JOB``, ``PART_JOB``,
``FINISH_JOB`` and ``REDUCE_JOB``."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import WatchError
from rq import Retry
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Dependency, Job, JobStatus
from rq.results import Result
from rq.serializers import JSONSerializer

from fitqueue import keys
from fitqueue.jobs import (
    FinishArgs,
    FitArgs,
    FitOutput,
    FitProgress,
    PartArgs,
    PartPlan,
    ReduceArgs,
    job_error,
    job_work,
)
from mixfit import FitError
from mixfit.data import as_points
from mixfit.em import parent_ks, split_index
from mixfit.fit import check, finished_alone

from .datasets import load_dataset, refresh, store_dataset
from .errors import abort_json
from .fanout import plan_parts
from .logs import request_id
from .models import FitStatus
from .stopping import QUEUED, TERMINAL, stop_jobs
from .store import cfg, clients, expire_args, iso, now

FIT_JOB = "worker.jobs.fit"
PART_JOB = "worker.jobs.fit_part"
REDUCE_JOB = "worker.jobs.reduce"
FINISH_JOB = "worker.jobs.finish"
FIT_ID = re.compile(r"^[0-9a-f]{32}$")
STATES = {  # RQ's statuses as the API's states
    **dict.fromkeys(QUEUED, "queued"),
    JobStatus.STARTED: "started",
    JobStatus.FINISHED: "finished",
    JobStatus.FAILED: "failed",
    JobStatus.STOPPED: "canceled",
    JobStatus.CANCELED: "canceled",
}
WAIT_SLICE = 0.5  # seconds one blocking read may take while a wait also watches for cancels


def job_timeout(n: int, d: int, k_values: list[int], n_starts: int, max_iter: int) -> int:
    """Seconds a fit may run: ``JOB_TIMEOUT_MIN`` plus ``JOB_SECONDS_PER_UNIT`` per unit of
    worst-case work, n * (d + 1)^2 * sum(K) * starts * max_iter, capped at ``JOB_TIMEOUT_MAX``.

    Measured on one core, a unit costs 2e-8 to 4e-7 s; the default 1e-6 leaves headroom."""
    units = n * (d + 1) ** 2 * sum(k_values) * n_starts * max_iter
    seconds = int(cfg("JOB_TIMEOUT_MIN")) + units * float(cfg("JOB_SECONDS_PER_UNIT"))
    return int(min(seconds, int(cfg("JOB_TIMEOUT_MAX"))))


def job_keep() -> dict[str, Any]:
    """What every RQ job of a fit (an LRT, a bootstrap) keeps: its result ``RESULT_TTL``
    seconds, its failure ``FAILURE_TTL``, and ``FIT_RETRIES`` reruns after its worker died."""
    retries = int(cfg("FIT_RETRIES"))
    return {
        "result_ttl": int(cfg("RESULT_TTL")),
        "failure_ttl": int(cfg("FAILURE_TTL")),
        "retry": Retry(max=retries) if retries > 0 else None,
    }


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def idempotent_fit(idem_key: str, digest: str, release_abandoned: bool = False) -> str | None:
    """The fit already created for this ``Idempotency-Key``, if any; 409 when the key came with
    a different body.

    A submission can die between claiming the key and queueing its job (Redis lost, its process
    killed), leaving a fit that has a record but neither a job nor the ``queued_at`` mark; the
    client's retry with the same key then heard 410 "expired" for a fit that never existed, and
    so did every later retry. With ``release_abandoned`` (a new request, not a twin's second
    look) such a claim, once ``submit_deadline()`` old, is released and None returned: this
    request queues the fit. Until then a retry waits for the job, then hears 503
    (``_fetch_job``): the submission may still be alive.
    """
    redis = clients().redis
    idem = keys.idempotency(body_digest(idem_key.encode()))
    stored = redis.get(idem)
    if stored is None:
        return None
    fit_id, _, stored_digest = stored.decode().partition(":")
    if stored_digest != digest:
        abort_json(
            409,
            "this Idempotency-Key was used with a different request body; use a new key for a "
            "new fit",
        )
    if release_abandoned:
        age = _unqueued_age(fit_id)
        if age is not None and age > submit_deadline():
            if _release(idem, stored):
                return None
            return idempotent_fit(idem_key, digest, release_abandoned)  # taken over meanwhile
    return fit_id


def submit_deadline() -> float:
    """Seconds within which a live submission queues its job after claiming its
    Idempotency-Key: twice ``REDIS_TIMEOUT`` (a few Redis round trips, each cut off by it)."""
    return 2 * float(cfg("REDIS_TIMEOUT"))


def _unqueued_age(fit_id: str) -> float | None:
    """Seconds since the fit's record was written, when its job was never queued (no job, no
    ``queued_at`` mark); else None."""
    redis = clients().redis
    created, queued = redis.hmget(keys.fit(fit_id), ["created_at", "queued_at"])
    if created is None or queued is not None or Job.exists(fit_id, connection=redis):
        return None
    return (datetime.now(UTC) - datetime.fromisoformat(created.decode())).total_seconds()


def _release(idem: str, claimed: bytes) -> bool:
    """Delete the key ``idem`` if it still holds ``claimed`` (one transaction)."""
    with clients().redis.pipeline() as pipe:
        try:
            pipe.watch(idem)
            if pipe.get(idem) != claimed:
                return False
            pipe.multi()
            pipe.delete(idem)
            pipe.execute()
        except WatchError:
            return False
    return True


def _mark_queued(fit_id: str, pipe: Any = None) -> None:
    """Mark the fit's record once its job is queued (``idempotent_fit`` tells an abandoned
    submission by the mark's absence); in the transaction ``pipe`` that queues it, if given."""
    (clients().redis if pipe is None else pipe).hset(keys.fit(fit_id), "queued_at", now())


def submit_fit(request: Any, idem_key: str | None, digest: str) -> tuple[dict[str, Any], bool]:
    """Validate the data against the request, queue the fit; ``(its document, replayed)``.

    The data are checked here with the core's ``check`` (n < K, constant data, support of the
    family, ...) so such errors are a 422 now instead of a failed fit later; the statistics EM
    needs are built only where it runs, in the worker. Inline data are
    stored as a dataset like an upload (same content-hash id).
    """
    redis, queue = clients().redis, clients().queue
    if request.dataset_id is not None:
        X, w = load_dataset(request.dataset_id)
        dataset_id = request.dataset_id
    else:
        if request.data is None:
            raise FitError("send the data inline ('data') or refer to an upload ('dataset_id')")
        X, w = as_points(request.data, request.weights)
        dataset_id = None
    check(request, X, w)
    # The dataset and the fit's record in one transaction (one round trip).
    pipe = redis.pipeline()
    if dataset_id is None:
        dataset_id = store_dataset(X, w, pipe)[0]
    else:
        refresh(
            pipe,
            keys.dataset(dataset_id),
            keys.tombstone("dataset", dataset_id),
            int(cfg("DATASET_TTL")),
        )

    fit_id = uuid.uuid4().hex
    result_ttl, failure_ttl = int(cfg("RESULT_TTL")), int(cfg("FAILURE_TTL"))
    record_ttl = max(result_ttl, failure_ttl) + int(cfg("TOMBSTONE_TTL"))
    k_values, n_starts = request.k_values(), request.starts_per_k()
    # The record first, the Idempotency-Key second: a twin that reads the key then always finds
    # the record, and waits for the job (``_fetch_job``) instead of calling the fit unknown.
    record = {"dataset_id": dataset_id, "created_at": now(), "family": request.family}
    pipe.hset(keys.fit(fit_id), mapping=record)
    pipe.expire(keys.fit(fit_id), record_ttl)
    pipe.execute()
    if idem_key is not None:
        idem = keys.idempotency(body_digest(idem_key.encode()))
        ttl = int(cfg("IDEMPOTENCY_TTL"))
        if not redis.set(idem, f"{fit_id}:{digest}", nx=True, **expire_args(ttl)):
            # A concurrent twin (same key, same body) won the race and is queueing that fit now.
            existing = idempotent_fit(idem_key, digest)
            if existing is not None:
                redis.delete(keys.fit(fit_id))
                return queued_document(existing, dataset_id, None), True

    options = request.model_dump(
        mode="json", exclude_unset=True, exclude={"data", "weights", "dataset_id"}
    )
    if request.seed is None:
        # Fixed now, so a fit that is run again (a retry after its worker died, a fanned-out
        # part) gives the same result bit for bit.
        options["seed"] = secrets.randbits(63)
    common = {"fit_id": fit_id, "dataset_id": dataset_id, "request": options}
    keep = job_keep()
    finals = {"model_ttl": int(cfg("MODEL_TTL")), "tombstone_ttl": int(cfg("TOMBSTONE_TTL"))}
    n, d = X.shape
    # Every job of the fit carries the submitting request's id: the worker logs with it.
    # ``work`` sizes the fit for the worker: tiny ones run without a fork (worker.__main__).
    # The Ks the fit runs: the request's and the K-1s it fits for their growth moves
    # (mixfit.em.parent_ks); a fanned-out fit runs those as parts too.
    ks = sorted({*k_values, *parent_ks(request, n, d)})
    traced = {"request_id": request_id(), "work": job_work(n, d, sum(ks), n_starts)}
    chained = finished_alone(request)
    plan = plan_parts(ks, n_starts, n, {k: split_index(request, k) for k in ks}, chained)
    if plan is None:
        # The job and the record's queued mark in one transaction (one round trip for RQ's
        # two and the mark's).
        pipe = redis.pipeline()
        job = queue.enqueue_call(
            FIT_JOB,
            kwargs=FitArgs(**common, **finals).model_dump(),
            job_id=fit_id,
            timeout=job_timeout(n, d, ks, n_starts, request.max_iter),
            description=f"fit {request.family} k={k_values} starts={n_starts} on {dataset_id}",
            meta={
                "parts": [PartPlan(job_id=fit_id, k=k_values, starts=[0, n_starts]).model_dump()],
                **traced,
            },
            pipeline=pipe,
            **keep,
        )
        _mark_queued(fit_id, pipe)
        pipe.execute()
        return queued_document(fit_id, dataset_id, iso(job.created_at)), False
    parts = []
    for i, (k, first, stop) in enumerate(plan):
        part = queue.enqueue_call(
            PART_JOB,
            kwargs=PartArgs(**common, k=k, starts=[first, stop]).model_dump(),
            job_id=f"{fit_id}-{i}",
            timeout=job_timeout(n, d, [k], stop - first, request.max_iter),
            description=f"part of fit {fit_id}: k={k} starts {first}..{stop - 1}",
            meta=traced,
            **keep,
        )
        parts.append(part)
    meta = [
        PartPlan(job_id=part.id, k=[k], starts=[first, stop]).model_dump()
        for part, (k, first, stop) in zip(parts, plan, strict=True)
    ]
    bound = job_timeout(n, d, ks, n_starts, request.max_iter)
    finishes = []
    if chained:
        finishes = _enqueue_finishes(queue, fit_id, common, parts, plan, bound, traced, keep)
    job = queue.enqueue_call(
        REDUCE_JOB,
        kwargs=ReduceArgs(
            **common,
            parts=[part.id for part in parts],
            finishes=[f.id for f in finishes],
            **finals,
        ).model_dump(),
        job_id=fit_id,
        # without finishing jobs the merge runs each K's rescue, moves, growth and polish (and
        # a Student t's Gaussian fits: mixfit.fit.nested_fit) on all the data: the whole
        # fit's bound
        timeout=bound,
        depends_on=Dependency(jobs=parts + finishes, allow_failure=True, enqueue_at_front=True),
        description=f"merge {len(parts)} parts of fit {fit_id}",
        meta={
            "parts": meta,
            "finishes": [f.id for f in finishes],
            "k_values": k_values,
            **traced,
        },
        **keep,
    )
    _mark_queued(fit_id)
    return queued_document(fit_id, dataset_id, iso(job.created_at)), False


def _enqueue_finishes(
    queue: Any,
    fit_id: str,
    common: dict[str, Any],
    parts: list[Job],
    plan: list[tuple[int, int, int]],
    timeout: int,
    traced: dict[str, Any],
    keep: dict[str, Any],
) -> list[Job]:
    """One finishing job per K (``worker.jobs.finish``), in increasing K, each depending on
    its K's parts and on the finishing job before it: the chain that replaces the merge's own
    K-by-K work, started as soon as the smaller Ks' parts end (``service.fanout.plan_parts``).
    Each is put at the front of the queue when its dependencies end (the chain is the fit's
    critical path). A failed part or finishing job fails the ones after it with its reason."""
    by_k: dict[int, list[Job]] = {}
    for part, (k, _, _) in zip(parts, plan, strict=True):
        by_k.setdefault(k, []).append(part)
    finishes: list[Job] = []
    for k in sorted(by_k):
        mine = by_k[k]
        finishes.append(
            queue.enqueue_call(
                FINISH_JOB,
                kwargs=FinishArgs(
                    **common,
                    k=k,
                    parts=[p.id for p in mine],
                    before=[f.id for f in finishes],
                ).model_dump(),
                job_id=f"{fit_id}-f{k}",
                timeout=timeout,
                depends_on=Dependency(
                    jobs=mine + finishes[-1:], allow_failure=True, enqueue_at_front=True
                ),
                description=f"finish k={k} of fit {fit_id}",
                meta=traced,
                **keep,
            )
        )
    return finishes


def _document(doc: dict[str, Any]) -> dict[str, Any]:
    """A fit document as the OpenAPI file declares it: built through ``FitStatus`` (a field
    that strays from the contract fails here, in the service, not in a client)."""
    return FitStatus.model_validate(doc).model_dump(mode="json")


def queued_document(fit_id: str, dataset_id: str, created_at: str | None) -> dict[str, Any]:
    """The document of a fit just queued, without reading it back."""
    return _document(
        {
            "id": fit_id,
            "status": "queued",
            "created_at": created_at,
            "started_at": None,
            "ended_at": None,
            "dataset_id": dataset_id,
            "queue_position": None,
            "progress": None,
            "result": None,
            "model_id": None,
            "error": None,
            "parts": [],
            "links": _fit_links(fit_id, dataset_id, None),
        }
    )


def _fit_links(fit_id: str, dataset_id: str, model_id: str | None) -> dict[str, Any]:
    return {
        "self": f"/v1/fits/{fit_id}",
        "dataset": f"/v1/datasets/{dataset_id}",
        "model": f"/v1/models/{model_id}" if model_id else None,
    }


ENQUEUE_GRACE = 2.0  # seconds a fit's record may precede its job (a concurrent twin is mid-submit)


def _fetch_job(fit_id: str) -> Job:
    """The fit's RQ job; 404 for an unknown id, 410 for an expired one. A record without a job
    that is only a moment old belongs to a submission still under way (the twin of a request
    with the same Idempotency-Key): wait for its job instead of calling it expired. One never
    queued (no ``queued_at`` mark) that is older than that but younger than
    ``submit_deadline()`` is 503: still under way, or abandoned and soon queued anew by a retry
    (``idempotent_fit``)."""
    if FIT_ID.match(fit_id):
        redis = clients().redis
        deadline = time.monotonic() + ENQUEUE_GRACE
        while True:
            try:
                job = Job.fetch(fit_id, connection=redis, serializer=JSONSerializer)
            except NoSuchJobError:
                created, queued = redis.hmget(keys.fit(fit_id), ["created_at", "queued_at"])
                if created is None:
                    break
                age = (datetime.now(UTC) - datetime.fromisoformat(created.decode())).total_seconds()
                if age > ENQUEUE_GRACE or time.monotonic() > deadline:
                    if queued is None and age <= submit_deadline():
                        abort_json(503, f"fit {fit_id} is still being queued; retry in a moment")
                    abort_json(410, f"fit {fit_id} has expired; its result is no longer kept")
                time.sleep(0.01)
            else:
                if job.func_name in (FIT_JOB, REDUCE_JOB):  # not an LRT's or a bootstrap's
                    return job
                break
    abort_json(404, f"no fit with id {fit_id}")


def _state(job: Job) -> str:
    try:
        return STATES.get(job.get_status(refresh=True), "queued")
    except InvalidJobOperation:  # the job expired between two reads
        abort_json(410, f"fit {job.id} has expired; its result is no longer kept")


def _failure(job: Job) -> dict[str, str]:
    """The domain error the job recorded, else the last line of the failure RQ recorded. A
    fanned-out fit reports the reason of its first failed part."""
    if job.func_name == REDUCE_JOB:
        # a failed part fails the finishing jobs after it with its reason: the part names it
        for part in _part_jobs(job) + _finish_jobs(job):
            if part is not None and part.get_status(refresh=False) == JobStatus.FAILED:
                reason = _failure(part)
                return {**reason, "message": f"{reason['message']} (in part {part.id})"}
    latest = job.latest_result() if not job.meta.get("error") else None
    return job_error(job.meta, latest.exc_string if latest is not None else None).model_dump()


def _refreshed(job: Job) -> str:
    """Re-read the whole job (one HGETALL) and return its state."""
    try:
        job.refresh()
    except NoSuchJobError:
        abort_json(410, f"fit {job.id} has expired; its result is no longer kept")
    return STATES.get(job.get_status(refresh=False), "queued")


def wait_for_end(
    job: Job, read_state: Callable[[], str], wait: float
) -> tuple[str, bool, Result | None]:
    """Wait up to ``wait`` seconds for a job to end: block on its RQ result stream (a finish or
    failure wakes the wait at once) in slices of ``WAIT_SLICE`` seconds, re-reading the state
    with ``read_state`` in between to notice a cancel.

    Returns the last state, whether it waited at all (then the job needs a refresh), and the
    job's successful result when the stream brought one: a success is final, so the state is
    not read again and the caller need not read the result again either. Each read asks only
    for entries after the last one seen, so a failed attempt that RQ retries does not wake
    every read at once."""
    state = STATES.get(job.get_status(refresh=False), "queued")
    deadline = time.monotonic() + wait
    waited = False
    seen = "0-0"
    while state not in TERMINAL:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        block_ms = max(1, int(min(remaining, WAIT_SLICE) * 1000))
        reply = clients().redis.xread({Result.get_key(job.id): seen}, block=block_ms)
        waited = True
        if reply:
            entry_id, payload = reply[0][1][-1]
            seen = entry_id.decode()
            result = Result.restore(
                job.id, seen, payload, connection=clients().redis, serializer=job.serializer
            )
            if result.type == Result.Type.SUCCESSFUL:
                return "finished", True, result
        state = read_state()
    return state, waited, None


def fit_status(fit_id: str, wait: float = 0.0) -> dict[str, Any]:
    """The fit's document (a ``FitStatus``); waits up to ``wait`` seconds for it to end.

    The wait blocks on the job's RQ result stream (a finish or failure wakes it at once) in
    slices of ``WAIT_SLICE`` seconds, re-reading the status in between to notice a cancel.
    """
    job = _fetch_job(fit_id)
    state, waited, result = wait_for_end(job, lambda: _state(job), wait)
    if waited:
        state = _refreshed(job)
    return _describe(fit_id, job, state, result)


def _describe(fit_id: str, job: Job, state: str, result: Result | None = None) -> dict[str, Any]:
    """The document of a job as last read (``Job.fetch`` or ``_refreshed``); ``result``: its
    successful result when already read (``wait_for_end``)."""
    dataset_id = job.kwargs.get("dataset_id", "")
    fanned = job.func_name == REDUCE_JOB
    part_jobs = _part_jobs(job) if fanned and state not in TERMINAL else []
    if (
        fanned
        and state == "queued"
        and any(
            p is not None and p.get_status(refresh=False) != JobStatus.QUEUED for p in part_jobs
        )
    ):
        state = "started"  # the merge waits, but parts are running or done
    doc: dict[str, Any] = {
        "id": fit_id,
        "status": state,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "ended_at": (iso(job.ended_at) or job.meta.get("canceled_at"))
        if state in TERMINAL
        else None,
        "dataset_id": dataset_id,
        "queue_position": job.get_position() if state == "queued" and not fanned else None,
        "progress": None,
        "result": None,
        "model_id": None,
        "error": None,
        "parts": [],
    }
    if state == "started":
        if fanned:
            doc["started_at"] = doc["started_at"] or min(
                (iso(p.started_at) for p in part_jobs if p is not None and p.started_at),
                default=None,
            )
            doc["progress"] = _merged_progress(job, part_jobs)
        else:
            progress = job.meta.get("progress")
            if progress:
                doc["progress"] = FitProgress.model_validate(progress).model_dump()
    elif state == "finished":
        raw = result.return_value if result is not None else job.return_value(refresh=True)
        if raw:
            value = FitOutput.model_validate(raw)
            doc["result"], doc["model_id"] = value.result, value.model_id
            doc["parts"] = [{**part.model_dump(), "status": "finished"} for part in value.parts]
    elif state == "failed":
        doc["error"] = _failure(job)
    if not doc["parts"]:
        doc["parts"] = _part_docs(job, state, part_jobs)
    doc["links"] = _fit_links(fit_id, dataset_id, doc["model_id"])
    return _document(doc)


def _part_jobs(job: Job) -> list[Job | None]:
    ids = [part["job_id"] for part in job.meta.get("parts", [])]
    return Job.fetch_many(ids, connection=clients().redis, serializer=JSONSerializer)


def _finish_jobs(job: Job) -> list[Job | None]:
    """The finishing jobs of a fanned-out fit (``worker.jobs.finish``), in increasing K."""
    ids = job.meta.get("finishes", [])
    if not ids:
        return []
    return Job.fetch_many(ids, connection=clients().redis, serializer=JSONSerializer)


def _part_docs(job: Job, state: str, part_jobs: list[Job | None]) -> list[dict[str, Any]]:
    """What each part of a fit that has not finished is doing (``FitPart`` documents)."""
    planned = job.meta.get("parts", [])
    if job.func_name != REDUCE_JOB:
        return [
            {**part, "status": state, "worker": job.worker_name, "seconds": None}
            for part in planned
        ]
    docs = []
    for part, part_job in zip(planned, part_jobs or [None] * len(planned), strict=True):
        status = (
            "canceled"
            if part_job is None
            else STATES.get(part_job.get_status(refresh=False), "queued")
        )
        worker = part_job.worker_name if part_job is not None else None
        docs.append({**part, "status": status, "worker": worker or None, "seconds": None})
    return docs


def _merged_progress(job: Job, part_jobs: list[Job | None]) -> dict[str, Any] | None:
    """One progress document for a fanned-out fit: per K, the parts' starts added up and the
    leading part's trace."""
    # the request's Ks: parts of a K-1 fitted only for K's growth moves are not shown
    planned_k = sorted({k for part in job.meta.get("parts", []) for k in part["k"]})
    request_k = job.meta.get("k_values", planned_k)
    planned = {}
    for part in job.meta.get("parts", []):
        planned[part["k"][0]] = planned.get(part["k"][0], 0) + part["starts"][1] - part["starts"][0]
    merged: dict[int, dict[str, Any]] = {}
    for part_job in part_jobs:
        if part_job is None:
            continue
        finished = part_job.get_status(refresh=False) == JobStatus.FINISHED
        for entry in (part_job.meta.get("progress") or {}).get("per_k", []):
            k = entry["k"]
            if k not in request_k:
                continue
            into = merged.setdefault(
                k, {**entry, "starts_done": 0, "n_starts": planned.get(k, 0), "state": "done"}
            )
            into["starts_done"] += entry["n_starts"] if finished else entry["starts_done"]
            into["iteration"] = max(into["iteration"], entry["iteration"])
            if entry["state"] != "done" and not finished:
                into["state"] = "running"
            best, mine = into.get("best_loglik"), entry.get("best_loglik")
            if mine is not None and (best is None or mine >= best):
                into.update(
                    best_loglik=mine, trace=entry["trace"], trace_start=entry["trace_start"]
                )
    for entry in merged.values():
        if entry["starts_done"] < entry["n_starts"]:
            entry["state"] = "running"
    if not merged:
        return None  # no part has reported yet
    return {"k_values": request_k, "per_k": [merged[k] for k in sorted(merged)]}


def cancel_fit(fit_id: str) -> dict[str, Any]:
    """Cancel a queued fit, or stop a running one (its worker kills the work horse).

    409 when the fit has already ended. A running fit that finishes before the stop reaches its
    worker stays finished; the answer shows whichever state won.
    """
    job = _fetch_job(fit_id)
    state = _state(job)
    if state in TERMINAL:
        abort_json(409, f"fit {fit_id} has already ended ({state}); nothing to cancel")
    # RQ gives a job canceled in the queue no end time: the cancel's own, for ``ended_at``
    job.meta["canceled_at"] = iso(datetime.now(UTC))
    job.save_meta()
    targets = [job]
    if job.func_name == REDUCE_JOB:
        # The merge first, then the finishing jobs from the last: a canceled dependent is
        # never enqueued when what it depends on ends.
        targets += [p for p in reversed(_finish_jobs(job)) if p is not None]
        targets += [p for p in _part_jobs(job) if p is not None]
    stop_jobs(clients().redis, targets, lambda: _state(job))
    return _describe(fit_id, job, _refreshed(job))
