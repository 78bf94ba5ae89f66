"""``worker.bookkeeping``: RQ's repeated beats and state writes are skipped, nothing else."""

from __future__ import annotations

import uuid

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rq.exceptions import StopRequested
from rq.suspension import resume, suspend

from worker import bookkeeping
from worker.__main__ import build_worker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(bookkeeping.time, "monotonic", c)
    return c


def beat_field(redis_client: Redis, worker) -> bytes | None:
    return redis_client.hget(worker.key, "last_heartbeat")


def test_a_plain_beat_within_a_second_of_the_last_is_skipped(
    redis_client: Redis, redis_url: str, clock: Clock
) -> None:
    worker = build_worker(redis_url, f"q-{uuid.uuid4().hex[:8]}", name=uuid.uuid4().hex)
    worker.heartbeat()
    assert beat_field(redis_client, worker) is not None
    redis_client.hdel(worker.key, "last_heartbeat")
    clock.now += 0.5
    worker.heartbeat()  # skipped: the last one is half a second old
    assert beat_field(redis_client, worker) is None
    worker.heartbeat(90)  # its own time to live: always sent
    assert beat_field(redis_client, worker) is not None
    assert 60 < redis_client.ttl(worker.key) <= 90
    redis_client.hdel(worker.key, "last_heartbeat")
    clock.now += bookkeeping.BEAT_EVERY
    worker.heartbeat()  # a second after the last one reached Redis
    assert beat_field(redis_client, worker) is not None


def test_a_beat_that_failed_does_not_count(
    redis_client: Redis, redis_url: str, clock: Clock, monkeypatch
) -> None:
    worker = build_worker(redis_url, f"q-{uuid.uuid4().hex[:8]}", name=uuid.uuid4().hex)
    real = worker.connection.hset

    def down(*args, **kwargs):
        raise RedisConnectionError("Redis is away")

    monkeypatch.setattr(worker.connection, "hset", down)
    worker.heartbeat()  # OutageTolerant: skipped and logged, the work goes on
    monkeypatch.setattr(worker.connection, "hset", real)
    worker.heartbeat()  # at once: the failed beat did not reach Redis
    assert beat_field(redis_client, worker) is not None


def test_a_repeated_state_within_a_second_is_not_written_again(
    redis_client: Redis, redis_url: str, clock: Clock
) -> None:
    worker = build_worker(redis_url, f"q-{uuid.uuid4().hex[:8]}", name=uuid.uuid4().hex)
    worker.set_state("idle")
    assert redis_client.hget(worker.key, "state") == b"idle"
    redis_client.hdel(worker.key, "state")
    worker.set_state("idle")  # the same state, just written: skipped
    assert redis_client.hget(worker.key, "state") is None
    worker.set_state("busy")
    assert redis_client.hget(worker.key, "state") == b"busy"
    worker.set_state("idle")  # a change: written
    assert redis_client.hget(worker.key, "state") == b"idle"
    redis_client.hdel(worker.key, "state")
    with redis_client.pipeline() as pipe:  # a state written in a transaction ...
        worker.set_state("idle", pipeline=pipe)
        pipe.execute()
    redis_client.hdel(worker.key, "state")
    worker.set_state("idle")  # ... does not count as written directly
    assert redis_client.hget(worker.key, "state") == b"idle"
    redis_client.hdel(worker.key, "state")
    clock.now += bookkeeping.BEAT_EVERY
    worker.set_state("idle")  # a second later the same state is written again
    assert redis_client.hget(worker.key, "state") == b"idle"
    assert worker.get_state() == "idle"


def test_the_suspension_check_runs_at_most_once_a_second(
    redis_client: Redis, redis_url: str, clock: Clock
) -> None:
    worker = build_worker(redis_url, f"q-{uuid.uuid4().hex[:8]}", name=uuid.uuid4().hex)
    worker.check_for_suspension(burst=True)  # not suspended: returns
    suspend(redis_client)
    try:
        clock.now += 0.5
        worker.check_for_suspension(burst=True)  # half a second later: not checked again
        clock.now += bookkeeping.BEAT_EVERY
        with pytest.raises(StopRequested):  # a second later it is, and a burst worker stops
            worker.check_for_suspension(burst=True)
    finally:
        resume(redis_client)
