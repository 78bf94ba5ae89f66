"""Fits end to end: HTTP -> queue -> a real RQ worker process -> Redis -> polling, then models
and scoring. Every answer is checked against openapi.yaml by the client fixture."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
import zlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

import mixfit
from fitqueue import keys
from mixfit.families import FAMILIES

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]

# Data each registered family can fit: a family without an entry here fails the test below.
FAMILY_DATA = {
    "gaussian": lambda rng: np.concatenate([rng.normal(0, 1, 60), rng.normal(5, 1, 60)]),
    "beta": lambda rng: np.concatenate([rng.beta(2, 8, 60), rng.beta(8, 2, 60)]),
    "poisson": lambda rng: np.concatenate([rng.poisson(2, 60), rng.poisson(14, 60)]) * 1.0,
    "gamma": lambda rng: np.concatenate([rng.gamma(3, 0.5, 60), rng.gamma(60, 0.2, 60)]),
    "lognormal": lambda rng: np.exp(
        np.concatenate([rng.normal(0, 0.3, 60), rng.normal(2, 0.3, 60)])
    ),
    "student_t": lambda rng: np.concatenate([rng.standard_t(4, 60), 8 + rng.standard_t(4, 60)]),
}


def test_every_family_has_test_data() -> None:
    assert set(FAMILY_DATA) == set(FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fit_lifecycle(client, worker_proc, poll, family) -> None:
    data = FAMILY_DATA[family](np.random.default_rng(7)).tolist()
    body = {"family": family, "data": data, "k": {"min": 1, "max": 3}, "n_starts": 4, "seed": 5}
    response = client.post("/v1/fits", json=body)
    assert response.status_code == 202
    created = response.get_json()
    fit_id = created["id"]
    assert response.headers["Location"] == f"/v1/fits/{fit_id}" == created["links"]["self"]
    assert created["status"] in ("queued", "started", "finished")

    doc = poll(client, fit_id)
    assert doc["status"] == "finished"
    result = doc["result"]
    assert result["family"] == family and result["n"] == 120
    assert [r["k"] for r in result["results"]] == [1, 2, 3]
    assert result["k_selected"] == 2
    assert doc["error"] is None and doc["progress"] is None
    assert doc["started_at"] and doc["ended_at"]

    # The selected model has its own id and resource, with what scoring needs.
    assert doc["links"]["model"] == f"/v1/models/{doc['model_id']}"
    model_doc = client.get(doc["links"]["model"]).get_json()
    assert model_doc["model"] == result["model"]
    assert model_doc["fit_id"] == fit_id and model_doc["expires_in"] is None

    # Scoring answers what the core answers.
    points = data[:5]
    scored = client.post(model_doc["links"]["score"], json={"points": points, "alpha": 0.05})
    assert scored.status_code == 200
    expected = mixfit.score(result["model"], points, alpha=0.05).model_dump(mode="json")
    assert scored.get_json() == expected

    # The inline data were stored as a dataset, under their content hash.
    dataset = client.get(doc["links"]["dataset"]).get_json()
    assert dataset["id"] == result["data_hash"] == doc["dataset_id"]


def test_fit_an_uploaded_dataset(client, worker_proc, poll) -> None:
    rng = np.random.default_rng()
    X = np.concatenate([rng.normal(0, 1, (50, 2)), rng.normal(4, 1, (50, 2))])
    csv = "a,b\n" + "\n".join(f"{a!r},{b!r}" for a, b in X.tolist())
    dataset = client.post("/v1/datasets", data=csv, content_type="text/csv").get_json()
    response = client.post(
        "/v1/fits", json={"dataset_id": dataset["id"], "k": [1, 2], "covariance": "diag"}
    )
    doc = poll(client, response.get_json()["id"])
    assert doc["status"] == "finished"
    assert (doc["result"]["n"], doc["result"]["d"]) == (100, 2)
    assert doc["result"]["options"]["covariance"] == "diag"
    assert doc["dataset_id"] == dataset["id"]


def test_sixty_four_dimensions_fit_and_score(client, worker_proc, poll) -> None:
    """The dimensions cap (64) end to end: a fit of 64-dimensional points through the worker,
    then scoring against its model (the cap was 16 until scikit-learn's 30-column
    breast-cancer data were refused)."""
    rng = np.random.default_rng(11)
    X = np.concatenate([rng.normal(0, 1, (60, 64)), rng.normal(3, 1, (60, 64))])
    body = {"data": X.tolist(), "k": [1, 2], "covariance": "diag", "n_starts": 4, "seed": 2}
    doc = poll(client, client.post("/v1/fits", json=body).get_json()["id"])
    assert doc["status"] == "finished", doc["error"]
    assert (doc["result"]["d"], doc["result"]["k_selected"]) == (64, 2)
    scored = client.post(f"/v1/models/{doc['model_id']}/score", json={"points": X[:2].tolist()})
    assert scored.status_code == 200 and len(scored.get_json()["log_density"]) == 2


def test_anomaly_scoring(client, finished_fit) -> None:
    url = f"/v1/models/{finished_fit['model_id']}/score"
    scored = client.post(url, json={"points": [0.0, 6.0, 40.0], "responsibilities": True})
    body = scored.get_json()
    assert body["is_anomaly"] == [False, False, True]
    assert body["n_anomalies"] == 1
    assert len(body["responsibilities"]) == 3


def test_idempotency_key_returns_the_same_fit(client, worker_proc) -> None:
    key = f"walkthrough-{uuid.uuid4()}"
    body = json.dumps({"data": [0.1, 0.2, 0.3, 5.0, 5.1, 5.2], "k": [1, 2]})
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    first = client.post("/v1/fits", data=body, headers=headers)
    second = client.post("/v1/fits", data=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.get_json()["id"] == second.get_json()["id"]
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    other = client.post("/v1/fits", data=body, headers={**headers, "Idempotency-Key": key + "x"})
    assert other.get_json()["id"] != first.get_json()["id"]


def test_same_seed_same_result(client, worker_proc, poll) -> None:
    body = {"data": FAMILY_DATA["gaussian"](np.random.default_rng(1)).tolist(), "seed": 11}
    a = poll(client, client.post("/v1/fits", json=body).get_json()["id"])
    b = poll(client, client.post("/v1/fits", json=body).get_json()["id"])
    assert a["id"] != b["id"] and a["model_id"] != b["model_id"]
    assert [r["loglik"] for r in a["result"]["results"]] == [
        r["loglik"] for r in b["result"]["results"]
    ]


LONG_FIT = {
    "k": {"min": 1, "max": 8},
    "n_starts": 50,
    "max_iter": 10000,
    "tol": 1e-300,
    "tol_type": "absolute",  # never converges: runs until cancelled or timed out
}


def long_fit_data() -> list[list[float]]:
    return np.random.default_rng().normal(size=(3000, 2)).tolist()


@pytest.mark.parametrize("fanout", [False, True], ids=["one-job", "fanned-out"])
def test_running_fit_shows_progress_and_cancels(make_client, worker_proc, poll, fanout) -> None:
    client = make_client(FANOUT_MIN_WORK=0 if fanout else 10**15)
    fit_id = client.post("/v1/fits", json={"data": long_fit_data(), **LONG_FIT}).get_json()["id"]
    deadline = time.monotonic() + 60
    doc = client.get(f"/v1/fits/{fit_id}").get_json()

    # While its starts are screened a K reports iteration 0 (and a stop reaches it there too).
    def iterating(doc: dict) -> bool:
        return bool(doc["progress"]) and doc["progress"]["per_k"][0]["iteration"] >= 1

    while not (doc["status"] == "started" and iterating(doc)) and time.monotonic() < deadline:
        time.sleep(0.1)
        doc = client.get(f"/v1/fits/{fit_id}").get_json()
    assert doc["status"] == "started"
    progress = doc["progress"]
    assert progress["k_values"] == list(range(1, 9))
    current = progress["per_k"][0]
    # One job runs K = 1, 2, ...; a fanned-out fit runs its smallest K's parts first too (its
    # finishing jobs follow K by K), and K = 1 has no split start to leave to them.
    assert current["k"] == 1
    assert current["n_starts"] == 50
    assert current["iteration"] >= 1 and current["best_loglik"] is not None
    assert len(current["trace"]) >= 1 and current["trace"][-1] == pytest.approx(
        current["best_loglik"]
    )
    assert doc["result"] is None and doc["model_id"] is None

    cancelled = client.delete(f"/v1/fits/{fit_id}")
    assert cancelled.status_code == 200
    assert cancelled.get_json()["status"] == "canceled"
    assert client.get(f"/v1/fits/{fit_id}").get_json()["status"] == "canceled"
    client.error(client.delete(f"/v1/fits/{fit_id}"), 409)
    # The worker survived the stop and takes the next fit.
    body = {"data": [0.1, 0.2, 0.3, 5.0, 5.1, 5.2], "k": [1, 2]}
    assert poll(client, client.post("/v1/fits", json=body).get_json()["id"])["status"] == (
        "finished"
    )


@pytest.mark.parametrize("race", ["canceled-while-running", "started-after-the-cancel"])
def test_a_cancel_that_loses_the_race_to_a_worker_still_stops_the_job(
    make_client, worker_proc, poll, redis_client, race
) -> None:
    """DELETE reads a job's status, then cancels it (queued) or stops it (started). A worker can
    take the job in between: RQ's cancel then marks a running job CANCELED and nothing stops it,
    or the worker marks it STARTED over the cancel a moment later. Both kept the worker busy for
    the job's whole run (a CI run: an LRT part after its LRT answered "canceled"). The race is
    forced here: the job reads queued while the worker already runs it."""
    from rq.job import Job, JobStatus
    from rq.serializers import JSONSerializer

    from service.fits import STATES
    from service.stopping import stop_jobs

    client = make_client(FANOUT_MIN_WORK=10**15)
    fit_id = client.post("/v1/fits", json={"data": long_fit_data(), **LONG_FIT}).get_json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/v1/fits/{fit_id}").get_json()["status"] != "started":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    job = Job.fetch(fit_id, connection=redis_client, serializer=JSONSerializer)
    executions = f"rq:worker:{job.worker_name}:executions"
    assert redis_client.smembers(executions)  # the worker runs it

    job.get_status = lambda refresh=True: JobStatus.QUEUED  # read just before the worker took it
    if race == "started-after-the-cancel":
        cancel = job.cancel

        def cancel_then_started() -> None:  # the worker popped it first, then marks it STARTED
            cancel()
            redis_client.hset(job.key, "status", JobStatus.STARTED)

        job.cancel = cancel_then_started

    def read_state() -> str:
        return STATES[JobStatus(redis_client.hget(job.key, "status").decode())]

    assert stop_jobs(redis_client, [job], read_state) == "canceled"
    assert redis_client.smembers(executions) == set()  # nothing of it runs any more
    body = {"data": [0.1, 0.2, 0.3, 5.0, 5.1, 5.2], "k": [1, 2]}
    assert poll(client, client.post("/v1/fits", json=body).get_json()["id"])["status"] == (
        "finished"
    )


def test_crashed_fit_ends_failed_with_its_reason(make_client, worker_proc, poll) -> None:
    client = make_client(JOB_TIMEOUT_MIN=1, JOB_TIMEOUT_MAX=1, FANOUT_MIN_WORK=10**15)
    fit_id = client.post("/v1/fits", json={"data": long_fit_data(), **LONG_FIT}).get_json()["id"]
    doc = poll(client, fit_id)
    assert doc["status"] == "failed"
    assert doc["error"]["type"] == "JobTimeoutException"
    assert "timeout" in doc["error"]["message"]
    assert doc["result"] is None


@pytest.fixture()
def idle(make_client):
    """A client whose queue no worker listens to, so fits stay queued."""
    queue = f"mixfit-idle-{uuid.uuid4().hex}"
    client = make_client(QUEUE_NAME=queue)
    client.queue_name = queue
    return client


def test_queued_fit_and_its_cancel(idle, redis_client) -> None:
    data = np.random.default_rng().normal(size=5000).tolist()
    created = idle.post("/v1/fits", json={"data": data, "k": 2}).get_json()
    assert created["status"] == "queued"
    second = idle.post("/v1/fits", json={"data": data, "k": 3}).get_json()
    assert idle.get(f"/v1/fits/{created['id']}").get_json()["queue_position"] == 0
    assert idle.get(f"/v1/fits/{second['id']}").get_json()["queue_position"] == 1

    # The job carries ids and options as JSON, never pickle and never the data.
    raw = redis_client.hget(f"rq:job:{created['id']}", "data")
    func, _, args, kwargs = json.loads(zlib.decompress(raw))
    assert func == "worker.jobs.fit" and args == []
    assert kwargs["dataset_id"] == created["dataset_id"] and "data" not in kwargs["request"]
    assert len(raw) < 2000

    cancelled = idle.delete(f"/v1/fits/{created['id']}").get_json()
    assert cancelled["status"] == "canceled"
    # RQ gives a job canceled in the queue no end time; the answer has the cancel's
    ended, made = (datetime.fromisoformat(cancelled[f]) for f in ("ended_at", "created_at"))
    assert ended >= made
    assert idle.get(f"/v1/fits/{created['id']}").get_json()["ended_at"] == cancelled["ended_at"]
    idle.error(idle.delete(f"/v1/fits/{created['id']}"), 409)
    assert idle.get(f"/v1/fits/{second['id']}").get_json()["queue_position"] == 0


def test_fit_error_in_the_worker_is_shown_when_polled(idle, redis_url) -> None:
    data = np.random.default_rng().normal(size=40).tolist()
    dataset = idle.post("/v1/datasets", json={"data": data}).get_json()
    fit = idle.post("/v1/fits", json={"dataset_id": dataset["id"], "k": 2}).get_json()
    idle.delete(f"/v1/datasets/{dataset['id']}")  # gone before a worker picks the fit up
    subprocess.run(
        [sys.executable, "-m", "worker", "--burst", "--queue", idle.queue_name, "--url", redis_url]
        + ["--log-level", "WARNING"],
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    doc = idle.get(f"/v1/fits/{fit['id']}").get_json()
    assert doc["status"] == "failed"
    assert doc["error"]["type"] == "FitError"
    assert doc["error"]["message"].startswith(f"dataset {dataset['id']} no longer exists")
    assert doc["model_id"] is None and doc["links"]["model"] is None


def test_readyz(client, idle, worker_proc) -> None:
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and ready["workers"] >= 1
    error = idle.error(idle.get("/readyz"), 503)
    assert error["message"].startswith(f"no live worker is listening on queue '{idle.queue_name}'")
    assert error["detail"] == {"redis": "ok", "workers": 0}


def test_result_and_record_ttls(client, finished_fit, redis_client) -> None:
    fit_id, model_id = finished_fit["id"], finished_fit["model_id"]
    assert 0 < redis_client.ttl(f"rq:job:{fit_id}") <= 86400  # RESULT_TTL
    assert redis_client.ttl(keys.fit(fit_id)) > 86400  # the record outlives the result
    assert redis_client.ttl(keys.model(model_id)) == -1  # MODEL_TTL 0: until deleted


def test_model_ttl_is_configurable(make_client, worker_proc, poll, redis_client) -> None:
    client = make_client(MODEL_TTL=120, RESULT_TTL=60, FAILURE_TTL=60)
    body = {"data": [0.1, 0.2, 0.3, 5.0, 5.1, 5.2], "k": [1, 2]}
    doc = poll(client, client.post("/v1/fits", json=body).get_json()["id"])
    assert 0 < client.get(f"/v1/models/{doc['model_id']}").get_json()["expires_in"] <= 120
    assert 0 < redis_client.ttl(f"rq:job:{doc['id']}") <= 60


def test_delete_model(client, finished_fit) -> None:
    url = f"/v1/models/{finished_fit['model_id']}"
    assert client.delete(url).status_code == 204
    client.error(client.get(url), 410)
    client.error(client.delete(url), 410)
    client.error(client.post(f"{url}/score", json={"points": [1.0]}), 410)


def test_families_lists_every_registered_family(client) -> None:
    body = client.get("/v1/families").get_json()
    assert [f["name"] for f in body["families"]] == list(FAMILIES)
    gaussian = next(f for f in body["families"] if f["name"] == "gaussian")
    covariance = next(o for o in gaussian["options"] if o["name"] == "covariance")
    assert covariance["values"] == ["full", "diag", "spherical", "tied"]
    assert body["caps"]["MAX_K"] == mixfit.schema.MAX_K


def test_pages_serve_locally(client) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/openapi.yaml").get_data() == (ROOT / "openapi.yaml").read_bytes()
    page = client.get("/docs").get_data(as_text=True)
    assert "<script" in page and '"/v1/fits/{fit_id}"' in page
    for external in ('src="http', "src='http", 'href="http', "@import", "cdn"):
        assert external not in page
    assert 'href="/docs"' in client.get("/").get_data(as_text=True)


def test_inline_worker_runs_and_stops_fits(make_client, redis_url, poll) -> None:
    """``python -m worker --inline`` runs fits without forking; a running fit still stops."""
    import devstack

    queue = f"mixfit-inline-{uuid.uuid4().hex}"
    client = make_client(QUEUE_NAME=queue, FANOUT_MIN_WORK=10**15)
    proc = devstack.start_worker(redis_url, queue, log_level="WARNING", extra=["--inline"])
    try:
        devstack.wait_workers(redis_url, queue)
        body = {"data": [0.1, 0.2, 0.3, 5.0, 5.1, 5.2], "k": [1, 2]}
        assert poll(client, client.post("/v1/fits", json=body).get_json()["id"])["status"] == (
            "finished"
        )
        fit_id = client.post("/v1/fits", json={"data": long_fit_data(), **LONG_FIT}).get_json()[
            "id"
        ]
        deadline = time.monotonic() + 60
        while client.get(f"/v1/fits/{fit_id}").get_json()["status"] != "started":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.delete(f"/v1/fits/{fit_id}").get_json()["status"] == "canceled"
        assert poll(client, client.post("/v1/fits", json=body).get_json()["id"])["status"] == (
            "finished"
        )
    finally:
        devstack.stop([proc])


def test_job_timeout_scales_with_the_work_and_is_capped(idle, redis_client) -> None:
    from rq.job import Job
    from rq.serializers import JSONSerializer

    data = np.random.default_rng().normal(size=1000).tolist()
    small = {"data": data, "k": [1, 2, 3], "n_starts": 5, "max_iter": 100}
    big = {"data": data, "k": {"min": 1, "max": 20}, "n_starts": 200, "max_iter": 10000}
    jobs = {}
    for name, body in (("small", small), ("big", big)):
        fit_id = idle.post("/v1/fits", json=body).get_json()["id"]
        jobs[name] = Job.fetch(fit_id, connection=redis_client, serializer=JSONSerializer)
    # 60 s + 1e-6 s * n (d+1)^2 sum(K) starts max_iter = 60 + 1e-6 * 1000 * 4 * 6 * 5 * 100
    assert jobs["small"].timeout == 72
    # The big fit fans out: each part's timeout is scaled to its own work and capped.
    parts = [
        Job.fetch(part["job_id"], connection=redis_client, serializer=JSONSerializer)
        for part in jobs["big"].meta["parts"]
    ]
    assert len(parts) == 20 and max(part.timeout for part in parts) == 3600
    # its merge runs every K's moves on all the data: the whole fit's bound, not the minimum
    assert jobs["big"].timeout == 3600
    assert (jobs["small"].result_ttl, jobs["small"].failure_ttl) == (86400, 7 * 86400)


def test_wait_on_a_queued_fit_answers_queued(idle) -> None:
    fit_id = idle.post("/v1/fits", json={"data": [0.1, 0.2, 3.0, 3.1], "k": 1}).get_json()["id"]
    assert idle.get(f"/v1/fits/{fit_id}?wait=0.3").get_json()["status"] == "queued"


def test_submission_checks_the_data_without_building_the_statistics(client, monkeypatch) -> None:
    """The API checks a request against its data (a 422 at once) but builds nothing EM needs:
    the statistics batch is built where EM runs, in the worker. (One point's statistics tell
    the work cap how many there are per point: ``mixfit.fit.held_at_once``.)"""

    def never(_self, Z):
        if len(Z) > 1:
            raise AssertionError("the API built EM's statistics")
        return original[type(_self)](_self, Z)

    original = {family: family.statistics for family in FAMILIES.values()}

    for family in FAMILIES.values():
        monkeypatch.setattr(family, "statistics", never)
    assert client.post("/v1/fits", json={"data": [0.1, 0.2, 5.0, 5.1], "k": 2}).status_code == 202
    refused = client.post("/v1/fits", json={"data": [0.1, 0.2, 5.0], "k": 4})
    assert refused.status_code == 422 and "cannot fit 4 components" in refused.get_json()["message"]


def test_three_points_without_k_fit_the_ks_they_hold(client, worker_proc, poll) -> None:
    """The default K range 1..5 is cut to the data's 3 points at submission (a 422 for K = 5
    before), so the queued request carries the cut range; an explicit K = 5 stays a 422."""
    doc = poll(client, client.post("/v1/fits", json={"data": [0.1, 0.4, 5.0]}).get_json()["id"])
    assert doc["status"] == "finished"
    assert [r["k"] for r in doc["result"]["results"]] == [1, 2, 3]
    assert doc["result"]["options"]["k"] == {"min": 1, "max": 3}
    refused = client.post("/v1/fits", json={"data": [0.1, 0.4, 5.0], "k": {"min": 1, "max": 5}})
    assert refused.status_code == 422 and "ask for k <= 3" in refused.get_json()["message"]


def test_weighted_inline_fit(client, worker_proc, poll) -> None:
    body = {"data": [0.1, 0.2, 0.3, 5.0, 5.1, 5.2], "weights": [3, 1, 2, 1, 4, 1], "k": [1, 2]}
    doc = poll(client, client.post("/v1/fits", json=body).get_json()["id"])
    assert doc["status"] == "finished" and doc["result"]["n_effective"] == 12.0
    assert client.get(doc["links"]["dataset"]).get_json()["weighted"] is True


def _children(pid: int) -> list[int]:
    """Child processes of ``pid`` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


# A fit of little work (500 points x K=10 x 10 starts = 50,000 <= the worker's
# INLINE_MAX_WORK) that takes long: ten components on one normal sample creep towards their
# maximum for thousands of plain EM iterations, and it runs in the worker process itself, for
# as long as it is let.
TINY_LONG = {
    "data": np.random.default_rng(9).normal(size=500).round(6).tolist(),
    "k": 10,
    "n_starts": 10,
    "max_iter": 10000,
    "tol": 1e-300,
    "tol_type": "absolute",
    "accelerate": False,
    # no moves, so no K = 9 fitted for them (mixfit.em.parent_ks): the work stays 500 * 10 *
    # 10, at the inline threshold (MIXFIT_INLINE_MAX_WORK's default 50,000)
    "split_merge": 0,
}


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_tiny_fit_runs_without_a_fork_and_still_stops_on_cancel(
    make_client, worker_proc, poll
) -> None:
    """Tiny fits skip the fork (about 15 ms each); cancelling one must stop the fit, not kill
    the worker (RQ's stop command kills a horse's process group: here there is none)."""
    client = make_client()
    fit_id = client.post("/v1/fits", json=TINY_LONG).get_json()["id"]
    deadline = time.monotonic() + 30
    while client.get(f"/v1/fits/{fit_id}").get_json()["status"] != "started":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    assert client.get(f"/v1/fits/{fit_id}").get_json()["status"] == "started"
    assert _children(worker_proc.pid) == []  # no work horse: the worker runs it
    assert client.delete(f"/v1/fits/{fit_id}").get_json()["status"] == "canceled"
    body = {"data": [0.1, 0.2, 0.3, 5.0, 5.1, 5.2], "k": [1, 2]}
    done = poll(client, client.post("/v1/fits", json=body).get_json()["id"])
    assert done["status"] == "finished"
    assert worker_proc.poll() is None


def test_a_tiny_fit_past_its_timeout_fails_and_the_worker_goes_on(
    make_client, worker_proc, poll
) -> None:
    client = make_client(JOB_TIMEOUT_MIN=1, JOB_TIMEOUT_MAX=1)
    doc = poll(client, client.post("/v1/fits", json=TINY_LONG).get_json()["id"])
    assert doc["status"] == "failed" and doc["error"]["type"] == "JobTimeoutException"
    body = {"data": [0.1, 0.2, 0.3, 5.0, 5.1, 5.2], "k": [1, 2]}
    assert poll(client, client.post("/v1/fits", json=body).get_json()["id"])["status"] == "finished"
    assert worker_proc.poll() is None
