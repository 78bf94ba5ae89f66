"""Hostile input, one test each: a 4xx with a message, never a 5xx, never a NaN in an answer.

The transport-level ones (a body over the limit, a chunked body without a length, invalid UTF-8)
go over real HTTP to gunicorn; the rest through Flask's test client. Every answer is checked
against openapi.yaml (``Contract``). Inputs that tests/service already covers exactly (NaN and
Infinity tokens, wrong content type, ragged rows, n < K, constant data, beta's support) are
listed in README's Guarantees table with those tests instead of being repeated here.
"""

from __future__ import annotations

import http.client
import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.conftest import TEST_QUEUE
from tests.service.conftest import CheckedClient, Contract

LIMIT = 64 * 1024  # the live server's MAX_CONTENT_LENGTH
GOOD = [0.1, 0.3, 0.2, 2.2, 2.5, 2.4, 2.6, 0.15]


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract()


@pytest.fixture()
def client(redis_url: str, contract: Contract) -> Iterator[CheckedClient]:
    """A checked client of an app whose fits go to a queue no worker listens on."""
    from service import create_app

    queue = f"mixfit-hostile-{uuid.uuid4().hex}"
    app = create_app({"TESTING": True, "REDIS_URL": redis_url, "QUEUE_NAME": queue})
    yield CheckedClient(app.test_client(), contract)
    app.extensions["mixfit"].redis.close()


@pytest.fixture(scope="module")
def model_id(redis_url: str, worker_proc: Any) -> Iterator[str]:
    """The model of a small fit run to the end by the session's worker."""
    from service import create_app

    app = create_app({"TESTING": True, "REDIS_URL": redis_url, "QUEUE_NAME": TEST_QUEUE})
    client = app.test_client()
    data = np.random.default_rng(1).normal(size=60).tolist()
    fit = client.post("/v1/fits", json={"data": data, "k": 1, "seed": 1}).get_json()
    for _ in range(10):
        fit = client.get(f"/v1/fits/{fit['id']}?wait=10").get_json()
        if fit["status"] in ("finished", "failed", "canceled"):
            break
    assert fit["status"] == "finished", fit
    yield fit["model_id"]
    app.extensions["mixfit"].redis.close()


@pytest.fixture(scope="module")
def live(redis_url: str) -> Iterator[tuple[str, int]]:
    """(host, port) of gunicorn with a 64 KiB body limit, on the session's Redis."""
    import devstack

    port = devstack.free_port()
    proc = devstack.start_gunicorn(
        redis_url,
        f"127.0.0.1:{port}",
        queue=f"mixfit-hostile-{uuid.uuid4().hex}",
        workers=1,
        threads=4,
        env={"MIXFIT_MAX_CONTENT_LENGTH": str(LIMIT)},
    )
    try:
        devstack.wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        yield "127.0.0.1", port
    finally:
        devstack.stop([proc])


def send(live: tuple[str, int], path: str, body: bytes, ctype: str) -> tuple[int, str, bytes]:
    """POST over a real socket, with a Content-Length."""
    connection = http.client.HTTPConnection(*live, timeout=30)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": ctype})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


def send_chunked(live: tuple[str, int], path: str, chunks: Iterator[bytes], ctype: str):
    """POST with Transfer-Encoding: chunked over a raw socket; keeps reading the answer when the
    server closes its side early (it answers 413 before the client has sent everything)."""
    with socket.create_connection(live, timeout=30) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {live[0]}\r\nContent-Type: {ctype}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        try:
            sock.sendall(head.encode())
            for chunk in chunks:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: its answer is waiting
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.getheader("Content-Type") or "", response.read()


def checked_error(contract: Contract, path: str, answer: tuple[int, str, bytes], status: int):
    code, ctype, raw = answer
    assert code == status, raw[:500]
    document = contract.check("POST", path, code, ctype.split(";")[0], raw)
    assert document["code"] == status and document["message"]
    return document


def post(client: CheckedClient, path: str, body: str | bytes, ctype: str = "application/json"):
    return client.post(path, data=body, headers={"Content-Type": ctype})


# -- parser-level -------------------------------------------------------------------------------


def test_json_nesting_bomb_is_400(client) -> None:
    """100,000 nested arrays (200 KB): the parser stops at its recursion limit, nothing recurses
    in Python."""
    bomb = "[" * 100_000 + "]" * 100_000
    for path, body in [
        ("/v1/fits", '{"data": ' + bomb + ', "k": 1}'),
        ("/v1/datasets", '{"data": ' + bomb + "}"),
        ("/v1/fits", bomb),
    ]:
        error = client.error(post(client, path, body), 400)
        assert "recursion limit exceeded" in error["message"], error


def test_five_thousand_digit_integers_are_rejected(client) -> None:
    """Beyond Python's 4,300-digit int limit: the JSON parser refuses the number (400), so no
    huge int is ever converted; a long-but-parseable integer where a count belongs is a 422."""
    huge = "9" * 5000
    for body in [
        '{"data": [' + huge + ', 1, 2], "k": 1}',
        '{"data": [1, 2, 3], "k": ' + huge + "}",
        '{"data": [1, 2, 3], "k": 1, "seed": -' + huge + "}",
    ]:
        error = client.error(post(client, "/v1/fits", body), 400)
        assert "number out of range" in error["message"], error
    error = client.error(
        post(client, "/v1/fits", '{"data": [1, 2, 3], "k": ' + "9" * 40 + "}"), 422
    )
    assert error["message"].startswith("k")


def test_values_of_1e300_are_422_and_scoring_1e150_stays_finite(client, model_id) -> None:
    data = GOOD + [1e300]
    error = client.error(post(client, "/v1/fits", json.dumps({"data": data, "k": 1})), 422)
    assert "exceed 1e+150 in magnitude; rescale the data" in error["message"]
    error = client.error(post(client, "/v1/datasets", json.dumps({"data": data})), 422)
    assert "1e+150" in error["message"]
    error = client.error(post(client, "/v1/datasets", "x\n0.5\n1e300\n", "text/csv"), 422)
    assert "1e+150" in error["message"]
    # Points to score obey the same bound; far-away points within it score to finite numbers
    # (the client rejects NaN/Infinity tokens).
    score = f"/v1/models/{model_id}/score"
    error = client.error(post(client, score, json.dumps({"points": [1e300, 0.5]})), 422)
    assert "exceed 1e+150 in magnitude" in error["message"]
    response = post(client, score, json.dumps({"points": [1e150, -1e150, 0.5]}))
    assert response.status_code == 200
    body = response.get_json()
    assert body["is_anomaly"][:2] == [True, True]
    assert all(np.isfinite(body["log_density"]))


def test_data_differing_by_subnormal_amounts_are_422(client) -> None:
    """Points 5e-324 apart once made EM divide by a variance of zero (a 500 through the API,
    found by the property test): now a 422 that says to rescale, for inline data and for a
    stored dataset."""
    data = [0.0, 5e-324, 1e-323, 0.0, 5e-324]
    error = client.error(post(client, "/v1/fits", json.dumps({"data": data, "k": 1})), 422)
    assert "less than 1e-150; rescale the data" in error["message"]
    upload = post(client, "/v1/datasets", json.dumps({"data": data}))
    assert upload.status_code == 201, upload.get_json()
    fit = {"dataset_id": upload.get_json()["id"], "k": 1}
    error = client.error(post(client, "/v1/fits", json.dumps(fit)), 422)
    assert "rescale the data" in error["message"]


def test_weights_beyond_1e150_are_422_and_weights_of_1e_300_carry_nothing(client) -> None:
    """Weights of 1e308 overflowed their sum; weights of 1e-300 counted as points let K exceed
    the points that carry mass (both found by fuzzing the library)."""
    body = {"data": GOOD, "weights": [1e300] + [1.0] * (len(GOOD) - 1), "k": 1}
    error = client.error(post(client, "/v1/fits", json.dumps(body)), 422)
    assert "weights must be at most 1e+150" in error["message"]
    body = {"data": GOOD, "weights": [1.0, 1.0] + [1e-300] * (len(GOOD) - 2), "k": 3}
    error = client.error(post(client, "/v1/fits", json.dumps(body)), 422)
    assert "2 point(s) cannot fit 3 components" in error["message"]


@pytest.mark.parametrize(
    ("options", "where"),
    [
        ({"k": 21}, "k"),
        ({"k": {"min": 1, "max": 21}}, "k.max"),
        ({"k": list(range(1, 23))}, "k"),
        ({"k": 2, "n_starts": 201}, "n_starts"),
        ({"k": 2, "max_iter": 10_001}, "max_iter"),
        ({"k": 2, "n_starts": 0}, "n_starts"),
    ],
)
def test_k_starts_and_iterations_beyond_the_caps_are_422(client, options, where) -> None:
    """Caps: K <= 20, n_starts <= 200, max_iter <= 10,000 (GET /v1/families lists them)."""
    caps = client.get("/v1/families").get_json()["caps"]
    assert caps["MAX_K"] == 20 and caps["MAX_STARTS"] == 200 and caps["MAX_ITER"] == 10_000
    body = json.dumps({"data": np.linspace(0, 1, 50).tolist(), **options})
    error = client.error(post(client, "/v1/fits", body), 422)
    assert error["message"].startswith(where), error["message"]


def test_more_dimensions_than_the_cap_are_422(client) -> None:
    rows = np.random.default_rng(0).normal(size=(40, 65)).tolist()
    error = client.error(post(client, "/v1/fits", json.dumps({"data": rows, "k": 1})), 422)
    assert "at most 64" in error["message"]


def test_a_keep_path_over_its_caps_is_422_for_inline_data_and_an_upload(client) -> None:
    """keep_path had no cap: d = 64, K = 10, tol 5e-324 (1.4 MB of request) made a 235 MB
    result that took 46 s to GET. What it returns, (max_iter + 1) x free parameters over the
    Ks, is at most 1,000,000 (it depends on d: checked with the data, as for an upload)."""
    caps = client.get("/v1/families").get_json()["caps"]
    assert caps["MAX_PATH_VALUES"] == 1_000_000 and caps["MAX_PATH_KEPT"] == 10_000_000
    rows = np.random.default_rng(0).normal(size=(40, 64)).round(3).tolist()
    body = {"data": rows, "k": 10, "tol": 5e-324, "tol_type": "absolute", "keep_path": True}
    error = client.error(post(client, "/v1/fits", json.dumps(body)), 422)
    assert error["message"].startswith("keep_path would return up to 21,470,449 parameter values")
    assert "at most 1,000,000: lower max_iter or k, or drop keep_path" in error["message"]
    upload = post(client, "/v1/datasets", json.dumps({"data": GOOD}))
    assert upload.status_code == 201, upload.get_json()
    fit = {"dataset_id": upload.get_json()["id"], "k": 2, "n_starts": 200, "max_iter": 10_000}
    error = client.error(post(client, "/v1/fits", json.dumps({**fit, "keep_path": True})), 422)
    assert "while fitting" in error["message"] and "at most 10,000,000" in error["message"]
    assert post(client, "/v1/fits", json.dumps(fit)).status_code == 202  # keep_path's own cap


def test_more_starts_held_at_once_than_the_cap_are_422_whatever_max_iter(client) -> None:
    """d = 64, K = 20, n_starts 200, screen_factor 100, max_iter 1 grew a worker to 3.5 GB in
    60 s: its 1,051 screening candidates of 42,899 parameters were held at once. A 422 at
    submit names the count and what to lower; the same K at the default n_starts is queued."""
    caps = client.get("/v1/families").get_json()["caps"]
    assert caps["MAX_HELD_VALUES"] == 8_000_000
    rows = np.random.default_rng(0).normal(size=(60, 64)).round(3).tolist()
    body = {"data": rows, "k": 20, "n_starts": 200, "screen_factor": 100, "max_iter": 1}
    error = client.error(post(client, "/v1/fits", json.dumps(body)), 422)
    assert error["message"].startswith("k=20 would hold 1,051 starts of 42,899 parameters")
    assert "more than 8,000,000; lower n_starts, screen_factor" in error["message"]
    del body["n_starts"]
    assert post(client, "/v1/fits", json.dumps(body)).status_code == 202


def test_more_score_points_than_the_cap_are_422(client, model_id) -> None:
    """1.5 million points with responsibilities held an API thread for 33 s and answered
    183 MB; a score request carries at most 100,000 points."""
    assert client.get("/v1/families").get_json()["caps"]["MAX_SCORE_POINTS"] == 100_000
    body = json.dumps({"points": [0.5] * 100_001, "responsibilities": True})
    error = client.error(post(client, f"/v1/models/{model_id}/score", body), 422)
    assert error["message"] == (
        "points: Value should have at most 100000 items after validation, not 100001"
    )


# -- transport-level, over real HTTP ------------------------------------------------------------


def test_a_body_over_the_limit_is_413_over_http(live, contract) -> None:
    body = json.dumps({"data": [0.123456789] * 10_000, "k": 1}).encode()
    assert len(body) > LIMIT
    for path in ("/v1/fits", "/v1/datasets"):
        error = checked_error(contract, path, send(live, path, body, "application/json"), 413)
        assert "too large" in error["message"].lower() or "exceeds" in error["message"]


def test_a_chunked_body_without_length_is_read_and_capped_over_http(live, contract) -> None:
    """Transfer-Encoding: chunked, no Content-Length: a small body is read whole and fitted
    (202); a long one is cut off at the limit with 413, however much more the client sends."""

    def chunks(payload: bytes, size: int = 1000) -> Iterator[bytes]:
        for start in range(0, len(payload), size):
            yield payload[start : start + size]

    small = json.dumps({"data": GOOD, "k": 1}).encode()
    code, ctype, raw = send_chunked(live, "/v1/fits", chunks(small), "application/json")
    assert code == 202, raw
    contract.check("POST", "/v1/fits", code, ctype.split(";")[0], raw)

    def endless() -> Iterator[bytes]:
        yield b'{"data": ['
        for _ in range(2_000):  # 2 MB in all, 30x the limit
            yield b"0.123456789, " * 80

    answer = send_chunked(live, "/v1/fits", endless(), "application/json")
    checked_error(contract, "/v1/fits", answer, 413)
    # A CSV cut at the limit would still parse: it must be refused, not stored shorter.
    rows = b"x\n" + b"0.25\n0.75\n" * 20_000  # 200 KB
    answer = send_chunked(live, "/v1/datasets", chunks(rows, 4096), "text/csv")
    checked_error(contract, "/v1/datasets", answer, 413)
    fits = b"x\n" + b"0.25\n0.75\n" * 100  # under the limit: read whole, every row kept
    code, _, raw = send_chunked(live, "/v1/datasets", chunks(fits, 100), "text/csv")
    assert code in (200, 201) and json.loads(raw)["n"] == 200, raw


def test_invalid_utf8_is_4xx_over_http(live, contract) -> None:
    bad = b'{"data": [1, 2, 3], "k": 1, "seed": 1, "family": "gauss\xff\xfe"}'
    error = checked_error(
        contract, "/v1/fits", send(live, "/v1/fits", bad, "application/json"), 400
    )
    assert "malformed JSON" in error["message"]
    csv = b"x\n0.5\n\xff\xfe0.7\n"
    error = checked_error(
        contract, "/v1/datasets", send(live, "/v1/datasets", csv, "text/csv"), 422
    )
    assert "not UTF-8" in error["message"]


def test_csv_with_bare_carriage_returns_and_stray_quotes(client) -> None:
    """Found by the fuzz: a bare \\r in a CSV body was a csv.Error and a 500."""
    response = post(client, "/v1/datasets", b"x\r0.5\r0.7\r0.9\r", "text/csv")
    assert response.status_code in (200, 201) and response.get_json()["n"] == 3
    for body, message in [
        (b"\xc2\x87\xc3\x9f\r\xc2\xa3", "is not a number"),
        (b'x\n"0.5\n', "malformed at line 2"),
        (b'1,2\n"3" 4,5\n', "malformed at line 2"),
    ]:
        assert (
            message in client.error(post(client, "/v1/datasets", body, "text/csv"), 422)["message"]
        )


def test_a_malformed_chunked_body_is_400_not_500(live, contract) -> None:
    """A chunk size that is not hexadecimal: gunicorn raises InvalidChunkSize (an OSError) when
    the body is read, which reached the client as a 500."""
    with socket.create_connection(live, timeout=30) as sock:
        sock.sendall(
            b"POST /v1/fits HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n"
        )
        response = http.client.HTTPResponse(sock)
        response.begin()
        answer = response.status, response.getheader("Content-Type") or "", response.read()
    error = checked_error(contract, "/v1/fits", answer, 400)
    assert error["message"] == "the body could not be read: InvalidChunkSize"
