"""Routes outside ``/v1``: health, readiness, the contract and the browsable API page.

``GET /``, the EM simulator page, lives in ``service/page.py``.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path

import yaml
from flask import Blueprint, Response, current_app, jsonify, render_template
from rq import Worker

from fitqueue.keys import WORKER_STALE_SECONDS

from .errors import error_response
from .store import clients

bp = Blueprint("pages", __name__)


def openapi_path() -> Path:
    return Path(current_app.config["OPENAPI_PATH"])


@functools.cache
def _spec(path: Path, mtime: float) -> dict:
    return yaml.safe_load(path.read_text())


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive (touches nothing else)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Ready when Redis answers and at least one worker listening on the fit queue is alive now
    (a heartbeat at most ``WORKER_STALE_SECONDS`` old; a killed worker's registration outlives
    it by a minute); else 503."""
    c = clients()
    c.redis.ping()
    now = datetime.now(UTC)
    workers = sum(
        1
        for w in Worker.all(queue=c.queue)
        if w.last_heartbeat is not None
        and (now - w.last_heartbeat.replace(tzinfo=UTC)).total_seconds() <= WORKER_STALE_SECONDS
    )
    if workers == 0:
        return error_response(
            503,
            f"no live worker is listening on queue '{c.queue.name}' (none has sent a heartbeat "
            f"in the last {WORKER_STALE_SECONDS:.0f} s); start one with python -m worker",
            {"redis": "ok", "workers": 0},
        )
    return jsonify({"status": "ready", "redis": "ok", "workers": workers})


@bp.get("/openapi.yaml")
def openapi() -> Response:
    """The API contract."""
    return Response(openapi_path().read_bytes(), mimetype="application/yaml")


@bp.get("/docs")
def docs() -> str:
    """A browsable page rendering openapi.yaml; its script and style are inline (no CDN)."""
    path = openapi_path()
    return render_template("docs.html", spec=_spec(path, path.stat().st_mtime))
