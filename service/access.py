"""Who may call the API and how much: API keys, per-key rate limits, a per-key cap on fits.

- **Keys** (``API_KEYS``, from ``MIXFIT_API_KEYS``: comma-separated, at least 16 visible ASCII
  characters each). When set, every request needs ``Authorization: Bearer <key>`` except the
  public routes in ``PUBLIC``: ``/healthz`` and ``/readyz`` (probes), and ``/``, ``/docs``,
  ``/openapi.yaml`` (a page and a contract, no data; the page sends the key it is given with its
  API calls, which are protected like any other). A missing or unknown key is 401 with
  ``WWW-Authenticate: Bearer``. The presented key's SHA-256 is compared with every configured
  key's with ``hmac.compare_digest`` (equal lengths, no early exit), so the answer's timing says
  nothing about the keys.
- **Who is counted**: a caller is its key's digest (``subject``), or, without keys, the client's
  address; neither is stored in clear.
- **Rate limit** (``RATE_LIMIT``, e.g. ``"600/minute"`` or ``"20/second;600/minute"``): one
  sliding-window budget per caller over all protected routes, counted by flask-limiter in the
  service's own Redis (its connection pool, keys under ``fitqueue.keys.rate_limits()``). Default
  (unset or empty): ``DEFAULT_RATE_LIMIT`` per key when keys are set, none without keys;
  ``"off"`` disables it.
  Over it: 429 with ``Retry-After`` (seconds until the window lets one more through).
- **Running fits** (``MAX_RUNNING_FITS``): at most this many of a caller's fits queued or running
  at once; one more is 429 with ``Retry-After``. Default ``DEFAULT_MAX_RUNNING_FITS`` per key
  with keys, none without; ``0`` disables it. The caller's fit ids live in a Redis set that is
  pruned lazily: when the set is at the cap, the fits' RQ jobs are read (``Job.fetch_many`` with
  the JSON serializer: nothing from Redis is ever unpickled) and the ended or expired ones
  dropped. Two submissions racing at the cap may both pass (the cap is checked, then recorded).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import TooManyRequests, Unauthorized

from fitqueue import keys

from .errors import error_response

EXTENSION = "mixfit.access"
PUBLIC = frozenset({"pages.healthz", "pages.readyz", "pages.docs", "pages.openapi", "page.index"})
DEFAULT_RATE_LIMIT = "1200/minute"
DEFAULT_MAX_RUNNING_FITS = 8
MIN_KEY_LENGTH = 16
CAP_RETRY_AFTER = 5  # seconds a caller at its running-fits cap is told to wait
ENDED = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
OFF = {"off", "none", "0"}


@dataclass(frozen=True)
class Access:
    """The access settings of one app, parsed once (``app.extensions[EXTENSION]``)."""

    key_digests: tuple[bytes, ...]
    rate_limit: str | None
    max_running_fits: int


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def parse_keys(value: Any) -> tuple[str, ...]:
    """``API_KEYS`` as configured (a comma-separated string, or a list) -> the keys.

    Raises
    ------
    ValueError
        When a key is shorter than ``MIN_KEY_LENGTH`` or holds anything but visible ASCII.
    """
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    found = tuple(str(item).strip() for item in items if str(item).strip())
    for key in found:
        if len(key) < MIN_KEY_LENGTH or not all(0x21 <= ord(c) <= 0x7E for c in key):
            raise ValueError(
                f"MIXFIT_API_KEYS: every key must be at least {MIN_KEY_LENGTH} visible ASCII "
                "characters (no spaces or commas); generate one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
    return found


def settings(config: Any) -> Access:
    """Parse ``API_KEYS``, ``RATE_LIMIT`` and ``MAX_RUNNING_FITS`` (defaults: module docstring).

    Raises
    ------
    ValueError
        For a malformed key or rate limit string.
    """
    found = parse_keys(config.get("API_KEYS"))
    rate = config.get("RATE_LIMIT")
    if rate is None or rate == "":  # unset (an empty variable, as docker-compose passes it)
        rate = DEFAULT_RATE_LIMIT if found else None
    elif rate is False or str(rate).strip().lower() in OFF:
        rate = None
    else:
        rate = str(rate).strip()
        try:
            parse_many(rate)
        except ValueError as exc:
            raise ValueError(
                f"MIXFIT_RATE_LIMIT {rate!r} is not a rate limit like '600/minute' "
                "or '10/second;600/minute'"
            ) from exc
    cap = config.get("MAX_RUNNING_FITS")
    cap = (DEFAULT_MAX_RUNNING_FITS if found else 0) if cap in (None, "") else int(cap)
    return Access(tuple(_digest(k) for k in found), rate, max(cap, 0))


def _access() -> Access:
    return current_app.extensions[EXTENSION]


def is_public() -> bool:
    """Whether this request's route is open to everyone (``PUBLIC``)."""
    return request.endpoint in PUBLIC


def _unauthorized(message: str, error: str | None) -> Unauthorized:
    challenge = WWWAuthenticate("bearer", {"realm": "mixfit"})
    if error:
        challenge["error"] = error
    return Unauthorized(description=message, www_authenticate=challenge)


def authenticate() -> None:
    """``before_request``: check the bearer key (when keys are set) and note who is calling.

    Raises
    ------
    Unauthorized
        401 when keys are set and the request has none, or one that is not configured.
    """
    access = _access()
    if not access.key_digests:
        g.mixfit_subject = hashlib.sha256(f"addr:{request.remote_addr}".encode()).hexdigest()[:32]
        return
    if is_public():
        return
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized(
            "this API needs a key: send the header 'Authorization: Bearer <key>'", None
        )
    presented = _digest(token)
    matched = False
    for digest in access.key_digests:  # every key, whatever matched before
        matched |= hmac.compare_digest(presented, digest)
    if not matched:
        raise _unauthorized("the API key is not valid", "invalid_token")
    g.mixfit_subject = hashlib.sha256(b"key:" + presented).hexdigest()[:32]


def subject() -> str:
    """Who is calling: a digest of the API key (or of the client's address without keys)."""
    return g.get("mixfit_subject", "")


def check_fit_cap() -> None:
    """Before a fit is queued: 429 when the caller already has ``MAX_RUNNING_FITS`` fits queued
    or running. Prunes the caller's ended (or expired) fits from its set on the way.

    Raises
    ------
    TooManyRequests
        With ``Retry-After``, when the caller is at its cap.
    """
    cap = _access().max_running_fits
    if not cap:
        return
    redis = current_app.extensions["mixfit"].redis
    key = keys.running_fits(subject())
    ids = sorted(member.decode() for member in redis.smembers(key))
    if len(ids) < cap:
        return
    jobs = Job.fetch_many(ids, connection=redis, serializer=JSONSerializer)
    ended = [
        fit_id
        for fit_id, job in zip(ids, jobs, strict=True)
        if job is None or job.get_status(refresh=False) in ENDED
    ]
    if ended:
        redis.srem(key, *ended)
    if len(ids) - len(ended) >= cap:
        raise TooManyRequests(
            description=f"this API key already has {len(ids) - len(ended)} fits queued or "
            f"running (at most {cap} at once); wait for one to end, or cancel one",
            retry_after=CAP_RETRY_AFTER,
        )


def record_fit(fit_id: str) -> None:
    """After a fit is queued: count it against the caller's cap until it ends."""
    if not _access().max_running_fits:
        return
    redis = current_app.extensions["mixfit"].redis
    key = keys.running_fits(subject())
    keep = max(86400, 2 * int(current_app.config["JOB_TIMEOUT_MAX"]))
    pipe = redis.pipeline()
    pipe.sadd(key, fit_id)
    pipe.expire(key, keep)
    pipe.execute()


def _rate_limited(exc: RateLimitExceeded) -> Response:
    limiter = next(iter(current_app.extensions["limiter"]))
    current = limiter.current_limit
    wait = 1
    if current is not None:
        # When the window lets one more request through (never more than the window's length).
        reset = current.window[0]
        wait = min(max(1, math.ceil(reset - time.time())), current.limit.get_expiry())
    return error_response(
        429,
        f"rate limit exceeded ({exc.description} per API key); retry in {wait} s",
        None,
        [("Retry-After", str(wait))],
    )


def init(app: Flask) -> None:
    """Install key checks, the rate limiter and the cap's settings on ``app``.

    Call after ``app.extensions["mixfit"]`` holds the Redis client: the limiter shares its
    connection pool.
    """
    access = settings(app.config)
    app.extensions[EXTENSION] = access
    app.before_request(authenticate)  # before the limiter's hook, which keys by subject()
    if access.rate_limit is None:
        return
    limiter = Limiter(
        key_func=subject,
        application_limits=[access.rate_limit],
        strategy="sliding-window-counter",
        storage_uri="redis://",
        storage_options={
            "connection_pool": app.extensions["mixfit"].redis.connection_pool,
            "key_prefix": keys.rate_limits(),
        },
        headers_enabled=False,
    )
    limiter.request_filter(is_public)
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _rate_limited)
