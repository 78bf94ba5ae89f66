"""mixfit's REST service: a Flask app factory, HTTP only.

``create_app(test_config=None)`` follows Flask's tutorial: defaults (``DEFAULTS``), then the
settings the service shares with the worker and the sweeper (``fitqueue.settings.Settings``,
checked there: a bad ``MIXFIT_*`` value stops the app naming its variable), then every
``MIXFIT_*`` environment variable (``MIXFIT_REDIS_URL`` -> ``REDIS_URL``; values are parsed as
JSON when they can be, so ``MIXFIT_RESULT_TTL=60`` is an int), then ``test_config``. The Redis
client and the RQ queue live in ``app.extensions["mixfit"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from fitqueue.settings import Settings


def shared_config(settings: Settings) -> dict[str, Any]:
    """The app's config keys that come from the settings shared with the worker and the sweeper.

    Parameters
    ----------
    settings : fitqueue.settings.Settings

    Returns
    -------
    dict
        ``REDIS_URL`` (where the queue and all state live), ``QUEUE_NAME`` (the RQ queue fits go
        to; workers listen on the same name), ``LOG_FORMAT`` and ``LOG_LEVEL`` (the logs':
        ``service/logs.py``).
    """
    return {
        "REDIS_URL": settings.redis_url,
        "QUEUE_NAME": settings.queue_name,
        "LOG_FORMAT": settings.log_format,
        "LOG_LEVEL": settings.log_level,
    }


DEFAULTS: dict[str, Any] = {
    # REDIS_URL, QUEUE_NAME, LOG_FORMAT, LOG_LEVEL: the shared settings' defaults.
    **shared_config(Settings()),
    # Largest request body in bytes (413 above it).
    "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
    # Seconds a dataset is kept after its last upload or fit (0: until deleted).
    "DATASET_TTL": 7 * 86400,
    # Seconds a finished fit's result is kept, and a failed fit's error.
    "RESULT_TTL": 86400,
    "FAILURE_TTL": 7 * 86400,
    # Seconds a model is kept (0: until deleted).
    "MODEL_TTL": 0,
    # Seconds a resource's tombstone outlives it: 410 instead of 404 meanwhile.
    "TOMBSTONE_TTL": 30 * 86400,
    # Seconds an Idempotency-Key is remembered.
    "IDEMPOTENCY_TTL": 86400,
    # Fan-out: a fit with at least this much work (n * sum(K) * starts) is split into RQ jobs,
    # one per K, or per chunk of starts so that there are at least FANOUT_PARTS of them, plus a
    # job that merges them; smaller fits run as one job (fewer round trips).
    "FANOUT_MIN_WORK": 2_000_000,
    "FANOUT_PARTS": 4,
    # Times a fit (or part) whose worker died is run again; the seed is fixed at submission,
    # so a rerun gives the same result bit for bit.
    "FIT_RETRIES": 2,
    # Job timeout: MIN + SECONDS_PER_UNIT * n (d+1)^2 sum(K) starts max_iter, at most MAX.
    "JOB_TIMEOUT_MIN": 60,
    "JOB_TIMEOUT_MAX": 3600,
    "JOB_SECONDS_PER_UNIT": 1e-6,
    # Seconds a Redis command may take before the request fails with 503.
    "REDIS_TIMEOUT": 10,
    "OPENAPI_PATH": str(Path(__file__).resolve().parent.parent / "openapi.yaml"),
    # Access (service/access.py): bearer keys, comma-separated (none: no authentication); a
    # per-caller rate limit ("600/minute"; None: 1200/minute with keys, off without); at most
    # this many fits queued or running per caller (None: 8 with keys, off without; 0: off).
    "API_KEYS": "",
    "RATE_LIMIT": None,
    "MAX_RUNNING_FITS": None,
}


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, but a NaN or Infinity is an error instead of invalid JSON on the wire."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app.

    Parameters
    ----------
    test_config : dict, optional
        Overrides applied last (tests point ``REDIS_URL`` at their own server).

    Returns
    -------
    Flask

    Raises
    ------
    fitqueue.settings.SettingsError
        When a ``MIXFIT_*`` variable of the shared settings holds a bad value.
    """
    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(DEFAULTS)
    app.config.from_mapping(shared_config(Settings.from_env()))
    app.config.from_prefixed_env("MIXFIT")
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.json = StrictJSONProvider(app)

    timeout = float(app.config["REDIS_TIMEOUT"])
    redis = Redis.from_url(
        app.config["REDIS_URL"], socket_timeout=timeout, socket_connect_timeout=timeout
    )
    queue = Queue(app.config["QUEUE_NAME"], connection=redis, serializer=JSONSerializer)

    from . import access, api, errors, logs, metrics, page, pages
    from .store import Clients

    logs.init(app)  # first: its hooks time, log and label every request, refused ones too
    app.extensions["mixfit"] = Clients(redis=redis, queue=queue)
    errors.register(app)
    access.init(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(page.bp)
    app.register_blueprint(metrics.bp)
    return app
