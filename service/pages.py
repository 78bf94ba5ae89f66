"""Routes outside ``/v1``: health, readiness, the contract and the browsable API page.

``GET /``, the EM simulator page, lives in ``service/page.py``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml
from flask import Blueprint, Response, current_app, jsonify, render_template
from rq import Worker

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
    """Ready when Redis answers and at least one worker listens on the fit queue; else 503."""
    c = clients()
    c.redis.ping()
    workers = len(Worker.all(queue=c.queue))
    if workers == 0:
        return error_response(
            503,
            f"no worker is listening on queue '{c.queue.name}'; start one with python -m worker",
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
