"""``python -m worker``: run one RQ worker for mixfit fits.

It listens on ``MIXFIT_QUEUE_NAME`` (default ``mixfit``) of the Redis at ``MIXFIT_REDIS_URL``
(default ``redis://127.0.0.1:6379/0``) with RQ's JSON serializer, the same the service enqueues
with; these and the other ``MIXFIT_*`` it reads are ``fitqueue.settings.Settings``. The job
module is imported and one tiny fit is run before the worker starts, so every forked work horse
begins with numpy, scipy and mixfit loaded and warm. ``--inline`` (or ``MIXFIT_WORKER_INLINE=1``)
runs fits in the worker process itself: see ``InlineWorker``.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, SimpleWorker, Worker
from rq.serializers import JSONSerializer
from rq.worker import WorkerStatus

from fitqueue.settings import Settings
from worker import inference, jobs, logs  # noqa: F401 (preloaded: every horse starts warm)
from worker.bookkeeping import FewerRoundTrips
from worker.commands import QuickUnsubscribe
from worker.memory import keep_freed_memory
from worker.outage import OutageTolerant, through_outage, wait_for_redis
from worker.retries import RetryOnlyWhatMayPass

log = logging.getLogger("mixfit.worker")
# Seconds between a worker's heartbeats, busy (RQ's job monitoring interval, default 30) or idle
# (RQ blocks on the queue for worker_ttl - 15 s between beats, 405 s by default). A worker whose
# last beat is older than ``keys.WORKER_STALE_SECONDS`` counts as dead: ``/readyz`` stops
# counting it and the sweeper (``python -m worker.sweeper``) hands its fit back to RQ.
HEARTBEAT_SECONDS = 2
WORKER_TTL = HEARTBEAT_SECONDS + 15  # RQ: dequeue timeout = worker_ttl - 15


# Jobs whose work (``job.meta["work"]``, ``fitqueue.jobs.job_work``, set at submission) is at
# most this run in the worker process itself instead of a forked work horse: a fork costs
# ~15 ms, as much as the page's K = 2 fit takes. Larger fits keep the horse's isolation (a
# crash, a memory blow-up or a timeout kill takes the horse, not the worker). 0 forks every
# fit. Read at import (``Settings.inline_max_work``, ``MIXFIT_INLINE_MAX_WORK``); a test may
# patch it.
INLINE_MAX_WORK = Settings.from_env().inline_max_work


def _run_here(worker: Any, job: Any, queue: Any) -> None:
    """Run a job in the worker process while a thread keeps the worker's heartbeat fresh (RQ
    beats only between jobs there, and the sweeper must not take a long fit for a dead worker);
    its timeout is RQ's death penalty as in a horse."""
    stop = threading.Event()
    ttl = worker.get_heartbeat_ttl(job)

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            worker.heartbeat(ttl)

    thread = threading.Thread(target=beat, name="mixfit-heartbeat", daemon=True)
    thread.start()
    try:
        execution = worker.prepare_execution(job)
        worker.perform_job(job, queue, execution)
    finally:
        stop.set()
        thread.join()


def _stop_here(worker: Any) -> None:
    """RQ's stop command for a fit running in this process: there is no horse to kill, so the
    fit is flagged and raises ``FitStopped`` at its next EM iteration; RQ marks it STOPPED."""
    job_id = worker._stopped_job_id or worker.get_current_job_id()
    if job_id:
        jobs.request_stop(job_id)


class SmallFitsHere:
    """Worker mixin: a job of at most ``INLINE_MAX_WORK`` runs in the worker process itself
    (``_run_here``), any other in a forked work horse as RQ does."""

    _inline = False

    def execute_job(self, job: Any, queue: Any) -> None:
        work = job.meta.get("work")
        if work is None or work > INLINE_MAX_WORK:
            super().execute_job(job, queue)  # type: ignore[misc]
            return
        self._inline = True
        try:
            _run_here(self, job, queue)
        finally:
            self._inline = False
        self.set_state(WorkerStatus.IDLE)  # type: ignore[attr-defined]

    def kill_horse(self, sig: Any = signal.SIGKILL) -> None:
        if self._inline:
            _stop_here(self)  # never killpg: the "horse" is this process
            return
        super().kill_horse(sig)  # type: ignore[misc]


class FitWorker(
    RetryOnlyWhatMayPass,
    OutageTolerant,
    FewerRoundTrips,
    QuickUnsubscribe,
    logs.JobLogContext,
    SmallFitsHere,
    Worker,
):
    """RQ's forking worker; every log line about a job carries its fit (``worker.logs``), it
    outlives a Redis outage busy or idle (``worker.outage``), it runs tiny fits itself
    instead of forking (``SmallFitsHere``), and it skips RQ's repeated beats and state writes
    (``worker.bookkeeping``)."""


class InlineWorker(
    RetryOnlyWhatMayPass,
    OutageTolerant,
    FewerRoundTrips,
    QuickUnsubscribe,
    logs.JobLogContext,
    SimpleWorker,
):
    """Runs every fit in the worker process itself instead of a forked work horse.

    About 10 ms less per fit (no fork, no copy-on-write faults), at the price of isolation: a fit
    that crashes the interpreter takes the worker with it (RQ then fails the job as abandoned when
    it cleans its registries). ``send_stop_job_command`` still stops a running fit: instead of
    killing a horse, the fit is flagged and raises ``FitStopped`` at its next EM iteration, and
    RQ marks it STOPPED as it does a killed horse's job.
    """

    def execute_job(self, job: Any, queue: Any) -> None:
        _run_here(self, job, queue)
        self.set_state(WorkerStatus.IDLE)

    def kill_horse(self, sig: Any = None) -> None:
        _stop_here(self)


def build_worker(
    url: str, queue_name: str, name: str | None = None, inline: bool = False
) -> Worker:
    """An RQ worker on ``queue_name`` using the JSON serializer: RQ's forking ``Worker`` (each
    fit in its own work horse) or, with ``inline``, an ``InlineWorker``."""
    connection = Redis.from_url(url)
    queue = Queue(queue_name, connection=connection, serializer=JSONSerializer)
    cls = InlineWorker if inline else FitWorker
    return cls(
        [queue],
        connection=connection,
        serializer=JSONSerializer,
        name=name,
        job_monitoring_interval=HEARTBEAT_SECONDS,
        worker_ttl=WORKER_TTL,
    )


def warm_up() -> None:
    """Run one tiny fit and one tiny bootstrap LRT in the worker process before it forks any
    horse.

    Lazy set-up in the core and its libraries (threadpoolctl's scan of the loaded BLAS, scipy's
    lazy imports, numpy's first-call caches) then happens once here instead of in every forked
    horse; it cost about 40 ms per job (an LRT part's replicate code about 30 ms more, measured
    2026-12-05). Both are far below the size at which the core starts its E-step thread pool,
    so no thread exists across the fork.
    """
    import numpy as np

    import mixfit

    x = np.linspace(0.0, 1.0, 40) ** 2
    mixfit.fit(x, k=[1, 2], n_starts=2, seed=0)
    mixfit.bootstrap_lrt(x, max_k=1, nboot=2, seed=0, replicate_starts="warm", n_starts=2)
    # Everything loaded so far lives as long as the worker: keep the collector from walking it
    # in every horse (a full collection touches every object, copying the pages on write).
    gc.collect()
    gc.freeze()


def parser(settings: Settings) -> argparse.ArgumentParser:
    """The command line, its defaults taken from ``settings``.

    Parameters
    ----------
    settings : fitqueue.settings.Settings
        Usually ``Settings.from_env()``: ``--url`` defaults to ``redis_url``, ``--queue`` to
        ``queue_name``, ``--inline`` to ``worker_inline``, ``--log-level`` to ``worker_level``.

    Returns
    -------
    argparse.ArgumentParser
    """
    cli = argparse.ArgumentParser(prog="python -m worker", description=__doc__.split("\n")[0])
    cli.add_argument("--url", default=settings.redis_url, help="default: MIXFIT_REDIS_URL")
    cli.add_argument("--queue", default=settings.queue_name, help="default: MIXFIT_QUEUE_NAME")
    cli.add_argument("--name", default=None, help="worker name (default: RQ's random id)")
    cli.add_argument("--burst", action="store_true", help="quit when the queue is empty")
    cli.add_argument(
        "--inline",
        action="store_true",
        default=settings.worker_inline,
        help="run fits in this process instead of a forked horse (faster, less isolated); "
        "default: MIXFIT_WORKER_INLINE",
    )
    cli.add_argument(
        "--log-level",
        default=settings.worker_level,
        type=str.upper,
        help="default: MIXFIT_WORKER_LOG_LEVEL, else MIXFIT_LOG_LEVEL, else INFO",
    )
    return cli


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, then work until stopped (or until the queue is empty with ``--burst``)."""
    settings = Settings.from_env()
    args = parser(settings).parse_args(argv)
    logs.configure(settings.log_format, args.log_level)
    # One E-step thread per fit unless told otherwise: run one worker per core instead. (The
    # core's BLAS thread limiting also costs ~25 ms per fit in a forked horse when it is on.)
    os.environ.setdefault("MIXFIT_THREADS", "1")
    keep_freed_memory()  # before any large array: EM reuses them instead of faulting them in
    warm_up()
    delay, attempt = 1.0, 0
    while True:
        name = args.name if attempt == 0 or args.name is None else f"{args.name}-{attempt}"
        # RQ's Worker() talks to Redis (CLIENT SETNAME): a worker started while Redis is away
        # (a host booting before it, a restart during an outage) waits for it instead of dying.
        rq_worker = through_outage(
            Redis.from_url(args.url),
            "the worker's start",
            build_worker,
            args.url,
            args.queue,
            name,
            args.inline,
        )
        try:
            rq_worker.work(burst=args.burst, logging_level=args.log_level)
            # A warm shutdown (SIGTERM, Ctrl-C) sets _stop_requested only when it comes during a
            # job; an idle worker leaves work() through StopRequested with only the request's
            # date set. Both are a stop, not a loop that ended on an error: starting a fresh
            # worker there made an idle worker outlive every SIGTERM until it was killed.
            stopped = rq_worker._stop_requested or rq_worker._shutdown_requested_date is not None
            if args.burst or stopped:
                return 0
            # RQ's loop ended on an error it logged ("found an unhandled exception"): never
            # leave the queue without this worker; start a fresh one once Redis answers.
            attempt += 1
            wait_for_redis(rq_worker.connection, "the worker's restart")
        except (RedisConnectionError, RedisTimeoutError):
            # Its farewell (RQ's register_death) could not reach Redis: the same.
            attempt += 1
            wait_for_redis(rq_worker.connection, "the worker's restart")
        except (OutOfMemoryError, ReadOnlyError) as exc:
            # RQ retries lost connections itself, but a Redis that refuses writes (full, with
            # noeviction; a read-only replica) ends work() with the error: wait and start again
            # instead of leaving the queue without a worker.
            attempt += 1
            log.error("Redis refused a write (%s); starting again in %.0f s", exc, delay)
            time.sleep(delay)
            delay = min(2 * delay, 30.0)


if __name__ == "__main__":
    sys.exit(main())
