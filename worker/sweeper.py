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

Nothing is unpickled: jobs are read with RQ's JSON serializer.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from datetime import UTC, datetime

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry, clean_registries
from rq.serializers import JSONSerializer
from rq.utils import as_text, utcparse
from rq.worker import Worker
from rq.worker_registration import clean_worker_registry

from mixfit import keys
from worker import logs

log = logging.getLogger("mixfit.sweeper")

DEFAULT_INTERVAL = 2.0
DEFAULT_STALE_AFTER = keys.WORKER_STALE_SECONDS


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
    abandoned = []
    for member in connection.zrange(registry.key, 0, -1):
        job_id = as_text(member).split(":", 1)[0]
        try:
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        except NoSuchJobError:
            continue
        if job.get_status(refresh=False) != JobStatus.STARTED:
            continue
        if not _worker_alive(connection, job.worker_name, stale_after):
            connection.zadd(registry.key, {member: 0}, xx=True)
            abandoned.append(job_id)
    if abandoned:
        log.warning("abandoned by dead workers, handed back to RQ: %s", ", ".join(abandoned))
    registry.cleanup()
    clean_worker_registry(queue)
    clean_registries(queue)
    return abandoned


def main(argv: list[str] | None = None) -> int:
    """Sweep every ``--interval`` seconds until SIGTERM/SIGINT (or once with ``--once``)."""
    parser = argparse.ArgumentParser(
        prog="python -m worker.sweeper", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--url", default=os.environ.get("MIXFIT_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--queue", default=os.environ.get("MIXFIT_QUEUE_NAME", "mixfit"))
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL)
    parser.add_argument("--stale-after", type=float, default=DEFAULT_STALE_AFTER)
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args(argv)
    logs.configure()  # the workers' format: MIXFIT_LOG_FORMAT, MIXFIT_LOG_LEVEL
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
