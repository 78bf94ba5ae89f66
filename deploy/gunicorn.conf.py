"""gunicorn settings for the API (every value can be overridden by a GUNICORN_* variable below).

Threaded workers, because ``GET /v1/fits/{id}?wait=S`` holds a request for up to 30 s; the
timeout is longer than that wait. Scoring is CPU work in the API process, so processes, not only
threads, give it cores.
"""

import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "35"))
keepalive = 5
# No access log: the app writes one JSON line per request itself (mixfit.request, with the
# request id), and gunicorn's own lines go out in the same format.
accesslog = None
errorlog = "-"
logger_class = "service.logs.GunicornLogger"

# /metrics adds up the request histogram of every gunicorn process (prometheus_client's
# multiprocess mode): the processes write their samples to this directory, which must be empty
# when the server starts. Set before any process imports prometheus_client.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="mixfit-metrics-")


def on_starting(server):
    """Empty the metrics directory: samples of an earlier run's processes must not count."""
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


def child_exit(server, worker):
    """Drop a dead process's live gauges (its counters and histograms keep counting)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
