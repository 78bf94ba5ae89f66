"""Fitted models: read, delete, score."""

from __future__ import annotations

import json
from typing import Any

import mixfit
from fitqueue import keys

from .fits import FIT_ID
from .store import clients, gone_or_missing, ttl_of


def _model_fields(model_id: str) -> dict[bytes, bytes]:
    fields = clients().redis.hgetall(keys.model(model_id)) if FIT_ID.match(model_id) else {}
    if not fields:
        gone_or_missing("model", model_id, keys.tombstone("model", model_id))
    return fields


def get_model(model_id: str) -> dict[str, Any]:
    """A model's document (a ``ModelInfo``); 404 if unknown, 410 if expired or deleted."""
    fields = _model_fields(model_id)
    fit_id = fields[b"fit_id"].decode()
    return {
        "id": model_id,
        "fit_id": fit_id,
        "created_at": fields[b"created_at"].decode(),
        "expires_in": ttl_of(clients().redis, keys.model(model_id)),
        "model": json.loads(fields[b"model"]),
        "links": {
            "self": f"/v1/models/{model_id}",
            "score": f"/v1/models/{model_id}/score",
            "fit": f"/v1/fits/{fit_id}",
        },
    }


def delete_model(model_id: str) -> None:
    """Delete a model; 404 if unknown, 410 if already gone."""
    if not (FIT_ID.match(model_id) and clients().redis.delete(keys.model(model_id))):
        gone_or_missing("model", model_id, keys.tombstone("model", model_id))


def score(model_id: str, request: mixfit.ScoreRequest) -> mixfit.ScoreResult:
    """Score points against a stored model, in this process."""
    fields = _model_fields(model_id)
    model = mixfit.Model.model_validate_json(fields[b"model"])
    return mixfit.score(model, request.points, request.alpha, request.responsibilities)
