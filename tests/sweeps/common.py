"""What the sweeps share: the fixture data sets, the checkout to import, the output format.

Each sweep writes a JSON list of rows ``{"key": [...], "ll": {K: log-likelihood or None}}``
(None: K refused) or ``{"key": [...], "error": message}``.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def core(root: str) -> ModuleType:
    """``mixfit`` imported from the checkout at ``root`` (before anything imports another)."""
    if "mixfit" in sys.modules:
        raise RuntimeError("mixfit was imported before the sweep chose its checkout")
    sys.path.insert(0, str(Path(root).resolve()))
    return importlib.import_module("mixfit")


def data_sets(pattern: str = "**/*.json", max_rows: int = 3000) -> Iterator[tuple[str, np.ndarray]]:
    """Every fixture's ``x`` of at most ``max_rows`` finite rows (at least 10 values), each
    distinct array once, named by its file; a single column comes as a vector."""
    seen: set[bytes] = set()
    for path in sorted(FIXTURES.glob(pattern)):
        try:
            doc = json.loads(path.read_text())
            x = np.asarray(doc["x"], dtype=float) if isinstance(doc, dict) and "x" in doc else None
        except (ValueError, TypeError, KeyError):
            continue
        if x is None or x.ndim == 0 or x.size < 10 or len(x) > max_rows:
            continue
        if not np.isfinite(x).all():
            continue
        if x.ndim == 2 and x.shape[1] == 1:
            x = x.ravel()
        if x.tobytes() in seen:
            continue
        seen.add(x.tobytes())
        yield str(path.relative_to(FIXTURES)), x


def cell(mixfit: ModuleType, key: list, x: np.ndarray, **options) -> dict:
    """One fit's row: each K's log-likelihood (None where refused), or the error."""
    try:
        result = mixfit.fit(x, **options)
    except mixfit.FitError as exc:
        return {"key": key, "error": str(exc)[:120]}
    except Exception as exc:  # a sweep records a bug and goes on
        return {"key": key, "error": f"{type(exc).__name__}: {str(exc)[:120]}"}
    ll = {str(r.k): (r.loglik if r.status == "ok" else None) for r in result.results}
    return {"key": key, "ll": ll}


def write(rows: list[dict], out: str) -> None:
    Path(out).write_text(json.dumps(rows))
    print(f"{len(rows)} rows -> {out}")
