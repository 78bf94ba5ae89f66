"""What the service and the workers share, and nothing else: the Redis key layout (``keys``),
the binary dataset encoding (``codec``) and reading a stored dataset (``datasets``).

Arrows: ``service -> fitqueue -> mixfit`` and ``worker -> fitqueue -> mixfit``; the core never
imports this package, and the service and the worker never import each other (the service
enqueues jobs by dotted name).
"""
