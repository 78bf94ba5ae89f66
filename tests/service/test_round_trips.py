"""Redis round trips of a small fit, counted (the README's service performance figures): a
``POST /v1/fits`` with inline data takes 3, a ``GET ?wait`` at most 3, and a worker's job 13
once the worker runs (``worker.bookkeeping``; 24.8 counted the same way before it). A round
trip is one send of a command or of a pipeline's commands to Redis.

The worker's time-based writes are held still (``hold_the_clock``): a heartbeat or suspension
check a second after the last, the in-process fit's heartbeat thread, a progress write 50 ms
into a fit. Under a loaded CI machine six jobs can take over a second and a fit over 50 ms, and
the count then rose by one (13.2 per job): a count of the time the jobs took, not of the
round trips a job needs."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from redis.connection import AbstractConnection

import worker.__main__
import worker.bookkeeping
import worker.jobs
from service import create_app
from worker.__main__ import build_worker


class Sends:
    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def sends(monkeypatch) -> Sends:
    counter = Sends()
    real = AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        counter.count += 1
        return real(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return counter


@pytest.fixture
def hold_the_clock(monkeypatch) -> None:
    """No write is due by the clock while the test runs (module docstring)."""
    monkeypatch.setattr(worker.bookkeeping, "BEAT_EVERY", 3600.0)
    monkeypatch.setattr(worker.__main__, "HEARTBEAT_SECONDS", 3600)
    monkeypatch.setattr(worker.jobs, "FIRST_PROGRESS_AFTER", 3600.0)


def body(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    data = np.concatenate([rng.normal(0, 1, 20), rng.normal(4, 1.5, 20)]).round(6)
    return {"data": data.tolist(), "k": 2, "n_starts": 2, "seed": seed}


def test_a_fit_takes_few_round_trips(redis_url: str, sends: Sends, hold_the_clock: None) -> None:
    queue = f"round-trips-{uuid.uuid4().hex[:8]}"
    client = create_app({"REDIS_URL": redis_url, "QUEUE_NAME": queue}).test_client()
    client.post("/v1/fits", json=body(0))  # the first one also learns Redis's version
    posts = []
    ids = []
    for seed in range(1, 7):
        before = sends.count
        answer = client.post("/v1/fits", json=body(seed))
        assert answer.status_code == 202
        posts.append(sends.count - before)
        ids.append(answer.get_json()["id"])
    assert posts == [3] * 6  # the dataset and the record; EXISTS; the job and its mark

    # Two workers, each registering, cleaning RQ's registries and leaving: one runs one job,
    # the other the six left; the difference is five jobs of a running worker.
    counts = []
    for jobs in (1, 6):
        before = sends.count
        build_worker(redis_url, queue, name=uuid.uuid4().hex).work(burst=True, max_jobs=jobs)
        counts.append(sends.count - before)
    per_job = (counts[1] - counts[0]) / 5
    assert per_job <= 13, counts  # 24.8 before worker.bookkeeping and the fewer writes

    for fit_id in ids:
        before = sends.count
        doc = client.get(f"/v1/fits/{fit_id}?wait=30").get_json()
        assert doc["status"] == "finished"
        assert sends.count - before <= 3  # the job, the result (or the wait and a refresh)
