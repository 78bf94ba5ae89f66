"""Every compose service's own command, run locally, serves a fit end to end."""

import json
import time
import urllib.request

import numpy as np
import pytest

from .compose_local import LocalCompose


def call(base: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    compose = LocalCompose(tmp_path_factory.mktemp("compose"), workers=2).start()
    yield compose
    codes = compose.stop()
    assert codes["redis"] == 0, compose.log("redis")


def test_readyz_sees_redis_and_workers(stack):
    status, body = call(stack.base, "GET", "/readyz")
    assert status == 200, body


def test_a_fit_runs_end_to_end_through_the_compose_services(stack):
    """K = 1..8 on 6,000 points is above the fan-out threshold (n * sum(K) * starts >= 2e6):
    eight parts, taken by both workers."""
    rng = np.random.default_rng(0)
    data = np.concatenate([rng.normal(0, 1, 3000), rng.normal(5, 1, 3000)]).tolist()
    status, doc = call(
        stack.base, "POST", "/v1/fits", {"data": data, "k": {"min": 1, "max": 8}, "seed": 1}
    )
    assert status == 202, doc
    deadline = time.monotonic() + 120
    while doc["status"] not in ("finished", "failed", "canceled") and time.monotonic() < deadline:
        status, doc = call(stack.base, "GET", f"/v1/fits/{doc['id']}?wait=10")
    assert doc["status"] == "finished", doc
    result = doc["result"]
    assert [r["k"] for r in result["results"]] == list(range(1, 9))
    assert result["k_selected"] == 2
    parts = doc["parts"]
    assert sorted(p["k"][0] for p in parts) == list(range(1, 9))
    assert len({p["worker"] for p in parts}) == 2, parts


def test_redis_runs_with_the_deploy_config(stack):
    from redis import Redis

    client = Redis.from_url(stack.redis_url)
    try:
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        assert int(client.config_get("maxmemory")["maxmemory"]) == 1 << 30
    finally:
        client.close()
