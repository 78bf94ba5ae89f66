"""Stopping a job and its parts: what DELETE on a fit, an LRT or a bootstrap does.

RQ offers two calls: ``Job.cancel()`` for a job no worker has taken (it leaves the queue or the
deferred registry and is marked CANCELED) and ``send_stop_job_command`` for a running one (its
worker kills the horse, or flags an in-process fit, and marks it STOPPED). Choosing between them
from the job's status races the workers: a part read as queued can be taken by a worker before
the cancel lands. RQ's cancel then marks a running job CANCELED and nothing stops it; a job
popped before the cancel is marked STARTED over it a moment later. Either way the part kept its
worker busy for its whole run (a CI run saw an LRT part of 3,333 replicates hold the only worker
after its LRT had answered "canceled").

``stop_jobs`` therefore does not trust one reading. After the first pass it re-reads every
target until the whole job has ended and no target runs on a worker, and sends a stop to any
target found running, whatever its status says. A target canceled while queued is watched for
at least ``POP_WINDOW`` seconds, the time a worker takes from popping a job to marking it
started.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis import Redis
from rq.command import send_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE
from rq.job import Job, JobStatus

STOP_GRACE = 5.0  # seconds DELETE waits for a stopped job's workers to confirm
POP_WINDOW = 0.05  # seconds a job canceled while queued is watched for a worker that took it
POLL = 0.02  # seconds between two readings
TERMINAL = {"finished", "failed", "canceled"}
QUEUED = {  # RQ's statuses of a job no worker has taken
    JobStatus.CREATED,
    JobStatus.QUEUED,
    JobStatus.DEFERRED,
    JobStatus.SCHEDULED,
    JobStatus.READY_TO_ENQUEUE,
    JobStatus.RATE_LIMITED,
}


def _running_on(redis: Redis, job_id: str, worker: str) -> bool:
    """Whether ``worker`` has an execution of ``job_id`` (RQ's per-worker execution index:
    members ``<job id>:<execution id>``)."""
    members = redis.smembers(WORKER_EXECUTIONS_KEY_TEMPLATE.format(worker))
    prefix = f"{job_id}:".encode()
    return any(member.startswith(prefix) for member in members)


def _stop_runners(redis: Redis, targets: list[Job], sent: set[tuple[str, str]]) -> bool:
    """Send a stop to every target running on a worker (once per target and worker); whether
    any target still runs. One pipeline reads every target's status and worker."""
    with redis.pipeline(transaction=False) as pipe:
        for target in targets:
            pipe.hmget(target.key, "status", "worker_name")
        rows = pipe.execute()
    running = False
    for target, (status, worker) in zip(targets, rows, strict=True):
        if worker is None or status is None:
            continue  # never taken by a worker, or expired
        status, worker = status.decode(), worker.decode()
        if status == JobStatus.STARTED or (
            status == JobStatus.CANCELED and _running_on(redis, target.id, worker)
        ):
            running = True
            if (target.id, worker) not in sent:
                sent.add((target.id, worker))
                send_command(redis, worker, "stop-job", job_id=target.id)
    return running


def stop_jobs(redis: Redis, targets: list[Job], read_state: Callable[[], str]) -> str:
    """Cancel the queued ``targets`` and stop the running ones, in order, then wait up to
    ``STOP_GRACE`` seconds for ``read_state`` to say the whole job has ended and for no target
    to run on a worker, stopping any found running meanwhile (see the module docstring).

    Parameters
    ----------
    redis : Redis
        The service's connection.
    targets : list of rq.job.Job
        The job and its parts, a dependent before what it depends on: a canceled dependent is
        never enqueued when its dependencies end.
    read_state : callable
        The whole job's state as the API reports it.

    Returns
    -------
    str
        The last state ``read_state`` gave.
    """
    sent: set[tuple[str, str]] = set()
    watch_until = 0.0
    for target in targets:
        try:
            status = target.get_status(refresh=True)
        except (InvalidJobOperation, NoSuchJobError):
            continue  # expired
        if status in QUEUED:
            try:
                target.cancel()
            except (InvalidJobOperation, NoSuchJobError):
                pass  # canceled or expired meanwhile
            if status == JobStatus.QUEUED:
                watch_until = time.monotonic() + POP_WINDOW
    deadline = time.monotonic() + STOP_GRACE
    while True:
        running = _stop_runners(redis, targets, sent)
        state = read_state()
        now = time.monotonic()
        done = state in TERMINAL and not running and now >= watch_until
        if done or now >= deadline:
            return state
        time.sleep(POLL)
