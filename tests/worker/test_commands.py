"""The worker's farewell to its command channel (``worker.commands``)."""

from __future__ import annotations

import logging

import pytest

from worker.__main__ import FitWorker, InlineWorker


class FakeThread:
    """RQ's pubsub thread: records stop and join calls; it ends once the stop flag is clear
    and a reply reaches it (as redis-py's loop does)."""

    def __init__(self, events: list) -> None:
        self.events = events
        self.running = True
        self.alive = True

    def stop(self, timeout: float | None = None) -> None:
        self.events.append(("stop", timeout))
        self.running = False

    def join(self, timeout: float | None = None) -> None:
        self.events.append(("join", timeout))

    def is_alive(self) -> bool:
        return self.alive

    def reply(self) -> None:
        """UNSUBSCRIBE's reply: it wakes the loop, which ends only if the flag was cleared."""
        if not self.running:
            self.alive = False


class FakePubSub:
    def __init__(self, events: list, thread: FakeThread) -> None:
        self.events, self.thread = events, thread

    def unsubscribe(self) -> None:
        self.events.append(("unsubscribe",))
        self.thread.reply()

    def close(self) -> None:
        self.events.append(("close",))


class Farewell:
    log = logging.getLogger("test")
    name = "w"
    pubsub_channel_name = "rq:pubsub:w"

    def __init__(self) -> None:
        self.events: list = []
        self.pubsub_thread = FakeThread(self.events)
        self.pubsub = FakePubSub(self.events, self.pubsub_thread)


@pytest.mark.parametrize("worker_class", [FitWorker, InlineWorker])
def test_the_command_thread_hears_its_stop_before_the_reply_that_wakes_it(worker_class) -> None:
    """RQ sent UNSUBSCRIBE, then stopped the thread and waited for it without a bound; a
    thread that read the reply before its stop flag was cleared blocked again in
    ``get_message`` for RQ's 60 s, and the worker's exit with it (a burst worker under load:
    61 s instead of 1). The flag is cleared first now, so the reply ends the loop, and the
    wait is bounded."""
    worker = Farewell()
    worker_class.unsubscribe(worker)
    assert worker.events[0] == ("stop", 0)
    assert worker.events[1] == ("unsubscribe",)
    waits = [event[1] for event in worker.events if event[0] in ("stop", "join")]
    assert all(wait is not None and wait <= 1 for wait in waits)
    assert not worker.pubsub_thread.is_alive() and worker.events[-1] == ("close",)


def test_a_command_thread_that_does_not_end_is_left_open_to_die_with_the_process() -> None:
    """A thread still reading after the bounded wait keeps its connection: closing it under
    ``get_message`` is what redis-py's stop waits to avoid. It is a daemon."""
    worker = Farewell()
    worker.pubsub_thread.reply = lambda: None  # the reply never comes
    FitWorker.unsubscribe(worker)
    assert ("close",) not in worker.events and worker.pubsub_thread.is_alive()
