"""RQ job functions of the bootstrap LRT and the bootstrap of a model's parameters, fanned out
like a large fit. The service enqueues them by dotted name (``"worker.inference.lrt_plan"``).

An LRT is a plan job (``lrt_plan``: the data's fits, ``mixfit.lrt.lrt_plan``), part jobs
(``lrt_part``: a range of one step's replicates, simulated from the plan job's result, so they
need no data) and a combining job (``lrt_combine``: ``mixfit.lrt.lrt_result``) whose return value
is the result. A bootstrap is part jobs (``bootstrap_part``: a range of refits of the data) and a
combining job (``bootstrap_combine``). Every replicate has its own generator in the core, so the
result is the same whichever part computes which replicate. Arguments and return values are the
models of ``fitqueue.jobs``, validated where they are written.

The failure policy is ``worker.jobs``'s: a ``FitError`` is recorded in the job's meta (the API
shows it verbatim) and re-raised; the combining job records the ``FitError`` of the plan or of a
part that failed with one, and fails with it. A stop request reaches a running part through its
progress callback (``ReplicateReporter``), as it reaches a fit's EM loop.
"""

from __future__ import annotations

import logging
import math
import time
from types import SimpleNamespace
from typing import Any

from rq import get_current_job
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from fitqueue.jobs import (
    BootstrapCombineArgs,
    BootstrapPartArgs,
    BootstrapPartOutput,
    InferenceOutput,
    LRTCombineArgs,
    LRTPartArgs,
    LRTPartOutput,
    LRTPlanArgs,
    ReplicateProgress,
    job_error,
)
from mixfit import FitError
from mixfit.inference import (
    BootstrapDraws,
    bootstrap_replicates,
    bootstrap_summary,
    observed_information,
)
from mixfit.lrt import LRTPlan, lrt_replicates, lrt_result
from mixfit.lrt import lrt_plan as plan_test
from mixfit.schema import Model

from .jobs import (
    PROGRESS_INTERVAL,
    FitStopped,
    ProgressReporter,
    load_dataset,
    stop_requested,
)
from .outage import REDIS_DOWN, through_outage

log = logging.getLogger("mixfit.worker")


class ReplicateReporter(ProgressReporter):
    """The core's replicate progress callback for one part: ``{"done", "total"}`` in
    ``job.meta["progress"]`` (``ReplicateProgress``) at most every 200 ms; raises
    ``FitStopped`` once a stop request for the job has arrived."""

    def __init__(self, job: Job | None, total: int) -> None:
        super().__init__(job, [], 0)
        self.done = 0
        self.total = total

    def __call__(self, info: dict[str, Any]) -> None:
        if self.job is not None and stop_requested(self.job.id):
            raise FitStopped(f"job {self.job.id} was stopped after {self.done} replicates")
        self.done = int(info["done"])
        self.flush()

    def flush(self, force: bool = False) -> None:
        """Write the progress unless the last write is under 200 ms old."""
        now = time.monotonic()
        if self.job is None or (not force and now - self.last_write < PROGRESS_INTERVAL):
            return
        self.last_write = now
        progress = ReplicateProgress(done=self.done, total=self.total)
        self.job.meta["progress"] = progress.model_dump()
        try:
            self.job.save_meta()
        except REDIS_DOWN:
            pass  # best effort, as a fit's progress


def _current(name: str) -> Job:
    job = get_current_job()
    if job is None:  # called outside a worker (tests, scripts): nothing to report to
        raise RuntimeError(f"worker.inference.{name} runs inside an RQ worker")
    return job


def _outputs(job: Job, reporter: ReplicateReporter, ids: list[str], what: str) -> list[Any]:
    """The return values of the jobs ``ids`` that ``job`` depends on, in order.

    A job that failed with a ``FitError`` fails this one with the same message (recorded for the
    API); one that ended otherwise (a crash, a timeout, a stop) fails it with the reason.
    """
    connection = job.connection
    done = through_outage(
        connection,
        f"reading the jobs of {what}",
        Job.fetch_many,
        ids,
        connection=connection,
        serializer=JSONSerializer,
    )
    outputs = []
    for job_id, dependency in zip(ids, done, strict=True):
        if dependency is None:
            raise RuntimeError(f"job {job_id} of {what} has expired before it was combined")
        status = dependency.get_status(refresh=False)
        if status != JobStatus.FINISHED:
            if dependency.meta.get("error"):
                exc = FitError(job_error(dependency.meta, None).message)
                reporter.fail(exc)
                log.warning("%s failed in job %s: %s", what, job_id, exc)
                raise exc
            latest = dependency.latest_result()
            reason = job_error(dependency.meta, latest.exc_string if latest else None)
            raise RuntimeError(
                f"job {job_id} of {what} ended {status}: {reason.type}: {reason.message}"
            )
        outputs.append(dependency.return_value(refresh=False))
    return outputs


def _all_finite(value: Any) -> bool:
    """No NaN or infinity in a result's JSON (where pydantic writes them as null)."""
    if value is None:
        return False
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_all_finite(v) for v in value)
    return not isinstance(value, float) or math.isfinite(value)


def lrt_plan(
    lrt_id: str,
    dataset_id: str,
    options: dict[str, Any],
    k_min: int,
    max_k: int,
    nboot: int,
    level: float,
    seed: int,
    replicate_starts: str = "search",
) -> dict[str, Any]:
    """Fit the data at K = ``k_min`` .. ``max_k`` + 1: the plan every part simulates from.

    Returns
    -------
    dict
        The ``mixfit.lrt.LRTPlan`` as JSON.
    """
    job = _current("lrt_plan")
    args = LRTPlanArgs(
        lrt_id=lrt_id,
        dataset_id=dataset_id,
        options=options,
        k_min=k_min,
        max_k=max_k,
        nboot=nboot,
        level=level,
        seed=seed,
        replicate_starts=replicate_starts,
    )
    reporter = ReplicateReporter(job, 0)

    def stop_check(info: dict[str, Any]) -> None:
        """The data's fits report here: a stop request ends them (also in-process)."""
        if stop_requested(job.id):
            raise FitStopped(f"job {job.id} was stopped while fitting the data")

    began = time.monotonic()
    log.info("lrt %s: fitting the data at k=%d..%d", lrt_id, k_min, max_k + 1)
    with reporter.running(f"lrt {lrt_id}: plan"):
        X, w = load_dataset(job.connection, args.dataset_id)
        plan = plan_test(
            X,
            w,
            k_min=args.k_min,
            max_k=args.max_k,
            nboot=args.nboot,
            level=args.level,
            seed=args.seed,
            replicate_starts=args.replicate_starts,
            progress=stop_check,
            **args.options,
        )
    log.info("lrt %s: plan done in %.3f s", lrt_id, time.monotonic() - began)
    return plan.model_dump(mode="json")


def lrt_part(lrt_id: str, plan_job: str, step: int, replicates: list[int]) -> dict[str, Any]:
    """Replicates ``replicates[0]`` .. ``replicates[1] - 1`` of one step of an LRT.

    Returns
    -------
    dict
        ``LRTPartOutput``: the replicates' statistics in order, where and how long it ran.
    """
    job = _current("lrt_part")
    args = LRTPartArgs(lrt_id=lrt_id, plan_job=plan_job, step=step, replicates=replicates)
    first, stop = args.replicates
    reporter = ReplicateReporter(job, stop - first)
    began = time.monotonic()
    (raw,) = _outputs(job, reporter, [args.plan_job], f"lrt {lrt_id}")
    plan = LRTPlan.model_validate(raw)
    log.info("lrt %s: part %s: step %d, replicates %d..%d", lrt_id, job.id, step, first, stop - 1)
    with reporter.running(f"lrt {lrt_id}: part {job.id}"):
        statistics = lrt_replicates(plan, args.step, first, stop, progress=reporter)
    seconds = time.monotonic() - began
    return LRTPartOutput(
        step=args.step,
        replicates=args.replicates,
        statistics=statistics,
        worker=job.worker_name,
        seconds=round(seconds, 3),
    ).model_dump()


def lrt_combine(lrt_id: str, plan_job: str, parts: list[str]) -> dict[str, Any]:
    """Put an LRT's parts together (``mixfit.lrt.lrt_result``); runs once all have ended.

    Returns
    -------
    dict
        ``InferenceOutput`` with the ``LRTResult`` as JSON.
    """
    job = _current("lrt_combine")
    args = LRTCombineArgs(lrt_id=lrt_id, plan_job=plan_job, parts=parts)
    reporter = ReplicateReporter(job, 0)
    what = f"lrt {lrt_id}"
    (raw,) = _outputs(job, reporter, [args.plan_job], what)
    plan = LRTPlan.model_validate(raw)
    outputs = [LRTPartOutput.model_validate(out) for out in _outputs(job, reporter, parts, what)]
    with reporter.running(what):
        bootstrap: list[list[float]] = []
        for step in range(len(plan.steps)):
            mine = sorted((o for o in outputs if o.step == step), key=lambda o: o.replicates[0])
            bootstrap.append([value for o in mine for value in o.statistics])
        result = lrt_result(plan, bootstrap)
    seconds = sum(o.seconds for o in outputs)
    log.info("lrt %s finished (%d parts, %.3f s of replicates)", lrt_id, len(parts), seconds)
    return InferenceOutput(result=result.model_dump(mode="json"), seconds=seconds).model_dump()


def bootstrap_part(
    bootstrap_id: str,
    dataset_id: str,
    model: dict[str, Any],
    options: dict[str, Any],
    method: str,
    seed: int,
    replicates: list[int],
) -> dict[str, Any]:
    """Refit replicates ``replicates[0]`` .. ``replicates[1] - 1`` of the data at the model's K.

    Returns
    -------
    dict
        ``BootstrapPartOutput``: the ``BootstrapDraws`` as JSON, where and how long it ran.
    """
    job = _current("bootstrap_part")
    args = BootstrapPartArgs(
        bootstrap_id=bootstrap_id,
        dataset_id=dataset_id,
        model=model,
        options=options,
        method=method,
        seed=seed,
        replicates=replicates,
    )
    first, stop = args.replicates
    reporter = ReplicateReporter(job, stop - first)
    began = time.monotonic()
    log.info("bootstrap %s: part %s: replicates %d..%d", bootstrap_id, job.id, first, stop - 1)
    with reporter.running(f"bootstrap {bootstrap_id}: part {job.id}"):
        X, w = load_dataset(job.connection, args.dataset_id)
        draws = bootstrap_replicates(
            Model.model_validate(args.model),
            args.options,
            X,
            w,
            method=args.method,
            seed=args.seed,
            start=first,
            stop=stop,
            progress=reporter,
        )
    return BootstrapPartOutput(
        replicates=args.replicates,
        draws=draws.model_dump(mode="json"),
        worker=job.worker_name,
        seconds=round(time.monotonic() - began, 3),
    ).model_dump()


def bootstrap_combine(
    bootstrap_id: str,
    dataset_id: str,
    model: dict[str, Any],
    options: dict[str, Any],
    method: str,
    conf_level: float,
    seed: int,
    parts: list[str],
) -> dict[str, Any]:
    """Standard errors and intervals from a bootstrap's parts; for ``observed_information``
    (no parts), from the data's observed information.

    Returns
    -------
    dict
        ``InferenceOutput`` with the ``BootstrapResult`` as JSON.
    """
    job = _current("bootstrap_combine")
    args = BootstrapCombineArgs(
        bootstrap_id=bootstrap_id,
        dataset_id=dataset_id,
        model=model,
        options=options,
        method=method,
        conf_level=conf_level,
        seed=seed,
        parts=parts,
    )
    reporter = ReplicateReporter(job, 0)
    what = f"bootstrap {bootstrap_id}"
    fitted = Model.model_validate(args.model)
    outputs = [
        BootstrapPartOutput.model_validate(out) for out in _outputs(job, reporter, parts, what)
    ]
    with reporter.running(what):
        if args.method == "observed_information":
            X, w = load_dataset(job.connection, args.dataset_id)
            result = observed_information(
                SimpleNamespace(model=fitted), X, w, conf_level=args.conf_level
            )
        else:
            draws = [BootstrapDraws.model_validate(out.draws) for out in outputs]
            result = bootstrap_summary(
                fitted, draws, method=args.method, conf_level=args.conf_level, seed=args.seed
            )
        document = result.model_dump(mode="json")
        if not _all_finite(document):
            raise FitError(
                f"{args.method}: some standard errors are not finite at this fit (the "
                "log-likelihood is not curved there: a component on a boundary, or too few "
                "points); use method 'nonparametric' or 'weighted'"
            )
    seconds = sum(o.seconds for o in outputs)
    log.info("bootstrap %s finished: %d parts, %.3f s", bootstrap_id, len(parts), seconds)
    return InferenceOutput(result=document, seconds=seconds).model_dump()
