"""A fanned-out fit (parts, a finishing job per K, a merge) against the same request as one job,
through the service with two real workers, on the fixtures' data sets of at most 1,500 rows:
each data set gets a random K spec (a grid, a K asked alone, a K with a gap below it) and seed,
and a random covariance type in d > 1. A case differs when the selected K or any K's
log-likelihood differs by more than 1e-9 relative, or one ends otherwise than the other.
``python -m tests.sweeps.fanout [SEED] [GLOB]`` (default: the families_more and mclust_wide
fixtures); prints one line per case and the count of differing ones, and exits 1 if any.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import devstack
from service import create_app

from .common import FIXTURES, data_sets

QUEUE = "sweep-fanout"
K_SPECS: list[Any] = [{"min": 1, "max": 4}, 3, 4, [2, 4], {"min": 2, "max": 5}]


def cases(seed: int, pattern: str | None) -> list[tuple[str, dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    patterns = [pattern] if pattern else ["families_more/*.json", "mclust_wide/*.json"]
    out = []
    for glob in patterns:
        for name, x in data_sets(glob, max_rows=1500):
            family = json.loads((FIXTURES / name).read_text()).get("family", "gaussian")
            body = {"data": x.tolist(), "family": family, "seed": int(rng.integers(1000))}
            body["k"] = K_SPECS[int(rng.integers(len(K_SPECS)))]
            if x.ndim == 2:
                body["covariance"] = str(rng.choice(["full", "diag", "spherical"]))
            out.append((name, body))
    return out


def _run(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/v1/fits", json=body)
    if answer.status_code != 202:
        return {"status": f"HTTP {answer.status_code}"}
    doc = answer.get_json()
    while doc["status"] not in ("finished", "failed", "canceled"):
        doc = client.get(f"/v1/fits/{doc['id']}?wait=30").get_json()
    return doc


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two finished fits agree: the selected K and every K's log-likelihood."""
    ra, rb = a["result"], b["result"]
    if ra["k_selected"] != rb["k_selected"] or len(ra["results"]) != len(rb["results"]):
        return False
    for x, y in zip(ra["results"], rb["results"], strict=True):
        if (x["loglik"] is None) != (y["loglik"] is None):
            return False
        if x["loglik"] is not None and abs(x["loglik"] - y["loglik"]) > 1e-9 * abs(x["loglik"]):
            return False
    return True


def main(argv: list[str]) -> int:
    seed = int(argv[0]) if argv else 0
    todo = cases(seed, argv[1] if len(argv) > 1 else None)
    with tempfile.TemporaryDirectory() as tmp:
        redis, url = devstack.start_redis(Path(tmp) / "redis", appendonly=False)
        workers = [devstack.start_worker(url, QUEUE, log_level="WARNING") for _ in range(2)]
        try:
            devstack.wait_workers(url, QUEUE, 2)
            config = {"REDIS_URL": url, "QUEUE_NAME": QUEUE}
            one = create_app({**config, "FANOUT_MIN_WORK": 10**15}).test_client()
            many = create_app({**config, "FANOUT_MIN_WORK": 0, "FANOUT_PARTS": 4}).test_client()
            differing = 0
            for name, body in todo:
                a, b = _run(one, body), _run(many, body)
                what = f"{name} {body['family']} k={body['k']}"
                if a["status"] != b["status"]:
                    verdict = f"DIFFERS: {a['status']} in one job, {b['status']} fanned out"
                elif a["status"] != "finished":
                    verdict = f"{a['status']} both ways"
                elif not same(a, b):
                    verdict = "DIFFERS: " + ", ".join(
                        f"K={x['k']} {x['loglik']} vs {y['loglik']}"
                        for x, y in zip(
                            a["result"]["results"], b["result"]["results"], strict=False
                        )
                    )
                else:
                    verdict = f"same ({len(b['parts'])} parts)"
                differing += verdict.startswith("DIFFERS")
                print(what, verdict, flush=True)
        finally:
            devstack.stop(workers + [redis])
    print(f"{len(todo)} cases, {differing} differing")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
