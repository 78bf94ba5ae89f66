"""Which failures RQ runs again: only those the job itself did not cause.

RQ's ``Retry`` (``MIXFIT_FIT_RETRIES``) reruns a job after any failure. A fit's own failure is
deterministic: the seed is fixed at submission, so a ``FitError``, a timeout or a
``MemoryError`` comes back on every run, and each rerun cost the whole fit's worker time again
before the client heard (a 20-point K = 20 fit failed after 16 s, on its third run). Reruns are
for what is no fault of the job: its worker or work horse dying (RQ's own paths, which do not
come through here, and the sweeper's) and Redis going away while the job read or wrote it.
"""

from __future__ import annotations

from typing import Any

from .outage import REDIS_DOWN


class RetryOnlyWhatMayPass:
    """Worker mixin: an exception the job raised spends no retry unless Redis was unreachable.

    RQ (3.x) calls ``handle_exception`` before ``handle_job_failure`` decides on a retry, in the
    process that ran the job (the work horse, or the worker for a fit it runs itself).
    """

    def handle_exception(self, job: Any, *exc_info: Any) -> None:
        if not isinstance(exc_info[1], REDIS_DOWN):
            job.retries_left = None
        super().handle_exception(job, *exc_info)  # type: ignore[misc]
