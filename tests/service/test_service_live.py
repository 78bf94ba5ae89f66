"""The live stack: gunicorn + an RQ worker + redis-server, three real processes, over HTTP.

The README's curl walkthrough runs here verbatim (its ```sh blocks, with bash), and a few requests
check that what gunicorn serves is what openapi.yaml promises.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import devstack
from service import DEFAULTS

ROOT = Path(__file__).resolve().parents[2]
TEST_QUEUE = "mixfit-test"
LIVE_MAX_BODY = 65536


@pytest.fixture(scope="module")
def live_api(redis_url: str, worker_proc: Any) -> Iterator[str]:
    bind = f"127.0.0.1:{devstack.free_port()}"
    proc = devstack.start_gunicorn(
        redis_url,
        bind,
        queue=TEST_QUEUE,
        workers=1,
        threads=8,
        env={"MIXFIT_MAX_CONTENT_LENGTH": str(LIVE_MAX_BODY)},
    )
    try:
        devstack.wait_http(f"http://{bind}/healthz", proc)
        yield f"http://{bind}"
    finally:
        devstack.stop([proc])


def walkthrough_blocks(readme: str) -> list[str]:
    """The ```sh blocks between the "REST walkthrough" heading and the next heading."""
    section = readme.split("\n## REST walkthrough\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def walkthrough_output(readme: str) -> str:
    """The ```text block after "It prints" in the walkthrough: what its commands print."""
    section = readme.split("\n## REST walkthrough\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"It prints[^\n]*\n\n```text\n(.*?)```", section, flags=re.S).group(1).strip()


def masked(text: str) -> str:
    """``text`` with fit and model ids (32 hex digits, random) replaced by a placeholder."""
    return re.sub(r"\b[0-9a-f]{32}\b", "<id>", text)


def test_readme_walkthrough_runs_verbatim(live_api: str, tmp_path: Path, contract) -> None:
    blocks = walkthrough_blocks((ROOT / "README.md").read_text())
    assert blocks, "README has no ```sh block under ## REST walkthrough"
    env = {**os.environ, "MIXFIT_API": live_api}
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", "\n".join(blocks)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"^dataset [0-9a-f]{64}$", out, flags=re.M), out
    assert re.search(r"^fit [0-9a-f]{32}$", out, flags=re.M), out
    assert re.search(r"^finished$", out, flags=re.M), out
    table = re.findall(r"^\s*(\d)\s+(-?\d+\.\d+)\s+(-?\d+\.\d+)\s*$", out, flags=re.M)
    assert [int(k) for k, _, _ in table] == [1, 2, 3, 4, 5], out
    selected = int(re.search(r"^selected k = (\d+)", out, flags=re.M).group(1))
    bics = {int(k): float(bic) for k, _, bic in table}
    assert selected == min(bics, key=bics.get) == 2
    scores = json.loads(out.strip().splitlines()[-1])
    assert scores["is_anomaly"] == [False, False, True]
    # The documents the walkthrough kept are what openapi.yaml promises.
    contract.validate(contract.schema("FitStatus"), json.loads((tmp_path / "fit.json").read_text()))
    contract.validate(contract.schema("ScoreResult"), scores)
    # What the README says it prints is what it prints: the dataset id (a hash of the
    # content), the table to its printed digits, the scores to 1e-9; only the fit and model ids
    # (random) vary.
    printed = walkthrough_output((ROOT / "README.md").read_text())
    assert masked(out.strip()).splitlines()[:-1] == masked(printed).splitlines()[:-1], out
    expected = json.loads(printed.splitlines()[-1])
    assert scores["log_density"] == pytest.approx(expected.pop("log_density"), rel=1e-9), out
    assert {k: v for k, v in scores.items() if k != "log_density"} == expected, out


def test_readme_configuration_lists_every_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n### Configuration\n", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(MIXFIT_\w+)`", section, flags=re.M))
    used = {f"MIXFIT_{name}" for name in DEFAULTS}
    for package in ("service", "worker"):
        for path in (ROOT / package).rglob("*.py"):
            used |= set(re.findall(r"\bMIXFIT_[A-Z_]+[A-Z]\b", path.read_text()))
    assert used <= listed, used - listed


def test_readme_configuration_defaults_are_the_services() -> None:
    """Where the table's default is a literal and the variable is one of the app's
    ``DEFAULTS``, the two are equal."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n### Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `MIXFIT_(\w+)` \| `([^`]*)`", section, flags=re.M)
    checked = 0
    for name, shown in rows:
        value = DEFAULTS.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert float(shown) == value, (name, shown, value)
            checked += 1
        elif isinstance(value, str) and value and name != "OPENAPI_PATH":
            assert shown == value, (name, shown, value)
            checked += 1
    assert checked >= 15, checked


def http(method: str, url: str, body: bytes | None = None, ctype: str | None = None) -> Any:
    request = urllib.request.Request(url, data=body, method=method)
    if ctype:
        request.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(request, timeout=40) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def checked(contract, method: str, base: str, path: str, body=None, ctype=None):
    status, headers, raw = http(method, base + path, body, ctype)
    document = contract.check(method, path, status, headers.get_content_type(), raw)
    return status, headers, document


def test_over_http_answers_follow_the_contract(live_api: str, contract) -> None:
    data = [0.1, 0.4, 0.2, 0.3, 3.9, 4.2, 4.0, 4.1, 0.25, 4.05]
    status, headers, fit = checked(
        contract,
        "POST",
        live_api,
        "/v1/fits",
        json.dumps({"data": data, "k": [1, 2], "seed": 2}).encode(),
        "application/json",
    )
    assert status == 202 and headers["Location"] == f"/v1/fits/{fit['id']}"
    status, _, fit = checked(contract, "GET", live_api, f"/v1/fits/{fit['id']}?wait=30")
    assert fit["status"] == "finished"
    body = json.dumps({"points": [0.2, 40.0]}).encode()
    path = f"/v1/models/{fit['model_id']}/score"
    status, _, scores = checked(contract, "POST", live_api, path, body, "application/json")
    assert status == 200 and scores["is_anomaly"] == [False, True]

    status, _, error = checked(contract, "POST", live_api, "/v1/fits", b"{", "application/json")
    assert status == 400 and error["message"].startswith("malformed JSON")
    big = b"1\n" * LIVE_MAX_BODY
    status, _, error = checked(contract, "POST", live_api, "/v1/datasets", big, "text/csv")
    assert status == 413
    status, _, error = checked(contract, "GET", live_api, "/readyz")
    assert status == 200 and error["workers"] >= 1
    for page in ("/", "/docs", "/openapi.yaml", "/v1/families", "/healthz"):
        assert checked(contract, "GET", live_api, page)[0] == 200
