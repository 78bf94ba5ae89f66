"""Service fixtures: a fresh app per test on the session's Redis, and a test client whose every
answer is checked against openapi.yaml (status documented, content type documented, JSON body
valid against the response schema, no NaN/Infinity anywhere)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
SPEC_URI = "urn:mixfit:openapi"
TEST_QUEUE = "mixfit-test"


def openapi_path(rule: str) -> str:
    """Flask rule -> OpenAPI path: ``/v1/fits/<fit_id>`` -> ``/v1/fits/{fit_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _reject_constant(token: str) -> Any:
    raise AssertionError(f"{token} in a JSON answer")


class Contract:
    """openapi.yaml, able to check one answer."""

    def __init__(self, path: Path = ROOT / "openapi.yaml") -> None:
        self.spec = yaml.safe_load(path.read_text())
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(SPEC_URI, resource)
        from service import create_app

        self.url_map = create_app({"REDIS_URL": "redis://127.0.0.1:1/0"}).url_map
        self.checked: list[tuple[str, str, int]] = []

    openapi_path = staticmethod(openapi_path)

    def resolve(self, obj: dict) -> dict:
        while "$ref" in obj:
            node: Any = self.spec
            for part in obj["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            obj = node
        return obj

    def validate(self, schema: dict, instance: Any) -> None:
        """Validate ``instance`` against a schema that may hold ``#/components/...`` refs."""
        if "$ref" in schema:
            schema = {"$ref": SPEC_URI + schema["$ref"]}
        Draft202012Validator(schema, registry=self.registry).validate(instance)

    def schema(self, name: str) -> dict:
        return {"$ref": f"#/components/schemas/{name}"}

    def check(self, method: str, path: str, status: int, mimetype: str, body: bytes) -> Any:
        """Assert the answer is what openapi.yaml promises; returns the parsed JSON (or None)."""
        rule, _ = self.url_map.bind("localhost").match(
            path.split("?")[0], method=method.upper(), return_rule=True
        )
        operation = self.spec["paths"][openapi_path(rule.rule)][method.lower()]
        documented = operation["responses"]
        assert str(status) in documented, f"{method} {path}: {status} is not in openapi.yaml"
        response = self.resolve(documented[str(status)])
        self.checked.append((method.upper(), openapi_path(rule.rule), status))
        if "content" not in response:
            assert body == b"", f"{method} {path}: {status} should have no body"
            return None
        assert mimetype in response["content"], f"{method} {path}: {mimetype} undocumented"
        if mimetype != "application/json":
            return None
        document = json.loads(body, parse_constant=_reject_constant)
        self.validate(response["content"][mimetype]["schema"], document)
        return document


class CheckedClient:
    """Flask's test client; every answer goes through ``Contract.check``."""

    def __init__(self, client: Any, contract: Contract) -> None:
        self.client = client
        self.contract = contract

    def open(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.open(path, method=method, **kwargs)
        body = response.get_data()
        response.close()
        self.contract.check(method, path, response.status_code, response.mimetype, body)
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.open("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.open("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.open("DELETE", path, **kwargs)

    @staticmethod
    def error(response: Any, status: int) -> dict[str, Any]:
        """The ``{code, message, detail}`` body of an error answer with this status."""
        body = response.get_json()
        assert response.status_code == status, body
        assert body["code"] == status
        return body


@pytest.fixture(scope="session")
def contract() -> Contract:
    return Contract()


@pytest.fixture()
def app_config(redis_url: str) -> dict[str, Any]:
    return {"TESTING": True, "REDIS_URL": redis_url, "QUEUE_NAME": TEST_QUEUE}


@pytest.fixture()
def app(app_config: dict[str, Any]) -> Iterator[Any]:
    from service import create_app

    app = create_app(app_config)
    try:
        yield app
    finally:
        app.extensions["mixfit"].redis.close()


@pytest.fixture()
def client(app: Any, contract: Contract) -> CheckedClient:
    return CheckedClient(app.test_client(), contract)


@pytest.fixture()
def make_client(app_config: dict[str, Any], contract: Contract) -> Iterator[Any]:
    """Build checked clients of apps with config overrides: ``make_client(REDIS_URL=...)``."""
    from service import create_app

    apps = []

    def make(**overrides: Any) -> CheckedClient:
        app = create_app({**app_config, **overrides})
        apps.append(app)
        return CheckedClient(app.test_client(), contract)

    try:
        yield make
    finally:
        for app in apps:
            app.extensions["mixfit"].redis.close()


def wait_for(client: CheckedClient, fit_id: str, seconds: float = 30) -> dict[str, Any]:
    """Poll a fit with ?wait= until it ends (or ``seconds`` pass); returns its document."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        doc = client.get(f"/v1/fits/{fit_id}?wait=10").get_json()
        if doc["status"] in ("finished", "failed", "canceled") or time.monotonic() > deadline:
            return doc


@pytest.fixture()
def finished_fit(client: CheckedClient, worker_proc: Any) -> dict[str, Any]:
    """A small fit, run by the session's worker to the end."""
    import numpy as np

    rng = np.random.default_rng()
    data = np.concatenate([rng.normal(0, 1, 40), rng.normal(6, 1, 40)]).tolist()
    response = client.post("/v1/fits", json={"data": data, "k": {"min": 1, "max": 2}, "seed": 3})
    assert response.status_code == 202, response.get_json()
    doc = wait_for(client, response.get_json()["id"])
    assert doc["status"] == "finished", doc
    return doc


@pytest.fixture()
def poll() -> Any:
    return wait_for
