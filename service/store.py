"""The service's Redis connections and what every resource module (``datasets``, ``fits``,
``model_store``) uses: configuration, times, TTLs, and 404 vs 410.

Lookups ``abort_json(404, ...)`` for an id that never existed and ``410`` for one that existed and
expired (or was deleted): a tombstone key outlives every resource by ``TOMBSTONE_TTL`` seconds
(the fit's record in ``mixfit:fit:{id}`` is its tombstone). Keys come from ``fitqueue.keys``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from redis import Redis
from rq import Queue

from .errors import abort_json


@dataclass
class Clients:
    """What ``app.extensions["mixfit"]`` holds."""

    redis: Redis
    queue: Queue


def clients() -> Clients:
    return current_app.extensions["mixfit"]


def cfg(name: str) -> Any:
    return current_app.config[name]


def now() -> str:
    return datetime.now(UTC).isoformat()


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def ttl_of(redis: Redis, key: str) -> int | None:
    ttl = redis.ttl(key)
    return None if ttl is None or ttl < 0 else int(ttl)


def expire_args(ttl: int) -> dict[str, int]:
    return {"ex": ttl} if ttl > 0 else {}


def gone_or_missing(kind: str, resource_id: str, tombstone: str) -> None:
    if clients().redis.exists(tombstone):
        abort_json(410, f"{kind} {resource_id} has expired or was deleted")
    abort_json(404, f"no {kind} with id {resource_id}")
