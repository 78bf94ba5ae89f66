"""The queue adapter: job functions run by a real RQ worker on a real Redis, keys, codec, progress
throttling."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

import mixfit
from fitqueue import codec, keys
from mixfit.data import as_points, data_hash
from worker import jobs

ROOT = Path(__file__).resolve().parents[2]


def test_codec_round_trip_is_exact() -> None:
    rng = np.random.default_rng()
    X = rng.normal(size=(7, 3)) * 10.0 ** rng.integers(-300, 300, size=(7, 3))
    w = rng.uniform(size=7)
    for weights in (None, w):
        fields = codec.encode(X, weights)
        wire = {
            k.encode(): (str(v).encode() if isinstance(v, int) else v) for k, v in fields.items()
        }
        back, back_w = codec.decode(wire)
        assert np.array_equal(back, X)
        assert (back_w is None) if weights is None else np.array_equal(back_w, w)


def test_codec_refuses_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        codec.encode(np.zeros(3))
    with pytest.raises(ValueError, match="w must have shape"):
        codec.encode(np.zeros((3, 1)), np.ones(2))


def test_keys_are_namespaced_and_distinct() -> None:
    built = [
        keys.dataset("a1"),
        keys.fit("a1"),
        keys.model("a1"),
        keys.idempotency("a1"),
        keys.tombstone("dataset", "a1"),
        keys.tombstone("model", "a1"),
    ]
    assert len(set(built)) == len(built)
    for key in built:
        assert key.startswith("mixfit:") and "::" not in key and key.endswith(":a1")


class FakeJob:
    def __init__(self) -> None:
        self.id = uuid.uuid4().hex
        self.meta: dict = {}
        self.saved: list[dict] = []

    def save_meta(self) -> None:
        self.saved.append(json.loads(json.dumps(self.meta, allow_nan=False)))


def test_progress_is_throttled_and_json_safe(monkeypatch) -> None:
    # made at t=10.0; iterations at 10.04, 10.06, 10.15, 10.2, 10.3; the K done at 10.55
    clock = iter([10.0, 10.04, 10.06, 10.15, 10.2, 10.3, 10.55])
    monkeypatch.setattr(jobs.time, "monotonic", lambda: next(clock))
    job = FakeJob()
    reporter = jobs.ProgressReporter(job, [1, 2], 3)
    trace = [-10.0]
    for it in range(4):
        trace.append(trace[-1] + 1)
        info = {"k": 1, "iteration": it + 1, "starts_done": 0, "n_starts": 3}
        reporter({**info, "best_loglik": trace[-1], "trace": trace})
    reporter({**info, "best_loglik": float("nan"), "trace": [*trace, float("-inf")]})
    reporter.k_done(1)
    # Written at t=10.06 (the first write waits 50 ms), 10.3 and 10.55 only: at most one write
    # per 200 ms.
    assert len(job.saved) == 3
    assert job.saved[0]["progress"]["per_k"][0]["iteration"] == 2
    assert job.saved[1]["progress"]["per_k"][0]["iteration"] == 4
    last = job.saved[2]["progress"]["per_k"][0]
    assert last["state"] == "done" and last["starts_done"] == 3
    assert last["best_loglik"] is None and last["trace"][-1] is None


def test_progress_keeps_a_trace_tail(monkeypatch) -> None:
    job = FakeJob()
    reporter = jobs.ProgressReporter(job, [1], 1)
    trace = [float(i) for i in range(jobs.TRACE_TAIL + 25)]
    reporter(
        {
            "k": 1,
            "iteration": 5,
            "starts_done": 0,
            "n_starts": 1,
            "best_loglik": 1.0,
            "trace": trace,
        }
    )
    reporter.flush(force=True)
    entry = job.saved[-1]["progress"]["per_k"][0]
    assert entry["trace_start"] == 25 and entry["trace"] == trace[25:]


def test_a_stop_request_raises_at_the_next_iteration() -> None:
    job = FakeJob()
    reporter = jobs.ProgressReporter(job, [3], 1)
    info = {"k": 3, "iteration": 1, "starts_done": 0, "n_starts": 1, "best_loglik": 1.0}
    reporter({**info, "trace": [1.0]})
    jobs.request_stop(job.id)
    with pytest.raises(jobs.FitStopped, match="was stopped at k=3"):
        reporter({**info, "trace": [1.0, 2.0]})
    jobs._STOP_REQUESTS.discard(job.id)


def put(redis_client, X, w=None) -> str:
    X, w = as_points(X, w)
    dataset_id = data_hash(X, w)
    redis_client.hset(keys.dataset(dataset_id), mapping=codec.encode(X, w))
    return dataset_id


def run_burst(redis_url: str, queue: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "worker", "--burst", "--url", redis_url, "--queue", queue]
        + ["--log-level", "WARNING"],
        cwd=ROOT,
        check=True,
        timeout=120,
    )


@pytest.fixture()
def queue(redis_client) -> Queue:
    return Queue(f"mixfit-w-{uuid.uuid4().hex}", connection=redis_client, serializer=JSONSerializer)


def test_fit_job_stores_result_model_and_progress(redis_client, redis_url, queue) -> None:
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.normal(0, 1, 50), rng.normal(5, 1, 50)])
    dataset_id = put(redis_client, X)
    request = {"k": [1, 2], "n_starts": 3, "seed": 4}
    ok = queue.enqueue(
        "worker.jobs.fit", fit_id="f" * 32, dataset_id=dataset_id, request=request, model_ttl=50
    )
    bad = queue.enqueue(  # n < K: the service refuses this up front; the worker must too
        "worker.jobs.fit",
        fit_id="e" * 32,
        dataset_id=put(redis_client, [1.0, 2.0]),
        request={"k": 3},
        retry=Retry(max=2),  # as the service enqueues: reruns for a worker that died
    )
    run_burst(redis_url, queue.name)

    ok = Job.fetch(ok.id, connection=redis_client, serializer=JSONSerializer)
    assert ok.get_status() == JobStatus.FINISHED
    value = ok.return_value()
    result = mixfit.FitResult.model_validate(value["result"])
    expected = mixfit.fit(X, **request)
    assert [r.loglik for r in result.results] == [r.loglik for r in expected.results]
    stored = redis_client.hgetall(keys.model(value["model_id"]))
    assert mixfit.Model.model_validate_json(stored[b"model"]) == result.model
    assert stored[b"fit_id"] == b"f" * 32
    assert 0 < redis_client.ttl(keys.model(value["model_id"])) <= 50
    assert redis_client.hget(keys.fit("f" * 32), "model_id").decode() == value["model_id"]
    progress = ok.get_meta()["progress"]
    assert progress["k_values"] == [1, 2]
    assert [(p["k"], p["state"]) for p in progress["per_k"]] == [(1, "done"), (2, "done")]

    bad = Job.fetch(bad.id, connection=redis_client, serializer=JSONSerializer)
    assert bad.get_status() == JobStatus.FAILED
    assert bad.get_meta()["error"] == {
        "type": "FitError",
        "message": "2 point(s) cannot fit 3 components; ask for k <= 2 or send more data",
    }
    assert "FitError" in bad.latest_result().exc_string
    # Run once: a FitError comes back on every run, so it spends none of the retries (RQ's
    # Retry reran it twice, each its whole worker time again).
    assert bad.retries_left != 0 and len(bad.results()) == 1, (bad.retries_left, bad.results())


def test_explicit_start_request_round_trips_through_the_queue(
    redis_client, redis_url, queue
) -> None:
    """The service sends ``model_dump(exclude_unset=True)``; explicit starts must survive it."""
    X = [0.1, 0.2, 0.25, 0.3, 4.0, 4.2, 4.1, 3.9]
    request = mixfit.FitRequest.model_validate(
        {"init": {"weights": [0.5, 0.5], "means": [0.0, 4.0], "sds": [1.0]}}
    ).root
    options = request.model_dump(mode="json", exclude_unset=True, exclude={"data"})
    job = queue.enqueue(
        "worker.jobs.fit", fit_id="d" * 32, dataset_id=put(redis_client, X), request=options
    )
    run_burst(redis_url, queue.name)
    job = Job.fetch(job.id, connection=redis_client, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.FINISHED, job.latest_result().exc_string
    assert job.return_value()["result"]["k_selected"] == 2


def test_job_outside_a_worker_refuses() -> None:
    with pytest.raises(RuntimeError, match="inside an RQ worker"):
        jobs.fit("a" * 32, "b" * 64, {})
