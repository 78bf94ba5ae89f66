"""The workers' logs: mixfit's format (``mixfit.logs``), and every line of a job carries its fit.

While a worker runs a job, every log record, RQ's own lines about the job as well as the fit's,
gets ``request_id`` (from the job's meta: the id of the API request that submitted the fit; see
``service/logs.py``), ``fit_id``, ``job_id``, ``k`` (the Ks this job fits) and ``worker``. The
context is set by ``JobLogContext.execute_job`` in the worker process before it forks the work
horse, so the horse inherits it; ``JobContextFilter`` falls back on RQ's ``get_current_job()``
for a job run some other way.
"""

from __future__ import annotations

import logging
from typing import Any

from rq import get_current_job
from rq.logutils import colorizer

from mixfit import logs

_CONTEXT: dict[str, Any] = {}  # the job being run by this process (or its worker), if any


def job_context(job: Any, worker: str | None = None) -> dict[str, Any]:
    """The log fields of an RQ job of a fit: request_id, fit_id, job_id, k, worker.

    Parameters
    ----------
    job : rq.job.Job
    worker : str, optional
        The worker's name (default: the one recorded on the job).
    """
    kwargs = job.kwargs or {}
    if "k" in kwargs:  # a fanned-out part: one K
        ks = [kwargs["k"]]
    else:
        ks = sorted({k for part in job.meta.get("parts", []) for k in part.get("k", [])})
    context = {
        "request_id": job.meta.get("request_id"),
        # An LRT's or a bootstrap's jobs log its id here (the id the client holds).
        "fit_id": kwargs.get("fit_id")
        or kwargs.get("lrt_id")
        or kwargs.get("bootstrap_id")
        or job.id,
        "job_id": job.id,
        "k": ks or None,
        "worker": worker or job.worker_name,
    }
    return {key: value for key, value in context.items() if value is not None}


class JobContextFilter(logging.Filter):
    """Adds the running job's fields (``job_context``) to every record that lacks them."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _CONTEXT
        if not context:
            job = get_current_job()
            context = job_context(job) if job is not None else {}
        for key, value in context.items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


class JobLogContext:
    """Worker mixin: the job's log fields are set for as long as the worker runs it."""

    def execute_job(self, job: Any, queue: Any) -> Any:
        _CONTEXT.clear()
        _CONTEXT.update(job_context(job, getattr(self, "name", None)))
        try:
            return super().execute_job(job, queue)  # type: ignore[misc]
        finally:
            _CONTEXT.clear()


def configure(fmt: str | None = None, level: str | int | None = None) -> logging.Handler:
    """Send the worker's log records to stderr in mixfit's format, with the job's fields.

    Parameters
    ----------
    fmt : {"json", "text"}, optional
        Default ``MIXFIT_LOG_FORMAT``, else ``json``.
    level : str or int, optional
        Default ``MIXFIT_LOG_LEVEL``, else ``INFO``.

    Returns
    -------
    logging.Handler
    """
    colorizer.notty = True  # RQ colours queue names on a terminal: no escape codes in the lines
    return logs.configure(fmt, level, [JobContextFilter()])
