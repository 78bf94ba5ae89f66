"""The batched E-step: one matrix product per chunk of points for every start and component.

Because each family is an exponential family, every component log-density (log weight included)
is a row of ``E @ [1, T(z)]``: ``E`` of shape (K*S, 1+m) holds ``[log w - A, eta]`` per start and
component. Rows are ordered component-major so that the reductions over K (max, sum) run over
the outer axis, where numpy vectorizes them. Points are processed in cache-sized chunks by a
small thread pool (numpy releases the GIL in BLAS and ufuncs); per-chunk partial sums are added
in chunk order, so results are bit-identical whatever the thread timing.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_POOL: ThreadPoolExecutor | None = None
_CELLS_PER_CHUNK = 1 << 16  # K*S*c values per chunk: a few hundred KB, cache-resident
_MIN_PARALLEL = 50_000


def threads() -> int:
    """E-step threads: ``MIXFIT_THREADS`` or the number of CPUs available to this process."""
    value = os.environ.get("MIXFIT_THREADS")
    if value:
        return max(1, int(value))
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=threads(), thread_name_prefix="mixfit-estep")
    return _POOL


class Batch:
    """Sufficient statistics of one data set, laid out for the batched E-step.

    Parameters
    ----------
    T : ndarray of shape (n, m)
        Sufficient statistics of every point.
    w : ndarray of shape (n,) or None
        Point weights.
    """

    def __init__(self, T: np.ndarray, w: np.ndarray | None) -> None:
        n, m = T.shape
        self.n, self.m = n, m
        self.w = w
        # (1+m, n): rows are contiguous so a chunk of points is a cheap column slice.
        self.TT = np.empty((1 + m, n))
        self.TT[0] = 1.0
        self.TT[1:] = T.T
        self.TW = None if w is None else np.ascontiguousarray((self.TT * w).T)

    def _chunks(self, rows: int) -> list[tuple[int, int]]:
        size = max(1024, _CELLS_PER_CHUNK // max(rows, 1))
        return [(a, min(a + size, self.n)) for a in range(0, self.n, size)]

    def _run(self, chunks: list, work) -> None:
        n_threads = threads() if self.n >= _MIN_PARALLEL else 1
        if n_threads == 1 or len(chunks) < 2:
            work(range(len(chunks)))
            return
        parts = [range(t, len(chunks), n_threads) for t in range(n_threads)]
        for future in [_pool().submit(work, part) for part in parts]:
            future.result()

    def estep(self, eta: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-likelihood and summed statistics for every start.

        Parameters
        ----------
        eta : ndarray of shape (S, K, m)
            Natural parameters.
        bias : ndarray of shape (S, K)
            ``log weight - log partition``.

        Returns
        -------
        loglik : ndarray of shape (S,)
            Weighted sum over points of ``log sum_k exp(bias + eta . T)`` (no base measure).
        stats : ndarray of shape (S, K, 1 + m)
            Responsibility-weighted sums of ``[1, T]``.
        """
        S, K, m = eta.shape
        E = np.concatenate([bias[..., None], eta], axis=-1).transpose(1, 0, 2).reshape(K * S, 1 + m)
        chunks = self._chunks(K * S)
        ll_parts = np.empty((len(chunks), S))
        stat_parts = np.empty((len(chunks), K * S, 1 + m))
        size = chunks[0][1] - chunks[0][0]

        def work(indices) -> None:
            buf = np.empty((K * S, size))
            for c in indices:
                a, b = chunks[c]
                L = buf[:, : b - a]
                np.matmul(E, self.TT[:, a:b], out=L)
                L3 = L.reshape(K, S, b - a)
                top = L3.max(axis=0)
                L3 -= top
                np.exp(L3, out=L3)
                total = L3.sum(axis=0)
                L3 *= 1.0 / total  # responsibilities
                np.log(total, out=total)
                total += top  # per-point log-likelihood, (S, c)
                if self.w is None:
                    ll_parts[c] = total.sum(axis=1)
                    np.matmul(L, self.TT[:, a:b].T, out=stat_parts[c])
                else:
                    np.matmul(total, self.w[a:b], out=ll_parts[c])
                    np.matmul(L, self.TW[a:b], out=stat_parts[c])

        self._run(chunks, work)
        stats = stat_parts.sum(axis=0).reshape(K, S, 1 + m).transpose(1, 0, 2)
        return ll_parts.sum(axis=0), np.ascontiguousarray(stats)

    def point_loglik(self, eta: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-point log-likelihood and responsibilities of one start.

        Parameters
        ----------
        eta : ndarray of shape (K, m)
        bias : ndarray of shape (K,)

        Returns
        -------
        loglik : ndarray of shape (n,)
        resp : ndarray of shape (n, K)
        """
        L = (np.concatenate([bias[:, None], eta], axis=-1) @ self.TT).T
        top = L.max(axis=1, keepdims=True)
        P = np.exp(L - top)
        total = P.sum(axis=1, keepdims=True)
        return (np.log(total) + top)[:, 0], P / total
