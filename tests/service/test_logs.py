"""Structured logs: one JSON object per request with its request id, the id echoed in
``X-Request-Id``, and the same id on the worker's lines for the fit that request submitted."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import devstack
from service import create_app

DATA = [0.1, 0.4, 0.2, 0.3, 3.9, 4.2, 4.0, 4.1, 0.25, 4.05]


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line must be one JSON object."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def request_lines(text: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(text) if line["logger"] == "mixfit.request"]


def test_a_request_is_one_json_line_with_its_request_id(client, capsys) -> None:
    capsys.readouterr()
    response = client.get("/v1/families")
    rid = response.headers["X-Request-Id"]
    assert len(rid) == 32 and int(rid, 16) >= 0  # generated: none was sent
    [line] = request_lines(capsys.readouterr().err)
    assert line["request_id"] == rid
    assert line["level"] == "info" and line["time"].endswith("Z")
    assert line["method"] == "GET" and line["path"] == "/v1/families"
    assert line["route"] == "/v1/families" and line["status"] == 200
    assert line["duration_ms"] >= 0 and "GET /v1/families 200" in line["message"]


def test_a_sane_incoming_request_id_is_kept_and_an_insane_one_replaced(client, capsys) -> None:
    sent = f"edge-{uuid.uuid4()}"
    assert client.get("/healthz", headers={"X-Request-Id": sent}).headers["X-Request-Id"] == sent
    longest = "A-z0.9_:/+=" + "x" * 117  # 128 of the allowed characters
    assert client.get("/healthz", headers={"X-Request-Id": longest}).headers["X-Request-Id"] == (
        longest
    )
    for bad in ("has spaces in it", "x" * 129, 'quote"d', "new\nline"[:3] + "\u00e9"):
        got = client.get("/healthz", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert got != bad and len(got) == 32
    ids = [line["request_id"] for line in request_lines(capsys.readouterr().err)]
    assert ids[0] == sent and ids[1] == longest and len(set(ids)) == len(ids)


def test_refused_and_failed_requests_are_logged_with_their_id(make_client, capsys) -> None:
    keyed = make_client(API_KEYS="k" * 24)
    capsys.readouterr()
    response = keyed.get("/v1/families", headers={"X-Request-Id": "refused-1"})
    assert response.status_code == 401 and response.headers["X-Request-Id"] == "refused-1"
    down = make_client(REDIS_URL="redis://127.0.0.1:1/0", REDIS_TIMEOUT=1)
    assert down.get(f"/v1/fits/{'0' * 32}", headers={"X-Request-Id": "down-1"}).status_code == 503
    lines = json_lines(capsys.readouterr().err)
    assert {(x["request_id"], x["status"]) for x in lines if x["logger"] == "mixfit.request"} == {
        ("refused-1", 401),
        ("down-1", 503),
    }
    # The app's own warning about Redis carries the request id too (a filter adds it).
    warning = [x for x in lines if x["level"] == "warning" and "Redis" in x["message"]]
    assert warning and all(x["request_id"] == "down-1" for x in warning)


def test_text_format_and_an_unknown_format(make_client, capsys) -> None:
    text = make_client(LOG_FORMAT="text")
    capsys.readouterr()
    text.get("/healthz", headers={"X-Request-Id": "plain-1"})
    [line] = [x for x in capsys.readouterr().err.splitlines() if "mixfit.request" in x]
    assert not line.startswith("{") and "GET /healthz 200" in line and "request_id=plain-1" in line
    with pytest.raises(ValueError, match="MIXFIT_LOG_FORMAT must be one of json, text"):
        create_app({"REDIS_URL": "redis://127.0.0.1:1/0", "LOG_FORMAT": "xml"})
    make_client()  # back to JSON for the tests that follow


@pytest.fixture()
def logged_worker(redis_url: str, tmp_path: Path):
    """A worker of its own on its own queue, its log lines (stderr) going to a file."""
    queue = f"mixfit-logs-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "worker.log"
    with path.open("w") as stderr:
        proc = devstack.start_worker(redis_url, queue, log_level="INFO", stderr=stderr)
    try:
        devstack.wait_workers(redis_url, queue)
        yield queue, path
    finally:
        devstack.stop([proc])


def _lines_until(path: Path, done: Any, seconds: float = 20) -> list[dict[str, Any]]:
    """The worker's lines, re-read until ``done(lines)`` (its last lines follow the result)."""
    deadline = time.monotonic() + seconds
    while True:
        lines = json_lines(path.read_text())
        if done(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_the_request_id_follows_a_fit_into_the_worker(logged_worker, make_client, poll) -> None:
    queue, path = logged_worker
    client = make_client(QUEUE_NAME=queue)
    fanned = make_client(QUEUE_NAME=queue, FANOUT_MIN_WORK=0, FANOUT_PARTS=2)
    submitted = {}
    for name, api in (("one", client), ("fan", fanned)):
        rid = f"{name}-{uuid.uuid4().hex}"
        body = {"data": DATA, "k": [1, 2], "n_starts": 2, "seed": 1}
        response = api.post("/v1/fits", json=body, headers={"X-Request-Id": rid})
        assert response.headers["X-Request-Id"] == rid
        fit_id = response.get_json()["id"]
        assert poll(api, fit_id)["status"] == "finished"
        submitted[fit_id] = rid

    def ok(lines: list[dict[str, Any]]) -> bool:
        ended = {x.get("job_id") for x in lines if "Job OK" in x["message"]}
        return set(submitted) <= ended

    lines = _lines_until(path, ok)
    for fit_id, rid in submitted.items():
        mine = [x for x in lines if x.get("fit_id") == fit_id]
        assert mine, f"no worker line names fit {fit_id}"
        assert {x.get("request_id") for x in mine} == {rid}  # every line of the fit's jobs
        assert all(x["worker"] and x["k"] for x in mine)
        assert [x for x in mine if x["logger"] == "mixfit.worker" and "finished in" in x["message"]]
        assert [x for x in mine if x["logger"] == "rq.worker" and "Job OK" in x["message"]]
        assert [x for x in lines if x.get("request_id") == rid] == mine
    fan_id = next(f for f, r in submitted.items() if r.startswith("fan-"))
    jobs = {x["job_id"] for x in lines if x.get("fit_id") == fan_id}
    # both parts, the finishing job of each K and the merge
    assert jobs == {fan_id, f"{fan_id}-0", f"{fan_id}-1", f"{fan_id}-f1", f"{fan_id}-f2"}
    parts = [x for x in lines if x.get("job_id") == f"{fan_id}-0"]
    assert all(len(x["k"]) == 1 for x in parts)  # a part fits one K
