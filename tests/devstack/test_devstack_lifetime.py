"""``make run``'s supervisor and its children live and die together: a killed supervisor takes
every child (work horse and gunicorn workers included), a second Ctrl-C does not cut the stop
short, the port is free for the next stack at once, and the log lines suit who reads them.

Each test starts real stacks (Redis, a worker, gunicorn); deadlines are generous, never asserted
as timings."""

from __future__ import annotations

import http.client
import json
import os
import pty
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from contextlib import suppress
from pathlib import Path

import devstack

ROOT = Path(__file__).resolve().parents[2]
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z INFO +mixfit\.request: GET /healthz 200 ")


class Stack:
    """``python -m devstack`` with a var dir, queue and port of its own; its stdout and
    stderr (one pipe, or a terminal with ``tty``) are collected by a thread."""

    def __init__(self, var: Path, bind: str, tty: bool = False, **env: str) -> None:
        self.bind = bind
        full_env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("MIXFIT_REDIS_URL", "MIXFIT_LOG_FORMAT", devstack.MARK)
        }
        full_env.update(
            MIXFIT_BIND=bind,
            MIXFIT_VAR_DIR=str(var),
            MIXFIT_QUEUE_NAME=f"mixfit-dev-{uuid.uuid4().hex[:8]}",
            **env,
        )
        read_end, write_end = pty.openpty() if tty else os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devstack"],
            cwd=ROOT,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=write_end,
        )
        os.close(write_end)
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, args=(read_end,), daemon=True)
        self._reader.start()
        self.pids: dict[str, int] = {}
        self.mark = ""

    def _read(self, fd: int) -> None:
        try:
            while chunk := os.read(fd, 65536):
                self._chunks.append(chunk)
        except OSError:  # a terminal's reader gets EIO once every writer has gone
            pass
        finally:
            os.close(fd)

    def output(self) -> str:
        return b"".join(self._chunks).decode(errors="replace").replace("\r\n", "\n")

    def wait_banner(self, timeout: float = 120) -> str:
        """The output up to ``Press Ctrl-C``; records the children's pids and the stack's mark."""
        deadline = time.monotonic() + timeout
        while "Press Ctrl-C" not in (text := self.output()):
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{text}"
            assert time.monotonic() < deadline, text
            time.sleep(0.05)
        pid_line = re.search(r"^  pids   (.*)$", text, flags=re.M).group(1)
        self.pids = {name: int(pid) for name, pid in re.findall(r"(\S+) (\d+)", pid_line)}
        environ = Path(f"/proc/{self.pids['gunicorn']}/environ").read_bytes().split(b"\0")
        prefix = f"{devstack.MARK}=".encode()
        mark = next((x for x in environ if x.startswith(prefix)), prefix)
        self.mark = mark[len(prefix) :].decode()
        return text

    def processes(self) -> list[int]:
        """Every live process of the stack (its children's sessions, its mark)."""
        return devstack.stack_processes(self.mark, set(self.pids.values()))

    def finish(self) -> None:
        """Whatever happened: the supervisor and everything it started is gone."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.pids:
            for pid in self.processes():
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._reader.join(10)


def _until(condition, timeout: float = 60, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def _parent(pid: int) -> int | None:
    """The parent's pid (None if ``pid`` has gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])


def _described(pids: list[int]) -> dict[int, str]:
    """The command lines of ``pids``, for a failure's message."""
    described = {}
    for pid in pids:
        try:
            described[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
    return {pid: line.decode(errors="replace") for pid, line in described.items()}


def _nothing_listens(bind: str) -> bool:
    host, _, port = bind.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_killed_supervisor_takes_every_child_with_it(tmp_path: Path) -> None:
    """SIGKILL leaves the supervisor no say: the kernel (PR_SET_PDEATHSIG) and the watchdog end
    Redis, the worker and its work horse, gunicorn and its workers. On a terminal the children's
    lines are text."""
    bind = f"127.0.0.1:{devstack.free_port()}"
    # every fit in a forked work horse, so there is one to orphan
    stack = Stack(tmp_path, bind, tty=True, MIXFIT_INLINE_MAX_WORK="0")
    try:
        banner = stack.wait_banner()
        assert any(TEXT_LINE.match(line) for line in banner.splitlines()), banner
        assert not any(line.startswith("{") for line in banner.splitlines()), banner

        rng = random.Random(1)
        data = [rng.gauss(0, 1) for _ in range(3000)] + [rng.gauss(6, 1) for _ in range(3000)]
        body = json.dumps({"data": data, "k": {"min": 1, "max": 6}, "n_starts": 20, "seed": 1})
        request = urllib.request.Request(
            f"http://{bind}/v1/fits", body.encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 202

        def horse() -> bool:
            pids = stack.processes()
            return any(_parent(pid) == stack.pids["worker"] for pid in pids)

        assert _until(horse, interval=0.02), "no work horse appeared"
        family = set(stack.processes())
        # Redis, worker, horse, gunicorn and its two workers
        assert set(stack.pids.values()) < family and len(family) >= 6, (stack.pids, family)

        stack.proc.kill()
        stack.proc.wait(10)
        assert _until(lambda: not stack.processes()), _described(stack.processes())
        assert _until(lambda: _nothing_listens(bind))
    finally:
        stack.finish()


def test_a_second_signal_does_not_cut_the_stop_short_and_the_port_is_free_at_once(
    tmp_path: Path,
) -> None:
    """Ctrl-C, Ctrl-C and a SIGTERM 50 ms apart: every child stopped, exit 0. Then a new stack
    on the same port, whose last keep-alive connections are in TIME_WAIT, starts at once. Not
    on a terminal, the children's lines are JSON."""
    bind = f"127.0.0.1:{devstack.free_port()}"
    first = Stack(tmp_path / "first", bind)
    second = None
    host, _, port = bind.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        first.wait_banner()
        for _ in range(3):  # one persistent connection; left open, so the server closes it
            connection.request("GET", "/healthz")
            with connection.getresponse() as response:
                assert response.status == 200 and response.read()
                assert response.getheader("Connection", "").lower() != "close"

        for sig in (signal.SIGINT, signal.SIGINT, signal.SIGTERM):
            first.proc.send_signal(sig)
            time.sleep(0.05)
        assert first.proc.wait(90) == 0, first.output()
        assert first.processes() == [], _described(first.processes())
        first.finish()  # its output complete
        out = first.output()
        assert "already stopping" in out and "stopped." in out, out
        logs = [line for line in out.splitlines() if line.startswith("{")]
        assert any(json.loads(line)["logger"] == "mixfit.request" for line in logs), out
        assert not any(TEXT_LINE.match(line) for line in out.splitlines()), out

        second = Stack(tmp_path / "second", bind)
        second.wait_banner()
        second.proc.send_signal(signal.SIGTERM)
        assert second.proc.wait(90) == 0, second.output()
        assert second.processes() == [], _described(second.processes())
    finally:
        connection.close()
        first.finish()
        if second is not None:
            second.finish()


def test_when_one_of_the_three_dies_the_others_are_stopped_and_the_exit_is_1(
    tmp_path: Path,
) -> None:
    """The worker SIGKILLed: the supervisor says so, stops gunicorn and Redis, and exits 1."""
    bind = f"127.0.0.1:{devstack.free_port()}"
    stack = Stack(tmp_path, bind)
    try:
        stack.wait_banner()
        os.kill(stack.pids["worker"], signal.SIGKILL)
        assert stack.proc.wait(60) == 1, stack.output()
        assert "worker exited (-9); stopping the rest" in stack.output()
        assert _until(lambda: not stack.processes()), _described(stack.processes())
        assert _until(lambda: _nothing_listens(bind))
    finally:
        stack.finish()
