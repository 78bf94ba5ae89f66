"""The live stack for the page, client and CLI tests: gunicorn serving ``service:create_app()``
on the session's real ``redis-server`` and RQ worker (``redis_url`` and ``worker_proc`` from
``tests/conftest.py``, queue ``TEST_QUEUE``).

``tests/page/conftest.py`` and ``tests/client/conftest.py`` import ``live_api``; pytest keeps one
fixture per conftest, so each of the two directories starts its own gunicorn (about a second)
on the shared Redis and worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import TEST_QUEUE


@pytest.fixture(scope="session")
def live_api(redis_url: str, worker_proc: Any) -> Iterator[str]:
    """Base URL of gunicorn (1 process, 8 threads) serving the app on the test Redis."""
    import devstack

    bind = f"127.0.0.1:{devstack.free_port()}"
    proc = devstack.start_gunicorn(redis_url, bind, queue=TEST_QUEUE, workers=1, threads=8)
    try:
        devstack.wait_http(f"http://{bind}/healthz", proc)
        yield f"http://{bind}"
    finally:
        devstack.stop([proc])
