"""``service.fits.wait_for_end``: a wait blocks on the job's result stream, wakes on a success
with the result in hand, and does not spin on a failed attempt that RQ retries."""

from __future__ import annotations

import time
import uuid

from rq import Queue
from rq.job import JobStatus
from rq.results import Result
from rq.serializers import JSONSerializer

from service import create_app
from service.fits import wait_for_end


def _queued_job(redis_client, redis_url):
    app = create_app({"REDIS_URL": redis_url, "QUEUE_NAME": f"wait-{uuid.uuid4().hex[:8]}"})
    queue = Queue(app.config["QUEUE_NAME"], connection=redis_client, serializer=JSONSerializer)
    job = queue.enqueue("builtins.len", [1, 2])
    return app, job


def test_a_failed_attempt_being_retried_does_not_wake_every_read(redis_client, redis_url) -> None:
    app, job = _queued_job(redis_client, redis_url)
    Result.create_failure(job, ttl=60, exc_string="the first attempt failed")
    reads: list[float] = []

    def read_state() -> str:
        reads.append(time.monotonic())
        return "queued"  # RQ retries it

    with app.app_context():
        start = time.monotonic()
        state, waited, result = wait_for_end(job, read_state, 1.2)
    assert (state, waited, result) == ("queued", True, None)
    assert time.monotonic() - start >= 1.0
    # one read after the failure woke the wait, then one per 0.5 s slice: not one per XREAD
    # answered at once from the failure's entry (thousands in 1.2 s)
    assert 2 <= len(reads) <= 5


def test_a_success_ends_the_wait_with_its_result(redis_client, redis_url) -> None:
    app, job = _queued_job(redis_client, redis_url)
    Result.create_failure(job, ttl=60, exc_string="the first attempt failed")
    Result.create(job, Result.Type.SUCCESSFUL, ttl=60, return_value={"model_id": "m"})
    job.set_status(JobStatus.FINISHED)
    reads: list[str] = []
    with app.app_context():
        job.set_status(JobStatus.QUEUED)  # as last read by the caller, before the wait
        state, waited, result = wait_for_end(job, lambda: reads.append("read") or "queued", 5.0)
    assert (state, waited, reads) == ("finished", True, [])
    assert result is not None and result.return_value == {"model_id": "m"}
