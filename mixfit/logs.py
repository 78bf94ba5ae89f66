"""One log format for the service and the workers: a JSON object per line (or plain text).

Standard library only, so both ``service`` and ``worker`` import it (they may not import each
other). ``configure()`` puts one handler on the root logger; every record then becomes

    {"time": "2025-01-02T03:04:05.678Z", "level": "info", "logger": "mixfit.request",
     "message": "GET /v1/fits/... 200 3.1 ms", "request_id": "...", "method": "GET", ...}

with every field a caller passed in ``extra=`` (or a filter set on the record) added as a key:
``request_id``, ``method``, ``path``, ``route``, ``status``, ``duration_ms`` for requests;
``fit_id``, ``job_id``, ``k``, ``worker`` for fits. ``MIXFIT_LOG_FORMAT`` picks ``json`` (default)
or ``text``; ``MIXFIT_LOG_LEVEL`` the level (default ``INFO``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

FORMATS = ("json", "text")
DEFAULT_FORMAT = "json"
DEFAULT_LEVEL = "INFO"
# Attributes every LogRecord has; anything else on a record came from ``extra=`` or a filter.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _STANDARD and not key.startswith("_") and value is not None
    }


def _time(record: logging.LogRecord) -> str:
    stamp = datetime.fromtimestamp(record.created, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class JSONFormatter(logging.Formatter):
    """A record as one line of JSON: time (UTC), level, logger, message, the extra fields, and
    ``exception`` (the formatted traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        document.update(_extras(record))
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra that JSON cannot hold is logged as its text, never dropped
        return json.dumps(document, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message  [key=value ...]`` for people reading a terminal.

    The brackets hold the extra fields the message does not already show, each value once: a
    request's line says its method, path and status, a fit's line its id, and a line that
    repeats them runs past the screen's edge (JSON keeps every field). A list is written
    ``1,2``; a value with a space or a quote is quoted.
    """

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line = f"{_time(record)} {record.levelname:<7} {record.name}: {message}"
        fields, seen = [], set()
        for key, value in _extras(record).items():
            text = str(value)
            if not text or text in seen or _shows(message, text):
                continue
            seen.add(text)
            if isinstance(value, list | tuple):
                text = ",".join(str(item) for item in value)
            if re.search(r'[\s"]', text):
                text = json.dumps(text, ensure_ascii=False)
            fields.append(f"{key}={text}")
        if fields:
            line += f"  [{' '.join(fields)}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _shows(message: str, text: str) -> bool:
    """Whether ``text`` stands in ``message`` as a word of its own (``200`` in ``GET / 200``,
    not in ``2001``)."""
    return re.search(rf"(?<![\w/.-]){re.escape(text)}(?![\w/.-])", message) is not None


def formatter(fmt: str | None = None) -> logging.Formatter:
    """The formatter for ``fmt`` (``json`` or ``text``; default ``MIXFIT_LOG_FORMAT``).

    Raises
    ------
    ValueError
        For any other format name.
    """
    fmt = (fmt or os.environ.get("MIXFIT_LOG_FORMAT") or DEFAULT_FORMAT).strip().lower()
    if fmt not in FORMATS:
        raise ValueError(f"MIXFIT_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return JSONFormatter() if fmt == "json" else TextFormatter()


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (a test runner swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure(
    fmt: str | None = None,
    level: str | int | None = None,
    filters: Iterable[logging.Filter] = (),
) -> logging.Handler:
    """Send every log record to stderr in the chosen format; returns the handler.

    Replaces the handler an earlier call installed (so calling it again only changes the format,
    level or filters) and leaves other handlers alone.

    Parameters
    ----------
    fmt : {"json", "text"}, optional
        Default ``MIXFIT_LOG_FORMAT``, else ``json``.
    level : str or int, optional
        The root logger's level; default ``MIXFIT_LOG_LEVEL``, else ``INFO``.
    filters : iterable of logging.Filter
        Put on the handler: they add context (a request id, a fit id) to every record.

    Returns
    -------
    logging.Handler
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "mixfit", False)]:
        root.removeHandler(old)
    handler = StderrHandler()
    handler.mixfit = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter(fmt))
    for item in filters:
        handler.addFilter(item)
    root.addHandler(handler)
    level = level or os.environ.get("MIXFIT_LOG_LEVEL") or DEFAULT_LEVEL
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
