"""Binary float64 encoding of datasets, shared by the service (writes) and the workers (reads).

A dataset is stored as a Redis hash of raw little-endian float64 bytes rather than JSON: it is
exact, about 2.5x smaller than decimal text, and decodes with one ``numpy.frombuffer``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

DTYPE = np.dtype("<f8")


def encode(X: np.ndarray, w: np.ndarray | None = None) -> dict[str, bytes | int]:
    """Encode data for a Redis hash.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    w : ndarray of shape (n,), optional

    Returns
    -------
    dict
        Fields ``n``, ``d``, ``x`` (n*d float64, row-major) and, when weighted, ``w``.
    """
    if X.ndim != 2:
        raise ValueError(f"X must have shape (n, d); got {X.shape}")
    fields: dict[str, bytes | int] = {
        "n": int(X.shape[0]),
        "d": int(X.shape[1]),
        "x": np.ascontiguousarray(X, dtype=DTYPE).tobytes(),
    }
    if w is not None:
        if w.shape != (X.shape[0],):
            raise ValueError(f"w must have shape ({X.shape[0]},); got {w.shape}")
        fields["w"] = np.ascontiguousarray(w, dtype=DTYPE).tobytes()
    return fields


def decode(fields: Mapping[bytes | str, bytes]) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode what ``encode`` wrote (as read back by ``HGETALL``; keys bytes or str).

    Returns
    -------
    X : ndarray of shape (n, d)
    w : ndarray of shape (n,) or None
    """
    get = {k.decode() if isinstance(k, bytes) else k: v for k, v in fields.items()}
    n, d = int(get["n"]), int(get["d"])
    X = np.frombuffer(get["x"], dtype=DTYPE).reshape(n, d).astype(np.float64)
    w = None
    if get.get("w") is not None:
        w = np.frombuffer(get["w"], dtype=DTYPE).astype(np.float64)
        if w.shape != (n,):
            raise ValueError(f"stored weights have {w.shape[0]} entries for {n} points")
    return X, w
