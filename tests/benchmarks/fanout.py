"""Fan-out: the same large fit with 1 and with 2 RQ workers, measured in one run.

A K = 1..6 fit of 50,000 points with 10 starts per K fans out into one job per K plus a merge
(see ``service.fanout.plan_parts``); each worker runs one fit part at a time on one core
(``MIXFIT_THREADS=1``, the worker's default), so on this 2-core machine two workers should take
a little over half the wall time of one. Redis, the workers and the API (in-process) are
started here; the wall time is from ``POST /v1/fits`` to the finished document.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

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
        return time.perf_counter() - start, doc
    finally:
        devstack.stop(procs, grace=5)
        app.extensions["mixfit"].redis.close()


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
        f"{len(doc2['parts'])} parts + a merge)\n\n"
        "| workers | wall time | speed-up |\n|---|---|---|\n"
        f"| 1 | {one:.1f} s | 1.0x |\n| 2 | {two:.1f} s | **{one / two:.2f}x** |\n\n"
        f"Parts ran on {len(workers)} workers; results identical across the two runs: {same}.\n"
        "Seconds per part (k: seconds on worker): "
        + ", ".join(
            f"{p['k'][0]}: {p['seconds']:.1f} on ...{p['worker'][-4:]}" for p in doc2["parts"]
        )
    )
    return {"one": one, "two": two, "speedup": one / two}


if __name__ == "__main__":
    main()
