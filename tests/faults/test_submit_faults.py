"""A submission cut between claiming its Idempotency-Key and queueing its fit (Redis lost, or
its gunicorn process killed), then retried with the same key, as a client should.

Found by looking at the chaos run's fault windows (``make chaos``): the retry heard 410 "fit
... has expired" for a fit that never existed, and so did every retry for a day (the key's
lifetime). Now the retry hears 503 while the first submission might still be alive (within
``fits.submit_deadline()``, twice ``REDIS_TIMEOUT``), then queues the fit itself.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis.exceptions
from rq import Queue

from fitqueue import keys
from service import create_app, fits
from tests.conftest import TEST_QUEUE

BODY = {"data": [0.1, 0.3, 0.2, 5.0, 5.2, 5.1, 4.9, 0.0], "k": [1, 2], "seed": 4}
REDIS_TIMEOUT = 2  # so the submission deadline is 4 s


@pytest.fixture()
def make_client(redis_url: str) -> Iterator:
    apps = []

    def make(queue: str) -> Any:
        config = {"REDIS_URL": redis_url, "QUEUE_NAME": queue, "REDIS_TIMEOUT": REDIS_TIMEOUT}
        apps.append(create_app({"TESTING": True, **config}))
        return apps[-1].test_client()

    yield make
    for app in apps:
        app.extensions["mixfit"].redis.close()


def cut_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next enqueue fails as if Redis went away just then (after the key was claimed)."""
    real, calls = Queue.enqueue_call, []

    def enqueue_call(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise redis.exceptions.ConnectionError("Connection closed by server.")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Queue, "enqueue_call", enqueue_call)


def test_a_retry_after_a_cut_submission_queues_the_fit(
    make_client, worker_proc, monkeypatch
) -> None:
    client = make_client(TEST_QUEUE)
    cut_once(monkeypatch)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    assert client.post("/v1/fits", json=BODY, headers=key).status_code == 503

    early = client.post("/v1/fits", json=BODY, headers=key)  # the first might still be alive
    assert early.status_code == 503, early.get_json()
    assert "still being queued" in early.get_json()["message"]

    deadline = time.monotonic() + 30
    while (retry := client.post("/v1/fits", json=BODY, headers=key)).status_code == 503:
        assert time.monotonic() < deadline, retry.get_json()
        time.sleep(0.2)
    assert retry.status_code == 202, retry.get_json()
    fit_id = retry.get_json()["id"]
    again = client.post("/v1/fits", json=BODY, headers=key)
    assert again.status_code == 202 and again.get_json()["id"] == fit_id
    assert again.headers["Idempotent-Replayed"] == "true"
    doc = client.get(f"/v1/fits/{fit_id}?wait=30").get_json()
    assert doc["status"] == "finished", doc


def test_a_fit_still_being_queued_is_not_taken_over(make_client, redis_client) -> None:
    """A twin's request while the first submission is under way (no job yet, its record
    younger than the deadline) waits, then hears 503; it never queues a second fit."""
    client = make_client(f"idle-{uuid.uuid4().hex[:8]}")  # no worker: the job stays as it is
    key = {"Idempotency-Key": uuid.uuid4().hex}
    fit_id = client.post("/v1/fits", json=BODY, headers=key).get_json()["id"]
    redis_client.delete(f"rq:job:{fit_id}")  # as if its job were not queued yet
    redis_client.hdel(keys.fit(fit_id), "queued_at")

    twin = client.post("/v1/fits", json=BODY, headers=key)
    assert twin.status_code == 503, twin.get_json()
    claim = redis_client.get(keys.idempotency(fits.body_digest(key["Idempotency-Key"].encode())))
    assert claim.decode().startswith(f"{fit_id}:")  # still the first submission's
