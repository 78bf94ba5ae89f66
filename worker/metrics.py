"""What the workers add to ``/metrics``: the duration of every finished fit, kept in Redis.

Every worker (any number, on any host) adds to one Redis hash (``fitqueue.keys.fit_seconds()``),
so the service's ``/metrics`` reads one histogram that is right however many workers and API
processes there are; nothing is counted in a process's memory. Fields, per family:
``{family}|{le}`` the number of fits with ``bound(previous) < seconds <= le`` (not cumulative;
the reader cumulates and takes the bounds from the fields, so it needs no copy of
``FIT_SECONDS_BUCKETS``), ``{family}|sum`` and ``{family}|count``.

A process's first fit of a family adds 0 to every other bucket too, which creates them all;
later fits add to their own bucket, the sum and the count only (3 commands in the transaction
instead of 18, for every small fit). Should the hash be deleted while a worker runs, that
worker's later fits create only the buckets they land in: the histogram stays right, with
fewer bounds, until a worker starts.
"""

from __future__ import annotations

from redis import Redis

from fitqueue import keys

# Seconds: a small fit takes ~0.05 s, a fanned-out million-point fit minutes; JOB_TIMEOUT_MAX
# (3600 s) bounds them all.
FIT_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
_CREATED: set[str] = set()  # families whose every bucket this process has created


def bucket_of(seconds: float) -> str:
    """The ``le`` label of the bucket that holds ``seconds`` (``+Inf`` above the last)."""
    for bound in FIT_SECONDS_BUCKETS:
        if seconds <= bound:
            return repr(float(bound))
    return "+Inf"


def record_fit_seconds(connection: Redis, family: str, seconds: float) -> None:
    """Add one finished fit of ``family`` that took ``seconds`` to the shared histogram.

    Parameters
    ----------
    connection : redis.Redis
    family : str
        The fit's family (a label: ``gaussian``, ``beta``).
    seconds : float
        Wall-clock seconds from the start of the fit's first job to its result.
    """
    key = keys.fit_seconds()
    hit = bucket_of(seconds)
    pipe = connection.pipeline(transaction=True)
    if family in _CREATED:
        pipe.hincrby(key, f"{family}|{hit}", 1)
    else:
        for le in [repr(float(bound)) for bound in FIT_SECONDS_BUCKETS] + ["+Inf"]:
            # Adding 0 to the other buckets creates them: every family has every bucket.
            pipe.hincrby(key, f"{family}|{le}", int(le == hit))
    pipe.hincrbyfloat(key, f"{family}|sum", seconds)
    pipe.hincrby(key, f"{family}|count", 1)
    pipe.execute()
    _CREATED.add(family)
