"""Access: bearer API keys, per-key rate limits in Redis, the per-key cap on running fits, and
nothing unpickled from Redis."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY_A = "key-a-" + "a" * 26
KEY_B = "key-b-" + "b" * 26
FIT = {"data": np.linspace(0.0, 1.0, 40).tolist(), "k": 1}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture()
def keyed(make_client):
    """A client of an app with two API keys and no rate limit."""
    return make_client(API_KEYS=f"{KEY_A},{KEY_B}", RATE_LIMIT="off")


def test_every_route_but_the_public_ones_needs_a_key(keyed) -> None:
    """Every rule of the app and each of its methods, but the health checks, the page, the
    docs and the contract (``service.access.PUBLIC``), answers 401 without a key."""
    from service.access import PUBLIC

    app = keyed.client.application
    ids = {"fit_id": "0" * 32, "model_id": "0" * 32, "dataset_id": "0" * 64}
    checked = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.endpoint == "static":
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", ids.get(name, "0" * 32))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = keyed.client.open(path, method=method, json={"data": [1.0, 2.0]})
            assert response.status_code == 401, (method, path, response.status_code)
            assert "Authorization: Bearer" in response.get_json()["message"], (method, path)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            checked.append((method, rule.rule))
    assert ("POST", "/v1/fits") in checked and ("GET", "/metrics") in checked
    assert len(checked) >= 17, checked


def test_a_wrong_key_is_401_invalid_token(keyed) -> None:
    for header in (f"Bearer {KEY_A}x", f"Bearer {KEY_A[:-1]}", f"Basic {KEY_A}", "Bearer "):
        response = keyed.get("/v1/families", headers={"Authorization": header})
        keyed.error(response, 401)
    response = keyed.get("/v1/families", headers=bearer("x" * 40))
    assert keyed.error(response, 401)["message"] == "the API key is not valid"
    assert "error=invalid_token" in response.headers["WWW-Authenticate"]  # RFC 7235 token


def test_every_configured_key_works(keyed) -> None:
    for key in (KEY_A, KEY_B):
        assert keyed.get("/v1/families", headers=bearer(key)).status_code == 200
    lower = {"Authorization": f"bearer  {KEY_B}"}
    assert keyed.get("/v1/families", headers=lower).status_code == 200


def test_probes_page_docs_and_contract_stay_public(keyed, worker_proc) -> None:
    assert keyed.get("/healthz").status_code == 200
    assert keyed.get("/readyz").status_code in (200, 503)  # no key needed either way
    for path in ("/", "/docs", "/openapi.yaml"):
        assert keyed.get(path).status_code == 200, path


def test_keys_are_compared_in_constant_time_against_every_key(keyed, monkeypatch) -> None:
    from service import access

    calls: list[tuple[int, int]] = []
    real = access.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", spy)
    for header in (bearer(KEY_A), bearer(KEY_B), bearer("short-wrong-key")):
        calls.clear()
        keyed.get("/v1/families", headers=header)
        assert calls == [(32, 32), (32, 32)]  # digests: equal lengths, both keys every time


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"API_KEYS": "short"}, "at least 16"),
        ({"API_KEYS": "a" * 20 + ",with space in it x"}, "visible ASCII"),
        ({"RATE_LIMIT": "lots per day"}, "is not a rate limit"),
    ],
)
def test_bad_access_settings_fail_at_startup(app_config, config, message) -> None:
    from service import create_app

    with pytest.raises(ValueError, match=message):
        create_app({**app_config, **config})


def test_rate_limit_is_per_key_shared_across_processes_and_answers_429(
    make_client, redis_client
) -> None:
    # Two apps stand for two gunicorn processes: the budget lives in Redis, not in a process.
    keys = [f"rate-{uuid.uuid4().hex}" for _ in range(2)]
    config = {"API_KEYS": ",".join(keys), "RATE_LIMIT": "3/minute"}
    one, two = make_client(**config), make_client(**config)
    assert one.get("/v1/families", headers=bearer(keys[0])).status_code == 200
    assert two.get("/v1/families", headers=bearer(keys[0])).status_code == 200
    assert one.get("/v1/families", headers=bearer(keys[0])).status_code == 200
    response = two.get("/v1/families", headers=bearer(keys[0]))
    error = two.error(response, 429)
    assert "rate limit exceeded (3 per 1 minute per API key)" in error["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert one.get("/v1/families", headers=bearer(keys[1])).status_code == 200  # its own budget
    assert one.get("/healthz").status_code == 200  # probes are never limited
    counters = redis_client.keys("mixfit:ratelimit:*")
    assert counters and all(keys[0] not in k.decode() for k in counters)  # digests, not keys


def test_rate_limit_is_off_without_keys_unless_set(make_client) -> None:
    client = make_client()
    for _ in range(30):
        assert client.get("/v1/families").status_code == 200
    limited = make_client(RATE_LIMIT="2/minute", QUEUE_NAME=f"q-{uuid.uuid4().hex}")
    statuses = [limited.get("/v1/families").status_code for _ in range(3)]
    assert statuses[-1] == 429  # per client address (earlier tests may have spent some)


def test_running_fits_are_capped_per_key(make_client, redis_client) -> None:
    queue = f"mixfit-idle-{uuid.uuid4().hex}"  # no worker: fits stay queued
    keys = [f"cap-{uuid.uuid4().hex}" for _ in range(2)]
    client = make_client(
        API_KEYS=",".join(keys), RATE_LIMIT="off", MAX_RUNNING_FITS=2, QUEUE_NAME=queue
    )
    mine = bearer(keys[0])
    first = client.post("/v1/fits", json=FIT, headers=mine)
    assert client.post("/v1/fits", json=FIT, headers=mine).status_code == 202
    refused = client.post("/v1/fits", json=FIT, headers=mine)
    error = client.error(refused, 429)
    assert "already has 2 fits queued or running (at most 2" in error["message"]
    assert refused.headers["Retry-After"] == "5"  # access.CAP_RETRY_AFTER, as the README says
    # An invalid body is still a 422 at the cap, and another key has its own cap.
    client.error(client.post("/v1/fits", json={**FIT, "bogus": 1}, headers=mine), 422)
    assert client.post("/v1/fits", json=FIT, headers=bearer(keys[1])).status_code == 202
    # Once a fit ends (here: canceled) its slot is free again.
    fit_id = first.get_json()["id"]
    assert client.delete(f"/v1/fits/{fit_id}", headers=mine).get_json()["status"] == "canceled"
    assert client.post("/v1/fits", json=FIT, headers=mine).status_code == 202
    running = {m.decode() for m in redis_client.smembers(f"mixfit:running:{_subject(keys[0])}")}
    assert fit_id not in running and len(running) == 2


def test_an_idempotent_replay_is_not_refused_at_the_cap(make_client) -> None:
    key = f"cap-{uuid.uuid4().hex}"
    client = make_client(
        API_KEYS=key, RATE_LIMIT="off", MAX_RUNNING_FITS=1, QUEUE_NAME=f"idle-{uuid.uuid4().hex}"
    )
    headers = {**bearer(key), "Idempotency-Key": uuid.uuid4().hex}
    first = client.post("/v1/fits", json=FIT, headers=headers)
    again = client.post("/v1/fits", json=FIT, headers=headers)
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]


def _subject(key: str) -> str:
    import hashlib

    return hashlib.sha256(b"key:" + hashlib.sha256(key.encode()).digest()).hexdigest()[:32]


# Every place that reads RQ jobs or builds a queue/worker must pass RQ's JSON serializer: RQ's
# default is pickle, and a job hash written by anyone with Redis access would then run code.
RQ_CALLS = {
    "fetch",
    "fetch_many",
    "Queue",
    "Job",
    "Worker",
    "SimpleWorker",
    "send_stop_job_command",
}


def test_nothing_from_redis_is_unpickled() -> None:
    for package in ("service", "worker", "mixfit"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    names = {a.name for a in node.names} | {getattr(node, "module", "") or ""}
                    assert not names & {"pickle", "cPickle", "dill"}, path
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    if name in RQ_CALLS:
                        kwargs = {kw.arg for kw in node.keywords}
                        assert "serializer" in kwargs, f"{path}:{node.lineno} {name} unpickles"


@pytest.mark.parametrize(
    ("config", "rate", "cap"),
    [
        ({}, None, 0),
        ({"API_KEYS": KEY_A}, "1200/minute", 8),
        ({"API_KEYS": KEY_A, "RATE_LIMIT": "", "MAX_RUNNING_FITS": ""}, "1200/minute", 8),
        ({"API_KEYS": [KEY_A, KEY_B], "RATE_LIMIT": "off", "MAX_RUNNING_FITS": 0}, None, 0),
        ({"RATE_LIMIT": "5/second;100/minute", "MAX_RUNNING_FITS": 3}, "5/second;100/minute", 3),
    ],
)
def test_access_defaults(config, rate, cap) -> None:
    """Unset or empty (docker-compose passes empty variables): the defaults with keys, nothing
    without; ``off`` and ``0`` switch them off."""
    from service.access import settings

    access = settings(config)
    assert (access.rate_limit, access.max_running_fits) == (rate, cap)
    assert len(access.key_digests) == len(parse(config.get("API_KEYS")))


def parse(value):
    from service.access import parse_keys

    return parse_keys(value)
