"""Fan-out: the same large fit with 1 and with 2 RQ workers, measured in one run.

A K = 1..6 fit of 50,000 points with 10 starts per K fans out into one job per K, a chain of
finishing jobs (one per K) and a merge (see ``service.fanout.plan_parts``); each worker runs one
job at a time on one core (``MIXFIT_THREADS=1``, the worker's default), so on this 2-core
machine two workers should take a little over half the wall time of one. The timeline it
prints shows where each job ran. Redis, the workers and the API (in-process) are
started here; the wall time is from ``POST /v1/fits`` to the finished document.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from rq.job import Job
from rq.serializers import JSONSerializer

import devstack
from service import create_app

QUEUE = "bench-fanout"


def data() -> list[float]:
    rng = np.random.default_rng(0)
    n = 50_000
    x = np.concatenate(
        [rng.normal(0, 1, n // 2), rng.normal(3, 1.5, n // 4), rng.normal(8, 1, n // 4)]
    )
    return x.tolist()


REQUEST = {"k": {"min": 1, "max": 6}, "n_starts": 10, "max_iter": 150, "seed": 1}


def run(url: str, workers: int, body: dict) -> tuple[float, dict]:
    procs = [devstack.start_worker(url, QUEUE, log_level="WARNING") for _ in range(workers)]
    app = create_app({"REDIS_URL": url, "QUEUE_NAME": QUEUE})
    client = app.test_client()
    try:
        devstack.wait_workers(url, QUEUE, count=workers)
        start = time.perf_counter()
        doc = client.post("/v1/fits", json=body).get_json()
        while doc["status"] not in ("finished", "failed", "canceled"):
            doc = client.get(f"/v1/fits/{doc['id']}?wait=30").get_json()
        doc["timeline"] = timeline(app, doc["id"])
        return time.perf_counter() - start, doc
    finally:
        devstack.stop(procs, grace=5)
        app.extensions["mixfit"].redis.close()


def timeline(app, fit_id: str) -> list[tuple[str, float, float, str]]:
    """Every job of the fit: (what, start, end in seconds from the first start, worker)."""
    redis = app.extensions["mixfit"].redis
    merge = Job.fetch(fit_id, connection=redis, serializer=JSONSerializer)
    ids = [p["job_id"] for p in merge.meta["parts"]] + merge.meta.get("finishes", []) + [fit_id]
    jobs = [j for j in Job.fetch_many(ids, connection=redis, serializer=JSONSerializer) if j]
    zero = min(j.started_at for j in jobs if j.started_at)
    rows = []
    for j in jobs:
        if j.func_name.endswith("fit_part"):
            what = f"part k={j.kwargs['k']}"
        elif j.func_name.endswith("finish"):
            what = f"finish k={j.kwargs['k']}"
        else:
            what = "merge"
        start = (j.started_at - zero).total_seconds()
        rows.append((what, start, (j.ended_at - zero).total_seconds(), j.worker_name[-4:]))
    return sorted(rows, key=lambda row: row[1])


def main() -> dict:
    body = {"data": data(), **REQUEST}
    with tempfile.TemporaryDirectory() as tmp:
        redis, url = devstack.start_redis(Path(tmp) / "redis", appendonly=False)
        try:
            one, doc1 = run(url, 1, body)
            two, doc2 = run(url, 2, body)
        finally:
            devstack.stop([redis])
    assert doc1["status"] == doc2["status"] == "finished", (doc1.get("error"), doc2.get("error"))
    same = doc1["result"]["results"] == doc2["result"]["results"]
    workers = sorted({p["worker"] for p in doc2["parts"]})
    print(
        "\n## Fan-out: one K = 1..6 fit (n = 50,000, 10 starts per K, "
        f"{len(doc2['parts'])} parts, a finishing job per K and a merge)\n\n"
        "| workers | wall time | speed-up |\n|---|---|---|\n"
        f"| 1 | {one:.1f} s | 1.0x |\n| 2 | {two:.1f} s | **{one / two:.2f}x** |\n\n"
        f"Parts ran on {len(workers)} workers; results identical across the two runs: {same}.\n"
        "Seconds per part (k: seconds on worker): "
        + ", ".join(
            f"{p['k'][0]}: {p['seconds']:.1f} on ...{p['worker'][-4:]}" for p in doc2["parts"]
        )
    )
    print(
        "Timeline with 2 workers (s from the first start): "
        + ", ".join(f"{w} {a:.2f}-{b:.2f} on ...{who}" for w, a, b, who in doc2["timeline"])
    )
    return {"one": one, "two": two, "speedup": one / two}


if __name__ == "__main__":
    main()
