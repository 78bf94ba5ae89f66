"""Fitted models: read, delete, score."""

from __future__ import annotations

import json
from typing import Any

from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

import mixfit
from fitqueue import keys
from fitqueue.jobs import FitOutput

from .errors import abort_json
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


def fitted(model_id: str) -> tuple[mixfit.Model, dict[str, Any], str]:
    """A model, the options of the fit that made it and its dataset's id: what an LRT or a
    bootstrap of it needs. 404 if unknown, 410 if expired or deleted; 409 when the fit's options
    are no longer known (a model stored before models kept them, whose fit has expired)."""
    fields = _model_fields(model_id)
    model = mixfit.Model.model_validate_json(fields[b"model"])
    fit_id = fields[b"fit_id"].decode()
    if b"options" in fields and b"dataset_id" in fields:
        return model, json.loads(fields[b"options"]), fields[b"dataset_id"].decode()
    redis = clients().redis
    dataset_id = redis.hget(keys.fit(fit_id), "dataset_id")
    try:
        raw = Job.fetch(fit_id, connection=redis, serializer=JSONSerializer).return_value()
    except NoSuchJobError:
        raw = None
    if dataset_id is None or not raw:
        abort_json(
            409,
            f"the fit {fit_id} that made model {model_id} has expired and its options are no "
            "longer kept; fit the data again and use the new model",
        )
    return model, FitOutput.model_validate(raw).result["options"], dataset_id.decode()


def delete_model(model_id: str) -> None:
    """Delete a model; 404 if unknown, 410 if already gone."""
    if not (FIT_ID.match(model_id) and clients().redis.delete(keys.model(model_id))):
        gone_or_missing("model", model_id, keys.tombstone("model", model_id))


def score(model_id: str, request: mixfit.ScoreRequest) -> mixfit.ScoreResult:
    """Score points against a stored model, in this process."""
    fields = _model_fields(model_id)
    model = mixfit.Model.model_validate_json(fields[b"model"])
    return mixfit.score(model, request.points, request.alpha, request.responsibilities)
