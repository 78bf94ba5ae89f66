"""The API's logs: one line per request, a request id on every line, and the request histogram.

Every request gets a request id: the incoming ``X-Request-Id`` header when it is sane (1 to 128
characters of letters, digits and ``._:/+=-``), else a new random one (32 hex digits). It is
echoed in the answer's ``X-Request-Id`` header, set on every log line written while the request
is handled (a filter on the handler), stored in the meta of the RQ jobs of a fit it submits
(``fits.submit_fit``), and the worker logs every line of those jobs with it (``worker.logs``).

When the answer is ready one line is logged on ``mixfit.request`` with ``method``, ``path``,
``route``, ``status``, ``duration_ms`` and ``request_id``, and the answer is counted in
``mixfit_http_request_duration_seconds`` (``service.metrics``). The format and level come from
``LOG_FORMAT`` / ``LOG_LEVEL`` (``MIXFIT_LOG_FORMAT``: ``json`` or ``text``; ``MIXFIT_LOG_LEVEL``).
gunicorn's own access log stays off (it would repeat these lines); ``GunicornLogger`` gives
gunicorn's error log the same format.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from gunicorn import glogging

from mixfit import logs

from . import metrics

HEADER = "X-Request-Id"
SANE_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
log = logging.getLogger("mixfit.request")


def request_id() -> str | None:
    """This request's id (None outside a request)."""
    return g.get("mixfit_request_id") if has_request_context() else None


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record logged while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            rid = request_id()
            if rid is not None:
                record.request_id = rid
        return True


def _begin() -> None:
    incoming = request.headers.get(HEADER, "")
    g.mixfit_request_id = incoming if SANE_ID.match(incoming) else uuid.uuid4().hex
    g.mixfit_started = time.perf_counter()


def _end(response: Response) -> Response:
    seconds = time.perf_counter() - g.get("mixfit_started", time.perf_counter())
    rid = g.get("mixfit_request_id") or uuid.uuid4().hex
    response.headers[HEADER] = rid
    route = request.url_rule.rule if request.url_rule is not None else None
    metrics.observe_request(route, request.method, response.status_code, seconds)
    duration_ms = round(seconds * 1000, 3)
    log.info(
        "%s %s %d %.1f ms",
        request.method,
        request.path,
        response.status_code,
        duration_ms,
        extra={
            "request_id": rid,
            "method": request.method,
            "path": request.path,
            "route": route,
            "status": response.status_code,
            "duration_ms": duration_ms,
        },
    )
    return response


def init(app: Flask) -> None:
    """Configure logging (``LOG_FORMAT``, ``LOG_LEVEL``) and install the request hooks.

    Call first in the factory: the hooks must run before any other ``before_request`` (an
    authentication failure is still timed, logged and given a request id).

    Raises
    ------
    ValueError
        When ``LOG_FORMAT`` is neither ``json`` nor ``text``.
    """
    logs.configure(app.config.get("LOG_FORMAT"), app.config.get("LOG_LEVEL"), [RequestIdFilter()])
    app.before_request(_begin)
    app.after_request(_end)


class GunicornLogger(glogging.Logger):
    """gunicorn's logger with its error log in mixfit's format (``--logger-class``); its access
    log is off, since ``mixfit.request`` writes one line per request already."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = logs.formatter()
        for handler in self.error_log.handlers + self.access_log.handlers:
            handler.setFormatter(formatter)
