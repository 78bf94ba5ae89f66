"""Run deploy/docker-compose.yml's services as local processes (no Docker engine here).

Each service's own ``command`` and ``environment`` are taken from the compose file, with
``${VAR:-default}`` resolved from ``deploy/.env.example`` and these rewrites only: the host
``redis`` becomes 127.0.0.1 on a free port, the image's paths (``/app``,
``/usr/local/etc/redis/redis.conf``, ``redis-server``, ``python``, ``gunicorn``) become this
checkout's and this venv's, Redis keeps its files in a temp dir, and the API binds to a free
loopback port.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

import devstack

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"


def env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` and ``$$``."""

    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg or ""

    out = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)([^}]*))?\}", one, value)
    return out.replace("$$", "$")


def services(variables: dict[str, str]) -> dict[str, dict]:
    raw = yaml.safe_load(COMPOSE.read_text())
    resolved = {}
    for name, spec in raw["services"].items():
        command = [interpolate(str(part), variables) for part in spec.get("command", [])]
        environment = {
            k: interpolate(str(v), variables) for k, v in (spec.get("environment") or {}).items()
        }
        resolved[name] = {"command": command, "environment": environment}
    return resolved


class LocalCompose:
    """Start redis, api, ``workers`` x worker and sweeper from the compose file."""

    def __init__(self, tmp: Path, workers: int = 2) -> None:
        self.tmp, self.workers = tmp, workers
        self.redis_port, self.api_port = devstack.free_port(), devstack.free_port()
        self.variables = env_file()
        self.spec = services(self.variables)
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: list = []
        self.base = f"http://127.0.0.1:{self.api_port}"

    def _local(self, args: list[str]) -> list[str]:
        out = []
        for arg in args:
            arg = arg.replace("/app/", f"{ROOT}/")
            arg = arg.replace(
                "/usr/local/etc/redis/redis.conf", str(ROOT / "deploy" / "redis.conf")
            )
            out.append(arg)
        if out and out[0] == "python":
            out[0] = sys.executable
        if out and out[0] == "gunicorn":
            out[:1] = [sys.executable, "-m", "gunicorn"]
        return out

    def _env(self, name: str) -> dict[str, str]:
        env = dict(os.environ)
        for key, value in self.spec[name]["environment"].items():
            env[key] = value.replace("@redis:6379", f"@127.0.0.1:{self.redis_port}")
        return env

    def _start(self, label: str, name: str, args: list[str], env: dict[str, str]) -> None:
        log = open(self.tmp / f"{label}.log", "wb")  # closed in stop()
        self.logs.append(log)
        self.procs[label] = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def start(self) -> LocalCompose:
        # redis: sh -c 'exec redis-server CONF --requirepass "$REDIS_PASSWORD"' + local overrides
        shell = self.spec["redis"]["command"][-1]
        shell = shell.replace("redis-server", shlex.quote(devstack.redis_server_binary()), 1)
        shell = shell.replace(
            "/usr/local/etc/redis/redis.conf", str(ROOT / "deploy" / "redis.conf")
        )
        shell += f" --port {self.redis_port} --bind 127.0.0.1 --dir {self.tmp}"
        env = dict(os.environ, **self.spec["redis"]["environment"])
        self._start("redis", "redis", ["sh", "-c", shell], env)
        url = f"redis://:{self.variables['REDIS_PASSWORD']}@127.0.0.1:{self.redis_port}/0"
        devstack.wait_redis(url, self.procs["redis"])
        self.redis_url = url

        api_env = self._env("api")
        api_env["GUNICORN_BIND"] = f"127.0.0.1:{self.api_port}"
        self._start("api", "api", self._local(self.spec["api"]["command"]), api_env)
        for i in range(self.workers):
            self._start(
                f"worker-{i}",
                "worker",
                self._local(self.spec["worker"]["command"]),
                self._env("worker"),
            )
        self._start(
            "sweeper", "sweeper", self._local(self.spec["sweeper"]["command"]), self._env("sweeper")
        )
        devstack.wait_http(self.base + "/readyz", self.procs["api"], timeout=60)
        return self

    def stop(self) -> dict[str, int]:
        order = ["api", "sweeper", *[f"worker-{i}" for i in range(self.workers)], "redis"]
        devstack.stop([self.procs[name] for name in order if name in self.procs])
        for log in self.logs:
            log.close()
        return {name: proc.returncode for name, proc in self.procs.items()}

    def log(self, label: str) -> str:
        return (self.tmp / f"{label}.log").read_text(errors="replace")
