"""``make load`` (``python -m tests.load [--duration 300]``): a loopback load scenario.

Starts its own stack like ``make run`` (redis-server on a Unix socket in a temp dir with the
append-only file on, ``--workers`` RQ workers, gunicorn with 2 processes x 16 threads), with API
keys on (one per client thread) and a per-key rate limit high enough not to bite, so the keys
check and the Redis-backed limiter are part of every request. Then ``--clients`` threads loop
for ``--duration`` seconds, each over its own keep-alive connection:

1. ``POST /v1/fits`` — 200-400 inline points from two Gaussians, K = 1..3, 5 starts (``fit``);
2. ``GET /v1/fits/{id}`` every 50 ms until it has ended (``poll``);
3. ``POST /v1/models/{id}/score`` with 100 points, three times (``score``).

It prints the throughput (requests/s, finished fits/s), p50/p99 latency per request kind and the
error count (any answer other than the expected status, or a connection error), and exits 1 when
there were errors. Everything goes to 127.0.0.1 and stops by itself; not part of ``make test``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

import devstack

QUEUE = "mixfit-load"
POLL_EVERY = 0.05


class Client(threading.Thread):
    """One simulated user: fit, poll until done, score; again until the deadline."""

    def __init__(self, host: str, port: int, key: str, deadline: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.deadline = host, port, deadline
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.rng = np.random.default_rng(seed)
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.fits_done = 0
        self.connection = http.client.HTTPConnection(host, port, timeout=60)

    def call(self, kind: str, method: str, path: str, body: object, expect: int) -> dict | None:
        payload = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=payload, headers=self.headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.errors.append(f"{kind}: {exc!r}")
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            return None
        self.latencies[kind].append(time.perf_counter() - started)
        if response.status != expect:
            self.errors.append(f"{kind}: {response.status} {raw[:200]!r}")
            return None
        return json.loads(raw)

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            n = int(self.rng.integers(200, 401))
            data = np.concatenate(
                [self.rng.normal(0, 1, n // 2), self.rng.normal(5, 1.5, n - n // 2)]
            )
            request = {
                "data": np.round(data, 6).tolist(),
                "k": {"min": 1, "max": 3},
                "n_starts": 5,
                "seed": int(self.rng.integers(1 << 31)),
            }
            fit = self.call("fit", "POST", "/v1/fits", request, 202)
            if fit is None:
                continue
            while fit is not None and fit["status"] not in ("finished", "failed", "canceled"):
                time.sleep(POLL_EVERY)
                fit = self.call("poll", "GET", f"/v1/fits/{fit['id']}", None, 200)
            if fit is None:
                continue
            if fit["status"] != "finished":
                self.errors.append(f"fit {fit['id']} ended {fit['status']}: {fit['error']}")
                continue
            self.fits_done += 1
            for _ in range(3):
                points = self.rng.normal(2.5, 4, 100).round(6).tolist()
                path = f"/v1/models/{fit['model_id']}/score"
                self.call("score", "POST", path, {"points": points, "alpha": 0.01}, 200)
        self.connection.close()


def run(duration: float, clients: int, workers: int) -> int:
    """Start the stack, run the scenario, print the figures; 0 without errors, else 1."""
    keys = [secrets.token_urlsafe(24) for _ in range(clients)]
    procs = []
    with tempfile.TemporaryDirectory(prefix="mixfit-load-") as tmp:
        try:
            redis_proc, url = devstack.start_redis(Path(tmp) / "redis")
            procs.append(redis_proc)
            for _ in range(workers):
                procs.append(devstack.start_worker(url, QUEUE, log_level="WARNING"))
            devstack.wait_workers(url, QUEUE, workers)
            port = devstack.free_port()
            env = {
                "MIXFIT_API_KEYS": ",".join(keys),
                "MIXFIT_RATE_LIMIT": "100000/minute",
                "MIXFIT_MAX_RUNNING_FITS": "4",
            }
            gunicorn = devstack.start_gunicorn(url, f"127.0.0.1:{port}", QUEUE, env=env)
            procs.append(gunicorn)
            devstack.wait_http(f"http://127.0.0.1:{port}/readyz", gunicorn)
            print(
                f"load: {clients} clients, {workers} workers, gunicorn 2x16 threads, "
                f"{duration:.0f} s ...",
                flush=True,
            )
            started = time.monotonic()
            deadline = started + duration
            threads = [Client("127.0.0.1", port, keys[i], deadline, seed=i) for i in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(duration + 120)
            elapsed = time.monotonic() - started
        finally:
            devstack.stop(list(reversed(procs)))
    return report(threads, elapsed)


def report(threads: list[Client], elapsed: float) -> int:
    latencies: dict[str, list[float]] = defaultdict(list)
    for thread in threads:
        for kind, values in thread.latencies.items():
            latencies[kind].extend(values)
    errors = [e for thread in threads for e in thread.errors]
    requests = sum(len(v) for v in latencies.values())
    fits = sum(thread.fits_done for thread in threads)
    print(
        f"\n{elapsed:.0f} s: {requests} requests ({requests / elapsed:.1f}/s), "
        f"{fits} fits finished ({fits / elapsed:.1f}/s)\n"
    )
    print(f"{'kind':<6} {'count':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for kind in ("fit", "poll", "score"):
        values = np.array(latencies.get(kind, [np.nan])) * 1000
        print(
            f"{kind:<6} {len(latencies.get(kind, [])):>7} {np.percentile(values, 50):>8.1f} "
            f"{np.percentile(values, 99):>8.1f} {values.max():>8.1f}"
        )
    print(f"\nerrors: {len(errors)}")
    for error in errors[:10]:
        print(f"  {error}")
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load", description=__doc__)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="RQ workers (default 2)")
    args = parser.parse_args(argv)
    return run(args.duration, args.clients, args.workers)


if __name__ == "__main__":
    sys.exit(main())
