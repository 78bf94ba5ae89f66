"""The worker's allocator setting (``worker.memory``)."""

from __future__ import annotations

import platform

from worker import memory


def test_a_worker_on_glibc_keeps_freed_memory_and_elsewhere_leaves_malloc_alone() -> None:
    """``keep_freed_memory`` sets glibc's thresholds (``mallopt`` answers 1) and says False,
    changing nothing, where the C library has no ``mallopt``."""
    assert memory.keep_freed_memory() is (platform.libc_ver()[0] == "glibc")
