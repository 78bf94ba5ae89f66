"""The ``text`` log format that ``make run`` picks on a terminal: time, level, logger, message,
then only the fields the message does not already show, each value once."""

from __future__ import annotations

import logging

from mixfit import logs


def _line(message: str, *args: object, **extra: object) -> str:
    record = logging.LogRecord("mixfit.request", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return logs.TextFormatter().format(record)


def test_a_request_line_does_not_repeat_its_message() -> None:
    line = _line(
        "%s %s %d %.1f ms",
        "GET",
        "/v1/fits/abc",
        200,
        3.14159,
        request_id="rid-1",
        method="GET",
        path="/v1/fits/abc",
        route="/v1/fits/<fit_id>",
        status=200,
        duration_ms=3.142,
    )
    head, _, fields = line.partition("  [")
    assert head.endswith(" INFO    mixfit.request: GET /v1/fits/abc 200 3.1 ms"), line
    assert fields == "request_id=rid-1 route=/v1/fits/<fit_id> duration_ms=3.142]", line


def test_a_fit_line_names_each_value_once_and_quotes_spaces() -> None:
    line = _line(
        "fit f1 started",
        fit_id="f1",
        job_id="f1",
        k=[1, 2],
        worker="w 1",
        status=2001,
    )
    assert line.endswith('mixfit.request: fit f1 started  [k=1,2 worker="w 1" status=2001]'), line
    assert _line("plain").endswith("mixfit.request: plain")  # no empty brackets
