"""Workers outlive a Redis outage of any length, busy or idle.

RQ's worker survives a lost connection only while it waits for a job (``dequeue_any`` retries
with back-off). Everywhere else a ``redis.ConnectionError`` ends it: a heartbeat while the work
horse runs, ``job.get_status()`` after the horse exits, the horse's own writing of the result.
The worker then logs "found an unhandled exception, quitting", exits, and its fit stays
``started`` (issue 14 measured exactly that with a kill -9 of redis-server under a busy worker).

``OutageTolerant`` closes those holes without copying RQ's loops:

- **Heartbeats are best effort.** A heartbeat that cannot reach Redis is skipped (logged once
  per outage); the horse goes on computing. Readiness and the sweeper see the worker's heartbeat
  age, so a long outage looks like what it is once Redis is back: one beat later it is fresh.
- **Bookkeeping waits for Redis.** Marking a job started, storing its result, failing or
  retrying it: each runs through ``through_outage``, which waits (pinging with back-off from
  0.5 s to 30 s) until Redis answers and then runs the step again. Each step is one MULTI/EXEC
  transaction in RQ, so a step cut by the outage left nothing behind and running it again is
  safe; a step whose EXEC ran but whose reply was lost is applied twice, which for these steps
  only repeats counters and the result entry.
- **After the horse** (``monitor_work_horse``): RQ reads the job's status there without a guard.
  If that raises, the horse has already exited (``_horse_pid`` is 0 before the read): wait for
  Redis, then do what RQ would have done: nothing if the job ended, otherwise fail it (RQ then
  retries it when it has retries left) or mark it stopped.

So a fit running across an outage ends ``finished`` (its horse waits to store the result) or is
retried; none is left ``started`` or lost. ``tests/faults/test_redis_faults.py`` reproduces the
issue's sequence with one unsupervised worker.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.exceptions import InvalidJobOperation
from rq.job import JobStatus

log = logging.getLogger("mixfit.worker")

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
FIRST_WAIT = 0.5
LONGEST_WAIT = 30.0

T = TypeVar("T")


def wait_for_redis(connection: Redis, what: str) -> None:
    """Block until ``connection`` answers a PING, waiting 0.5 s, 1 s, 2 s, ... at most 30 s
    between tries. ``what`` names the step that waits, for the log."""
    delay, waited, announced = FIRST_WAIT, 0.0, False
    while True:
        try:
            connection.ping()
        except REDIS_DOWN as exc:
            if not announced:
                log.warning("Redis is unreachable (%s); %s waits for it", exc, what)
                announced = True
            time.sleep(delay)
            waited += delay
            delay = min(2.0 * delay, LONGEST_WAIT)
            continue
        if announced:
            log.warning("Redis is back after %.1f s; %s goes on", waited, what)
        return


def through_outage(
    connection: Redis, what: str, step: Callable[..., T], /, *args: Any, **kw: Any
) -> T:
    """Run ``step(*args, **kw)``; while Redis is unreachable, wait for it and run it again.

    The first three parameters are positional-only, so ``step``'s own keywords may use the same
    names: ``worker.jobs.reduce`` passes ``Job.fetch_many`` its ``connection=``, a TypeError
    ("got multiple values for argument 'connection'") that failed every fanned-out fit.
    """
    while True:
        try:
            return step(*args, **kw)
        except REDIS_DOWN:
            wait_for_redis(connection, what)


class OutageTolerant:
    """Mixin for RQ workers (before ``Worker`` in the bases): see the module docstring."""

    _beat_failing = False

    # -- best effort ------------------------------------------------------------------------------
    def heartbeat(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().heartbeat(*args, **kwargs)
        except REDIS_DOWN as exc:
            self._skipped_beat(exc)
        else:
            self._beat_failing = False

    def maintain_heartbeats(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().maintain_heartbeats(*args, **kwargs)
        except REDIS_DOWN as exc:
            self._skipped_beat(exc)
        else:
            self._beat_failing = False

    def _skipped_beat(self, exc: Exception) -> None:
        if not self._beat_failing:
            log.warning("heartbeat skipped: Redis is unreachable (%s); the work goes on", exc)
        self._beat_failing = True

    def check_for_suspension(self, *args: Any, **kwargs: Any) -> None:
        # Unreachable Redis: go on to the dequeue, which waits for Redis with back-off.
        try:
            super().check_for_suspension(*args, **kwargs)
        except REDIS_DOWN:
            pass

    def run_maintenance_tasks(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().run_maintenance_tasks(*args, **kwargs)
        except REDIS_DOWN:
            pass  # runs again at the next maintenance interval

    # -- bookkeeping waits for Redis -------------------------------------------------------------
    def _waiting(self, what: str, step: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return through_outage(self.connection, what, step, *args, **kwargs)

    def prepare_job_execution(self, job: Any, *args: Any, **kwargs: Any) -> None:
        what = f"starting job {job.id}"
        self._waiting(what, super().prepare_job_execution, job, *args, **kwargs)

    def handle_execution_ended(self, job: Any, *args: Any, **kwargs: Any) -> None:
        what = f"ending job {job.id}"
        self._waiting(what, super().handle_execution_ended, job, *args, **kwargs)

    def handle_job_success(self, job: Any, *args: Any, **kwargs: Any) -> None:
        what = f"storing the result of job {job.id}"
        self._waiting(what, super().handle_job_success, job, *args, **kwargs)

    def handle_job_failure(self, job: Any, *args: Any, **kwargs: Any) -> None:
        what = f"recording the failure of job {job.id}"
        self._waiting(what, super().handle_job_failure, job, *args, **kwargs)

    def handle_job_retry(self, job: Any, *args: Any, **kwargs: Any) -> None:
        what = f"retrying job {job.id}"
        self._waiting(what, super().handle_job_retry, job, *args, **kwargs)

    # -- after the horse --------------------------------------------------------------------------
    def wait_for_horse(self) -> tuple:
        outcome = super().wait_for_horse()
        self._horse_outcome = outcome
        return outcome

    def monitor_work_horse(self, job: Any, queue: Any, execution: Any) -> None:
        self._horse_outcome = (None, None, None)
        try:
            super().monitor_work_horse(job, queue, execution)
        except REDIS_DOWN:
            if getattr(self, "_horse_pid", 0):
                raise  # not after the horse: nothing here expects it
            self._after_horse(job, queue, execution)

    def _after_horse(self, job: Any, queue: Any, execution: Any) -> None:
        """What RQ does once the horse has exited, run when Redis answers again."""
        retpid, ret_val, rusage = self._horse_outcome
        if ret_val == os.EX_OK:
            return  # the horse stored its result itself
        while True:
            wait_for_redis(self.connection, f"job {job.id}, whose work horse has exited")
            try:
                status = job.get_status()
            except InvalidJobOperation:
                return  # ended and expired
            except REDIS_DOWN:
                continue
            break
        if status in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED):
            return
        if self._stopped_job_id == job.id:
            self._handle_stopped_job(job, queue, execution)
            return
        signalled = ret_val is not None and os.WIFSIGNALED(ret_val)
        reason = (
            f"Work-horse terminated unexpectedly; waitpid returned {ret_val}"
            + (f" (signal {os.WTERMSIG(ret_val)})" if signalled else "")
            + "; "
        )
        log.warning("job %s failed (%s)", job.id, reason)
        self.handle_work_horse_killed(job, retpid, ret_val, rusage)
        self.handle_job_failure(job, queue=queue, exc_string=reason, execution=execution)
