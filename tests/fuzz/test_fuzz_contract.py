"""schemathesis against openapi.yaml: generated requests, positive and negative, to every operation.

Budget: ``EXAMPLES`` generated cases per operation and mode (plus the contract's own examples),
well over ``MIN_REQUESTS`` requests in total, in about 20 s. Checks on every answer:

- no server error (``not_a_server_error``; Redis is up, so even a 503 is a failure here);
- the answer conforms: status documented, content type documented, body valid against its schema,
  documented headers present and valid (``status_code_conformance``, ``content_type_conformance``,
  ``response_schema_conformance``, ``response_headers_conformance``), and no NaN/Infinity token;
- negative data (schema-violating paths, queries, headers, bodies) rejected with a 4xx
  (``negative_data_rejection``).

Fits go to a queue no worker listens on (the fuzz never occupies the session's worker). Each
path-parameter operation is fuzzed twice: with generated ids (404s) and with the ids of a real
finished fit, its model and its dataset, and of a finished LRT and bootstrap of that model, so
scoring and reads of live resources are fuzzed too (reads, scores, and LRTs and bootstraps queued
where no worker listens; deletes get generated ids, so the real resources stay).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import TEST_QUEUE

EXAMPLES = 50
MIN_REQUESTS = 1000
REAL_ID_PARAMS = {
    "dataset_id": "dataset",
    "fit_id": "fit",
    "model_id": "model",
    "lrt_id": "lrt",
    "bootstrap_id": "bootstrap",
}
# /readyz answers 503 by design while no worker listens on the queue (here: the idle one); its
# answers are covered by tests/service (test_readyz, test_redis_unreachable_is_503).
EXCLUDED_PATHS = ["/readyz"]


def _reject_constant(token: str) -> Any:
    raise AssertionError(f"{token} in a JSON answer")


def no_nan_in_answers(ctx: Any, response: Any, case: Any) -> None:
    """A JSON answer never holds a NaN or Infinity token."""
    if "json" in (response.headers.get("content-type") or [""])[0]:
        json.loads(response.content, parse_constant=_reject_constant)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    no_nan_in_answers,
]


class CountingApp:
    """WSGI middleware counting the requests that actually reach the service."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.count = 0

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        self.count += 1
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def real_ids(redis_url: str, worker_proc: Any) -> Iterator[dict[str, str]]:
    """A finished fit run by the session's worker: its fit, model and dataset ids, and a finished
    LRT and bootstrap of its model."""
    from service import create_app

    app = create_app({"TESTING": True, "REDIS_URL": redis_url, "QUEUE_NAME": TEST_QUEUE})
    client = app.test_client()
    rng = np.random.default_rng(5)
    data = np.concatenate([rng.normal(0, 1, 60), rng.normal(5, 1, 60)]).tolist()
    fit = client.post("/v1/fits", json={"data": data, "k": [1, 2], "seed": 2}).get_json()
    for _ in range(10):
        fit = client.get(f"/v1/fits/{fit['id']}?wait=10").get_json()
        if fit["status"] in ("finished", "failed", "canceled"):
            break
    assert fit["status"] == "finished", fit
    ids = {"fit": fit["id"], "model": fit["model_id"], "dataset": fit["dataset_id"]}
    for kind, route, body in (
        ("lrt", "lrt", {"max_k": 1, "nboot": 3}),
        ("bootstrap", "bootstrap", {"nboot": 3}),
    ):
        doc = client.post(f"/v1/models/{fit['model_id']}/{route}", json=body).get_json()
        for _ in range(10):
            doc = client.get(f"{doc['links']['self']}?wait=10").get_json()
            if doc["status"] in ("finished", "failed", "canceled"):
                break
        assert doc["status"] == "finished", doc
        ids[kind] = doc["id"]
    yield ids
    app.extensions["mixfit"].redis.close()


@pytest.fixture(scope="module")
def fuzz_app(redis_url: str) -> Iterator[Any]:
    from service import create_app

    queue = f"mixfit-fuzz-{uuid.uuid4().hex}"
    app = create_app({"TESTING": True, "REDIS_URL": redis_url, "QUEUE_NAME": queue})
    app.wsgi_app = CountingApp(app.wsgi_app)
    yield app
    app.extensions["mixfit"].redis.close()


def _runs(schema: Any, real: dict[str, str]) -> Iterator[tuple[str, Any]]:
    """(label, strategy) for every operation, mode and id source."""
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for result in schema.exclude(path=EXCLUDED_PATHS).get_all_operations():
            operation = result.ok()
            names = [n for n in REAL_ID_PARAMS if f"{{{n}}}" in operation.path]
            if mode.is_negative and not names and not operation.body:
                continue  # nothing to violate: no parameters and no body
            # A CSV or .npy body is a string on the wire whatever the generator meant: only
            # JSON bodies can be schema-violating.
            strategy = operation.as_strategy(mode)
            if mode.is_negative and operation.body:
                strategy = strategy.filter(lambda case: case.media_type == "application/json")
            label = f"{mode.value} {operation.label}"
            yield label, strategy
            if names and operation.method.upper() != "DELETE" and mode.is_positive:
                fixed = {name: real[REAL_ID_PARAMS[name]] for name in names}
                yield f"{label} (live ids)", operation.as_strategy(mode, path_parameters=fixed)


def test_fuzz_every_operation_against_the_contract(fuzz_app, real_ids) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.yaml", fuzz_app)
    failures: list[str] = []
    per_run: list[tuple[str, int]] = []
    counter: CountingApp = fuzz_app.wsgi_app
    for label, strategy in _runs(schema, real_ids):
        before = counter.count

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: report as found
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            case.call_and_validate(checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: B036 - collect, report all
            failures.append(f"{label}:\n{exc}")
        per_run.append((label, counter.count - before))
    total = counter.count
    print(f"\nschemathesis sent {total} requests in {len(per_run)} runs:")
    for label, count in per_run:
        print(f"  {count:5d}  {label}")
    assert not failures, "\n\n".join(failures)
    assert total >= MIN_REQUESTS, f"only {total} requests were generated"
