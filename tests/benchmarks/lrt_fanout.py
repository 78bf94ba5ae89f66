"""Fan-out of the bootstrap LRT: the same test with 1 and with 2 RQ workers, measured in one run.

Issue 12's case: B = 999 on Old Faithful's waiting times, K = 1 vs 2, 2 vs 3 and 3 vs 4
(mclust's ``mclustBootstrapLRT(nboot=999, maxG=3, modelName="V")``, which tests as many). The
LRT is a plan job (the data's fits), parts over ranges of each step's replicates
(``FANOUT_PARTS`` in all, at least) and a combining job (``service.inference``); each worker runs
one part at a time on one core. Redis, the workers and the API (in-process) are started here;
the wall time is from ``POST /v1/models/{id}/lrt`` to the finished document, the model's fit
excluded. ``python -m tests.benchmarks.lrt_fanout [NBOOT]``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import devstack
from service import create_app
from tests.core.test_agglomeration import MCLUST_LIKE  # mclust's start strategy and tolerance

QUEUE = "bench-lrt-fanout"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "inference" / "lrt_waiting.json"
TERMINAL = ("finished", "failed", "canceled")


def _wait(client, path: str) -> dict:
    doc = client.get(path).get_json()
    while doc["status"] not in TERMINAL:
        doc = client.get(f"{path}?wait=30").get_json()
    return doc


def _jobs(app, lrt_id: str) -> list[str]:
    """Where each job of the LRT ran and for how long."""
    from rq.job import Job
    from rq.serializers import JSONSerializer

    redis = app.extensions["mixfit"].redis
    combine = Job.fetch(lrt_id, connection=redis, serializer=JSONSerializer)
    ids = [combine.meta["plan"], *(p["job_id"] for p in combine.meta["parts"]), lrt_id]
    lines = []
    for job in Job.fetch_many(ids, connection=redis, serializer=JSONSerializer):
        seconds = (job.ended_at - job.started_at).total_seconds()
        lines.append(f"{job.id.rsplit('-', 1)[-1]}: {seconds:.1f} s on ...{job.worker_name[-4:]}")
    return lines


def run(
    url: str,
    workers: int,
    x: list[float],
    nboot: int,
    replicate_starts: str = "search",
    tol: float | None = None,
) -> tuple[float, dict]:
    procs = [devstack.start_worker(url, QUEUE, log_level="WARNING") for _ in range(workers)]
    # the API's request log would flood make bench's output: warnings only
    app = create_app({"REDIS_URL": url, "QUEUE_NAME": QUEUE, "LOG_LEVEL": "WARNING"})
    client = app.test_client()
    try:
        devstack.wait_workers(url, QUEUE, count=workers)
        request = {"data": x, "k": 3, "seed": 1} | ({} if tol is None else {"tol": tol})
        fit = client.post("/v1/fits", json=request).get_json()
        fit = _wait(client, f"/v1/fits/{fit['id']}")
        assert fit["status"] == "finished", fit
        body = {
            "k_min": 1,
            "max_k": 3,
            "nboot": nboot,
            "seed": 1,
            "replicate_starts": replicate_starts,
        }
        start = time.perf_counter()
        doc = client.post(f"/v1/models/{fit['model_id']}/lrt", json=body).get_json()
        doc = _wait(client, doc["links"]["self"])
        wall = time.perf_counter() - start
        doc["jobs"] = _jobs(app, doc["id"])
        return wall, doc
    finally:
        devstack.stop(procs, grace=5)
        app.extensions["mixfit"].redis.close()


R_CALL = (
    "suppressMessages(library(mclust)); x <- faithful$waiting; set.seed(1); "
    "cat(system.time(mclustBootstrapLRT(x, modelName='V', maxG=3, nboot={nboot}, "
    "verbose=FALSE))[['elapsed']])"
)


def mclust_seconds(nboot: int) -> float | None:
    """``mclustBootstrapLRT``'s elapsed time in R (None without Rscript and mclust)."""
    import shutil
    import subprocess

    rscript = shutil.which("Rscript")
    if not rscript:
        return None
    done = subprocess.run(
        [rscript, "-e", R_CALL.replace("{nboot}", str(nboot))],
        capture_output=True,
        text=True,
        check=False,
    )
    return float(done.stdout.strip()) if done.returncode == 0 else None


def _steps(steps) -> str:
    return "; ".join(
        f"{s.k} vs {s.k + 1}: LRTS {s.statistic:.3f}, p {s.p_value:.4g}" for s in steps
    )


def equal_footing(x: list[float], nboot: int, theirs: float | None) -> None:
    """One process each: mixfit's core on mclust's start strategy (one hc start a fit, tol
    1e-5), and with warm replicate starts, against ``mclustBootstrapLRT`` in the same run."""
    import mixfit

    for label, options in (
        ("mclust's start strategy (one hc start, tol 1e-5)", MCLUST_LIKE),
        (
            "warm replicate starts and mclust's tolerance (the data's fits: default starts)",
            {"replicate_starts": "warm", "tol": MCLUST_LIKE["tol"]},
        ),
    ):
        start = time.perf_counter()
        result = mixfit.bootstrap_lrt(x, max_k=3, nboot=nboot, seed=1, **options)
        ours = time.perf_counter() - start
        versus = (
            f"mclust {theirs:.1f} s: mixfit takes **{ours / theirs:.2f}x** mclust's time"
            if theirs
            else "mclust not run (no Rscript with mclust here)"
        )
        print(
            f"\nEqual footing, one process each, B = {nboot}, K = 1..3 vs K + 1, {label}: "
            f"mixfit {ours:.1f} s, {versus}. {_steps(result.steps)}"
        )


def main(nboot: int = 999) -> dict:
    x = json.loads(FIXTURE.read_text())["x"]
    theirs = mclust_seconds(nboot)
    with tempfile.TemporaryDirectory() as tmp:
        redis, url = devstack.start_redis(Path(tmp) / "redis", appendonly=False)
        try:
            one, doc1 = run(url, 1, x, nboot)
            two, doc2 = run(url, 2, x, nboot)
            # mclust's tolerance (the model's fit option, which the LRT's fits inherit)
            warm1, _ = run(url, 1, x, nboot, "warm", MCLUST_LIKE["tol"])
            warm2, warm_doc = run(url, 2, x, nboot, "warm", MCLUST_LIKE["tol"])
        finally:
            devstack.stop([redis])
    assert doc1["status"] == doc2["status"] == warm_doc["status"] == "finished", (
        doc1["error"],
        doc2["error"],
        warm_doc["error"],
    )
    same = doc1["result"] == doc2["result"]
    steps = doc2["result"]["steps"]
    negative = sum(
        v < 0
        for doc in (doc2, warm_doc)
        for s in doc["result"]["steps"]
        for v in [s["statistic"], *s["bootstrap"]]
    )
    versus = (
        f'`mclustBootstrapLRT(nboot={nboot}, maxG=3, modelName="V")` in the same run: '
        f"{theirs:.1f} s, so 2 workers with warm replicate starts and mclust's tolerance take "
        f"**{warm2 / theirs:.2f}x** mclust's time"
        if theirs
        else "mclust not run (no Rscript with mclust here)"
    )
    print(
        f"\n## Fan-out of the bootstrap LRT: waiting times (n = {len(x)}), B = {nboot}, "
        "K = 1 vs 2, 2 vs 3 and 3 vs 4\n\n"
        "| replicate starts | workers | wall time | speed-up |\n|---|---|---|---|\n"
        f"| search (default) | 1 | {one:.1f} s | 1.0x |\n"
        f"| search (default) | 2 | {two:.1f} s | **{one / two:.2f}x** |\n"
        f"| warm, tol 1e-5 | 1 | {warm1:.1f} s | 1.0x |\n"
        f"| warm, tol 1e-5 | 2 | {warm2:.1f} s | **{warm1 / warm2:.2f}x** |\n\n"
        f"{versus}.\n\n"
        f"Results identical across 1 and 2 workers: {same}; negative statistics: {negative}. "
        + "; ".join(
            f"{s['k']} vs {s['k'] + 1}: LRTS {s['statistic']:.3f}, p {s['p_value']:.4g}"
            for s in steps
        )
        + "\nWarm: "
        + "; ".join(
            f"{s['k']} vs {s['k'] + 1}: p {s['p_value']:.4g}" for s in warm_doc["result"]["steps"]
        )
        + "\nJobs with 2 workers: "
        + ", ".join(doc2["jobs"])
    )
    equal_footing(x, nboot, theirs)
    return {"one": one, "two": two, "speedup": one / two, "same": same, "warm_two": warm2}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 999)
