"""``python -m worker.sweeper``: hands the fits of dead workers back to RQ within seconds.

RQ notices an abandoned job only when its entry in the started-job registry expires, which is at
least a minute after the worker's last heartbeat (RQ adds 60 s to every heartbeat TTL), and only
during a worker's maintenance, every 10 minutes by default. The sweeper closes that gap: every
``--interval`` seconds it looks at each started job, and when the worker that holds it has no
heartbeat younger than ``--stale-after`` seconds (workers heartbeat every few seconds while they
work; see ``worker.__main__``), it marks the registry entry expired and lets RQ's own
``StartedJobRegistry.cleanup`` do the rest: retry the job if it has retries left, otherwise move
it to FAILED with ``AbandonedJobError`` and release its dependents. It also prunes dead workers'
registrations (so ``/readyz`` counts only live ones) and cleans the other registries.

It also puts back jobs that a worker took from the queue but never started
(``requeue_untaken``): RQ dequeues by moving the id to the list ``<queue>:intermediate``, and a
worker killed, or cut from Redis, before its work horse marks the job started leaves the id
there, ``queued`` and in no queue (RQ's registry cleanup takes only started jobs for abandoned).
RQ's own recovery waits for two maintenance passes a minute apart, 10 minutes in practice; the
chaos run (``make chaos``) found a fit ``queued`` that long.

Nothing is unpickled: jobs are read with RQ's JSON serializer. Its Redis, queue and log settings
and the default ``--stale-after`` are ``fitqueue.settings.Settings``, as the worker's.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import WatchError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry, clean_registries
from rq.serializers import JSONSerializer
from rq.utils import as_text, now, utcparse
from rq.worker import Worker
from rq.worker_registration import clean_worker_registry

from fitqueue.settings import Settings
from worker import logs

log = logging.getLogger("mixfit.sweeper")

DEFAULT_INTERVAL = 2.0
DEFAULT_STALE_AFTER = Settings().worker_stale_seconds


def _worker_alive(connection: Redis, name: str | None, stale_after: float) -> bool:
    if not name:
        return True  # not yet claimed: RQ's own expiry covers it
    raw = connection.hget(Worker.redis_worker_namespace_prefix + name, "last_heartbeat")
    if raw is None:
        return False
    age = (datetime.now(UTC) - utcparse(as_text(raw)).replace(tzinfo=UTC)).total_seconds()
    return age <= stale_after


def sweep(
    connection: Redis, queue_name: str, stale_after: float = DEFAULT_STALE_AFTER
) -> list[str]:
    """One pass. Returns the ids of the jobs handed back to RQ as abandoned.

    Parameters
    ----------
    connection : redis.Redis
    queue_name : str
    stale_after : float
        Seconds without a worker heartbeat after which the worker counts as dead.
    """
    queue = Queue(queue_name, connection=connection, serializer=JSONSerializer)
    registry = StartedJobRegistry(queue=queue)
    abandoned, unstarted = [], []
    for member in connection.zrange(registry.key, 0, -1):
        job_id = as_text(member).split(":", 1)[0]
        try:
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        except NoSuchJobError:
            continue
        status = job.get_status(refresh=False)
        if status == JobStatus.STARTED:
            worker = job.worker_name
        elif status == JobStatus.QUEUED:
            # Registered by its worker, which died before its work horse began the job (the
            # horse marks it started): RQ's cleanup takes only STARTED jobs for abandoned,
            # drops the entry and leaves the job in no queue. The worker is the execution's.
            execution = Execution.from_composite_key(as_text(member), connection=connection)
            worker = as_text(connection.hget(execution.key, "worker_name") or b"") or None
        else:
            continue
        if not _worker_alive(connection, worker, stale_after):
            connection.zadd(registry.key, {member: 0}, xx=True)
            (abandoned if status == JobStatus.STARTED else unstarted).append(job_id)
    if abandoned:
        log.warning("abandoned by dead workers, handed back to RQ: %s", ", ".join(abandoned))
    registry.cleanup()  # retries or fails the abandoned, drops the unstarted jobs' entries
    requeue_untaken(connection, queue, stale_after, unstarted)
    clean_worker_registry(queue)
    clean_registries(queue)
    return abandoned


def requeue_untaken(
    connection: Redis, queue: Queue, stale_after: float, dead: Iterable[str] = ()
) -> list[str]:
    """Put back at the front of the queue every job that has sat in RQ's intermediate list for
    ``stale_after`` seconds without being started, and at once the jobs ``dead`` (whose worker
    is known to have died before starting them). Returns their ids.

    A worker takes a job by moving its id from the queue to the list (BLMOVE), registers it as
    started within milliseconds, and its work horse then takes it off the list. A job still
    there, ``queued``, unregistered, after seconds, was taken by a worker that died or lost
    Redis in between (RQ's dequeue loop then goes on with the next job). It never ran, so it goes
    back unchanged, without using up a retry. The time it was first seen is RQ's own mark
    (``IntermediateQueue.set_first_seen``).
    """
    intermediate = queue.intermediate_queue
    started = queue.started_job_registry
    dead = set(dead)
    put_back = []
    for job_id in intermediate.get_job_ids():
        if job_id in started:
            continue  # being started
        if job_id not in dead:
            if intermediate.set_first_seen(job_id):
                continue  # seen for the first time just now
            first = intermediate.get_first_seen(job_id)
            if first is None or (now() - first).total_seconds() < stale_after:
                continue
        if _put_back(connection, queue, job_id):
            put_back.append(job_id)
    if put_back:
        log.warning(
            "taken from the queue by a worker that never started them, put back: %s",
            ", ".join(put_back),
        )
    return put_back


def _put_back(connection: Redis, queue: Queue, job_id: str) -> bool:
    """Move one untaken job from the intermediate list to the front of the queue, in one
    transaction that fails (and is tried again at the next pass) if a worker touches the list,
    the started registry, the queue or the job meanwhile. A job already back in the queue (RQ
    retried it) is only taken off the list."""
    intermediate = queue.intermediate_queue
    started = queue.started_job_registry
    job_key = Job.key_for(job_id)
    with connection.pipeline() as pipe:
        try:
            pipe.watch(intermediate.key, started.key, queue.key, job_key)
            status = pipe.hget(job_key, "status")
            if (
                pipe.lpos(intermediate.key, job_id) is None
                or as_text(status or b"") != JobStatus.QUEUED
                or job_id in {as_text(m).split(":", 1)[0] for m in pipe.zrange(started.key, 0, -1)}
            ):
                return False
            queued = pipe.lpos(queue.key, job_id) is not None
            pipe.multi()
            pipe.lrem(intermediate.key, 1, job_id)
            if not queued:
                pipe.lpush(queue.key, job_id)
            pipe.delete(intermediate.get_first_seen_key(job_id))
            pipe.execute()
        except WatchError:
            return False
    return True


def parser(settings: Settings) -> argparse.ArgumentParser:
    """The command line, its defaults taken from ``settings``.

    Parameters
    ----------
    settings : fitqueue.settings.Settings
        Usually ``Settings.from_env()``: ``--url`` defaults to ``redis_url``, ``--queue`` to
        ``queue_name``, ``--stale-after`` to ``worker_stale_seconds``.

    Returns
    -------
    argparse.ArgumentParser
    """
    cli = argparse.ArgumentParser(
        prog="python -m worker.sweeper", description=__doc__.split("\n")[0]
    )
    cli.add_argument("--url", default=settings.redis_url, help="default: MIXFIT_REDIS_URL")
    cli.add_argument("--queue", default=settings.queue_name, help="default: MIXFIT_QUEUE_NAME")
    cli.add_argument("--interval", type=float, default=DEFAULT_INTERVAL)
    cli.add_argument("--stale-after", type=float, default=settings.worker_stale_seconds)
    cli.add_argument("--once", action="store_true")
    return cli


def main(argv: list[str] | None = None) -> int:
    """Sweep every ``--interval`` seconds until SIGTERM/SIGINT (or once with ``--once``)."""
    settings = Settings.from_env()
    args = parser(settings).parse_args(argv)
    logs.configure(settings.log_format, settings.log_level)  # the workers' format
    connection = Redis.from_url(args.url)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        try:
            sweep(connection, args.queue, args.stale_after)
        except Exception:  # a Redis hiccup must not end the sweeper
            log.exception("sweep failed; retrying in %.1f s", args.interval)
        if args.once or stopping:
            return 0
        deadline = time.monotonic() + args.interval
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
