"""``make run``'s ``python -m devstack``: three processes up, URLs printed, Ctrl-C stops
all three cleanly, and the append-only file is on."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import devstack

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_devstack_starts_prints_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    bind = f"127.0.0.1:{devstack.free_port()}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("MIXFIT_REDIS_URL", "MIXFIT_QUEUE_NAME")
    }
    env.update(MIXFIT_BIND=bind, MIXFIT_VAR_DIR=str(tmp_path), MIXFIT_WORKER_LOG_LEVEL="WARNING")
    env["MIXFIT_QUEUE_NAME"] = f"mixfit-dev-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 90
        while not any("Press Ctrl-C" in line for line in lines):
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            lines.append(line)
        banner = "".join(lines)
        assert f"docs   http://{bind}/docs" in banner
        assert f"API    http://{bind}/v1" in banner
        assert f"append-only file in {tmp_path / 'redis'}/" in banner
        pid_line = re.search(r"^  pids   (.*)$", banner, flags=re.M).group(1)
        pids = {name: int(pid) for name, pid in re.findall(r"(\S+) (\d+)", pid_line)}
        assert set(pids) == {"redis-server", "worker", "gunicorn"}

        with urllib.request.urlopen(f"http://{bind}/readyz", timeout=10) as response:
            assert response.status == 200

        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        rest = proc.stdout.read()
        assert "stopped." in rest
        assert not any(_alive(pid) for pid in pids.values()), pids
        assert (tmp_path / "redis" / "appendonly.aof").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
