"""mixfit's queue adapter: RQ job functions (``worker.jobs``) and the worker entry point
(``python -m worker``). Imports mixfit, never the service."""
