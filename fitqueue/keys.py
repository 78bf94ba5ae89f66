"""Every Redis key mixfit uses, built in one place (like rq's ``Job.key_for``).

The service and the workers both import this module; neither spells a key inline, so a typo
cannot split one resource over two keys. Ids are inserted as given: callers validate them first
(the service's routes only accept lowercase hex ids).

================================  ==========================================================
key                                holds
================================  ==========================================================
``mixfit:dataset:{id}``            hash: float64 data ``x``, optional ``w``, ``n``, ``d``, summary
``mixfit:fit:{id}``                hash: the fit's record (dataset, model id); outlives the RQ job
                                   so an expired fit answers 410, not 404
``mixfit:model:{id}``              hash: a fitted model's JSON, the fit it came from, the fit's
                                   options and dataset (what an LRT or a bootstrap of it needs)
``mixfit:lrt:{id}``                hash: an LRT's record (its model); outlives the RQ jobs so an
                                   expired test answers 410, not 404
``mixfit:bootstrap:{id}``          hash: a bootstrap's record, the same
``mixfit:idem:{digest}``           string: the fit id for an ``Idempotency-Key`` (its SHA-256)
``mixfit:tombstone:{kind}:{id}``   marker that a dataset or model existed (410 once it is gone)
``mixfit:running:{subject}``       set: fit ids a caller has queued or running (the per-key cap)
``mixfit:ratelimit:...``           the rate limiter's counters, one per caller and window
``mixfit:metrics:fit_seconds``     hash: durations of finished fits, a histogram the workers
                                   add to and ``/metrics`` reads (``worker.metrics``)
================================  ==========================================================

RQ's own keys (``rq:job:{id}``, ``rq:results:{id}``, ...) are built by rq; the fit id is the RQ
job id.
"""

from __future__ import annotations

PREFIX = "mixfit"
# A worker whose last heartbeat (RQ's ``last_heartbeat``; workers beat every 2 s, busy or idle)
# is older than this is dead: ``/readyz`` does not count it and the sweeper hands its fit back.
WORKER_STALE_SECONDS = 10.0


def dataset(dataset_id: str) -> str:
    """Key of an uploaded dataset."""
    return f"{PREFIX}:dataset:{dataset_id}"


def fit(fit_id: str) -> str:
    """Key of a fit's record (and tombstone)."""
    return f"{PREFIX}:fit:{fit_id}"


def model(model_id: str) -> str:
    """Key of a fitted model."""
    return f"{PREFIX}:model:{model_id}"


def inference(kind: str, job_id: str) -> str:
    """Key of an LRT's or a bootstrap's record (and tombstone); ``kind`` is "lrt" or
    "bootstrap"."""
    return f"{PREFIX}:{kind}:{job_id}"


def idempotency(digest: str) -> str:
    """Key mapping an ``Idempotency-Key`` digest to a fit id."""
    return f"{PREFIX}:idem:{digest}"


def tombstone(kind: str, resource_id: str) -> str:
    """Key marking that a ``kind`` ("dataset" or "model") once existed under ``resource_id``."""
    return f"{PREFIX}:tombstone:{kind}:{resource_id}"


def running_fits(subject: str) -> str:
    """Key of the set of fit ids a caller (an API key's digest) has queued or running."""
    return f"{PREFIX}:running:{subject}"


def rate_limits() -> str:
    """Prefix of the rate limiter's counters (flask-limiter builds the rest of each key)."""
    return f"{PREFIX}:ratelimit"


def fit_seconds() -> str:
    """Key of the finished fits' duration histogram (buckets, sum and count per family)."""
    return f"{PREFIX}:metrics:fit_seconds"
