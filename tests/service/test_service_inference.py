"""The bootstrap LRT and the bootstrap of a model's parameters as REST jobs: 202 and Location,
polling to the in-process core's result (for any number of parts), progress, cancel, failures,
and the 404/409/410/422 answers."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import mixfit
from mixfit.inference import bootstrap_replicates, bootstrap_summary, observed_information
from mixfit.lrt import lrt_plan, lrt_replicates, lrt_result
from mixfit.replicates import OWN_OPTIONS

X = np.round(
    np.concatenate(
        [np.random.default_rng(8).normal(0, 1, 50), np.random.default_rng(9).normal(5, 1.2, 40)]
    ),
    6,
)
TERMINAL = ("finished", "failed", "canceled")


def wait_job(client: Any, path: str, seconds: float = 60) -> dict[str, Any]:
    """Poll an LRT or bootstrap with ?wait= until it ends; its document."""
    deadline = time.monotonic() + seconds
    while True:
        doc = client.get(f"{path}?wait=10").get_json()
        if doc["status"] in TERMINAL or time.monotonic() > deadline:
            return doc


@pytest.fixture()
def fitted(client, worker_proc, poll) -> dict[str, Any]:
    """A finished K = 1, 2 fit of ``X`` (K = 2 selected)."""
    created = client.post("/v1/fits", json={"data": X.tolist(), "k": [1, 2], "seed": 3})
    # a generous wait: the session's workers may still be busy with an earlier test's LRT on a
    # slow, shared machine (a fresh-clone CI once waited past 30 s here); it returns when done
    doc = poll(client, created.get_json()["id"], 120)
    assert doc["status"] == "finished", doc
    return doc


def core_lrt(fit: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """The in-process test with the fit's options, less what the LRT sets itself."""
    options = {k: v for k, v in fit["result"]["options"].items() if k not in OWN_OPTIONS}
    plan = lrt_plan(X, **settings, **options)
    stats = [lrt_replicates(plan, step) for step in range(len(plan.steps))]
    return lrt_result(plan, stats).model_dump(mode="json")


def core_bootstrap(
    fit: dict[str, Any], nboot: int, method: str, seed: int, conf_level: float = 0.9
) -> dict[str, Any]:
    model = mixfit.Model.model_validate(fit["result"]["model"])
    options = fit["result"]["options"]
    draws = bootstrap_replicates(model, options, X, method=method, seed=seed, stop=nboot)
    result = bootstrap_summary(model, [draws], method=method, conf_level=conf_level, seed=seed)
    return result.model_dump(mode="json")


def parts_of(redis_client: Any, job_id: str) -> list[dict[str, Any]]:
    """The parts planned for an LRT or a bootstrap (its combining job's meta)."""
    from rq.job import Job
    from rq.serializers import JSONSerializer

    return Job.fetch(job_id, connection=redis_client, serializer=JSONSerializer).meta["parts"]


def test_lrt_equals_the_core_for_one_part_and_for_many(make_client, fitted, redis_client) -> None:
    """K = 1 vs 2 and 2 vs 3 with 7 replicates a step: one part a step, or three (ranges that
    cut the core's batches), the largest K's first; the same statistics bit for bit."""
    model_id = fitted["model_id"]
    body = {"k_min": 1, "max_k": 2, "nboot": 7, "seed": 4}
    expected = core_lrt(fitted, level=0.05, **body)
    plans = {1: [[0, 7], [0, 7]], 6: [[0, 2], [2, 5], [5, 7]] * 2}
    for fanout_parts, ranges in plans.items():
        client = make_client(FANOUT_PARTS=fanout_parts)
        created = client.post(f"/v1/models/{model_id}/lrt", json=body)
        assert created.status_code == 202, created.get_json()
        doc = created.get_json()
        assert created.headers["Location"] == doc["links"]["self"] == f"/v1/lrts/{doc['id']}"
        assert doc["status"] == "queued" and doc["progress"] == {"done": 0, "total": 14}
        assert doc["links"]["model"] == f"/v1/models/{model_id}"
        assert doc["model_id"] == model_id and doc["result"] is None
        parts = parts_of(redis_client, doc["id"])
        assert [p["replicates"] for p in parts] == ranges
        assert [p["step"] for p in parts] == sorted((p["step"] for p in parts), reverse=True)
        done = wait_job(client, doc["links"]["self"])
        assert done["status"] == "finished", done
        assert done["progress"] == {"done": 14, "total": 14}
        assert done["result"] == expected  # exactly, whatever the number of parts
    assert [s["k"] for s in expected["steps"]] == [1, 2]
    assert all(len(s["bootstrap"]) == 7 for s in expected["steps"])


def test_warm_replicate_starts_reach_the_worker(make_client, fitted) -> None:
    """``replicate_starts: "warm"`` travels through the plan job to every part: the result is
    the core's with the same setting, and says so."""
    body = {"k_min": 1, "max_k": 1, "nboot": 5, "seed": 2, "replicate_starts": "warm"}
    expected = core_lrt(fitted, level=0.05, **body)
    assert expected["replicate_starts"] == "warm"
    assert expected != core_lrt(fitted, level=0.05, **{**body, "replicate_starts": "search"})
    client = make_client(FANOUT_PARTS=2)
    created = client.post(f"/v1/models/{fitted['model_id']}/lrt", json=body)
    assert created.status_code == 202, created.get_json()
    done = wait_job(client, created.get_json()["links"]["self"])
    assert done["status"] == "finished", done
    assert done["result"] == expected


def test_lrt_defaults_to_the_models_k_and_takes_an_empty_body(client, fitted) -> None:
    created = client.post(f"/v1/models/{fitted['model_id']}/lrt", data=b"")
    assert created.status_code == 202, created.get_json()
    doc = created.get_json()
    assert doc["progress"]["total"] == 2 * 99  # K = 1 and 2 (the model's), nboot 99
    assert client.delete(doc["links"]["self"]).get_json()["status"] == "canceled"


def test_bootstrap_equals_the_core_for_one_part_and_for_many(
    make_client, fitted, redis_client
) -> None:
    expected = core_bootstrap(fitted, 9, "weighted", 2)
    model_id = fitted["model_id"]
    body = {"method": "weighted", "nboot": 9, "conf_level": 0.9, "seed": 2}
    for fanout_parts, count in ((1, 1), (4, 4)):
        client = make_client(FANOUT_PARTS=fanout_parts)
        created = client.post(f"/v1/models/{model_id}/bootstrap", json=body)
        assert created.status_code == 202, created.get_json()
        doc = created.get_json()
        assert created.headers["Location"] == f"/v1/bootstraps/{doc['id']}"
        assert len(parts_of(redis_client, doc["id"])) == count
        done = wait_job(client, doc["links"]["self"])
        assert done["status"] == "finished", done
        assert done["progress"] == {"done": 9, "total": 9}
        assert done["result"] == expected
    assert set(expected["parameters"]) == {"weights", "means", "sds"}


def test_observed_information_and_its_family_check(client, fitted, poll) -> None:
    created = client.post(
        f"/v1/models/{fitted['model_id']}/bootstrap", json={"method": "observed_information"}
    )
    assert created.status_code == 202, created.get_json()
    done = wait_job(client, created.get_json()["links"]["self"])
    assert done["status"] == "finished", done
    model = mixfit.Model.model_validate(fitted["result"]["model"])
    assert done["result"] == observed_information(SimpleNamespace(model=model), X).model_dump(
        mode="json"
    )
    counts = np.random.default_rng(1).poisson(4, 60).tolist()
    fit = poll(
        client,
        client.post("/v1/fits", json={"data": counts, "family": "poisson", "k": 2}).get_json()[
            "id"
        ],
    )
    refused = client.post(
        f"/v1/models/{fit['model_id']}/bootstrap", json={"method": "observed_information"}
    )
    assert "1-D Gaussian" in client.error(refused, 422)["message"]


def test_observed_information_answers_at_conf_level_or_fails_saying_why(
    client, fitted, poll
) -> None:
    """conf_level reaches the Wald intervals (it was 0.95 whatever was asked); a fit that is
    no strict maximum (two components on tied values) fails with the reason and the
    bootstrap to use, never "finished" with every standard error null."""
    body = {"method": "observed_information", "conf_level": 0.5}
    done = wait_job(
        client,
        client.post(f"/v1/models/{fitted['model_id']}/bootstrap", json=body).get_json()["links"][
            "self"
        ],
    )
    assert done["status"] == "finished", done
    model = mixfit.Model.model_validate(fitted["result"]["model"])
    expected = observed_information(SimpleNamespace(model=model), X, conf_level=0.5)
    assert done["result"] == expected.model_dump(mode="json")
    assert done["result"]["conf_level"] == 0.5
    tied = [0.2] * 10 + [0.7] * 10
    fit = poll(client, client.post("/v1/fits", json={"data": tied, "k": 2}).get_json()["id"])
    assert fit["status"] == "finished", fit
    created = client.post(f"/v1/models/{fit['model_id']}/bootstrap", json=body)
    failed = wait_job(client, created.get_json()["links"]["self"])
    assert failed["status"] == "failed", failed
    assert failed["error"]["type"] == "FitError"
    assert "not positive definite" in failed["error"]["message"]
    assert "'nonparametric'" in failed["error"]["message"]


def test_cancel_stops_every_part(make_client, fitted) -> None:
    client = make_client(FANOUT_PARTS=3)
    model_id = fitted["model_id"]
    for route, body in (("lrt", {"max_k": 3, "nboot": 9999}), ("bootstrap", {"nboot": 9999})):
        doc = client.post(f"/v1/models/{model_id}/{route}", json=body).get_json()
        time.sleep(0.3)  # let a worker take the first job
        if route == "bootstrap":  # its parts report every replicate: progress while it runs
            deadline = time.monotonic() + 20
            running = client.get(doc["links"]["self"]).get_json()
            while running["progress"]["done"] == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
                running = client.get(doc["links"]["self"]).get_json()
            assert running["status"] == "started", running
            assert 0 < running["progress"]["done"] < running["progress"]["total"] == 9999
        canceled = client.delete(doc["links"]["self"])
        assert canceled.status_code == 200
        assert canceled.get_json()["status"] == "canceled"
        assert wait_job(client, doc["links"]["self"])["status"] == "canceled"
        assert "already ended" in client.error(client.delete(doc["links"]["self"]), 409)["message"]
    # Nothing of theirs is left for the worker: a new bootstrap finishes at once.
    doc = client.post(f"/v1/models/{model_id}/bootstrap", json={"nboot": 2}).get_json()
    assert wait_job(client, doc["links"]["self"], 30)["status"] == "finished"


def test_unknown_gone_and_invalid(client, fitted, redis_client, poll) -> None:
    model_id = fitted["model_id"]
    missing = "0" * 32
    for route in ("lrt", "bootstrap"):
        assert client.error(client.post(f"/v1/models/{missing}/{route}", json={}), 404)
    for collection in ("lrts", "bootstraps"):
        client.error(client.get(f"/v1/{collection}/{missing}"), 404)
        client.error(client.delete(f"/v1/{collection}/{missing}"), 404)
        client.error(client.get(f"/v1/{collection}/{fitted['id']}"), 404)  # a fit's id
    lrt = client.error(client.post(f"/v1/models/{model_id}/lrt", json={"k_min": 3}), 422)
    assert "k_min (3) must be at most max_k (2" in lrt["message"]
    client.error(client.post(f"/v1/models/{model_id}/lrt", json={"nboot": 0}), 422)
    # The LRT asks for K under the name max_k: the data's limit is told in its terms.
    too_many = {"max_k": 8, "k_min": 8}
    n_distinct = len(np.unique(X))
    few = client.post("/v1/fits", json={"data": X[:7].tolist(), "k": 2, "seed": 3}).get_json()
    few = poll(client, few["id"], 120)
    assert few["status"] == "finished", few
    refused = client.error(client.post(f"/v1/models/{few['model_id']}/lrt", json=too_many), 422)
    assert "ask for max_k <= 6" in refused["message"] and n_distinct > 7, refused
    client.error(client.post(f"/v1/models/{model_id}/lrt", json={"max_k": 20}), 422)
    client.error(client.post(f"/v1/models/{model_id}/bootstrap", json={"nboot": 1}), 422)
    client.error(client.post(f"/v1/models/{model_id}/bootstrap", json={"method": "x"}), 422)
    client.error(client.post(f"/v1/models/{model_id}/lrt", json={"level": True}), 422)
    bad = client.error(
        client.post(f"/v1/models/{model_id}/lrt", json={"replicate_starts": "cold"}), 422
    )
    assert "replicate_starts" in str(bad)
    client.error(client.post(f"/v1/models/{model_id}/lrt", data="x", content_type="text/csv"), 415)
    client.error(
        client.post(f"/v1/models/{model_id}/lrt", data="{", content_type="application/json"), 400
    )

    # Its dataset gone: 409, saying so.
    dataset = fitted["dataset_id"]
    redis_client.rename(f"mixfit:dataset:{dataset}", f"mixfit:dataset:{dataset}:kept")
    try:
        for route in ("lrt", "bootstrap"):
            gone = client.error(client.post(f"/v1/models/{model_id}/{route}", json={}), 409)
            assert "no longer stored" in gone["message"]
    finally:
        redis_client.rename(f"mixfit:dataset:{dataset}:kept", f"mixfit:dataset:{dataset}")

    # The model deleted: 410.
    assert client.delete(f"/v1/models/{model_id}").status_code == 204
    for route in ("lrt", "bootstrap"):
        client.error(client.post(f"/v1/models/{model_id}/{route}", json={}), 410)


@pytest.mark.parametrize(
    ("weight", "message"),
    [(0.01, "too few for the 3 components"), (2e4, "more than 1,000,000")],
)
def test_lrt_weights_summing_below_max_k_plus_1_or_above_a_million_are_422(
    client, worker_proc, poll, weight, message
) -> None:
    """The LRT reads weights as counts: its replicates hold their sum of points."""
    body = {"data": X.tolist(), "weights": [weight] * X.size, "k": [1, 2], "seed": 3}
    doc = poll(client, client.post("/v1/fits", json=body).get_json()["id"], 120)
    assert doc["status"] == "finished", doc
    refused = client.post(f"/v1/models/{doc['model_id']}/lrt", json={"max_k": 2, "nboot": 9})
    assert message in client.error(refused, 422)["message"]


def test_expired_jobs_answer_410_and_ids_stay_in_their_collection(
    make_client, fitted, redis_client
) -> None:
    idle = make_client(QUEUE_NAME="mixfit-idle-inference")
    doc = idle.post(f"/v1/models/{fitted['model_id']}/bootstrap", json={"nboot": 2}).get_json()
    # Its id is an RQ job's, but no fit's nor LRT's.
    for path in (f"/v1/fits/{doc['id']}", f"/v1/lrts/{doc['id']}"):
        idle.error(idle.get(path), 404)
        idle.error(idle.delete(path), 404)
    assert idle.get(doc["links"]["self"]).get_json()["status"] == "queued"
    for key in redis_client.keys(f"rq:job:{doc['id']}*"):
        redis_client.delete(key)
    assert "expired" in idle.error(idle.get(doc["links"]["self"]), 410)["message"]


def test_a_fit_error_is_shown_verbatim(make_client, fitted, redis_url, redis_client) -> None:
    """The data deleted after the jobs were queued: the plan (LRT) and the parts (bootstrap)
    fail with the core's FitError, shown as the job's error."""
    import devstack

    queue = "mixfit-inference-failures"
    idle = make_client(QUEUE_NAME=queue, FIT_RETRIES=0)
    model_id = fitted["model_id"]
    lrt = idle.post(f"/v1/models/{model_id}/lrt", json={"nboot": 3}).get_json()
    boot = idle.post(f"/v1/models/{model_id}/bootstrap", json={"nboot": 3}).get_json()
    redis_client.delete(f"mixfit:dataset:{fitted['dataset_id']}")
    proc = devstack.start_worker(redis_url, queue, log_level="ERROR", extra=["--burst"])
    assert proc.wait(timeout=60) == 0
    for doc in (lrt, boot):
        failed = wait_job(idle, doc["links"]["self"], 10)
        assert failed["status"] == "failed", failed
        assert failed["error"]["type"] == "FitError"
        assert failed["error"]["message"].startswith(f"dataset {fitted['dataset_id']} no longer")
        assert failed["result"] is None


def test_two_workers_share_the_parts(make_client, fitted, redis_url, redis_client) -> None:
    """Four parts, two idle workers: both get work, and the result is the one-part result."""
    from rq.job import Job
    from rq.serializers import JSONSerializer

    import devstack
    from tests.conftest import TEST_QUEUE

    second = devstack.start_worker(redis_url, TEST_QUEUE, log_level="WARNING")
    try:
        devstack.wait_workers(redis_url, TEST_QUEUE, count=2)
        client = make_client(FANOUT_PARTS=4)
        body = {"nboot": 40, "seed": 5}
        doc = client.post(f"/v1/models/{fitted['model_id']}/bootstrap", json=body).get_json()
        done = wait_job(client, doc["links"]["self"])
        assert done["status"] == "finished", done
    finally:
        devstack.stop([second])
    ids = [part["job_id"] for part in parts_of(redis_client, doc["id"])]
    assert len(ids) == 4
    parts = Job.fetch_many(ids, connection=redis_client, serializer=JSONSerializer)
    assert len({part.return_value()["worker"] for part in parts}) == 2
    assert done["result"] == core_bootstrap(fitted, 40, "nonparametric", 5, conf_level=0.95)
