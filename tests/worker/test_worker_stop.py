"""``python -m worker`` stops on SIGTERM (a deploy's stop, Ctrl-C in ``make run``): at once when
idle, after its fit when busy. It starts a fresh RQ worker only when RQ's loop ended on an error
(``worker.__main__``), never on a stop: it did on an idle one, found by the chaos run, and
outlived every SIGTERM until it was killed."""

from __future__ import annotations

import signal
import time
import uuid

import numpy as np

import devstack
from service import create_app

# A second or two of work on one core: still running when the signal comes.
rng = np.random.default_rng(2)
SLOW = {
    "data": np.concatenate([rng.normal(0, 1, 4000), rng.normal(1.5, 1.2, 4000)]).tolist(),
    "k": [2, 3],
    "n_starts": 4,
    "tol": 1e-15,
    "max_iter": 300,
    "seed": 3,
}


def start_listening(redis_url: str, redis_client) -> tuple:
    """A worker on a queue of its own, once it waits for jobs: RQ installs its signal handlers
    after it registers, so a SIGTERM between the two would end it the default way."""
    name = f"stop-{uuid.uuid4().hex[:8]}"
    proc = devstack.start_worker(redis_url, name, log_level="WARNING", extra=["--name", name])
    deadline = time.monotonic() + 30
    while redis_client.hget(f"rq:worker:{name}", "state") != b"idle":
        assert proc.poll() is None and time.monotonic() < deadline, "the worker never listened"
        time.sleep(0.05)
    return proc, name


def test_an_idle_worker_stops_at_once_on_sigterm(redis_url: str, redis_client) -> None:
    proc, _ = start_listening(redis_url, redis_client)
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        devstack.stop([proc])


def test_a_busy_worker_finishes_its_fit_then_stops_on_sigterm(redis_url: str, redis_client) -> None:
    proc, queue = start_listening(redis_url, redis_client)
    app = create_app({"TESTING": True, "REDIS_URL": redis_url, "QUEUE_NAME": queue})
    client = app.test_client()
    try:
        fit_id = client.post("/v1/fits", json=SLOW).get_json()["id"]
        deadline = time.monotonic() + 30
        while client.get(f"/v1/fits/{fit_id}").get_json()["status"] == "queued":
            assert time.monotonic() < deadline, "the fit never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert client.get(f"/v1/fits/{fit_id}").get_json()["status"] == "finished"
    finally:
        devstack.stop([proc])
        app.extensions["mixfit"].redis.close()
