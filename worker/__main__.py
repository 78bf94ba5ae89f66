"""``python -m worker``: run one RQ worker for mixfit fits.

It listens on ``MIXFIT_QUEUE_NAME`` (default ``mixfit``) of the Redis at ``MIXFIT_REDIS_URL``
(default ``redis://127.0.0.1:6379/0``) with RQ's JSON serializer, the same the service enqueues
with. The job module is imported before the worker starts, so every forked work horse begins
with numpy, scipy and mixfit already loaded.
"""

from __future__ import annotations

import argparse
import os
import sys

from redis import Redis
from rq import Queue, SimpleWorker, Worker
from rq.serializers import JSONSerializer

import worker.jobs  # noqa: F401  (preloaded so each forked horse starts warm)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "mixfit"


def build_worker(
    url: str, queue_name: str, name: str | None = None, simple: bool = False
) -> Worker:
    """An RQ worker on ``queue_name`` using the JSON serializer.

    ``simple`` runs jobs in the worker process itself (no fork per job): lower latency, but a
    running fit can then not be stopped by ``DELETE /v1/fits/{id}``, only queued ones canceled.
    """
    connection = Redis.from_url(url)
    queue = Queue(queue_name, connection=connection, serializer=JSONSerializer)
    cls = SimpleWorker if simple else Worker
    return cls([queue], connection=connection, serializer=JSONSerializer, name=name)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, then work until stopped (or until the queue is empty with ``--burst``)."""
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("MIXFIT_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--queue", default=os.environ.get("MIXFIT_QUEUE_NAME", DEFAULT_QUEUE))
    parser.add_argument("--name", default=None, help="worker name (default: RQ's random id)")
    parser.add_argument("--burst", action="store_true", help="quit when the queue is empty")
    parser.add_argument("--simple", action="store_true", help="run jobs without forking")
    parser.add_argument("--log-level", default=os.environ.get("MIXFIT_WORKER_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    rq_worker = build_worker(args.url, args.queue, args.name, args.simple)
    rq_worker.work(burst=args.burst, logging_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
