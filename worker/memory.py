"""How a worker's C allocator keeps memory: large arrays from the heap, freed memory kept.

glibc serves every allocation above its mmap threshold (128 KiB at start, raised as such blocks
are freed) with a fresh ``mmap`` and gives it back with ``munmap`` when freed. EM allocates and
frees the same large arrays every iteration, so each one came back from the kernel as fresh
zeroed pages, a page fault per 4 KiB touched: an LRT part (a sixth of issue 12's B = 999
waiting-times test, 500 replicates) took 40,000 minor faults and 0.55 s in a work horse, which
starts from the worker's untuned state every time. Served from the heap and kept when freed
(``keep_freed_memory``) the same part took 2,800 faults and 0.45–0.49 s (2026-12-05). A work
horse exits after its job, so what it keeps goes with it; the worker process itself keeps at
most ``TRIM_THRESHOLD`` of freed memory beyond what it uses.

Only the worker does this (``python -m worker``): it is a process-wide setting, which a library
(``mixfit``) must not make for the program that imports it.
"""

from __future__ import annotations

import ctypes

# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # bytes: allocations below this come from the heap
TRIM_THRESHOLD = 128 << 20  # bytes of free memory at the heap's top kept instead of returned


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (``MMAP_THRESHOLD``, ``TRIM_THRESHOLD``) for this
    process and the work horses it forks; False where the C library has no ``mallopt`` (musl,
    macOS), which are left as they are."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
