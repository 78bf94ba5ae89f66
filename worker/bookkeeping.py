"""RQ's per-job bookkeeping without the Redis round trips that change nothing.

Between two jobs RQ's worker beats three times (before it blocks on the queue, after it
dequeued, after the job), each beat three commands in three round trips, and writes its state
``idle`` twice (after the job, then before the dequeue). For a fit of ten milliseconds that was
7 of the worker's 24 round trips per job, and every one costs client and server CPU that the
next fit needs (issue 10's throughput: 2 cores, every process of the stack on them).

``FewerRoundTrips`` skips a plain heartbeat (RQ's default time to live, not in a pipeline) when
this worker's last one reached Redis less than ``BEAT_EVERY`` seconds ago, a state write that
repeats the state it wrote directly less than ``BEAT_EVERY`` seconds ago, and RQ's check for
``rq suspend`` (a transaction of its own before every dequeue) within ``BEAT_EVERY`` seconds of
the last one: a suspension stops the worker at most a second later. Nothing else changes:

- the worker's key lives ``worker_ttl + 60`` seconds after each beat, so a beat one second late
  leaves it far from expiry, and readiness and the sweeper call a worker dead only after
  ``fitqueue.keys.WORKER_STALE_SECONDS`` (10 s) without a beat;
- beats with their own time to live (a job's: RQ's ``prepare_execution``, the in-process fit's
  heartbeat thread) and beats inside RQ's transactions always go out;
- a beat or write that failed (Redis away) does not count: the next one goes out.
"""

from __future__ import annotations

import time
from typing import Any

BEAT_EVERY = 1.0  # seconds


class FewerRoundTrips:
    """Worker mixin (before RQ's ``Worker`` in the bases, after ``OutageTolerant``): see the
    module docstring."""

    _beat_sent = -float("inf")  # time.monotonic() of the last plain beat that reached Redis
    _state_sent: tuple[str, float] | None = None  # the last state written directly, and when
    _suspension_checked = -float("inf")  # time.monotonic() of the last completed check

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        plain = timeout is None and pipeline is None
        if plain and time.monotonic() - self._beat_sent < BEAT_EVERY:
            return
        super().heartbeat(timeout, pipeline)  # type: ignore[misc]
        if pipeline is None:  # it reached Redis (a failure raised above)
            self._beat_sent = time.monotonic()

    def set_state(self, state: str, pipeline: Any = None) -> None:
        if pipeline is None and self._state_sent is not None:
            last, when = self._state_sent
            if last == state and time.monotonic() - when < BEAT_EVERY:
                self._state = state
                return
        self._state_sent = None
        super().set_state(state, pipeline)  # type: ignore[misc]
        if pipeline is None:
            self._state_sent = (state, time.monotonic())

    def check_for_suspension(self, burst: bool) -> None:
        if time.monotonic() - self._suspension_checked < BEAT_EVERY:
            return
        super().check_for_suspension(burst)  # type: ignore[misc]
        self._suspension_checked = time.monotonic()
