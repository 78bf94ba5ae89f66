"""``fitclient.client.Client`` against the live stack (gunicorn, an RQ worker, redis-server), and
against a stub server for what the live one cannot be made to do on demand."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

import mixfit
from fitclient.client import ApiError, Client, FitRejected, ProgressBar, RemoteFitResult


def two_bumps(seed: int = 0, n: int = 120) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0, 1, n // 2), rng.normal(6, 1, n - n // 2)])


def get_json(url: str) -> Any:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def test_fit_returns_the_servers_result_and_equals_the_library(live_api: str, capsys) -> None:
    x = two_bumps()
    result = Client(live_api).fit(x, k=[1, 2, 3], n_starts=4, seed=5)
    assert isinstance(result, RemoteFitResult) and isinstance(result, mixfit.FitResult)
    doc = get_json(f"{live_api}/v1/fits/{result.fit_id}")
    assert result.model_dump(mode="json") == doc["result"]
    assert result.model_id == doc["model_id"]
    assert "finished" in capsys.readouterr().err  # the progress bar
    local = mixfit.fit(x, k=[1, 2, 3], n_starts=4, seed=5)
    assert result.k_selected == local.k_selected == 2
    for remote_k, local_k in zip(result.results, local.results, strict=True):
        assert remote_k.loglik == pytest.approx(local_k.loglik, rel=1e-12)
        assert remote_k.bic == pytest.approx(local_k.bic, rel=1e-12)


def test_upload_then_fit_by_id_with_weights(live_api: str) -> None:
    client = Client(live_api)
    x = two_bumps(1)
    w = np.ones_like(x)
    w[:10] = 3.0
    dataset = client.upload(x, weights=w)
    assert len(dataset["id"]) == 64
    assert dataset["n"] == 120 and dataset["weighted"] is True
    assert client.upload(x, weights=w)["id"] == dataset["id"]  # content-addressed
    result = client.fit(dataset["id"], progress=False, k=2, seed=1)
    assert result.n_effective == pytest.approx(140.0)
    assert result.results[0].params == mixfit.fit(x, weights=w, k=2, seed=1).results[0].params


def test_score_and_model(live_api: str) -> None:
    client = Client(live_api)
    result = client.fit(two_bumps(2), progress=False, k=2, seed=2)
    model = client.model(result.model_id)
    assert model == result.model
    scores = client.score(result.model_id, np.array([0.2, 6.1, 40.0]), alpha=0.05)
    assert isinstance(scores, mixfit.ScoreResult)
    assert scores == mixfit.score(model, [0.2, 6.1, 40.0], alpha=0.05)
    assert scores.is_anomaly == [False, False, True]


def test_refused_data_raise_fit_rejected_with_the_servers_message(live_api: str) -> None:
    with pytest.raises(FitRejected) as caught:
        Client(live_api).fit([2.0] * 20, progress=False, k=2)
    assert isinstance(caught.value, mixfit.FitError) and isinstance(caught.value, ApiError)
    assert caught.value.status == 422
    assert "constant" in caught.value.message


def test_api_errors_carry_status_and_message(live_api: str) -> None:
    client = Client(live_api)
    with pytest.raises(ApiError) as caught:
        client.score("0" * 32, [1.0])
    assert caught.value.status == 404
    assert caught.value.message == f"no model with id {'0' * 32}"
    assert str(caught.value) == f"404 no model with id {'0' * 32}"
    with pytest.raises(ApiError) as caught:
        client.fit("f" * 64, progress=False, k=2)
    assert caught.value.status == 422 and "dataset" in caught.value.message


def test_options_are_validated_before_sending() -> None:
    from pydantic import ValidationError

    client = Client("http://127.0.0.1:9")  # nothing listens: a request would be ApiError
    with pytest.raises(ValidationError, match="n_starts"):
        client.fit([1.0, 2.0, 3.0], n_starts=0)
    with pytest.raises(ApiError) as caught:
        client.upload([1.0, 2.0])
    assert caught.value.status == 0 and "could not reach" in caught.value.message


# -- a stub server: failed fits, the Bearer header, non-JSON errors --------------------------


class Stub(BaseHTTPRequestHandler):
    """Answers from ``server.answers`` ({(method, path): (status, body)}), records requests."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        status, answer = self.server.answers[(self.command, self.path.split("?")[0])]
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        ctype = "text/html" if isinstance(answer, bytes) else "application/json"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def stub() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    server.seen, server.answers = [], {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def fit_doc(status: str, **extra: Any) -> dict[str, Any]:
    return {"id": "a" * 32, "status": status, "progress": None, "result": None, **extra}


def test_a_failed_fit_raises_fit_error_with_the_servers_message(stub) -> None:
    url = f"http://127.0.0.1:{stub.server_port}"
    stub.answers[("POST", "/v1/fits")] = (202, fit_doc("queued"))
    error = {"type": "FitError", "message": "every K failed: all starts collapsed"}
    stub.answers[("GET", f"/v1/fits/{'a' * 32}")] = (200, fit_doc("failed", error=error))
    with pytest.raises(mixfit.FitError, match="^every K failed: all starts collapsed$"):
        Client(url, api_key="s3cret").fit([1.0, 2.0, 5.0, 6.0], progress=False, k=2)
    assert all(headers["Authorization"] == "Bearer s3cret" for _, _, headers, _ in stub.seen)
    body = json.loads(stub.seen[0][3])
    assert body == {"data": [1.0, 2.0, 5.0, 6.0], "k": 2, "family": "gaussian"}

    crash = {"type": "JobTimeoutException", "message": "Task exceeded maximum timeout value"}
    stub.answers[("GET", f"/v1/fits/{'a' * 32}")] = (200, fit_doc("failed", error=crash))
    with pytest.raises(mixfit.FitError, match="^JobTimeoutException: Task exceeded"):
        Client(url).fit([1.0, 2.0, 5.0, 6.0], progress=False, k=2)
    assert "Authorization" not in stub.seen[-1][2]

    stub.answers[("GET", f"/v1/fits/{'a' * 32}")] = (200, fit_doc("canceled"))
    with pytest.raises(mixfit.FitError, match="was canceled"):
        Client(url).fit([1.0, 2.0, 5.0, 6.0], progress=False, k=2)


def test_an_error_without_json_still_says_what_happened(stub) -> None:
    url = f"http://127.0.0.1:{stub.server_port}"
    stub.answers[("GET", "/v1/models/" + "b" * 32)] = (502, b"<html>Bad Gateway</html>")
    with pytest.raises(ApiError) as caught:
        Client(url).model("b" * 32)
    assert caught.value.status == 502 and "Bad Gateway" in caught.value.message


def test_progress_bar_counts_starts() -> None:
    stream = io.StringIO()
    bar = ProgressBar("0123456789abcdef", stream, width=10)
    per_k = [
        {"k": 1, "state": "done", "starts_done": 4, "n_starts": 4, "iteration": 3},
        {"k": 2, "state": "running", "starts_done": 1, "n_starts": 4, "iteration": 17},
    ]
    per_k[1]["best_loglik"] = -12.345
    bar.update({"status": "started", "progress": {"k_values": [1, 2, 3], "per_k": per_k}})
    bar.update({"status": "finished", "progress": None})
    lines = stream.getvalue().splitlines()
    assert lines == [
        "fit 01234567 [####......] started 5/12 starts, k=2 iteration 17 LL -12.35",
        "fit 01234567 [##########] finished",
    ]


def test_client_and_cli_import_no_service_code() -> None:
    code = (
        "import sys, fitclient.client, fitclient.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'flask', 'redis', 'rq', 'service', 'worker', 'fitqueue', 'devstack', 'matplotlib'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lrt_and_bootstrap_of_a_stored_model(live_api: str) -> None:
    client = Client(live_api)
    x = two_bumps(3, 80)
    fit = client.fit(x, progress=False, k=[1, 2], seed=1)
    stream = io.StringIO()
    lrt = client.lrt(fit.model_id, progress=stream, nboot=3, seed=2)
    assert isinstance(lrt, mixfit.LRTResult)
    assert [s.k for s in lrt.steps] == [1, 2] and lrt.nboot == 3  # max_k: the model's K
    assert "lrt " in stream.getvalue() and "finished" in stream.getvalue()
    plan = mixfit.lrt.lrt_plan(x, max_k=2, nboot=3, seed=2)
    assert [s.statistic for s in lrt.steps] == [s.statistic for s in plan.steps]

    spread = client.bootstrap(fit.model_id, progress=False, method="observed_information")
    assert spread.method == "observed_information" and spread.nboot == 0
    assert set(spread.parameters) == {"weights", "means", "sds"}

    doc = client.submit_bootstrap(fit.model_id, nboot=9999)
    assert client.cancel_bootstrap(doc["id"])["status"] == "canceled"
    doc = client.submit_lrt(fit.model_id, nboot=9999)
    assert client.cancel_lrt(doc["id"])["status"] == "canceled"
    with pytest.raises(FitRejected) as caught:
        client.lrt(fit.model_id, progress=False, k_min=5)
    assert caught.value.status == 422 and "k_min (5)" in caught.value.message
    with pytest.raises(ApiError) as missing:
        client.bootstrap("0" * 32, progress=False)
    assert missing.value.status == 404


CALLS = {
    "fits": lambda api: api.fit([0.1, 0.2, 3.1, 3.2], k=2, progress=False),
    "lrts": lambda api: api.lrt("m" * 32, max_k=2, nboot=9, progress=False),
    "bootstraps": lambda api: api.bootstrap("m" * 32, nboot=9, progress=False),
}


@pytest.mark.parametrize("collection", sorted(CALLS))
def test_ctrl_c_while_waiting_cancels_the_job_on_the_server(monkeypatch, collection) -> None:
    """A KeyboardInterrupt in the wait sends the job's DELETE, then goes on up."""
    api = Client("http://127.0.0.1:9")  # never reached: requests are answered here
    sent: list[tuple[str, str]] = []

    def interrupted(*args: Any, **kwargs: Any) -> dict:
        raise KeyboardInterrupt

    def request(method: str, path: str, *args: Any, **kwargs: Any) -> dict:
        sent.append((method, path))
        return {"id": "abc", "status": "queued"}

    monkeypatch.setattr(api, "_poll", interrupted)
    monkeypatch.setattr(api, "request", request)
    with pytest.raises(KeyboardInterrupt):
        CALLS[collection](api)
    assert sent[0][0] == "POST" and sent[-1] == ("DELETE", f"/{collection}/abc")
