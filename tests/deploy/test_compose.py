"""The docker-compose file: valid, and saying what the deploy promises."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.system import require_tool

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"


@pytest.fixture(scope="module")
def config() -> dict:
    """``docker-compose config``: the file as Compose itself resolves it."""
    tool = require_tool("docker-compose", "validates deploy/docker-compose.yml")
    out = subprocess.run(
        [tool, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


def test_services(config):
    assert set(config["services"]) == {"redis", "api", "worker", "sweeper"}


def test_redis_is_durable_private_and_never_evicts(config):
    redis = config["services"]["redis"]
    assert "ports" not in redis
    assert any(
        str(v).startswith("redis-data:") or "redis-data" in json.dumps(v) for v in redis["volumes"]
    )
    assert "requirepass" in " ".join(redis["command"])
    conf = (ROOT / "deploy" / "redis.conf").read_text()
    for line in ("appendonly yes", "appendfsync everysec", "maxmemory-policy noeviction"):
        assert line in conf.splitlines()
    assert any(line.startswith("maxmemory ") for line in conf.splitlines())


def test_one_image_for_api_worker_and_sweeper(config):
    images = {config["services"][s]["image"] for s in ("api", "worker", "sweeper")}
    assert images == {"mixfit:latest"}
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile and "\nUSER 10001:10001\n" in dockerfile


def test_api_health_checks_readyz_and_worker_drains(config):
    api, worker = config["services"]["api"], config["services"]["worker"]
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    grace = worker["stop_grace_period"]
    minutes = int(grace.rstrip("m")) if grace.endswith("m") else int(grace.rstrip("s")) / 60
    timeout_max = int(config["services"]["worker"]["environment"]["MIXFIT_JOB_TIMEOUT_MAX"])
    assert minutes * 60 > timeout_max


def test_every_variable_is_documented():
    text = COMPOSE.read_text()
    documented = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    }
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    assert used <= documented, used - documented
