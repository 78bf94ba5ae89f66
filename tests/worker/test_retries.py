"""Which failures spend a retry (``worker.retries``) and how long a worker waits for Redis
(``worker.outage.wait_for_redis``): units, no Redis needed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.timeouts import JobTimeoutException

from mixfit import FitError
from worker import outage
from worker.retries import RetryOnlyWhatMayPass


class _Base:
    def handle_exception(self, job: Any, *exc_info: Any) -> None:
        job.seen = exc_info[1]


class _Worker(RetryOnlyWhatMayPass, _Base):
    pass


@pytest.mark.parametrize(
    "error",
    [FitError("degenerate"), JobTimeoutException("timeout"), MemoryError(), ValueError("bug")],
)
def test_a_failure_of_the_jobs_own_spends_no_retry(error: Exception) -> None:
    """The seed is fixed at submission: the job would fail the same way on every run."""
    job = SimpleNamespace(retries_left=2)
    _Worker().handle_exception(job, type(error), error, None)
    assert job.retries_left is None and job.seen is error


@pytest.mark.parametrize("error", [RedisConnectionError("gone"), RedisTimeoutError("slow")])
def test_redis_going_away_keeps_the_retries(error: Exception) -> None:
    job = SimpleNamespace(retries_left=2)
    _Worker().handle_exception(job, type(error), error, None)
    assert job.retries_left == 2


def test_the_wait_for_redis_doubles_up_to_30_s_and_lasts_as_long_as_the_outage(
    monkeypatch,
) -> None:
    """An outage of about 10 minutes: 0.5, 1, 2, ... 16 s, then 30 s a try, until Redis answers."""
    slept: list[float] = []
    monkeypatch.setattr(outage.time, "sleep", slept.append)

    class Down:
        def ping(self) -> bool:
            if sum(slept) < 600:
                raise RedisConnectionError("down")
            return True

    outage.wait_for_redis(Down(), "a test")  # type: ignore[arg-type]
    assert slept[:6] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    assert set(slept[6:]) == {30.0} and 600 <= sum(slept) < 630
