"""The settings the API, the worker and the sweeper share, read from ``MIXFIT_*`` in one place.

``Settings.from_env()`` reads each variable named in ``ENVIRONMENT`` (an unset or empty variable
keeps the default) and checks it, so a bad value stops a process at its start with the variable
named (``MIXFIT_INLINE_MAX_WORK='abc': Input should be a valid integer ...``) instead of failing
later in whichever process happens to read it. The service lays these under its own settings
(``service.DEFAULTS``; Flask's ``from_prefixed_env`` still reads every ``MIXFIT_*`` after them);
``python -m worker`` and ``python -m worker.sweeper`` take their argument defaults from them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fitqueue import keys
from mixfit import logs

# Field -> the environment variable ``from_env`` reads it from. ``worker_stale_seconds`` has
# none: ``/readyz`` (service/pages.py) reads ``keys.WORKER_STALE_SECONDS`` directly, and the
# sweeper must not count a worker dead that ``/readyz`` counts alive.
ENVIRONMENT: dict[str, str] = {
    "redis_url": "MIXFIT_REDIS_URL",
    "queue_name": "MIXFIT_QUEUE_NAME",
    "log_format": "MIXFIT_LOG_FORMAT",
    "log_level": "MIXFIT_LOG_LEVEL",
    "worker_log_level": "MIXFIT_WORKER_LOG_LEVEL",
    "worker_inline": "MIXFIT_WORKER_INLINE",
    "inline_max_work": "MIXFIT_INLINE_MAX_WORK",
}


class SettingsError(ValueError):
    """A ``MIXFIT_*`` variable holds a value its setting cannot take; the message names it."""


class Settings(BaseModel):
    """What more than one process needs, or what the worker and the sweeper read from the
    environment. Frozen: read once at a process's start, then passed around.

    Attributes
    ----------
    redis_url : str
        ``MIXFIT_REDIS_URL``: the Redis holding the queue and all state (``redis://``,
        ``rediss://`` or ``unix://``). Default ``redis://127.0.0.1:6379/0``.
    queue_name : str
        ``MIXFIT_QUEUE_NAME``: the RQ queue the service enqueues fits on and workers listen to.
        Default ``mixfit``.
    log_format : {"json", "text"}
        ``MIXFIT_LOG_FORMAT``: one JSON object per log line, or plain text. Default ``json``.
    log_level : str
        ``MIXFIT_LOG_LEVEL``: the root logger's level (``DEBUG``, ``INFO``, ...; upper-cased).
        Default ``INFO``.
    worker_log_level : str or None
        ``MIXFIT_WORKER_LOG_LEVEL``: the worker's level when it should differ from the API's;
        None: ``log_level``. See ``worker_level``.
    worker_inline : bool
        ``MIXFIT_WORKER_INLINE``: run every fit in the worker process, no fork per fit
        (``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``). Default False.
    inline_max_work : int
        ``MIXFIT_INLINE_MAX_WORK``: a forking worker runs jobs whose work
        (``fitqueue.jobs.job_work``: n * sum(K) * starts * ((d + 1) / 2)^2) is at most this in
        its own process, larger ones in a work horse; 0 forks every fit. Default 50000: 1-D,
        K = 1..5, 10 starts on up to 333 points (0.4-0.7 s of CPU by default; a fork costs
        ~15 ms); 2-D, 148 points.
    worker_stale_seconds : float
        Not from the environment: ``keys.WORKER_STALE_SECONDS`` (10), the age of its last
        heartbeat at which ``/readyz`` counts a worker dead; the sweeper's ``--stale-after``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    redis_url: str = Field("redis://127.0.0.1:6379/0", min_length=1)
    queue_name: str = Field("mixfit", min_length=1)
    log_format: str = logs.DEFAULT_FORMAT
    log_level: str = logs.DEFAULT_LEVEL
    worker_log_level: str | None = None
    worker_inline: bool = False
    inline_max_work: int = Field(50_000, ge=0)
    worker_stale_seconds: float = Field(keys.WORKER_STALE_SECONDS, gt=0, allow_inf_nan=False)

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in logs.FORMATS:
            raise ValueError(f"must be one of {', '.join(logs.FORMATS)}")
        return value

    @field_validator("log_level", "worker_log_level")
    @classmethod
    def _known_level(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if value not in logging.getLevelNamesMapping() and not value.isdigit():
            names = ", ".join(sorted(logging.getLevelNamesMapping()))
            raise ValueError(f"must be a level name ({names}) or a number")
        return value

    @property
    def worker_level(self) -> str:
        """The worker's log level: ``worker_log_level`` when set, else ``log_level``."""
        return self.worker_log_level or self.log_level

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Read the settings from ``MIXFIT_*`` variables (see ``ENVIRONMENT``).

        Parameters
        ----------
        environ : mapping of str to str, optional
            Default ``os.environ`` (read at the call, so a changed environment is seen).

        Returns
        -------
        Settings

        Raises
        ------
        SettingsError
            When a variable's value does not fit its setting; the message names the variable
            and says what it must be.
        """
        given = {field: environ[name] for field, name in ENVIRONMENT.items() if environ.get(name)}
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            raise SettingsError(_explain(exc, given)) from None


def _explain(exc: ValidationError, given: Mapping[str, Any]) -> str:
    """One line per bad variable: ``NAME='value': what it must be``."""
    lines = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        name = ENVIRONMENT.get(field, field)
        cause = error.get("ctx", {}).get("error")
        message = str(cause) if error["type"] == "value_error" and cause else error["msg"]
        lines.append(f"{name}={given.get(field)!r}: {message}")
    return "; ".join(lines)
