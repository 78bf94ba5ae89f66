"""gunicorn settings for the API (every value can be overridden by a GUNICORN_* variable below).

Threaded workers, because ``GET /v1/fits/{id}?wait=S`` holds a request for up to 30 s; the
timeout is longer than that wait. Scoring is CPU work in the API process, so processes, not only
threads, give it cores.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "35"))
keepalive = 5
accesslog = "-"
errorlog = "-"
