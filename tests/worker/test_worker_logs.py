"""The shared log format (``mixfit.logs``) and the worker's job fields (``worker.logs``)."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest

from mixfit import logs
from worker import logs as worker_logs


def record(message: str = "hello %s", *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("mixfit.test", logging.WARNING, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_json_lines_hold_time_level_logger_message_and_extras() -> None:
    line = logs.JSONFormatter().format(record("hello %s", "you", request_id="r1", k=[1, 2]))
    assert "\n" not in line
    doc = json.loads(line)
    assert doc == {
        "time": doc["time"],
        "level": "warning",
        "logger": "mixfit.test",
        "message": "hello you",
        "request_id": "r1",
        "k": [1, 2],
    }
    assert doc["time"].endswith("Z") and len(doc["time"]) == len("2025-01-02T03:04:05.678Z")


def test_a_traceback_and_an_odd_extra_stay_on_one_json_line() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        import sys

        rec = record("failed", when=object())
        rec.exc_info = sys.exc_info()
    line = logs.JSONFormatter().format(rec)
    doc = json.loads(line)
    assert "\n" not in line and "ValueError: bad" in doc["exception"]
    assert doc["when"].startswith("<object object")


def test_text_lines_put_the_extras_in_brackets() -> None:
    line = logs.TextFormatter().format(record("hi", fit_id="f1"))
    assert line.endswith("WARNING mixfit.test: hi  [fit_id=f1]")


def test_configure_replaces_its_own_handler_only(monkeypatch) -> None:
    root = logging.getLogger()
    other = logging.NullHandler()
    root.addHandler(other)
    level = root.level
    try:
        first = logs.configure("text", "DEBUG")
        second = logs.configure("json", "WARNING")
        ours = [h for h in root.handlers if getattr(h, "mixfit", False)]
        assert ours == [second] and first not in root.handlers and other in root.handlers
        assert root.level == logging.WARNING
        monkeypatch.setenv("MIXFIT_LOG_FORMAT", "yaml")
        with pytest.raises(ValueError, match="MIXFIT_LOG_FORMAT"):
            logs.configure()
    finally:
        root.removeHandler(other)
        for handler in [h for h in root.handlers if getattr(h, "mixfit", False)]:
            root.removeHandler(handler)
        root.setLevel(level)


def fake_job(job_id: str, kwargs: dict, meta: dict) -> SimpleNamespace:
    return SimpleNamespace(id=job_id, kwargs=kwargs, meta=meta, worker_name="w1")


def test_job_context_of_a_fit_a_part_and_a_merge() -> None:
    fit = fake_job(
        "f" * 32,
        {"fit_id": "f" * 32},
        {"request_id": "r1", "parts": [{"job_id": "f" * 32, "k": [1, 2, 3]}]},
    )
    assert worker_logs.job_context(fit) == {
        "request_id": "r1",
        "fit_id": "f" * 32,
        "job_id": "f" * 32,
        "k": [1, 2, 3],
        "worker": "w1",
    }
    part = fake_job("f" * 32 + "-1", {"fit_id": "f" * 32, "k": 2}, {"request_id": "r1"})
    assert worker_logs.job_context(part, "w2")["k"] == [2]
    assert worker_logs.job_context(part, "w2")["worker"] == "w2"
    merge = fake_job("m", {"fit_id": "m"}, {"parts": [{"k": [3]}, {"k": [1]}, {"k": [3]}]})
    assert worker_logs.job_context(merge) == {
        "fit_id": "m",
        "job_id": "m",
        "k": [1, 3],
        "worker": "w1",
    }


def test_the_filter_adds_the_running_jobs_fields_to_every_record() -> None:
    class Base:
        def execute_job(self, job, queue):
            rec = record("inside")
            assert worker_logs.JobContextFilter().filter(rec)
            return rec

    class Worker(worker_logs.JobLogContext, Base):
        name = "w9"

    job = fake_job("j1", {"fit_id": "j1", "k": 4}, {"request_id": "r9"})
    inside = Worker().execute_job(job, None)
    assert (inside.request_id, inside.fit_id, inside.k, inside.worker) == ("r9", "j1", [4], "w9")
    outside = record("after")
    worker_logs.JobContextFilter().filter(outside)
    assert not hasattr(outside, "request_id")  # the context ends with the job
