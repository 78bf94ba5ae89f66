"""What the service and the workers share, and nothing else: the Redis key layout (``keys``),
the binary dataset encoding (``codec``), reading a stored dataset (``datasets``) and what the
RQ jobs carry: arguments, return values, progress and errors, as models validated where they are
written, and the one reading of a failed job (``jobs``); the ``MIXFIT_*`` settings the API, the
worker and the sweeper share, read and checked in one place (``settings``).

Arrows: ``service -> fitqueue -> mixfit`` and ``worker -> fitqueue -> mixfit``; the core never
imports this package, and the service and the worker never import each other (the service
enqueues jobs by dotted name).
"""
