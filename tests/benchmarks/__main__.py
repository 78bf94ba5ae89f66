"""``make bench``: every benchmark, each against its peer in the same run."""

import importlib

for name in ("core", "before_after", "service_roundtrip", "fanout", "lrt_fanout"):
    try:
        module = importlib.import_module(f"tests.benchmarks.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"tests.benchmarks.{name}":
            raise
        continue
    module.main()
