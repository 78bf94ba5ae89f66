"""The chaos run (issue 14): a loopback load while a scheduler kills processes at random moments.

**The stack** is ``make run``'s, supervised by this harness as a deployment's restart policy
would: redis-server (append-only file, ``appendfsync everysec`` as in ``deploy/redis.conf``) on
a fixed loopback port and directory, ``workers`` RQ workers (``python -m worker``), the sweeper
(``python -m worker.sweeper`` with the compose file's settings) and gunicorn (2 processes x 16
threads) with API keys, the Redis rate limiter and the per-key cap on. Fan-out starts at
``FANOUT_MIN_WORK`` = 20,000 (instead of 2,000,000) so the larger quarter of the fits run as
parts, a finishing job per K and a merge. A supervisor thread restarts a worker, the sweeper or
Redis after it died, after the delay the fault chose (0.5-2 s; Redis 0.5-3 s), and records every
exit that no fault caused: nothing should die by itself.

**The load**: ``clients`` threads, an API key each, in a loop: submit a fit (a 1-D or 2-D
Gaussian, a Beta, or a larger 1-D Gaussian that fans out; 70 % seeded, the rest seeded by the
service) with an ``Idempotency-Key``; poll it (a third of the polls with ``?wait=2``) until it
ends; score points against its model one to three times; now and then read the model. A
connection error, a 503 or a 429 is counted and the request sent again (the POST with the same
key, so a retry never makes a second fit); any other unexpected answer is an error.

**The faults**, in shuffled rounds of all five kinds (seeded RNG), ``gap`` seconds apart:

==========  ================================================================================
worker      SIGKILL to an RQ worker's process group and its work horse's (the machine dies);
            restarted by the supervisor
horse       SIGKILL to a work horse only, while it runs a job (found among the worker's
            children in /proc; the job it runs is read from the worker's executions in Redis)
redis       SIGKILL to redis-server, restarted 0.5-3 s later on the same append-only file
gunicorn    SIGKILL to one gunicorn worker process (the master respawns it)
sweeper     SIGKILL to the sweeper; restarted by the supervisor
==========  ================================================================================

A job (a fit, or a part, finishing job or merge of a fanned-out fit) is the victim of at most
one worker or horse kill: RQ runs a killed job again at most ``FIT_RETRIES`` (2) times, and the
run is about losing nothing that the system promises to keep, not about using up retries.

**At the end** (``Report.problems``): every fit ever answered 202 is ``finished`` (a ``failed``
one counts only with a ``FitError``, the data's fault; the load sends none), each finished
result equals a fault-free rerun of the same request and seed on a fresh, undisturbed stack
(the whole result document, bit for bit), no fit job exists that no client was answered 202
for (a second fit for one key), no process the harness started is left (every one carries
``MIXFIT_CHAOS_RUN=<run id>`` in its environment, forked horses and gunicorn children included;
/proc is searched for it after shutdown), no answer was a 5xx other than 503, and no process
exited that no fault killed.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

import devstack

QUEUE = "mixfit-chaos"
MARKER = "MIXFIT_CHAOS_RUN"
KINDS = ("worker", "horse", "redis", "gunicorn", "sweeper")
GUNICORN_WORKERS = 2
TERMINAL = ("finished", "failed", "canceled")
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
FIT_KINDS = ("gauss1d", "gauss2d", "beta", "fanout")
FIT_MIX = (0.45, 0.15, 0.15, 0.25)
COVARIANCES = ("full", "diag", "spherical", "tied")
RECOVERY_LIMIT = 180.0  # seconds a watcher waits for a recovery before calling it "never"
SLOW_RERUN = 60.0  # seconds after which a fit rerun on the undisturbed stack is reported
SERVICE_ENV = {
    "MIXFIT_RATE_LIMIT": "100000/minute",
    "MIXFIT_MAX_RUNNING_FITS": "4",
    "MIXFIT_FANOUT_MIN_WORK": "20000",
}
# The workers run fits of work (``fitqueue.jobs.job_work``) up to this in their own process and
# fork a work horse for larger ones (``worker.__main__.INLINE_MAX_WORK``): with this threshold
# about half the load's jobs (most 1-D fits, fanned-out parts, larger 2-D fits) have a horse to
# kill.
WORKER_ENV = {"MIXFIT_INLINE_MAX_WORK": "5000"}


# -- processes ----------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (forked by its main thread)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def marked_processes(run_id: str) -> list[str]:
    """Every process other than this one whose environment holds ``MIXFIT_CHAOS_RUN=run_id``."""
    tag = f"{MARKER}={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if tag in (entry / "environ").read_bytes().split(b"\0"):
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name}: {cmd.strip()[:120]}")
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


@dataclass
class Slot:
    """One supervised process: how to start it, the running one, and its restarts."""

    name: str
    start: Callable[[], subprocess.Popen]
    proc: subprocess.Popen | None = None
    planned: float | None = None  # restart delay chosen by the fault that is killing it
    restart_at: float = 0.0
    starts: int = 0
    label: str = ""  # a worker's RQ name


class Stack:
    """Redis, workers, the sweeper and gunicorn as child processes (each in a session of its
    own, ``MIXFIT_CHAOS_RUN`` in their environment), and the supervisor thread."""

    def __init__(self, root: Path, run_id: str, workers: int, env: dict[str, str]) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = devstack.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.bind = f"127.0.0.1:{devstack.free_port()}"
        self.env = {**env, MARKER: run_id}
        self.lock = threading.Lock()
        self.unexpected: list[str] = []
        self.logs: dict[str, Any] = {}
        self.stopping = threading.Event()
        self.slots: dict[str, Slot] = {"redis": Slot("redis", self._start_redis)}
        for i in range(workers):
            self.slots[f"worker-{i}"] = Slot(f"worker-{i}", self._worker_starter(i))
        self.slots["sweeper"] = Slot("sweeper", self._start_sweeper)
        self.slots["gunicorn"] = Slot("gunicorn", self._start_gunicorn)
        self.admin = Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
        self.supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)

    # starting ----------------------------------------------------------------------------------
    def _log(self, name: str) -> Any:
        if name not in self.logs:
            self.logs[name] = open(self.root / f"{name}.log", "ab")  # closed in stop()
        return self.logs[name]

    def _start_redis(self) -> subprocess.Popen:
        proc, _ = devstack.start_redis(self.root / "redis", port=self.port)
        admin = Redis.from_url(self.url)
        try:
            admin.config_set("appendfsync", "everysec")  # deploy/redis.conf's setting
        finally:
            admin.close()
        return proc

    def _worker_starter(self, i: int) -> Callable[[], subprocess.Popen]:
        def start() -> subprocess.Popen:
            slot = self.slots[f"worker-{i}"]
            slot.label = f"chaos-w{i}.{slot.starts}"  # a new name: the dead one's outlives it
            return devstack.start_worker(
                self.url,
                QUEUE,
                log_level="INFO",  # RQ's lines on every job: the evidence when one goes astray
                extra=["--name", slot.label],
                stderr=self._log(f"worker-{i}"),
            )

        return start

    def _start_sweeper(self) -> subprocess.Popen:
        env = dict(os.environ, MIXFIT_REDIS_URL=self.url, MIXFIT_QUEUE_NAME=QUEUE)
        return subprocess.Popen(
            [sys.executable, "-m", "worker.sweeper", "--interval", "2", "--stale-after", "10"],
            cwd=devstack.ROOT,
            env=env,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stderr=self._log("sweeper"),
        )

    def _start_gunicorn(self) -> subprocess.Popen:
        return devstack.start_gunicorn(
            self.url,
            self.bind,
            QUEUE,
            workers=GUNICORN_WORKERS,
            threads=16,
            env=self.env,
            stderr=self._log("gunicorn"),
        )

    def start(self) -> Stack:
        """Start everything in order and wait until the API is ready."""
        for slot in self.slots.values():
            slot.proc = slot.start()
            slot.starts = 1
            if slot.name == "gunicorn":
                devstack.wait_http(f"http://{self.bind}/healthz", slot.proc)
        workers = [s for s in self.slots.values() if s.name.startswith("worker-")]
        devstack.wait_workers(self.url, QUEUE, len(workers))
        devstack.wait_http(f"http://{self.bind}/readyz", self.slots["gunicorn"].proc)
        self.supervisor.start()
        return self

    # supervising -------------------------------------------------------------------------------
    def _supervise(self) -> None:
        while not self.stopping.wait(0.1):
            for slot in self.slots.values():
                self._tend(slot)

    def _tend(self, slot: Slot) -> None:
        now = time.monotonic()
        with self.lock:
            proc = slot.proc
            if proc is not None:
                if proc.poll() is None:
                    return
                delay, slot.planned = slot.planned, None
                if delay is None:
                    self.unexpected.append(
                        f"{slot.name} (pid {proc.pid}) exited by itself, status {proc.returncode}"
                    )
                    delay = 0.5
                slot.proc, slot.restart_at = None, now + delay
                return
            if now < slot.restart_at:
                return
        try:
            started = slot.start()
        except (RuntimeError, OSError) as exc:
            self.unexpected.append(f"{slot.name} did not start again: {exc}")
            slot.restart_at = time.monotonic() + 1.0
            return
        with self.lock:
            slot.proc = started
            slot.starts += 1

    def kill(self, name: str, delay: float, also: tuple[int, ...] = ()) -> int | None:
        """SIGKILL a supervised process's group (and the groups ``also``); it is started again
        ``delay`` seconds after the supervisor sees it gone. Returns its pid, None when it is
        not running."""
        with self.lock:
            slot = self.slots[name]
            proc = slot.proc
            if proc is None or proc.poll() is not None:
                return None
            slot.planned = delay
            os.killpg(proc.pid, signal.SIGKILL)
            for group in also:
                try:
                    os.killpg(group, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # it ended just now
            return proc.pid

    def pid(self, name: str) -> int | None:
        """The pid of a supervised process now running, else None."""
        with self.lock:
            proc = self.slots[name].proc
            return proc.pid if proc is not None and proc.poll() is None else None

    # stopping ----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the supervisor, then gunicorn, the sweeper, the workers and Redis."""
        self.stopping.set()
        if self.supervisor.is_alive():
            self.supervisor.join()
        order = ["gunicorn", "sweeper", *[n for n in self.slots if n.startswith("worker-")]]
        procs = [self.slots[n].proc for n in [*order, "redis"] if n in self.slots]
        devstack.stop([p for p in procs if p is not None], grace=5)
        self.admin.close()
        for log in self.logs.values():
            log.close()


# -- the load -----------------------------------------------------------------------------------


def fit_request(rng: np.random.Generator) -> tuple[str, dict[str, Any]]:
    """One fit of the mix: ``(kind, request body)``. Small (0.1-0.6 s of one core each): the
    run is about the faults, and the rerun costs as much CPU again."""
    kind = str(rng.choice(FIT_KINDS, p=FIT_MIX))
    if kind == "gauss2d":
        n = int(rng.integers(200, 401))
        x = np.concatenate(
            [rng.normal(0, 1, (n // 2, 2)), rng.normal([4, 2], 1.2, (n - n // 2, 2))]
        ).round(6)
        covariance = str(rng.choice(COVARIANCES))
        body = {"k": [2, 3], "n_starts": 3, "max_iter": 100, "covariance": covariance}
    elif kind == "beta":
        n = int(rng.integers(150, 251))
        x = np.concatenate([rng.beta(2, 6, n // 2), rng.beta(6, 2, n - n // 2)])
        x = np.clip(x.round(6), 1e-6, 1 - 1e-6)
        body = {"family": "beta", "k": {"min": 1, "max": 2}, "n_starts": 2, "max_iter": 100}
    else:
        n = int(rng.integers(200, 401)) if kind == "gauss1d" else int(rng.integers(1000, 1501))
        x = np.concatenate(
            [rng.normal(0, 1, n // 2), rng.normal(rng.uniform(3, 6), 1.5, n - n // 2)]
        ).round(6)
        if kind == "gauss1d":
            body = {"k": {"min": 1, "max": 3}, "n_starts": 5, "max_iter": 200}
        else:  # n * sum(K) * starts >= 20,000 = FANOUT_MIN_WORK: four parts, two finishing
            # jobs (K = 2, then 3) and a merge
            body = {"k": [2, 3], "n_starts": 4, "max_iter": 40}
    body["data"] = x.tolist()
    if rng.random() < 0.7:
        body["seed"] = int(rng.integers(1 << 31))
    return kind, body


def score_points(kind: str, rng: np.random.Generator) -> list:
    if kind == "gauss2d":
        return rng.normal(2, 3, (50, 2)).round(6).tolist()
    if kind == "beta":
        return rng.uniform(0.01, 0.99, 50).round(6).tolist()
    return rng.normal(2.5, 4, 50).round(6).tolist()


def digest(document: Any) -> str:
    """A digest of a JSON document; equal digests mean equal documents, floats bit for bit."""
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


@dataclass
class Accepted:
    """A fit answered 202: its id, its kind in the mix and the request."""

    fit_id: str
    kind: str
    body: dict[str, Any]


class Api:
    """One keep-alive connection to the API with the retry rules of the load, and its counts."""

    def __init__(self, base: str, key: str | None, give_up: float, rng: random.Random) -> None:
        self.host, _, port = base.removeprefix("http://").partition(":")
        self.port = int(port)
        self.headers = {"Content-Type": "application/json"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self.give_up, self.rng = give_up, rng
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.conn_errors: Counter = Counter()
        self.errors: list[str] = []
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def call(
        self, kind: str, method: str, path: str, body: Any = None, headers: dict | None = None
    ) -> tuple[int, Any] | None:
        """Send until the answer is neither a connection error, a 503 nor a 429 (each counted,
        then sent again after 0.1-0.4 s); None when ``give_up`` passes first."""
        payload = json.dumps(body).encode() if body is not None else None
        while True:
            started = time.perf_counter()
            try:
                self.connection.request(
                    method, path, body=payload, headers={**self.headers, **(headers or {})}
                )
                response = self.connection.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException):
                self.conn_errors[kind] += 1
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            else:
                self.latencies[kind].append(time.perf_counter() - started)
                self.statuses[kind][response.status] += 1
                if response.status not in (429, 503):
                    try:
                        return response.status, json.loads(raw) if raw else None
                    except ValueError:  # not ours: e.g. gunicorn's own HTML error page
                        return response.status, {"message": raw[:200].decode(errors="replace")}
            if time.monotonic() > self.give_up:
                self.errors.append(f"{kind} {method} {path}: no answer before giving up")
                return None
            time.sleep(self.rng.uniform(0.1, 0.4))

    def expect(self, answer: tuple[int, Any] | None, status: int, what: str) -> Any:
        """The document of an answer with the expected status; else None (and an error)."""
        if answer is None:
            return None
        if answer[0] != status:
            message = (answer[1] or {}).get("message") if isinstance(answer[1], dict) else None
            self.errors.append(f"{what}: {answer[0]} {message}")
            return None
        return answer[1]

    def close(self) -> None:
        self.connection.close()


class Client(threading.Thread):
    """One simulated user: fit, poll until it ends, score; again until the load's deadline."""

    def __init__(
        self, base: str, key: str, seed: int, index: int, deadline: float, give_up: float
    ) -> None:
        super().__init__(name=f"client-{index}", daemon=True)
        self.rng = np.random.default_rng([seed, index])
        self.api = Api(base, key, give_up, random.Random(f"{seed}-{index}"))
        self.deadline, self.give_up = deadline, give_up
        self.accepted: list[Accepted] = []

    def run(self) -> None:
        try:
            while time.monotonic() < self.deadline:
                self.one_fit()
        finally:
            self.api.close()

    def one_fit(self) -> None:
        api = self.api
        kind, body = fit_request(self.rng)
        key = uuid.uuid4().hex
        doc = api.expect(
            api.call("fit", "POST", "/v1/fits", body, {"Idempotency-Key": key}), 202, "submit"
        )
        if doc is None:
            return
        fit_id = doc["id"]
        self.accepted.append(Accepted(fit_id, kind, body))
        while doc["status"] not in TERMINAL:
            if time.monotonic() > self.give_up:
                return  # the final check reports it
            if self.rng.random() < 0.3:  # a long poll: answered when the fit ends, or in 2 s
                polled, path = "wait", f"/v1/fits/{fit_id}?wait=2"
            else:
                time.sleep(0.1)
                polled, path = "poll", f"/v1/fits/{fit_id}"
            doc = api.expect(api.call(polled, "GET", path), 200, f"poll {fit_id}")
            if doc is None:
                return
        if doc["status"] != "finished":
            return  # the final check reports it
        model = doc["model_id"]
        for _ in range(int(self.rng.integers(1, 4))):
            request = {"points": score_points(kind, self.rng), "alpha": 0.01}
            answer = api.call("score", "POST", f"/v1/models/{model}/score", request)
            api.expect(answer, 200, f"score {model}")
        if self.rng.random() < 0.2:
            api.expect(api.call("model", "GET", f"/v1/models/{model}"), 200, f"model {model}")


# -- the faults ---------------------------------------------------------------------------------


@dataclass
class Fault:
    """One injected fault and what was measured after it (seconds, None: not within 180 s)."""

    kind: str
    at: float  # seconds since the load began
    target: str
    job: str | None = None
    recovery: dict[str, float | None] = field(default_factory=dict)
    note: str = ""
    context: dict[str, Any] = field(default_factory=dict)  # what the watcher needs


class Chaos:
    """The fault scheduler and the watchers that time each recovery."""

    def __init__(self, stack: Stack, base: str, key: str, seed: int, gap: tuple[float, float]):
        self.stack, self.base, self.key = stack, base, key
        self.rng = random.Random(seed)
        self.gap = gap
        self.faults: list[Fault] = []
        self.hit: set[str] = set()  # jobs that were the victim of a worker or horse kill
        self.watchers: list[threading.Thread] = []
        self.stopped = threading.Event()
        self.began = 0.0

    # the scheduler -----------------------------------------------------------------------------
    def run(self, began: float, first: float, last: float, limit: int | None) -> None:
        """Inject faults from ``first`` to ``last`` (monotonic times), ``limit`` at most."""
        self.began = began
        kinds: list[str] = []
        due = first
        while time.monotonic() < last and (limit is None or len(self.faults) < limit):
            time.sleep(max(0.0, min(due, last) - time.monotonic()))
            if time.monotonic() >= last:
                break
            if not kinds:
                kinds = list(KINDS)
                self.rng.shuffle(kinds)
                # Redis last in each round: an execution whose removal its restart lost leaves
                # a worker with two, and ``running`` cannot tell its horse's job until RQ cleans
                # them, so a worker or horse kill after it may find no target for seconds (a
                # short run once ended with no horse fault).
                kinds.sort(key=lambda kind: kind == "redis")
            fault = self.inject(kinds[0])
            if fault is None:  # no target right now (e.g. no horse running): the next kind
                kinds.append(kinds.pop(0))
                due = time.monotonic() + 0.5
                continue
            kinds.pop(0)
            self.faults.append(fault)
            watcher = threading.Thread(target=self.watch, args=(fault,), daemon=True)
            watcher.start()
            self.watchers.append(watcher)
            due = time.monotonic() + self.rng.uniform(*self.gap)

    def inject(self, kind: str) -> Fault | None:
        at = time.monotonic() - self.began
        if kind in ("worker", "horse"):
            return self._kill_in_worker(kind, at)
        if kind == "redis":
            down = self.rng.uniform(0.5, 3.0)
            pid = self.stack.kill("redis", down)
            return Fault("redis", at, f"redis-server {pid}, down {down:.1f} s") if pid else None
        if kind == "gunicorn":
            master = self.stack.pid("gunicorn")
            workers = children(master) if master else []
            if len(workers) < GUNICORN_WORKERS:
                return None  # one is being respawned
            victim = self.rng.choice(workers)
            os.kill(victim, signal.SIGKILL)
            context = {"master": master, "victim": victim}
            return Fault("gunicorn", at, f"gunicorn worker {victim}", context=context)
        starts = self.stack.slots["sweeper"].starts
        pid = self.stack.kill("sweeper", self.rng.uniform(0.5, 2.0))
        return Fault("sweeper", at, f"sweeper {pid}", context={"starts": starts}) if pid else None

    def running(self, name: str) -> tuple[int | None, str | None] | None:
        """(horse pid, job id) of a worker, (None, None) when idle, None when unknown (Redis
        down, or the worker between two steps)."""
        slot = self.stack.slots[name]
        pid = self.stack.pid(name)
        if pid is None:
            return None
        before = children(pid)
        try:
            members = self.stack.admin.smembers(f"rq:worker:{slot.label}:executions")
            alive = self.stack.admin.hexists(f"rq:worker:{slot.label}", "last_heartbeat")
        except REDIS_DOWN:
            return None
        if not alive or children(pid) != before or len(before) > 1:
            return None
        jobs = sorted({member.decode().split(":")[0] for member in members})
        if len(jobs) > 1:
            # A Redis restart can lose an execution's removal (the last second of the
            # append-only file), leaving a stale entry beside the live one until RQ cleans its
            # registries, minutes later (a run once found no worker or horse target for its
            # last 130 s). The live one is the job this worker has started.
            try:
                jobs = [job for job in jobs if self._started_here(job, slot.label)]
            except REDIS_DOWN:
                return None
        if not before:
            return (None, None) if not jobs else None
        # The horse removes its execution before it exits, and the next one is added only
        # after it has exited: while this horse lives, the set holds its job only.
        return (before[0], jobs[0]) if len(jobs) == 1 else None

    def _started_here(self, job: str, label: str) -> bool:
        status, worker = self.stack.admin.hmget(f"rq:job:{job}", "status", "worker_name")
        return status == b"started" and worker == label.encode()

    def _kill_in_worker(self, kind: str, at: float) -> Fault | None:
        names = [n for n in self.stack.slots if n.startswith("worker-")]
        states = {n: self.running(n) for n in names}
        busy = [n for n, s in states.items() if s and s[1] is not None and s[1] not in self.hit]
        idle = [n for n, s in states.items() if s == (None, None)]
        if busy:
            name = self.rng.choice(busy)
            horse, job = states[name]
        elif kind == "worker" and idle:
            name, horse, job = self.rng.choice(idle), None, None
        else:
            return None
        label, starts = self.stack.slots[name].label, self.stack.slots[name].starts
        if kind == "horse":
            self.hit.add(job)
            try:
                os.kill(horse, signal.SIGKILL)
            except ProcessLookupError:
                return None  # it ended just now
            return Fault("horse", at, f"work horse {horse} of {label}", job)
        if job is not None:
            self.hit.add(job)
        also = (horse,) if horse else ()
        pid = self.stack.kill(name, self.rng.uniform(0.5, 2.0), also)
        if pid is None:
            return None
        what = f"worker {label} ({pid}" + (f", horse {horse})" if horse else ", idle)")
        return Fault("worker", at, what, job, context={"slot": name, "starts": starts})

    # the watchers ------------------------------------------------------------------------------
    def watch(self, fault: Fault) -> None:
        t0, rec, ctx = time.monotonic(), fault.recovery, fault.context

        def timed(probe: Callable[[], bool], since: float = t0) -> float | None:
            return until(probe, since, self.stopped)

        if fault.kind == "redis":
            rec["Redis answers (from the kill)"] = timed(self._redis_answers)
            back = time.monotonic()
            rec["API answers (from Redis back)"] = timed(self._api_answers, back)
            rec["/readyz 200 (from Redis back)"] = timed(self._ready, back)
        elif fault.kind == "worker":
            rec["replacement worker live"] = timed(
                lambda: self._replaced(ctx["slot"], ctx["starts"])
            )
            if fault.job:
                rec["its job ended"] = timed(lambda: self._job_ended(fault))
        elif fault.kind == "horse":
            rec["its job ended"] = timed(lambda: self._job_ended(fault))
        elif fault.kind == "gunicorn":
            rec["respawned"] = timed(lambda: self._respawned(ctx["master"], ctx["victim"]))
        else:
            rec["restarted"] = timed(
                lambda: (
                    self.stack.slots["sweeper"].starts > ctx["starts"]
                    and self.stack.pid("sweeper") is not None
                )
            )

    def _redis_answers(self) -> bool:
        return bool(self.stack.admin.ping())

    def _http(self, path: str) -> int:
        host, port = self.base.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("GET", path, headers={"Authorization": f"Bearer {self.key}"})
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    def _api_answers(self) -> bool:
        return self._http(f"/v1/fits/{'0' * 32}") == 404  # Redis read: 503 while it is away

    def _ready(self) -> bool:
        return self._http("/readyz") == 200

    def _replaced(self, name: str, starts: int) -> bool:
        slot = self.stack.slots[name]
        if slot.starts <= starts or self.stack.pid(name) is None:
            return False
        return bool(self.stack.admin.hexists(f"rq:worker:{slot.label}", "last_heartbeat"))

    def _job_ended(self, fault: Fault) -> bool:
        status = self.stack.admin.hget(f"rq:job:{fault.job}", "status")
        if status is None or status.decode() not in ("finished", "failed", "stopped", "canceled"):
            return False
        if status.decode() != "finished":
            fault.note = f"job {fault.job} ended {status.decode()}"
        return True

    def _respawned(self, master: int | None, victim: int) -> bool:
        now = children(master) if master else []
        return len(now) >= GUNICORN_WORKERS and victim not in now

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the watchers, then stop the ones still waiting."""
        deadline = time.monotonic() + timeout
        for watcher in self.watchers:
            watcher.join(max(0.0, deadline - time.monotonic()))
        self.stopped.set()
        for watcher in self.watchers:
            watcher.join()


def until(
    probe: Callable[[], bool], t0: float, stop: threading.Event, limit: float = RECOVERY_LIMIT
) -> float | None:
    """Seconds from ``t0`` until ``probe()`` is true (tried every 50 ms; an error is false);
    None when not within ``limit`` seconds or once ``stop`` is set."""
    while time.monotonic() - t0 < limit and not stop.is_set():
        try:
            if probe():
                return time.monotonic() - t0
        except (*REDIS_DOWN, OSError, http.client.HTTPException):
            pass
        stop.wait(0.05)
    return None


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Settings:
    """What a run does; ``short()`` is the version inside ``make test``."""

    duration: float = 300.0  # seconds of load
    seed: int = 0
    clients: int = 6
    workers: int = 2
    gap: tuple[float, float] = (6.0, 12.0)  # seconds between two faults
    warmup: float = 5.0  # seconds of load before the first fault
    quiet: float = 5.0  # seconds of load after the last fault
    faults: int | None = None  # stop after this many (None: until the quiet end)
    drain: float = 180.0  # seconds the fits get to end once the load has stopped
    min_faults: int = 20
    min_per_kind: int = 2
    rerun_limit: int | None = None  # fits rerun (None: every finished one); see rerun_selection

    @classmethod
    def short(cls, seed: int) -> Settings:
        """One fault of each kind, 2-2.5 s apart, in 24 s of load (the last by about 12 s, so a
        kind that finds no target at once has seconds to find one before the quiet end)."""
        return cls(
            duration=24.0,
            seed=seed,
            clients=4,
            gap=(2.0, 2.5),
            warmup=3.0,
            faults=len(KINDS),
            drain=120.0,
            min_faults=len(KINDS),
            min_per_kind=1,
            rerun_limit=12,
        )


@dataclass
class Final:
    """A fit's state at the end: status, error, the digest of its result and its seed."""

    status: str
    error: dict | None = None
    result: str | None = None
    seed: int | None = None


@dataclass
class Report:
    """What a run counted and found; ``problems()`` lists the broken invariants."""

    settings: Settings
    seconds: dict[str, float]
    latencies: dict[str, list[float]]
    statuses: dict[str, Counter]
    conn_errors: Counter
    errors: list[str]
    faults: list[Fault]
    accepted: list[Accepted]
    finals: dict[str, Final]
    orphans: list[str]
    mismatched: list[str]
    reruns: int
    slow_reruns: list[str]
    leftovers: list[str]
    unexpected: list[str]
    logs: Path

    @property
    def lost(self) -> list[str]:
        return [
            f"{fit_id}: {final.status}" + (f" ({final.error})" if final.error else "")
            for fit_id, final in self.finals.items()
            if not (
                final.status == "finished"
                or (final.status == "failed" and (final.error or {}).get("type") == "FitError")
            )
        ]

    @property
    def server_errors(self) -> int:
        return sum(n for c in self.statuses.values() for s, n in c.items() if s >= 500 and s != 503)

    def problems(self) -> list[str]:
        """Every broken invariant, as sentences; empty when the run passed."""
        out = []
        by_kind = Counter(f.kind for f in self.faults)
        if len(self.faults) < self.settings.min_faults:
            out.append(f"only {len(self.faults)} faults (want {self.settings.min_faults})")
        for kind in KINDS:
            if by_kind[kind] < self.settings.min_per_kind:
                out.append(f"only {by_kind[kind]} {kind} faults")
        checks = [
            (self.lost, "lost fits"),
            (self.mismatched, "results differing from the fault-free rerun"),
            (self.orphans, "fit jobs no client was answered 202 for (a second fit for a key)"),
            (self.leftovers, "processes left behind"),
            (self.unexpected, "processes that exited with no fault"),
            (self.errors, "unexpected answers or requests never answered"),
        ]
        for items, what in checks:
            if items:
                out.append(f"{len(items)} {what}: " + "; ".join(items[:5]))
        if self.server_errors:
            out.append(f"{self.server_errors} answers were 5xx other than 503")
        return out

    def print(self) -> None:
        s = self.settings
        load = self.seconds["load"]
        total = sum(len(v) for v in self.latencies.values())
        t = self.seconds
        print(
            f"\nchaos run, seed {s.seed}: stack up in {t['start']:.1f} s; {load:.0f} s of load "
            f"({s.clients} clients); every fit ended {t['drain']:.1f} s after the load; "
            f"{self.reruns} fits rerun on a fresh stack in {t['rerun']:.1f} s; everything "
            f"stopped in {t['stop']:.1f} s. Logs: {self.logs}\n"
        )
        print(f"requests: {total} answered ({total / load:.1f}/s)")
        head = f"  {'kind':<7}{'answered':>9}{'2xx':>7}{'503':>6}{'429':>5}{'other':>6}"
        print(head + f"{'conn err':>9}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}")
        for kind in ("fit", "poll", "wait", "score", "model"):
            counts, values = self.statuses.get(kind, Counter()), self.latencies.get(kind, [])
            ms = np.array(values or [np.nan]) * 1000
            ok = sum(n for st, n in counts.items() if 200 <= st < 300)
            other = sum(counts.values()) - ok - counts[503] - counts[429]
            print(
                f"  {kind:<7}{len(values):>9}{ok:>7}{counts[503]:>6}{counts[429]:>5}{other:>6}"
                f"{self.conn_errors[kind]:>9}{np.percentile(ms, 50):>8.1f}"
                f"{np.percentile(ms, 99):>8.1f}{np.max(ms):>8.1f}"
            )
        by_kind = Counter(f.kind for f in self.faults)
        listed = ", ".join(f"{k} {by_kind[k]}" for k in KINDS)
        print(f"\nfaults injected: {len(self.faults)} ({listed})")
        for kind in KINDS:
            measures: dict[str, list[float | None]] = defaultdict(list)
            for fault in self.faults:
                if fault.kind == kind:
                    for name, value in fault.recovery.items():
                        measures[name].append(value)
            parts = []
            for name, values in measures.items():
                got = [v for v in values if v is not None]
                never = len(values) - len(got)
                text = (
                    f"{name} median {np.median(got):.1f} s, max {max(got):.1f} s"
                    if got
                    else f"{name} never"
                )
                parts.append(text + (f" ({never} never)" if got and never else ""))
            print(f"  {kind:<9} " + ("; ".join(parts) or "-"))
        print("\n  at s  fault      target; recovery (s)")
        for fault in self.faults:
            times = ", ".join(
                f"{name} {'never' if value is None else f'{value:.1f}'}"
                for name, value in fault.recovery.items()
            )
            job = f" (job {fault.job})" if fault.job else ""
            note = f"; {fault.note}" if fault.note else ""
            print(f"  {fault.at:>5.0f}  {fault.kind:<9}  {fault.target}{job}; {times}{note}")
        statuses = Counter(f.status for f in self.finals.values())
        kinds = Counter(a.kind for a in self.accepted)
        print(
            f"\nfits answered 202: {len(self.accepted)} ("
            + ", ".join(f"{k} {kinds[k]}" for k in FIT_KINDS)
            + "); at the end: "
            + ", ".join(f"{n} {st}" for st, n in sorted(statuses.items()))
        )
        print(f"lost fits: {len(self.lost)}")
        print(f"results differing from the fault-free rerun: {len(self.mismatched)}")
        print(
            f"reruns on the undisturbed stack slower than {SLOW_RERUN:.0f} s: "
            f"{len(self.slow_reruns)}" + (" (RQ state in slow-*.json)" if self.slow_reruns else "")
        )
        print(f"second fits for one Idempotency-Key: {len(self.orphans)}")
        print(f"5xx answers other than 503: {self.server_errors}")
        print(f"unexpected answers or requests never answered: {len(self.errors)}")
        print(f"processes that exited with no fault: {len(self.unexpected)}")
        print(f"leftover processes: {len(self.leftovers)}")
        problems = self.problems()
        print("\n" + ("PASSED" if not problems else "FAILED:\n  " + "\n  ".join(problems)))


def run(settings: Settings, logs: Path) -> Report:
    """Run the whole chaos scenario with its logs under ``logs``; returns the report."""
    run_id = uuid.uuid4().hex
    keys = [uuid.uuid4().hex for _ in range(settings.clients + 1)]  # the last one: the watchers
    env = {**SERVICE_ENV, "MIXFIT_API_KEYS": ",".join(keys)}
    process_env = {MARKER: run_id, **WORKER_ENV}  # every process started from here on has it
    saved = {name: os.environ.get(name) for name in process_env}
    os.environ.update(process_env)
    stacks: list[Stack] = []
    print(
        f"chaos: seed {settings.seed}, {settings.duration:.0f} s of load, "
        f"{settings.clients} clients, {settings.workers} workers, logs in {logs}",
        flush=True,
    )
    try:
        stack = Stack(logs / "chaos", run_id, settings.workers, env)
        stacks.append(stack)
        t0 = time.monotonic()
        stack.start()
        start_seconds = time.monotonic() - t0
        base = f"http://{stack.bind}"
        began = time.monotonic()
        deadline = began + settings.duration
        give_up = deadline + settings.drain
        clients = [
            Client(base, keys[i], settings.seed, i, deadline, give_up)
            for i in range(settings.clients)
        ]
        for client in clients:
            client.start()
        chaos = Chaos(stack, base, keys[-1], settings.seed, settings.gap)
        chaos.run(began, began + settings.warmup, deadline - settings.quiet, settings.faults)
        for client in clients:
            client.join(max(1.0, give_up + 30 - time.monotonic()))
        accepted = [a for c in clients for a in c.accepted]
        finals = final_states(base, keys[-1], [a.fit_id for a in accepted], give_up)
        drain_seconds = time.monotonic() - deadline
        chaos.join(30.0)
        orphans = orphan_fits(stack, {a.fit_id for a in accepted})
        for fit_id, final in finals.items():
            if final.status not in TERMINAL:
                dump_state(stack.admin, fit_id, logs / f"lost-{fit_id}.json")

        rerun_began = time.monotonic()
        fresh_env = {**SERVICE_ENV, "MIXFIT_MAX_RUNNING_FITS": "0"}  # no keys, no cap
        fresh = Stack(logs / "rerun", run_id, settings.workers, fresh_env)
        stacks.append(fresh)
        fresh.start()
        finished = [a for a in accepted if finals[a.fit_id].status == "finished"]
        finished = rerun_selection(finished, chaos.hit, settings)
        mismatched, slow = rerun(fresh, finished, finals, stack, keys[-1], logs)
        rerun_seconds = time.monotonic() - rerun_began
    finally:
        stopping = time.monotonic()
        for each in reversed(stacks):
            each.stop()
        leftovers = wait_gone(run_id)
        stop_seconds = time.monotonic() - stopping
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    apis = [c.api for c in clients]
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    for api in apis:
        for kind, values in api.latencies.items():
            latencies[kind].extend(values)
        for kind, counts in api.statuses.items():
            statuses[kind].update(counts)
    return Report(
        settings=settings,
        seconds={
            "start": start_seconds,
            "load": settings.duration,
            "drain": drain_seconds,
            "rerun": rerun_seconds,
            "stop": stop_seconds,
        },
        latencies=dict(latencies),
        statuses=dict(statuses),
        conn_errors=sum((api.conn_errors for api in apis), Counter()),
        errors=[e for api in apis for e in api.errors],
        faults=chaos.faults,
        accepted=accepted,
        finals=finals,
        orphans=orphans,
        mismatched=mismatched,
        slow_reruns=slow,
        reruns=len(finished),
        leftovers=leftovers,
        unexpected=[f"chaos stack: {u}" for u in stacks[0].unexpected]
        + [f"rerun stack: {u}" for u in stacks[-1].unexpected if len(stacks) > 1],
        logs=logs,
    )


def in_parallel(items: list, work: Callable[[Any], None], threads: int = 4) -> None:
    """Call ``work(item)`` for every item from ``threads`` threads."""
    lock = threading.Lock()
    pending = list(items)

    def loop() -> None:
        while True:
            with lock:
                if not pending:
                    return
                item = pending.pop()
            work(item)

    pool = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def final_states(base: str, key: str, fit_ids: list[str], give_up: float) -> dict[str, Final]:
    """Every fit's state, read again from the API once the load has stopped; a fit that has not
    ended is waited for until ``give_up``."""
    finals: dict[str, Final] = {}
    local = threading.local()
    apis: list[Api] = []

    def read(fit_id: str) -> None:
        if not hasattr(local, "api"):
            local.api = Api(base, key, max(give_up, time.monotonic() + 60), random.Random(fit_id))
            apis.append(local.api)
        api = local.api
        while True:
            doc = api.expect(api.call("final", "GET", f"/v1/fits/{fit_id}?wait=5"), 200, fit_id)
            if doc is None:
                finals[fit_id] = Final("unreadable", {"message": (api.errors or ["?"])[-1]})
                return
            if doc["status"] in TERMINAL or time.monotonic() > give_up:
                break
        result = doc.get("result")
        finals[fit_id] = Final(
            doc["status"],
            doc.get("error"),
            digest(result) if result else None,
            result["seed"] if result else None,
        )

    in_parallel(fit_ids, read)
    for api in apis:
        api.close()
    return finals


def orphan_fits(stack: Stack, accepted: set[str]) -> list[str]:
    """Fit jobs in Redis that no client was answered 202 for (parts are named ``{fit}-{i}``)."""
    until(stack.admin.ping, time.monotonic(), threading.Event(), limit=30)  # Redis is back
    found = []
    for key in stack.admin.scan_iter("rq:job:*", count=1000):
        job_id = key.decode().removeprefix("rq:job:")
        if len(job_id) == 32 and ":" not in job_id and job_id not in accepted:
            found.append(job_id)
    return found


def rerun_selection(finished: list[Accepted], hit: set[str], settings: Settings) -> list[Accepted]:
    """The finished fits to rerun: all of them, or (``rerun_limit``) every fit whose job was the
    victim of a worker or horse kill and a seeded sample of the others up to the limit."""
    limit = settings.rerun_limit
    if limit is None or len(finished) <= limit:
        return finished
    victims = {job.split("-")[0] for job in hit}
    chosen = [a for a in finished if a.fit_id in victims]
    others = [a for a in finished if a.fit_id not in victims]
    count = max(0, min(len(others), limit - len(chosen)))
    return chosen + random.Random(settings.seed).sample(others, count)


def rerun(
    fresh: Stack,
    finished: list[Accepted],
    finals: dict[str, Final],
    chaos: Stack,
    chaos_key: str,
    logs: Path,
) -> tuple[list[str], list[str]]:
    """Run every finished fit again on the fresh stack with its seed. Returns the ids whose
    result differs (both documents are written to ``logs/mismatch-<id>.json``) and the ids of
    reruns that took over ``SLOW_RERUN`` seconds (their RQ state then, in ``logs/slow-<id>.json``:
    nothing disturbs this stack, so that is a finding too)."""
    mismatched: list[str] = []
    slow: list[str] = []
    local = threading.local()
    apis: list[Api] = []
    base = f"http://{fresh.bind}"

    def work(accepted: Accepted) -> None:
        if not hasattr(local, "api"):
            local.api = Api(base, None, time.monotonic() + 3600, random.Random(accepted.fit_id))
            apis.append(local.api)
        api = local.api
        final = finals[accepted.fit_id]
        body = {**accepted.body, "seed": final.seed}
        began = time.monotonic()
        doc = api.expect(api.call("rerun", "POST", "/v1/fits", body), 202, "rerun")
        while doc is not None and doc["status"] not in TERMINAL:
            if time.monotonic() - began > SLOW_RERUN and doc["id"] not in slow:
                slow.append(doc["id"])
                dump_state(fresh.admin, doc["id"], logs / f"slow-{doc['id']}.json")
            doc = api.expect(api.call("rerun", "GET", f"/v1/fits/{doc['id']}?wait=10"), 200, "")
        again = (doc or {}).get("result")
        if again is not None and digest(again) == final.result:
            return
        mismatched.append(accepted.fit_id)
        original = Api(f"http://{chaos.bind}", chaos_key, time.monotonic() + 30, random.Random(0))
        answer = original.call("final", "GET", f"/v1/fits/{accepted.fit_id}")
        original.close()
        record = {"chaos": answer[1] if answer else None, "rerun": doc}
        (logs / f"mismatch-{accepted.fit_id}.json").write_text(json.dumps(record))

    in_parallel(finished, work, threads=8)
    for api in apis:
        api.close()
    return mismatched, slow


def dump_state(admin: Redis, job_id: str, path: Path) -> None:
    """Write where RQ holds a job, and the parts of a fanned-out fit: each one's hash (without
    its arguments) and every RQ list, set or sorted set naming it."""
    state = {}
    pending = [job_id]
    while pending:
        one = pending.pop()
        fields = admin.hgetall(f"rq:job:{one}")
        job = {k.decode(): v.decode(errors="replace") for k, v in fields.items() if k != b"data"}
        held_in = []
        for kind, read in (("list", admin.lrange), ("zset", admin.zrange)):
            for key in admin.scan_iter("rq:*", count=1000, _type=kind):
                if any(m.decode().split(":")[0] == one for m in read(key, 0, -1)):
                    held_in.append(key.decode())
        for key in admin.scan_iter("rq:*", count=1000, _type="set"):
            if any(m.decode().split(":")[0] == one for m in admin.smembers(key)):
                held_in.append(key.decode())
        state[one] = {"job": job, "held in": held_in}
        if one == job_id:
            parts = json.loads(job.get("meta") or "{}").get("parts", [])
            pending += [part["job_id"] for part in parts if part["job_id"] != job_id]
            pending += json.loads(job.get("meta") or "{}").get("finishes", [])
    path.write_text(json.dumps(state, indent=1))


def wait_gone(run_id: str, timeout: float = 10.0) -> list[str]:
    """The processes still carrying the run's marker ``timeout`` seconds after the stop (a
    process killed a moment ago may take a little while to be gone)."""
    deadline = time.monotonic() + timeout
    while True:
        left = marked_processes(run_id)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)
