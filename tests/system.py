"""System tools in tests: skip on a user's machine without them, fail under MIXFIT_STRICT=1.

``.ci/run`` installs the tools with apt-get and sets ``MIXFIT_STRICT=1``, so in CI a missing
tool is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import shutil

import pytest

STRICT = os.environ.get("MIXFIT_STRICT") == "1"


def skip_or_fail(message: str) -> None:
    """Skip on a user's machine; fail under ``MIXFIT_STRICT=1`` (CI)."""
    if STRICT:
        pytest.fail(f"MIXFIT_STRICT=1: {message}")
    pytest.skip(message)


def require_tool(name: str, why: str) -> str:
    """Path of the executable ``name``; skips (or fails when strict) if it is not installed."""
    path = shutil.which(name)
    if path is None:
        skip_or_fail(f"{name} is not installed ({why}); .ci/run installs it with apt-get")
    return path
