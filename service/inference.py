"""LRTs and bootstraps of a fitted model: submission, status with progress, cancel.

Both fan out like a large fit (``fanout.plan_replicates``). An LRT is a plan job
(``LRT_PLAN_JOB``: the data's fits at K = k_min .. max_k + 1), part jobs (``LRT_PART_JOB``: a range
of one step's replicates; they depend on the plan and read it from its result) and a combining
job (``LRT_COMBINE_JOB``) that depends on all of them; its id is the LRT's id and its return value
the result. A bootstrap is part jobs (``BOOTSTRAP_PART_JOB``: a range of refits of the data) and a
combining job (``BOOTSTRAP_COMBINE_JOB``); ``observed_information`` is the combining job alone.
The worker is reached only through the queue, by these dotted names.

Each runs with the fit's own options on the fit's dataset (an LRT starts its fits as the fit did;
a bootstrap's refits start from the fitted parameters), which the model's record names
(``model_store.fitted``). An id that existed answers 410 once its jobs have expired: its record
(``fitqueue.keys.inference``) outlives them by ``TOMBSTONE_TTL``.
"""

from __future__ import annotations

import uuid
from typing import Any

from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Dependency, Job, JobStatus
from rq.serializers import JSONSerializer

from fitqueue import datasets, keys
from fitqueue.jobs import (
    BootstrapCombineArgs,
    BootstrapPartArgs,
    InferenceOutput,
    JobError,
    LRTCombineArgs,
    LRTPartArgs,
    LRTPlanArgs,
    ReplicatePlan,
    job_error,
    job_work,
)
from mixfit import FitError
from mixfit.fit import check, parse_request
from mixfit.inference import model_options
from mixfit.lrt import replicate_size
from mixfit.replicates import OWN_OPTIONS
from mixfit.schema import MAX_K

from . import model_store
from .datasets import refresh
from .errors import abort_json
from .fanout import plan_replicates
from .fits import FIT_ID, STATES, TERMINAL, job_keep, job_timeout, wait_for_end
from .logs import request_id
from .models import BootstrapRequest, BootstrapStatus, LRTRequest, LRTStatus
from .stopping import stop_jobs
from .store import cfg, clients, iso, now

LRT_PLAN_JOB = "worker.inference.lrt_plan"
LRT_PART_JOB = "worker.inference.lrt_part"
LRT_COMBINE_JOB = "worker.inference.lrt_combine"
BOOTSTRAP_PART_JOB = "worker.inference.bootstrap_part"
BOOTSTRAP_COMBINE_JOB = "worker.inference.bootstrap_combine"

# kind -> (what the messages call it, its collection under /v1, its combining job, its document)
KINDS: dict[str, tuple[str, str, str, Any]] = {
    "lrt": ("LRT", "lrts", LRT_COMBINE_JOB, LRTStatus),
    "bootstrap": ("bootstrap", "bootstraps", BOOTSTRAP_COMBINE_JOB, BootstrapStatus),
}
# Not the model's options: the data (the dataset is the fit's) and the start settings.
OWN = frozenset({"data", "weights", "dataset_id"})


def _options(options: dict[str, Any]) -> dict[str, Any]:
    """The fit's options less its start settings and data: what a bootstrap's refits keep
    (each starts from the fitted parameters)."""
    return {key: value for key, value in model_options(options).items() if key not in OWN}


def _lrt_options(options: dict[str, Any]) -> dict[str, Any]:
    """The fit's options less what the LRT sets itself (``mixfit.replicates.OWN_OPTIONS``: K,
    seed, data): the observed fits and the replicates' fits start as the fit's did (``init``,
    ``n_starts``, screening), except that explicit start values, which fit one K, give way to
    the default init."""
    kept = {key: value for key, value in options.items() if key not in OWN_OPTIONS}
    init = kept.get("init")
    named = isinstance(init, str) or (
        isinstance(init, list) and all(isinstance(v, str) for v in init)
    )
    if not named:
        kept.pop("init", None)
    return kept


def _data(model_id: str, dataset_id: str) -> tuple[Any, Any]:
    """The data the model was fitted to; 409 when they are no longer stored."""
    try:
        return datasets.load(clients().redis, dataset_id)
    except FitError:
        abort_json(
            409,
            f"the data model {model_id} was fitted to (dataset {dataset_id}) are no longer "
            "stored (deleted or expired); upload them again, fit them and use the new model",
        )


def _begin(kind: str, model_id: str, dataset_id: str) -> str:
    """A new id, its record written (so that it answers 410 once its jobs expire), and the
    dataset's expiry refreshed as a fit's use refreshes it."""
    job_id = uuid.uuid4().hex
    record_ttl = max(int(cfg("RESULT_TTL")), int(cfg("FAILURE_TTL"))) + int(cfg("TOMBSTONE_TTL"))
    pipe = clients().redis.pipeline()
    pipe.hset(keys.inference(kind, job_id), mapping={"model_id": model_id, "created_at": now()})
    pipe.expire(keys.inference(kind, job_id), record_ttl)
    refresh(
        pipe,
        keys.dataset(dataset_id),
        keys.tombstone("dataset", dataset_id),
        int(cfg("DATASET_TTL")),
    )
    pipe.execute()
    return job_id


def submit_lrt(model_id: str, request: LRTRequest) -> dict[str, Any]:
    """Queue the bootstrap LRT of K = ``k_min`` .. ``max_k`` against K+1 on the model's data,
    with its fit's options; its document (an ``LRTStatus``).

    404 unknown model, 410 expired or deleted model, 409 its data are no longer stored, 422 when
    ``k_min`` exceeds ``max_k`` or the data cannot be fitted at K = k_min .. max_k + 1.
    """
    model, fit_options, dataset_id = model_store.fitted(model_id)
    max_k = request.max_k if request.max_k is not None else min(model.k, MAX_K - 1)
    if request.k_min > max_k:
        default = "" if request.max_k is not None else ": the model's K, the default"
        abort_json(
            422,
            f"k_min ({request.k_min}) must be at most max_k ({max_k}{default}); lower k_min "
            "or raise max_k",
        )
    options = _lrt_options(fit_options)
    X, w = _data(model_id, dataset_id)
    ks = list(range(request.k_min, max_k + 2))
    fit_request = parse_request({**options, "k": ks, "seed": request.seed})
    try:
        check(fit_request, X, w)  # n < K, values outside the support, ...: 422 now
    except FitError as exc:
        if exc.largest_k is None:
            raise
        abort_json(
            422,
            f"the LRT fits K = k_min .. max_k + 1 = {request.k_min} .. {max_k + 1}, but these "
            f"data support at most {exc.largest_k} component(s); ask for max_k <= "
            f"{exc.largest_k - 1}",
        )
    replicate_size(X.shape[0], w, max_k)  # weights as counts: their sum a replicate's size
    lrt_id = _begin("lrt", model_id, dataset_id)
    queue, keep, n, d = clients().queue, job_keep(), X.shape[0], X.shape[1]
    traced = {"request_id": request_id()}
    plan = queue.enqueue_call(
        LRT_PLAN_JOB,
        kwargs=LRTPlanArgs(
            lrt_id=lrt_id,
            dataset_id=dataset_id,
            options=options,
            k_min=request.k_min,
            max_k=max_k,
            nboot=request.nboot,
            level=request.level,
            seed=request.seed,
            replicate_starts=request.replicate_starts,
        ).model_dump(),
        job_id=f"{lrt_id}-plan",
        timeout=job_timeout(n, d, ks, fit_request.starts_per_k(), fit_request.max_iter),
        description=f"lrt {lrt_id}: fit k={ks} of model {model_id}'s data",
        meta=traced,  # no work estimate: the plan always forks, so a cancel can stop it
        **keep,
    )
    parts: list[Job] = []
    planned: list[ReplicatePlan] = []
    steps = max_k - request.k_min + 1
    for step in reversed(range(steps)):  # the largest K first: workers end close together
        k = request.k_min + step
        for first, stop in plan_replicates(request.nboot, steps):
            args = LRTPartArgs(lrt_id=lrt_id, plan_job=plan.id, step=step, replicates=[first, stop])
            part = queue.enqueue_call(
                LRT_PART_JOB,
                kwargs=args.model_dump(),
                job_id=f"{lrt_id}-{len(parts)}",
                timeout=job_timeout(n, d, [k, k + 1, k + 1], stop - first, fit_request.max_iter),
                depends_on=Dependency(jobs=[plan], allow_failure=True),
                description=f"part of lrt {lrt_id}: k={k}, replicates {first}..{stop - 1}",
                meta={**traced, "work": job_work(n, d, 3 * k + 2, stop - first)},
                **keep,
            )
            parts.append(part)
            planned.append(ReplicatePlan(job_id=part.id, step=step, replicates=[first, stop]))
    job = queue.enqueue_call(
        LRT_COMBINE_JOB,
        kwargs=LRTCombineArgs(
            lrt_id=lrt_id, plan_job=plan.id, parts=[p.id for p in parts]
        ).model_dump(),
        job_id=lrt_id,
        timeout=int(cfg("JOB_TIMEOUT_MIN")),
        depends_on=Dependency(jobs=[plan, *parts], allow_failure=True, enqueue_at_front=True),
        description=f"combine the {len(parts)} parts of lrt {lrt_id}",
        meta={
            **traced,
            "work": 0,
            "plan": plan.id,
            "parts": [p.model_dump() for p in planned],
            "total": steps * request.nboot,
        },
        **keep,
    )
    return _queued("lrt", job, model_id, steps * request.nboot)


def submit_bootstrap(model_id: str, request: BootstrapRequest) -> dict[str, Any]:
    """Queue a bootstrap of the model's parameters on its data; its document (a
    ``BootstrapStatus``).

    404 unknown model, 410 expired or deleted model, 409 its data are no longer stored, 422
    ``observed_information`` for a model other than a 1-D Gaussian.
    """
    model, fit_options, dataset_id = model_store.fitted(model_id)
    if request.method == "observed_information" and (model.family != "gaussian" or model.d != 1):
        abort_json(
            422,
            f"observed_information is for the 1-D Gaussian family only (this model: "
            f"{model.family}, d = {model.d}); use method 'nonparametric' or 'weighted'",
        )
    options = _options(fit_options)
    X, _ = _data(model_id, dataset_id)
    max_iter = parse_request({**options, "k": model.k}).max_iter
    boot_id = _begin("bootstrap", model_id, dataset_id)
    queue, keep, n, d = clients().queue, job_keep(), X.shape[0], X.shape[1]
    traced = {"request_id": request_id()}
    model_json = model.model_dump(mode="json")
    parts: list[Job] = []
    planned: list[ReplicatePlan] = []
    ranges = [] if request.method == "observed_information" else plan_replicates(request.nboot)
    for first, stop in ranges:
        args = BootstrapPartArgs(
            bootstrap_id=boot_id,
            dataset_id=dataset_id,
            model=model_json,
            options=options,
            method=request.method,
            seed=request.seed,
            replicates=[first, stop],
        )
        part = queue.enqueue_call(
            BOOTSTRAP_PART_JOB,
            kwargs=args.model_dump(),
            job_id=f"{boot_id}-{len(parts)}",
            timeout=job_timeout(n, d, [model.k], stop - first, max_iter),
            description=f"part of bootstrap {boot_id}: replicates {first}..{stop - 1}",
            meta={**traced, "work": job_work(n, d, model.k, stop - first)},
            **keep,
        )
        parts.append(part)
        planned.append(ReplicatePlan(job_id=part.id, step=0, replicates=[first, stop]))
    args = BootstrapCombineArgs(
        bootstrap_id=boot_id,
        dataset_id=dataset_id,
        model=model_json,
        options=options,
        method=request.method,
        conf_level=request.conf_level,
        seed=request.seed,
        parts=[p.id for p in parts],
    )
    total = sum(stop - first for first, stop in ranges)
    job = queue.enqueue_call(
        BOOTSTRAP_COMBINE_JOB,
        kwargs=args.model_dump(),
        job_id=boot_id,
        timeout=int(cfg("JOB_TIMEOUT_MIN")),
        depends_on=(
            Dependency(jobs=parts, allow_failure=True, enqueue_at_front=True) if parts else None
        ),
        description=f"combine the {len(parts)} parts of bootstrap {boot_id} ({request.method})",
        meta={**traced, "work": 0, "parts": [p.model_dump() for p in planned], "total": total},
        **keep,
    )
    return _queued("bootstrap", job, model_id, total)


def _document(kind: str, doc: dict[str, Any]) -> dict[str, Any]:
    """A document as the OpenAPI file declares it: built through ``LRTStatus`` or
    ``BootstrapStatus``."""
    return KINDS[kind][3].model_validate(doc).model_dump(mode="json")


def _links(kind: str, job_id: str, model_id: str) -> dict[str, str]:
    return {"self": f"/v1/{KINDS[kind][1]}/{job_id}", "model": f"/v1/models/{model_id}"}


def _queued(kind: str, job: Job, model_id: str, total: int) -> dict[str, Any]:
    return _document(
        kind,
        {
            "id": job.id,
            "model_id": model_id,
            "status": "queued",
            "created_at": iso(job.created_at),
            "progress": {"done": 0, "total": total},
            "result": None,
            "error": None,
            "links": _links(kind, job.id, model_id),
        },
    )


def _expired(kind: str, job_id: str) -> None:
    abort_json(410, f"{KINDS[kind][0]} {job_id} has expired; its result is no longer kept")


def _fetch(kind: str, job_id: str) -> Job:
    """The combining job of an LRT or a bootstrap; 404 for an unknown id, 410 for an expired
    one."""
    noun, _, combine, _ = KINDS[kind]
    if FIT_ID.match(job_id):
        try:
            job = Job.fetch(job_id, connection=clients().redis, serializer=JSONSerializer)
        except NoSuchJobError:
            if clients().redis.exists(keys.inference(kind, job_id)):
                _expired(kind, job_id)
        else:
            if job.func_name == combine:
                return job
    abort_json(404, f"no {noun} with id {job_id}")


def _state(kind: str, job: Job) -> str:
    try:
        return STATES.get(job.get_status(refresh=True), "queued")
    except InvalidJobOperation:  # the job expired between two reads
        _expired(kind, job.id)


def _dependencies(job: Job) -> list[Job | None]:
    """The plan (an LRT's) and the parts, as planned at submission."""
    ids = [job.meta["plan"]] if job.meta.get("plan") else []
    ids += [part["job_id"] for part in job.meta.get("parts", [])]
    return Job.fetch_many(ids, connection=clients().redis, serializer=JSONSerializer)


def status(kind: str, job_id: str, wait: float = 0.0) -> dict[str, Any]:
    """The document of an LRT or a bootstrap; waits up to ``wait`` seconds for it to end
    (blocking on the combining job's RQ result stream, re-reading the state every
    ``WAIT_SLICE`` seconds to notice a cancel)."""
    job = _fetch(kind, job_id)
    state, waited, _ = wait_for_end(job, lambda: _state(kind, job), wait)
    if waited:
        try:
            job.refresh()
        except NoSuchJobError:
            _expired(kind, job_id)
        state = STATES.get(job.get_status(refresh=False), "queued")
    return _describe(kind, job, state)


def _describe(kind: str, job: Job, state: str) -> dict[str, Any]:
    """The document of a combining job as last read."""
    model_id = clients().redis.hget(keys.inference(kind, job.id), "model_id")
    model_id = model_id.decode() if model_id else ""
    dependencies = _dependencies(job) if state != "finished" else []
    if state == "queued" and any(
        dep is not None and STATES.get(dep.get_status(refresh=False)) != "queued"
        for dep in dependencies
    ):
        state = "started"  # the combining job waits, but the plan or parts run or are done
    total = int(job.meta.get("total", 0))
    doc: dict[str, Any] = {
        "id": job.id,
        "model_id": model_id,
        "status": state,
        "created_at": iso(job.created_at),
        "progress": {"done": total if state == "finished" else _done(job, dependencies)},
        "result": None,
        "error": None,
        "links": _links(kind, job.id, model_id),
    }
    doc["progress"]["total"] = total
    if state == "finished":
        raw = job.return_value(refresh=True)
        if raw:
            doc["result"] = InferenceOutput.model_validate(raw).result
    elif state == "failed":
        doc["error"] = _failure(job, dependencies).model_dump()
    return _document(kind, doc)


def _done(job: Job, dependencies: list[Job | None]) -> int:
    """Replicates done over every part: a finished part's range, a running part's report."""
    by_id = {dep.id: dep for dep in dependencies if dep is not None}
    done = 0
    for planned in job.meta.get("parts", []):
        part = by_id.get(planned["job_id"])
        if part is None:
            continue
        first, stop = planned["replicates"]
        if part.get_status(refresh=False) == JobStatus.FINISHED:
            done += stop - first
        else:
            done += min(stop - first, int((part.meta.get("progress") or {}).get("done", 0)))
    return done


def _failure(job: Job, dependencies: list[Job | None]) -> JobError:
    """The ``FitError`` the combining job recorded (the plan's or a part's, verbatim), else the
    reason of the first job that failed, else the combining job's own."""
    if job.meta.get("error"):
        return job_error(job.meta, None)
    for dep in dependencies:
        if dep is not None and dep.get_status(refresh=False) == JobStatus.FAILED:
            latest = dep.latest_result() if not dep.meta.get("error") else None
            reason = job_error(dep.meta, latest.exc_string if latest is not None else None)
            return JobError(type=reason.type, message=f"{reason.message} (in job {dep.id})")
    latest = job.latest_result()
    return job_error(job.meta, latest.exc_string if latest is not None else None)


def cancel(kind: str, job_id: str) -> dict[str, Any]:
    """Cancel a queued LRT or bootstrap, or stop a running one: the combining job first (a
    canceled dependent is never enqueued), then every part and the plan. 409 when it has
    already ended; the answer waits up to ``STOP_GRACE`` seconds for the stop."""
    job = _fetch(kind, job_id)
    state = _state(kind, job)
    if state in TERMINAL:
        abort_json(409, f"{KINDS[kind][0]} {job_id} has already ended ({state}); nothing to cancel")
    stop_jobs(
        clients().redis,
        [job, *reversed([dep for dep in _dependencies(job) if dep is not None])],
        lambda: _state(kind, job),
    )
    try:
        job.refresh()
    except NoSuchJobError:
        _expired(kind, job_id)
    return _describe(kind, job, STATES.get(job.get_status(refresh=False), "queued"))
