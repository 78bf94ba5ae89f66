"""``GET /metrics``: Prometheus text that parses, the named families with the values a run gives,
job counts read from Redis, fit durations added up by the workers, request counts summed over
gunicorn's processes, and the same access rule as the /v1 routes."""

from __future__ import annotations

import math
import urllib.request
import uuid
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

import devstack
from service.metrics import fit_duration_family
from tests.conftest import TEST_QUEUE
from worker.metrics import FIT_SECONDS_BUCKETS, record_fit_seconds

FAMILIES = {
    "mixfit_http_request_duration_seconds": "histogram",
    "mixfit_queue_depth": "gauge",
    "mixfit_fit_jobs": "gauge",
    "mixfit_workers": "gauge",
    "mixfit_fit_duration_seconds": "histogram",
}
STATUSES = {"queued", "deferred", "scheduled", "started", "finished", "failed", "canceled"}
DATA = [0.1, 0.4, 0.2, 0.3, 3.9, 4.2, 4.0, 4.1, 0.25, 4.05]


def parse(text: str) -> dict[str, Any]:
    """name -> metric family, from Prometheus's own parser."""
    return {family.name: family for family in text_string_to_metric_families(text)}


def scrape(client) -> dict[str, Any]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return parse(response.get_data(as_text=True))


def value(families: dict[str, Any], sample: str, **labels: str) -> float:
    """The value of the one sample with this name and these labels (0 when there is none)."""
    name = sample.removesuffix("_count").removesuffix("_sum").removesuffix("_bucket")
    found = [
        s.value
        for s in families[name].samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) <= 1, (sample, labels, found)
    return found[0] if found else 0.0


def jobs(families: dict[str, Any], queue: str) -> dict[str, float]:
    return {
        s.labels["status"]: s.value
        for s in families["mixfit_fit_jobs"].samples
        if s.labels["queue"] == queue
    }


def test_metrics_hold_every_family_with_sensible_values_after_a_fit(client, worker_proc, poll):
    before = scrape(client)
    assert {name: f.type for name, f in before.items()} == FAMILIES
    created = client.post("/v1/fits", json={"data": DATA, "k": [1, 2], "seed": 2})
    fit_id = created.get_json()["id"]
    assert poll(client, fit_id)["status"] == "finished"
    assert client.client.get(f"/no/such/{fit_id}").status_code == 404  # (outside the contract)
    after = scrape(client)

    fits = {"route": "/v1/fits", "method": "POST", "status": "202"}
    count = "mixfit_http_request_duration_seconds_count"
    assert value(after, count, **fits) - value(before, count, **fits) == 1
    polled = {"route": "/v1/fits/<fit_id>", "method": "GET", "status": "200"}
    assert value(after, count, **polled) > value(before, count, **polled)
    for sample in after["mixfit_http_request_duration_seconds"].samples:
        assert fit_id not in sample.labels.get("route", ""), sample  # the rule, not the path
    lost = {"route": "unmatched", "method": "GET", "status": "404"}
    assert value(after, count, **lost) - value(before, count, **lost) == 1
    buckets = [
        s
        for s in after["mixfit_http_request_duration_seconds"].samples
        if s.name.endswith("_bucket") and all(s.labels[k] == v for k, v in fits.items())
    ]
    assert [s.value for s in buckets] == sorted(s.value for s in buckets)  # cumulative
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == value(after, count, **fits)

    assert value(after, "mixfit_queue_depth", queue=TEST_QUEUE) >= 0
    assert value(after, "mixfit_workers", queue=TEST_QUEUE) >= 1
    assert set(jobs(after, TEST_QUEUE)) == STATUSES
    assert jobs(after, TEST_QUEUE)["finished"] >= 1

    done = {"family": "gaussian"}
    n = "mixfit_fit_duration_seconds_count"
    assert value(after, n, **done) >= value(before, n, **done) + 1
    total = "mixfit_fit_duration_seconds_sum"
    assert value(after, total, **done) > value(before, total, **done)


def test_queue_depth_and_job_counts_come_from_redis(make_client) -> None:
    """On a queue no worker listens to: what is queued, deferred and canceled is counted
    exactly, by any app (nothing is counted in a process's memory)."""
    queue = f"mixfit-metrics-{uuid.uuid4().hex[:8]}"
    submit = make_client(QUEUE_NAME=queue)
    fanned = make_client(QUEUE_NAME=queue, FANOUT_MIN_WORK=0, FANOUT_PARTS=4)
    reader = make_client(QUEUE_NAME=queue)
    empty = scrape(reader)
    assert value(empty, "mixfit_queue_depth", queue=queue) == 0
    assert jobs(empty, queue) == dict.fromkeys(STATUSES, 0)
    assert value(empty, "mixfit_workers", queue=queue) == 0

    ids = [
        submit.post("/v1/fits", json={"data": DATA, "k": 2, "seed": s}).get_json()["id"]
        for s in (1, 2)
    ]
    fan = fanned.post("/v1/fits", json={"data": DATA, "k": [1, 2], "n_starts": 4, "seed": 3})
    assert fan.status_code == 202
    n_parts = 4  # two Ks, each K's 4 starts in 2 chunks to make FANOUT_PARTS parts
    assert submit.delete(f"/v1/fits/{ids[0]}").get_json()["status"] == "canceled"

    now = scrape(reader)
    assert value(now, "mixfit_queue_depth", queue=queue) == 1 + n_parts
    assert jobs(now, queue) == {
        **dict.fromkeys(STATUSES, 0),
        "queued": 1 + n_parts,
        "deferred": 3,  # the fanned-out fit's finishing job of each K and its merge wait
        "canceled": 1,
    }


def test_fit_durations_are_a_histogram_that_workers_add_to_in_redis(redis_client) -> None:
    family = f"test-{uuid.uuid4().hex[:8]}"
    try:
        for seconds in (0.01, 0.07, 0.07, 3.0, 1e5):
            record_fit_seconds(redis_client, family, seconds)
        from fitqueue import keys

        histogram = fit_duration_family(redis_client.hgetall(keys.fit_seconds()))
        samples = [s for s in histogram.samples if s.labels["family"] == family]
        buckets = {s.labels["le"]: s.value for s in samples if s.name.endswith("_bucket")}
        expected = {"0.05": 1, "0.1": 3, "0.25": 3, "0.5": 3, "1.0": 3, "2.5": 3}
        expected.update({"5.0": 4, "10.0": 4, "30.0": 4, "60.0": 4, "120.0": 4, "300.0": 4})
        expected.update({"600.0": 4, "1800.0": 4, "3600.0": 4, "+Inf": 5})
        assert buckets == expected  # cumulative, every bucket present
        count = [s.value for s in samples if s.name.endswith("_count")]
        total = [s.value for s in samples if s.name.endswith("_sum")]
        assert count == [5] and math.isclose(total[0], 0.01 + 0.14 + 3.0 + 1e5)
        assert float(max(FIT_SECONDS_BUCKETS)) < 1e5  # the last one landed above every bucket
    finally:
        from fitqueue import keys

        fields = [
            f for f in redis_client.hkeys(keys.fit_seconds()) if f.decode().startswith(family)
        ]
        if fields:
            redis_client.hdel(keys.fit_seconds(), *fields)


def test_metrics_need_the_key_when_keys_are_set(make_client) -> None:
    key = "k" * 24
    keyed = make_client(API_KEYS=key)
    keyed.error(keyed.get("/metrics"), 401)
    assert keyed.get("/metrics", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_metrics_are_503_without_redis(make_client) -> None:
    down = make_client(REDIS_URL="redis://127.0.0.1:1/0", REDIS_TIMEOUT=1)
    down.error(down.get("/metrics"), 503)


def test_request_counts_are_summed_over_gunicorn_processes(redis_url: str) -> None:
    """Two gunicorn processes, one answer: every scrape, whichever process answers it, counts
    every request (prometheus_client's multiprocess mode)."""
    bind = f"127.0.0.1:{devstack.free_port()}"
    proc = devstack.start_gunicorn(redis_url, bind, queue=TEST_QUEUE, workers=2, threads=2)
    try:
        devstack.wait_http(f"http://{bind}/healthz", proc)  # may retry: count from here
        for _ in range(20):
            with urllib.request.urlopen(f"http://{bind}/healthz", timeout=10) as response:
                response.read()
        seen = set()
        for _ in range(6):
            with urllib.request.urlopen(f"http://{bind}/metrics", timeout=10) as response:
                families = parse(response.read().decode())
            sample = "mixfit_http_request_duration_seconds_count"
            seen.add(value(families, sample, route="/healthz", method="GET", status="200"))
        assert seen == {21}  # wait_http's one answered probe and the 20
    finally:
        devstack.stop([proc])
