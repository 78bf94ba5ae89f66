"""The sweeper's recovery of jobs that a worker took from the queue but never started
(``worker.sweeper.requeue_untaken``; found by the chaos run: a fit stayed ``queued`` for 10
minutes after its worker was killed between taking it and starting it)."""

from __future__ import annotations

import uuid

from rq import Queue
from rq.executions import Execution
from rq.job import JobStatus
from rq.serializers import JSONSerializer
from rq.utils import now, utcformat

from worker.sweeper import sweep


def queue_of_two(redis_client) -> tuple[Queue, str, str]:
    queue = Queue(
        f"sweep-{uuid.uuid4().hex[:8]}", connection=redis_client, serializer=JSONSerializer
    )
    first = queue.enqueue_call("builtins.len", args=([1, 2],)).id
    second = queue.enqueue_call("builtins.len", args=([3],)).id
    return queue, first, second


def take(redis_client, queue: Queue) -> None:
    """What a worker's dequeue does (RQ's ``Queue.lmove``), and then nothing: it died."""
    redis_client.lmove(queue.key, queue.intermediate_queue_key, "LEFT", "RIGHT")


def test_a_job_taken_but_never_started_goes_back_to_the_front_of_the_queue(redis_client) -> None:
    queue, first, second = queue_of_two(redis_client)
    take(redis_client, queue)
    assert queue.job_ids == [second]

    sweep(redis_client, queue.name, stale_after=0.0)  # first seen now: a worker may be starting it
    assert queue.intermediate_queue.get_job_ids() == [first]
    sweep(redis_client, queue.name, stale_after=0.0)
    assert queue.job_ids == [first, second]
    assert queue.intermediate_queue.get_job_ids() == []
    assert queue.fetch_job(first).get_status() == JobStatus.QUEUED
    assert queue.fetch_job(first).retries_left is None  # nothing used up: it never ran
    assert queue.intermediate_queue.get_first_seen(first) is None


def test_a_job_taken_a_moment_ago_stays_with_its_worker(redis_client) -> None:
    queue, first, second = queue_of_two(redis_client)
    take(redis_client, queue)
    for _ in range(2):
        sweep(redis_client, queue.name, stale_after=60.0)
    assert queue.intermediate_queue.get_job_ids() == [first]
    assert queue.job_ids == [second]


def test_a_job_already_back_in_the_queue_is_only_taken_off_the_list(redis_client) -> None:
    queue, first, second = queue_of_two(redis_client)
    take(redis_client, queue)
    queue.push_job_id(first)  # as RQ's own retry would
    for _ in range(2):
        sweep(redis_client, queue.name, stale_after=0.0)
    assert queue.job_ids == [second, first]
    assert queue.intermediate_queue.get_job_ids() == []


def register(redis_client, queue: Queue, job_id: str, worker: str) -> None:
    """What the worker does next (RQ's ``prepare_execution``): the job is in the started
    registry under ``worker``, still ``queued`` until its work horse begins it."""
    with redis_client.pipeline() as pipe:
        Execution.create(queue.fetch_job(job_id), 120, pipeline=pipe, worker_name=worker)
        pipe.execute()


def test_a_job_registered_by_a_worker_that_died_before_its_horse_began_goes_back(
    redis_client,
) -> None:
    queue, first, second = queue_of_two(redis_client)
    take(redis_client, queue)
    register(redis_client, queue, first, "dead-worker")  # no heartbeat: dead

    sweep(redis_client, queue.name, stale_after=10.0)  # at once: its worker is known dead
    assert queue.job_ids == [first, second]
    assert queue.intermediate_queue.get_job_ids() == []
    assert first not in queue.started_job_registry
    assert queue.fetch_job(first).get_status() == JobStatus.QUEUED


def test_a_job_registered_by_a_live_worker_stays_with_it(redis_client) -> None:
    queue, first, second = queue_of_two(redis_client)
    take(redis_client, queue)
    register(redis_client, queue, first, "live-worker")
    redis_client.hset("rq:worker:live-worker", "last_heartbeat", utcformat(now()))
    try:
        for _ in range(2):
            sweep(redis_client, queue.name, stale_after=10.0)
        assert queue.intermediate_queue.get_job_ids() == [first]
        assert first in queue.started_job_registry
    finally:
        redis_client.delete("rq:worker:live-worker")
