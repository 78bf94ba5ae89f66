"""Redis faults with real processes on loopback: killed and restarted from its append-only file,
down for a while, full. Each test starts its own redis-server (append-only file on,
``appendfsync always``, so an acknowledged write is on disk before the kill) in a temp dir, and
its own RQ worker and gunicorn where it needs them; recovery times are measured and printed.
Promises are generous (``RECOVERY`` seconds), never timing assertions beyond them.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from redis import Redis

from tests.service.conftest import CheckedClient, Contract, wait_for

RECOVERY = 30.0  # seconds within which service answers again after Redis is back (issue 5)
DATA = np.concatenate(
    [np.random.default_rng(3).normal(0, 1, 80), np.random.default_rng(4).normal(6, 1, 80)]
).tolist()
SHIFTED = [x + 0.5 for x in DATA]


class Stack:
    """A redis-server of our own (fixed port and dir, so it can be killed and restarted)."""

    def __init__(self, tmp: Path) -> None:
        import devstack

        self.devstack = devstack
        self.dir = tmp / "redis"
        self.port = devstack.free_port()
        self.procs: list[Any] = []
        self.apps: list[Any] = []
        self.redis_proc: Any = None
        self.url = ""
        self.start_redis()

    def start_redis(self) -> float:
        """Start (or restart from its files) redis-server; seconds until it answered PING."""
        started = time.monotonic()
        self.redis_proc, self.url = self.devstack.start_redis(self.dir, port=self.port)
        admin = Redis.from_url(self.url)
        admin.config_set("appendfsync", "always")
        admin.close()
        return time.monotonic() - started

    def kill_redis(self) -> None:
        os.kill(self.redis_proc.pid, signal.SIGKILL)
        self.redis_proc.wait()

    def worker(self, queue: str) -> Any:
        proc = self.devstack.start_worker(self.url, queue, log_level="WARNING")
        self.procs.append(proc)
        self.devstack.wait_workers(self.url, queue)
        return proc

    def stop(self) -> None:
        for app in self.apps:  # connections that lived through a kill: closed, not collected
            app.extensions["mixfit"].redis.connection_pool.disconnect()
        self.devstack.stop([*reversed(self.procs), self.redis_proc])


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract()


def client_for(stack: Stack, contract: Contract, queue: str, **config: Any) -> CheckedClient:
    from service import create_app

    app = create_app(
        {"TESTING": True, "REDIS_URL": stack.url, "QUEUE_NAME": queue, "REDIS_TIMEOUT": 2, **config}
    )
    stack.apps.append(app)
    return CheckedClient(app.test_client(), contract)


def until_ok(probe: Any, seconds: float = RECOVERY) -> float:
    """Seconds until ``probe()`` is true (retried every 50 ms); fails after ``seconds``."""
    started = time.monotonic()
    while not probe():
        assert time.monotonic() - started < seconds, f"not recovered within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - started


def test_redis_killed_and_restarted_from_its_aof_keeps_fits_results_and_models(
    stack: Stack, contract: Contract
) -> None:
    busy, idle = f"faults-{uuid.uuid4().hex}", f"faults-idle-{uuid.uuid4().hex}"
    stack.worker(busy)
    client = client_for(stack, contract, busy)
    finished = client.post("/v1/fits", json={"data": DATA, "k": [1, 2], "seed": 7}).get_json()
    finished = wait_for(client, finished["id"])
    assert finished["status"] == "finished", finished
    model = client.get(f"/v1/models/{finished['model_id']}").get_json()
    scores = client.post(f"/v1/models/{model['id']}/score", json={"points": [0.0, 40.0]})
    parked = client_for(stack, contract, idle)  # no worker on this queue: the fit stays queued
    queued = parked.post("/v1/fits", json={"data": DATA, "k": 2, "seed": 8}).get_json()
    upload = client.post("/v1/datasets", data="x\n1.5\n2.5\n3.5\n", content_type="text/csv")

    stack.kill_redis()  # SIGKILL: no shutdown, no final rewrite of the AOF
    down = client.get(f"/v1/fits/{finished['id']}")
    assert client.error(down, 503)["message"].startswith("the queue store (Redis)")
    restart = stack.start_redis()
    answered = until_ok(lambda: client.get(f"/v1/fits/{finished['id']}").status_code == 200)
    print(f"\nRedis restart from its AOF: {restart:.2f} s; API answering {answered:.2f} s later")

    again = client.get(f"/v1/fits/{finished['id']}").get_json()
    assert again["status"] == "finished" and again["result"] == finished["result"]
    assert client.get(f"/v1/models/{model['id']}").get_json() == model
    rescored = client.post(f"/v1/models/{model['id']}/score", json={"points": [0.0, 40.0]})
    assert rescored.get_json() == scores.get_json()
    assert client.get(upload.headers["Location"]).get_json()["n"] == 3
    still = parked.get(f"/v1/fits/{queued['id']}").get_json()
    assert still["status"] == "queued" and still["queue_position"] == 0
    # The queue itself survived, not just the job's hash: a worker started now runs the fit.
    stack.worker(idle)
    ran = wait_for(parked, queued["id"])
    assert ran["status"] == "finished", ran


def http_get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_redis_down_is_503_readyz_fails_and_everything_recovers_by_itself(
    stack: Stack, contract: Contract
) -> None:
    queue = f"faults-{uuid.uuid4().hex}"
    stack.worker(queue)
    bind = f"127.0.0.1:{stack.devstack.free_port()}"
    gunicorn = stack.devstack.start_gunicorn(
        stack.url, bind, queue=queue, workers=1, threads=4, env={"MIXFIT_REDIS_TIMEOUT": "2"}
    )
    stack.procs.append(gunicorn)
    base = f"http://{bind}"
    stack.devstack.wait_http(f"{base}/readyz", gunicorn)

    stack.kill_redis()
    for path in (f"/v1/datasets/{'0' * 64}", f"/v1/fits/{'0' * 32}", "/readyz"):
        status, body = http_get(base + path)
        assert status == 503 and body["code"] == 503, (path, body)
        assert body["message"] == "the queue store (Redis) is unavailable; retry later"
    status, body = http_get(f"{base}/healthz")
    assert status == 200  # the process is alive: no restart wanted, just not ready
    time.sleep(2)  # down for a while: the worker and gunicorn keep failing to reach it

    stack.start_redis()
    api = until_ok(lambda: http_get(f"{base}/v1/fits/{'0' * 32}")[0] == 404)
    ready = until_ok(lambda: http_get(f"{base}/readyz")[0] == 200)
    # End to end: a new fit goes through the queue and a worker again.
    client = client_for(stack, contract, queue)
    started = time.monotonic()
    fit = client.post("/v1/fits", json={"data": DATA, "k": 2, "seed": 9}).get_json()
    doc = wait_for(client, fit["id"], RECOVERY)
    assert doc["status"] == "finished", doc
    print(
        f"\nRedis back: API answering after {api:.2f} s, /readyz 200 after {api + ready:.2f} s, "
        f"a new fit finished {time.monotonic() - started:.2f} s after that"
    )


def test_redis_full_is_503_and_nothing_accepted_is_lost(stack: Stack, contract: Contract) -> None:
    """noeviction + a tiny maxmemory: writes are refused (503, nothing half-stored), reads of
    everything accepted before go on, and writes work again once there is room."""
    queue = f"faults-{uuid.uuid4().hex}"
    stack.worker(queue)
    client = client_for(stack, contract, queue)
    fit = client.post("/v1/fits", json={"data": DATA, "k": 2, "seed": 10}).get_json()
    fit = wait_for(client, fit["id"])
    assert fit["status"] == "finished"
    admin = Redis.from_url(stack.url)
    admin.config_set("maxmemory-policy", "noeviction")
    keys_before = admin.dbsize()
    admin.config_set("maxmemory", 1)
    try:
        for response in (
            client.post("/v1/fits", json={"data": SHIFTED, "k": 2}),
            client.post("/v1/datasets", json={"data": [5.0, 6.0, 7.5]}),
            client.post("/v1/fits", json={"dataset_id": fit["dataset_id"], "k": 3}),
        ):
            error = client.error(response, 503)
            assert error["message"] == "the queue store (Redis) is full; retry later"
        assert admin.dbsize() == keys_before  # a refused request left nothing behind
        assert client.get(f"/v1/fits/{fit['id']}").get_json()["result"] == fit["result"]
        score = client.post(f"/v1/models/{fit['model_id']}/score", json={"points": [1.0]})
        assert score.status_code == 200
    finally:
        admin.config_set("maxmemory", 0)
    again = client.post("/v1/fits", json={"data": SHIFTED, "k": 2})
    assert again.status_code == 202  # room again: accepted, without a restart of anything
    fit_id = again.get_json()["id"]
    doc = wait_for(client, fit_id, 10)
    # The worker outlived the refused writes (it waits and starts again instead of exiting),
    # so the fit accepted after them runs without anything being restarted.
    assert stack.procs[0].poll() is None, "the worker exited while Redis was full"
    assert doc["status"] == "finished", doc
    admin.close()


# A fit of several seconds on one worker thread: overlapping components, a tolerance it cannot
# meet, so every start runs to max_iter (issue 14's "fit of a few seconds").
SLOW = {
    "data": np.concatenate(
        [
            np.random.default_rng(5).normal(0, 1, 10_000),
            np.random.default_rng(6).normal(1.5, 1.2, 10_000),
        ]
    ).tolist(),
    "k": [2, 3],
    "n_starts": 10,
    "tol": 1e-15,
    "max_iter": 400,
    "seed": 11,
}


def test_a_busy_unsupervised_worker_outlives_redis_killed_and_restarted(
    stack: Stack, contract: Contract
) -> None:
    """Issue 14's sequence: one ``python -m worker``, nothing to restart it; a fit is started;
    redis-server is killed with SIGKILL and started again 3 s later on its append-only file. The
    worker lives on, the fit ends finished with the result of an undisturbed run, and a fit
    submitted afterwards runs too."""
    queue = f"faults-{uuid.uuid4().hex}"
    worker = stack.worker(queue)
    client = client_for(stack, contract, queue)
    fit = client.post("/v1/fits", json=SLOW).get_json()
    until_ok(lambda: client.get(f"/v1/fits/{fit['id']}").get_json()["status"] == "started")
    time.sleep(0.5)
    assert client.get(f"/v1/fits/{fit['id']}").get_json()["status"] == "started"

    stack.kill_redis()
    time.sleep(3.0)
    stack.start_redis()
    back = time.monotonic()
    doc = wait_for(client, fit["id"], 120)
    assert doc["status"] == "finished", doc
    assert worker.poll() is None, "the worker exited during the outage"
    print(
        f"\nbusy worker through a 3 s outage: fit finished {time.monotonic() - back:.1f} s "
        "after Redis was back"
    )

    # The same request and seed once more, undisturbed: the same numbers.
    again = wait_for(client, client.post("/v1/fits", json=SLOW).get_json()["id"], 120)
    assert again["status"] == "finished", again
    assert again["result"]["results"] == doc["result"]["results"]
    assert worker.poll() is None


def test_readyz_falls_to_503_within_seconds_of_the_last_workers_death(
    stack: Stack, contract: Contract
) -> None:
    """A SIGKILLed worker cannot unregister; its registration outlives it by a minute, but
    ``/readyz`` counts only workers with a fresh heartbeat."""
    from fitqueue.keys import WORKER_STALE_SECONDS

    queue = f"faults-{uuid.uuid4().hex}"
    worker = stack.worker(queue)
    client = client_for(stack, contract, queue)
    until_ok(lambda: client.get("/readyz").status_code == 200)
    assert client.get("/readyz").get_json()["workers"] == 1
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    died = time.monotonic()
    fell = until_ok(lambda: client.get("/readyz").status_code == 503, WORKER_STALE_SECONDS + 5)
    body = client.error(client.get("/readyz"), 503)
    assert "no live worker" in body["message"]
    admin = Redis.from_url(stack.url)
    registered = admin.scard(f"rq:workers:{queue}")
    admin.close()
    assert registered == 1  # the dead worker is still registered: readiness looked past it
    print(f"\n/readyz 503 {time.monotonic() - died:.1f} s after the last worker died ({fell:.1f})")


def test_a_worker_started_while_redis_is_down_waits_for_it(tmp_path: Path) -> None:
    """A supervisor restarting a worker during an outage, or a host booting before Redis: the
    worker waits for Redis and then serves the queue (it used to die in RQ's constructor)."""
    import devstack

    port = devstack.free_port()
    url, queue = f"redis://127.0.0.1:{port}/0", f"mixfit-late-{uuid.uuid4().hex}"
    worker = devstack.start_worker(url, queue, log_level="WARNING")
    redis_proc = None
    try:
        time.sleep(4.0)  # the warm-up fit, then its first tries at Redis
        assert worker.poll() is None, "the worker died while Redis was down"
        redis_proc, _ = devstack.start_redis(tmp_path / "redis", port=port)
        devstack.wait_workers(url, queue, timeout=60)
        assert worker.poll() is None
    finally:
        devstack.stop([p for p in (worker, redis_proc) if p is not None])
