"""The ``/v1`` routes. Thin: parse with a model, make one call to a resource module (``datasets``,
``fits``, ``model_store``), answer.

Every body is parsed by ``Model.model_validate_json(..., strict=True)`` on the raw bytes, so
malformed JSON is a 400, NaN/Infinity tokens and unknown fields are 422, and nothing is validated by
hand here. Strict: a JSON ``true`` is not the number 1 nor the component count 1 (the contract says
number or integer; lax pydantic would accept it), while an integer still counts as a number.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from mixfit import FitRequest, ScoreRequest

from . import access, datasets, fits, inference, ingest, model_store
from .errors import abort_json
from .families import families
from .models import BootstrapRequest, FitQuery, LRTRequest

bp = Blueprint("api", __name__, url_prefix="/v1")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def _require_json() -> None:
    if request.mimetype != ingest.JSON:
        abort_json(
            415,
            f"send the body as {ingest.JSON} (Content-Type), not "
            f"{request.mimetype or 'an unspecified type'}",
        )


BOM = b"\xef\xbb\xbf"


def _body() -> bytes:
    """The whole request body; 413 when it is longer than ``MAX_CONTENT_LENGTH``, 415 when it
    comes with a Content-Encoding (gzip, ...): bodies are read uncompressed only.

    A body with a Content-Length over the limit is refused by Werkzeug before it is read. A
    chunked body (no length) is read up to the limit and then Werkzeug's stream just ends, so
    without this check a long CSV would be cut at the limit and stored as a shorter dataset.
    """
    coding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if coding not in ("", "identity"):
        # Read as they came, compressed bytes would fail as broken JSON or CSV (or, worse,
        # parse); RFC 9110 section 8.4.1 asks for a 415 naming what is accepted.
        abort_json(
            415,
            f"Content-Encoding {coding!r} is not accepted: send the body uncompressed "
            "(Content-Encoding identity or none)",
        )
    try:
        data = request.get_data()
    except HTTPException:
        raise
    except Exception as exc:  # the server's parser: gunicorn's InvalidChunkSize, NoMoreData, ...
        abort_json(400, f"the body could not be read: {type(exc).__name__}")
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and limit is not None and len(data) >= limit:
        if request.environ["wsgi.input"].read(1):  # the client had more to send
            abort_json(413, f"the body is larger than {limit} bytes (MAX_CONTENT_LENGTH)")
    if request.mimetype == "application/json" and data.startswith(BOM):
        return data[len(BOM) :]  # RFC 8259 section 8.1: a parser may ignore it
    return data


def _json(document: object, status: int = 200, location: str | None = None) -> Response:
    response = jsonify(document)
    response.status_code = status
    if location:
        response.headers["Location"] = location
    return response


@bp.post("/datasets")
def upload_dataset() -> Response:
    """Store a dataset (JSON, CSV or .npy); 201 when new, 200 when the same data exist."""
    X, w = ingest.parse_dataset(request.mimetype, _body())
    doc, created = datasets.put_dataset(X, w)
    return _json(doc.model_dump(mode="json"), 201 if created else 200, doc.links.self)


@bp.get("/datasets/<dataset_id>")
def get_dataset(dataset_id: str) -> Response:
    """A dataset's summary; 404 unknown, 410 expired or deleted."""
    return _json(datasets.get_dataset(dataset_id).model_dump(mode="json"))


@bp.delete("/datasets/<dataset_id>")
def delete_dataset(dataset_id: str) -> tuple[str, int]:
    """Delete a dataset; 404 unknown, 410 already gone."""
    datasets.delete_dataset(dataset_id)
    return "", 204


@bp.post("/fits")
def create_fit() -> Response:
    """Queue a fit: 202 with its document and a Location. An ``Idempotency-Key`` header returns
    the fit first created with it (same body required, else 409)."""
    _require_json()
    body = _body()
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        abort_json(400, "Idempotency-Key must be 1 to 255 visible ASCII characters")
    digest = fits.body_digest(body)
    fit_id = None
    if key is not None:  # a new request: an abandoned claim of the key is released
        fit_id = fits.idempotent_fit(key, digest, release_abandoned=True)
    if fit_id is not None:
        doc, replayed = fits.fit_status(fit_id), True
    else:
        fit_request = FitRequest.model_validate_json(body, strict=True).root
        access.check_fit_cap()
        doc, replayed = fits.submit_fit(fit_request, key, digest)
        access.record_fit(doc["id"])
    response = _json(doc, 202, doc["links"]["self"])
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/fits/<fit_id>")
def get_fit(fit_id: str) -> Response:
    """A fit's state, progress, result or error; ``?wait=S`` holds the answer until it ends or S
    seconds pass. 404 unknown, 410 expired."""
    query = FitQuery.model_validate(request.args.to_dict())
    return _json(fits.fit_status(fit_id, query.wait))


@bp.delete("/fits/<fit_id>")
def cancel_fit(fit_id: str) -> Response:
    """Cancel a queued or running fit; 409 when it has already ended."""
    return _json(fits.cancel_fit(fit_id))


@bp.get("/models/<model_id>")
def get_model(model_id: str) -> Response:
    """A fitted model with everything scoring needs; 404 unknown, 410 expired or deleted."""
    return _json(model_store.get_model(model_id))


@bp.delete("/models/<model_id>")
def delete_model(model_id: str) -> tuple[str, int]:
    """Delete a model; 404 unknown, 410 already gone."""
    model_store.delete_model(model_id)
    return "", 204


@bp.post("/models/<model_id>/score")
def score(model_id: str) -> Response:
    """Score points against a model, synchronously in this process."""
    _require_json()
    score_request = ScoreRequest.model_validate_json(_body(), strict=True)
    return _json(model_store.score(model_id, score_request).model_dump(mode="json"))


def _optional_body() -> bytes:
    """A body that may be empty (every field has a default): ``{}`` then, else JSON only."""
    body = _body()
    if not body.strip():
        return b"{}"
    _require_json()
    return body


@bp.post("/models/<model_id>/lrt")
def create_lrt(model_id: str) -> Response:
    """Queue a bootstrap LRT of the model's K (the fit's options, the fit's data): 202 with its
    document and a Location. 404 unknown model, 410 expired or deleted, 409 data gone."""
    lrt_request = LRTRequest.model_validate_json(_optional_body(), strict=True)
    access.check_fit_cap()
    doc = inference.submit_lrt(model_id, lrt_request)
    access.record_fit(doc["id"])
    return _json(doc, 202, doc["links"]["self"])


@bp.get("/lrts/<lrt_id>")
def get_lrt(lrt_id: str) -> Response:
    """An LRT's state, progress, result or error; ``?wait=S`` as for fits. 404 unknown, 410
    expired."""
    query = FitQuery.model_validate(request.args.to_dict())
    return _json(inference.status("lrt", lrt_id, query.wait))


@bp.delete("/lrts/<lrt_id>")
def cancel_lrt(lrt_id: str) -> Response:
    """Cancel a queued or running LRT (every part); 409 when it has already ended."""
    return _json(inference.cancel("lrt", lrt_id))


@bp.post("/models/<model_id>/bootstrap")
def create_bootstrap(model_id: str) -> Response:
    """Queue a bootstrap of the model's parameters: 202 with its document and a Location. 404
    unknown model, 410 expired or deleted, 409 data gone, 422 observed_information on a model
    other than a 1-D Gaussian."""
    boot_request = BootstrapRequest.model_validate_json(_optional_body(), strict=True)
    access.check_fit_cap()
    doc = inference.submit_bootstrap(model_id, boot_request)
    access.record_fit(doc["id"])
    return _json(doc, 202, doc["links"]["self"])


@bp.get("/bootstraps/<bootstrap_id>")
def get_bootstrap(bootstrap_id: str) -> Response:
    """A bootstrap's state, progress, result or error; ``?wait=S`` as for fits."""
    query = FitQuery.model_validate(request.args.to_dict())
    return _json(inference.status("bootstrap", bootstrap_id, query.wait))


@bp.delete("/bootstraps/<bootstrap_id>")
def cancel_bootstrap(bootstrap_id: str) -> Response:
    """Cancel a queued or running bootstrap (every part); 409 when it has already ended."""
    return _json(inference.cancel("bootstrap", bootstrap_id))


@bp.get("/families")
def list_families() -> Response:
    """The registered families and their options."""
    return _json(families().model_dump(mode="json"))
