"""The worker's command channel (RQ's pubsub thread, which hears stop-job and shutdown commands)
and how it closes.

RQ's ``unsubscribe`` sends UNSUBSCRIBE, then stops the thread; redis-py's ``stop()`` (since
8.x) waits for the thread to leave its loop, whose ``get_message`` blocks up to RQ's
``sleep_time`` of 60 s. When the thread read UNSUBSCRIBE's reply before the stop flag was
cleared, it went back to block and the worker's exit waited the full minute: a burst worker
under load took 61 s instead of 1 (``tests/worker/test_worker_jobs.py`` lost a model stored
with a 50 s time to live to it), and every stop of a worker could take a minute past its
last job. ``QuickUnsubscribe`` clears the flag first, then unsubscribes, so the reply ends the
loop; it waits at most a second for that, and leaves a thread that did not end (it is a
daemon) instead of closing the connection under it.
"""

from __future__ import annotations

from typing import Any

THREAD_WAIT = 1.0  # seconds the farewell waits for the command thread to end


class QuickUnsubscribe:
    """Worker mixin (before RQ's ``Worker`` in the bases): see the module docstring."""

    pubsub: Any
    pubsub_thread: Any

    def unsubscribe(self) -> None:
        thread = self.pubsub_thread
        if not thread:
            return
        self.log.info(  # type: ignore[attr-defined]
            "Worker %s: unsubscribing from channel %s",
            self.name,  # type: ignore[attr-defined]
            self.pubsub_channel_name,  # type: ignore[attr-defined]
        )
        thread.stop(timeout=0)  # the flag only: the reply below ends the thread's loop
        if thread.is_alive():
            self.pubsub.unsubscribe()
            thread.join(THREAD_WAIT)
        if not thread.is_alive():  # it closed the pubsub as it left; this closes it for sure
            self.pubsub.close()
