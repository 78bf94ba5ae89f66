"""``GET /metrics``: the service's Prometheus metrics in the text exposition format.

- ``mixfit_http_request_duration_seconds`` (histogram; ``route``, ``method``, ``status``): time
  to build each answer. ``route`` is the URL rule (``/v1/fits/<fit_id>``), never the raw path,
  and ``unmatched`` for a path no rule matches, so the series stay few. It is counted in the
  process that answered; under gunicorn with several processes prometheus_client's multiprocess
  mode adds them up: when ``PROMETHEUS_MULTIPROC_DIR`` names a directory (``make run`` and
  ``deploy/gunicorn.conf.py`` set it and empty it at start), every process writes its samples
  there and any process's ``/metrics`` reports the sum over all of them. Without it (one
  process, ``flask run``, tests) the process's own counts are reported.
- Read from Redis at every scrape, so they are the same whichever process answers:
  ``mixfit_queue_depth`` (gauge; ``queue``) jobs waiting for a worker; ``mixfit_fit_jobs``
  (gauge; ``queue``, ``status``) the fit jobs in each RQ state: ``queued``, ``deferred`` (a
  fanned-out fit's merge waiting for its parts), ``scheduled`` (a retry waiting), ``started``,
  and the ``finished``, ``failed`` and ``canceled`` ones still kept (``RESULT_TTL``,
  ``FAILURE_TTL``); a fanned-out fit is one job per part plus its merge. ``mixfit_workers``
  (gauge; ``queue``) workers registered on the queue. One pipeline of LLEN/ZCARD/ZCOUNT calls:
  no registry is walked.
- ``mixfit_fit_duration_seconds`` (histogram; ``family``): wall-clock seconds of each finished
  fit from the start of its first job to its result, added up in a Redis hash by the workers
  (``worker.metrics``), so it counts every fit of every worker once.

Like every route but the probes, the page and the contract, ``/metrics`` needs the API key when
keys are set (``service/access.py``): give Prometheus one (``authorization: {type: Bearer,
credentials_file: ...}`` in its scrape config).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.utils import floatToGoString
from redis import Redis
from rq import Queue
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from fitqueue import keys

bp = Blueprint("metrics", __name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds; the last bounds cover ?wait= long polls (at most 30 s).
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# No ``*_created`` series: multiprocess mode has none, so one process would differ from many.
disable_created_metrics()
# This process's own registry (not prometheus_client's global one, which also carries process
# and GC collectors that have no multiprocess form).
_PROCESS = CollectorRegistry()
REQUEST_SECONDS = Histogram(
    "mixfit_http_request_duration_seconds",
    "Seconds to build an answer, by URL rule, method and status.",
    ["route", "method", "status"],
    buckets=REQUEST_BUCKETS,
    registry=_PROCESS,
)


def observe_request(route: str | None, method: str, status: int, seconds: float) -> None:
    """Count one answer in ``mixfit_http_request_duration_seconds``.

    Parameters
    ----------
    route : str or None
        The matched URL rule; None when no rule matched (labelled ``unmatched``).
    method : str
        The HTTP method (an unusual one is labelled ``other``).
    status : int
    seconds : float
    """
    REQUEST_SECONDS.labels(
        route=route or "unmatched",
        method=method if method in METHODS else "other",
        status=str(status),
    ).observe(seconds)


class _Forward:
    """Hands a registry's metrics on to another registry (this process's own counts)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        return self.registry.collect()


class RedisCollector:
    """The metrics read from Redis at scrape time (queue, jobs, workers, fit durations)."""

    STATES = ("deferred", "scheduled", "started", "finished", "failed", "canceled")
    # Scored by the time they expire: count the ones not yet expired (cleanup may lag). The
    # others are scored by when they entered (RQ never expires canceled jobs' entries).
    KEPT = frozenset({"finished", "failed"})

    def __init__(self, redis: Redis, queue: Queue) -> None:
        self.redis = redis
        self.queue = queue

    def _registry_key(self, state: str) -> str:
        return getattr(self.queue, f"{state}_job_registry").key

    def collect(self) -> Iterator[Metric]:
        name, now = self.queue.name, time.time()
        pipe = self.redis.pipeline(transaction=False)
        pipe.llen(self.queue.key)
        for state in self.STATES:
            key = self._registry_key(state)
            if state in self.KEPT:
                pipe.zcount(key, now, "+inf")
            else:
                pipe.zcard(key)
        pipe.scard(WORKERS_BY_QUEUE_KEY % name)
        pipe.hgetall(keys.fit_seconds())
        depth, *counts, workers, durations = pipe.execute()

        gauge = GaugeMetricFamily(
            "mixfit_queue_depth", "Jobs waiting in the queue for a worker.", labels=["queue"]
        )
        gauge.add_metric([name], depth)
        yield gauge
        jobs = GaugeMetricFamily(
            "mixfit_fit_jobs",
            "Fit jobs (a fit, a fanned-out fit's part or merge) by RQ status; finished, failed "
            "and canceled count the jobs still kept.",
            labels=["queue", "status"],
        )
        jobs.add_metric([name, "queued"], depth)
        for state, count in zip(self.STATES, counts, strict=True):
            jobs.add_metric([name, state], count)
        yield jobs
        gauge = GaugeMetricFamily(
            "mixfit_workers", "RQ workers registered on the queue.", labels=["queue"]
        )
        gauge.add_metric([name], workers)
        yield gauge
        yield fit_duration_family(durations)


def fit_duration_family(fields: dict[bytes, bytes]) -> HistogramMetricFamily:
    """``mixfit_fit_duration_seconds`` from the workers' Redis hash (``worker.metrics``).

    Parameters
    ----------
    fields : dict of bytes to bytes
        ``{family}|{le}`` bucket counts (not cumulative), ``{family}|sum``, ``{family}|count``.

    Returns
    -------
    HistogramMetricFamily
    """
    per_family: dict[str, dict[str, Any]] = {}
    for raw_field, raw_value in fields.items():
        family, _, what = raw_field.decode().rpartition("|")
        entry = per_family.setdefault(family, {"buckets": {}, "sum": 0.0, "count": 0})
        if what == "sum":
            entry["sum"] = float(raw_value)
        elif what == "count":
            entry["count"] = int(raw_value)
        else:
            entry["buckets"][float(what)] = int(raw_value)
    histogram = HistogramMetricFamily(
        "mixfit_fit_duration_seconds",
        "Seconds from the start of a finished fit's first job to its result, by family.",
        labels=["family"],
    )
    for family in sorted(per_family):
        entry, total, buckets = per_family[family], 0, []
        for bound in sorted(entry["buckets"]):
            total += entry["buckets"][bound]
            if bound != float("inf"):
                buckets.append((floatToGoString(bound), total))
        buckets.append(("+Inf", entry["count"]))
        histogram.add_metric([family], buckets, sum_value=entry["sum"])
    return histogram


def registry() -> CollectorRegistry:
    """A registry for one scrape: the request histogram (summed over gunicorn's processes in
    multiprocess mode) and the metrics read from Redis."""
    scrape = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(scrape)
    else:
        scrape.register(_Forward(_PROCESS))
    c = current_app.extensions["mixfit"]  # store.Clients (not imported: store imports logs)
    scrape.register(RedisCollector(c.redis, c.queue))
    return scrape


@bp.get("/metrics")
def metrics() -> Response:
    """The metrics in Prometheus's text format; 503 when Redis is unreachable."""
    return Response(generate_latest(registry()), headers={"Content-Type": CONTENT_TYPE_LATEST})
