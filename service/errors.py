"""The one error module: every error leaves the service as JSON ``{code, message, detail}``.

- any ``HTTPException`` (``abort(404, "...")``, 413 from ``MAX_CONTENT_LENGTH``, 405, ...) keeps
  its status, its description becomes the message;
- a pydantic ``ValidationError`` is 422 with the errors (``include_input=False``: a 10 MB array is
  never echoed back; at most ``MAX_LISTED_ERRORS`` listed), or 400 when the body is not JSON;
- ``FitError`` (the core's domain error) is 422 with its message, which says what to change;
- Redis unreachable, loading, read-only or out of memory is 503;
- anything else is a logged 500 without internals.
"""

from __future__ import annotations

from typing import Any, NoReturn

import redis.exceptions
from flask import Flask, current_app, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, default_exceptions

from mixfit import FitError
from mixfit.families import FAMILIES
from mixfit.schema import POINT_TAGS

MAX_LISTED_ERRORS = 50
# Headers of an HTTPException that survive into the JSON answer (405, 401, 429).
KEPT_HEADERS = {"allow", "www-authenticate", "retry-after"}
_TYPE_MISMATCH = {"list_type", "dict_type", "model_type", "float_type", "int_type", "string_type"}


def abort_json(code: int, message: str, detail: Any = None) -> NoReturn:
    """Raise the HTTPException for ``code`` with a message and structured detail."""
    exc = default_exceptions[code](description=message)
    exc.detail = detail  # type: ignore[attr-defined]
    raise exc


def error_response(code: int, message: str, detail: Any = None, headers: Any = None):
    """A JSON error answer."""
    response = jsonify({"code": code, "message": message, "detail": detail})
    response.status_code = code
    for name, value in headers or []:
        response.headers[name] = value
    return response


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


UNION_TAGS = frozenset({"int", "float", "str", "bool", "list", "dict", "none"})


def _where(loc: tuple) -> str:
    """A readable location: drop the family tag and pydantic's union-member tags (``list[...]``,
    ``constrained-int``, ``int``, a model's class name: never a field of ours, which are
    snake_case words)."""
    parts = [
        str(p)
        for i, p in enumerate(loc)
        if not (
            isinstance(p, str)
            and (
                "[" in p
                or "-" in p
                or p in UNION_TAGS
                or p[:1].isupper()
                or (i == 0 and p in FAMILIES)
                or (i > 0 and p in POINT_TAGS and loc[i - 1] in ("data", "points"))
            )
        )
    ]
    return ".".join(parts) or "body"


def validation_details(exc: ValidationError) -> tuple[str, dict[str, Any]]:
    """Message and detail for a validation error, without the input."""
    errors = exc.errors(include_url=False, include_input=False)
    listed = [_jsonable(e) for e in errors[:MAX_LISTED_ERRORS]]
    # Unions report every member's complaint. The telling one is rarely a type mismatch, nor a
    # literal's when another member took the input further (explicit start values whose weights
    # do not sum to 1 also fail ``init``'s method names); among mismatches, the deepest is from
    # the member that matched the input furthest.
    deepest = max(errors, key=lambda e: len(e["loc"]))
    telling = next(
        (e for e in errors if e["type"] not in _TYPE_MISMATCH | {"literal_error"}),
        next((e for e in errors if e["type"] not in _TYPE_MISMATCH), deepest),
    )
    more = len(errors) - 1
    message = f"{_where(telling['loc'])}: {telling['msg']}"
    if more:
        message += f" ({more} more validation error{'s' if more > 1 else ''} in detail)"
    return message, {"errors": listed, "error_count": len(errors)}


def register(app: Flask) -> None:
    """Install the handlers on ``app``."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() in KEPT_HEADERS]
        return error_response(
            exc.code or 500, exc.description or exc.name, getattr(exc, "detail", None), headers
        )

    @app.errorhandler(ValidationError)
    def invalid(exc: ValidationError):
        errors = exc.errors(include_url=False, include_input=False)
        if errors and all(e["type"] == "json_invalid" for e in errors):
            return error_response(400, f"malformed JSON: {errors[0]['msg']}")
        message, detail = validation_details(exc)
        return error_response(422, message, detail)

    @app.errorhandler(FitError)
    def unfittable(exc: FitError):
        return error_response(422, str(exc))

    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(redis.exceptions.TimeoutError)
    def redis_down(exc: Exception):
        current_app.logger.warning("Redis unavailable: %s", exc)
        return error_response(503, "the queue store (Redis) is unavailable; retry later")

    @app.errorhandler(redis.exceptions.ResponseError)
    def redis_refused(exc: redis.exceptions.ResponseError):
        text = str(exc)
        full = isinstance(exc, redis.exceptions.OutOfMemoryError) or text.startswith("OOM")
        if full or isinstance(exc, redis.exceptions.ReadOnlyError):
            current_app.logger.warning("Redis refused a write: %s", text)
            return error_response(503, "the queue store (Redis) is full; retry later")
        current_app.logger.exception("Redis error")
        return error_response(500, "internal error")

    @app.errorhandler(Exception)
    def crashed(exc: Exception):
        current_app.logger.exception("unhandled error")
        return error_response(500, "internal error")
