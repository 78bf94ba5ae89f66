"""The batched E-step: one matrix product per chunk of points for every start and component.

Because each family is an exponential family, every component log-density (log weight included)
is a row of ``E @ [1, T(z)]``: ``E`` of shape (K*S, 1+m) holds ``[log w - A, eta]`` per start and
component. Rows are ordered component-major so that the reductions over K (max, sum) run over
the outer axis, where numpy vectorizes them. Points are processed in cache-sized chunks by a
small thread pool (numpy releases the GIL in BLAS and ufuncs); per-chunk partial sums are added
in chunk order, so results are bit-identical whatever the thread timing.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext

import numpy as np

try:  # optional: keeps BLAS from spawning threads under the E-step's own threads
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - mixfit works without it, only slower in d dimensions
    ThreadpoolController = None

_POOL: ThreadPoolExecutor | None = None
_CELLS_PER_CHUNK = 1 << 17  # K*S*c values per chunk: a few hundred KB, cache-resident
_STARTS_PER_CHUNK = 10  # chunk sizes are planned for this many starts
_MIN_PARALLEL = 50_000
# A start's products are its own (``Batch._chunk``) where [1, T] has at most this many
# entries: every one-dimensional family (3 or 2). There a stack of per-start products costs
# what one 2-D product does (0.97x at K = 3, 4,096 points, 10 starts); with more statistics
# BLAS repacks T for every start (1.3x at 6, 1.6x at 10, 2.4x at 21 entries), so
# multivariate fits keep one product over every start's rows, and a start there may still
# end in other last digits beside other starts (a fanned-out part). Chosen by the family
# and d, never by the number of starts.
OWN_PRODUCTS_MAX = 4
# NONFINITE: a degenerate start's parameters may be infinite (the inverse of a covariance
# singular in floating point) or NaN (``families.base.factor``), or so large that eta . T
# overflows (a bootstrap replicate's Gamma start drawn from extreme shapes: found by fuzzing
# an LRT); its log-likelihood comes out NaN or infinite and the engine drops the start. Recent
# numpy (2.4.6 here) flags inf - inf inside ``matmul`` ("invalid value"), which the numpy the
# suite ran on before did not: the E-step's products ignore that flag and overflow.


def threads() -> int:
    """E-step threads: ``MIXFIT_THREADS`` or the number of CPUs available to this process."""
    value = os.environ.get("MIXFIT_THREADS")
    if value:
        return max(1, int(value))
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


_CONTROLLER = None


def single_threaded_blas(n: int | None = None) -> AbstractContextManager:
    """A context in which BLAS runs on one thread (threadpoolctl), or a no-op without it.

    Always, whatever the size. Large fits parallelize over chunks of points themselves, and BLAS
    threads inside those threads would oversubscribe the cores (measured: d=10, K=5, n=1e5 fits
    1.5x slower). Small fits multiply small matrices, where OpenBLAS's threads cost more than
    they bring, and far more when another process holds the other core: a (600 x 21) @ (21 x
    200) product pair took 16 ms with 2 BLAS threads on a busy 2-core machine, 0.5 ms with one
    (a d=5, K=6, n=200 fit: 1.7 s against 0.5 s). The switch costs ~10 us; finding the BLAS
    libraries costs ~40 ms once per process (the worker pays it before it forks)."""
    global _CONTROLLER
    if ThreadpoolController is None:
        return nullcontext()
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def _forget_pool() -> None:
    """After a fork the parent's pool threads do not exist in the child: start afresh."""
    global _POOL
    _POOL = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=threads(), thread_name_prefix="mixfit-estep")
    return _POOL


def _responsibilities(L3: np.ndarray, scratch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn log-densities L3 (K, S, c) into responsibilities in place.

    Returns ``top`` and ``total`` of shape (S, c) with per-point log-likelihood
    ``top + log(total)``; ``total`` lies in [1, K]."""
    top = np.max(L3, axis=0, out=scratch[0])
    L3 -= top
    np.exp(L3, out=L3)
    total = np.sum(L3, axis=0, out=scratch[1])
    L3 *= np.divide(1.0, total, out=scratch[2])
    return top, total


def _responsibilities_two(L3: np.ndarray, scratch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The K = 2 case with one exp per point. With d = L1 - L0, e = exp(-|d|) and
    p = [d > 0] in {0, 1}: r1 = max(e, p) / (1 + e) and r0 = max(e, 1 - p) / (1 + e), exactly
    the larger component's 1 / (1 + e) and the smaller one's e / (1 + e), without branches."""
    d = np.subtract(L3[1], L3[0], out=scratch[0])
    e = np.abs(d, out=scratch[1])
    np.negative(e, out=e)
    np.exp(e, out=e)
    p = np.greater(d, 0.0, out=scratch[2])
    top = np.maximum(L3[0], L3[1], out=scratch[0])
    np.maximum(e, p, out=L3[1])
    np.subtract(1.0, p, out=p)
    np.maximum(e, p, out=L3[0])
    total = np.add(e, 1.0, out=scratch[2])
    inv = np.divide(1.0, total, out=scratch[1])
    L3 *= inv
    return top, total


def _sum_log(total: np.ndarray, k: int) -> np.ndarray:
    """Row sums of log(total) for total in [1, k], shape (S, c) -> (S,).

    Multiplies blocks of values before one log per block (a product of B values in [1, k] stays
    below k**B < 1e300, with relative rounding about B * 1e-16), cutting the logs B-fold."""
    S, c = total.shape
    block = min(512, int(690.0 / math.log(max(k, 2))))
    if c <= block:  # one block (a small data set): the same sum, in two calls instead of nine
        return np.log(np.multiply.reduce(total, axis=1))
    whole = c - c % block
    out = np.log(np.prod(total[:, :whole].reshape(S, whole // block, block), axis=-1)).sum(axis=1)
    if whole < c:
        out += np.log(np.prod(total[:, whole:], axis=1))
    return out


_BLOCK = 8  # values per product in ``_sum_log_unit``
_TINY = np.finfo(float).tiny
_LOG2E = 1.0 / math.log(2.0)  # exp(g) = exp2(g * _LOG2E): numpy's exp2 is 15 % faster


def _sum_log_unit(r: np.ndarray) -> np.ndarray:
    """Row sums of log(r) for r in [0, 1], shape (S, c) -> (S,), with one log per ``_BLOCK``
    values (``_sum_log``'s counterpart for values that can underflow): each row's values are
    multiplied in blocks (column j with columns j + w, j + 2w, ..., w = c // _BLOCK, a
    reduction over the outer axis of an (S, _BLOCK, w) view, which numpy vectorizes), then the
    blocks' products are logged. A product below the smallest normal double (values averaging
    under 1e-38: points far inside the other component) is taken again as a sum of its values'
    logs, so no block loses precision or underflows to 0; an r of 0 still gives -inf. Relative
    rounding about _BLOCK * 1e-16 per block. At n = 1e6 and 10 starts: 0.45 ms per start
    against 0.96 for numpy's log and a sum (2026-12-04)."""
    S, c = r.shape
    width = c // _BLOCK
    whole = width * _BLOCK
    blocks = r[:, :whole].reshape(S, _BLOCK, width)
    products = np.multiply.reduce(blocks, axis=1)
    # the common case in four numpy calls; a NaN takes the other branch, and stays NaN there
    if products.min(initial=1.0) >= _TINY:
        out = np.log(products, out=products).sum(axis=1)
    else:
        low = products < _TINY
        rows, cols = np.nonzero(low)
        products[low] = 1.0
        out = np.log(products).sum(axis=1)
        out += np.bincount(rows, np.log(blocks[rows, :, cols]).sum(axis=1), minlength=S)
    if whole < c:
        out += np.log(r[:, whole:]).sum(axis=1)
    return out


def _logistic(
    D: np.ndarray,
    E1: np.ndarray,
    T: np.ndarray,
    sums: np.ndarray,
    g: np.ndarray,
    ll: np.ndarray,
    stats0: np.ndarray,
    stats1: np.ndarray,
) -> None:
    """The K = 2 E-step of a chunk in four passes over its (S, c) values besides three matrix
    products, for rows D = (E0 - E1) / log 2 and E1 (S, 1+m) of the two components (E0, E1
    their rows of ``E``; D computed once per E-step, not per chunk), statistics T (1+m, c) and
    their sums (1+m,): with g = (L0 - L1) / log 2 per point, r1 = 1 / (1 + 2**g) =
    1 / (1 + exp(L0 - L1)) (0 where 2**g overflows, as it should; numpy's exp2 is about 15 %
    faster than its exp, 2026-12-05), component 1's sums are r1 @ T', component 0's the
    chunk's sums less them,
    and the log-likelihood (S,) is sum(L1) - sum(log r1), sum(L1) from the summed statistics
    and sum(log r1) from products of r1 (``_sum_log_unit``: one log per 8 values).
    Where some r1 is 0 that start's log-likelihood comes out infinite (the caller swaps the
    components or takes the exact kernel). About 1.4-1.6x numpy's exp of the chunk's 2 S c
    values on a machine whose exp is fast (1.6 ms for 2e6 values, 2026-12-04; 1.7-1.9x with
    one log per value), against 3.3x for ``_responsibilities_two``; on an Intel Xeon whose exp
    takes 1.2 ms, whose division costs what exp does, 1.71-2.04x (median 1.89) with exp2 and
    the longer chunks of ``Batch._chunks``, against 1.70-2.24x (median 2.06) before them
    (the whole E-step, 35 alternating runs each, 2026-12-05).

    Component 0's sums are a difference, so their error is about 1e-16 of the chunk's sums
    rather than of their own: a component with a point's worth of weight in a data set of 1e6
    gets about 1e-10 relative error, and one with less is collapsed by the M-step anyway.
    Small data sets (one chunk) keep the exact kernel, whose bits the normalmixEM
    reproduction checks."""
    # 2-D products over every start's rows, unlike ``Batch._chunk``: per-start ones made
    # this kernel 2.6 -> 3.3 ms per start-iteration at n = 1e6 (issue 10's E-step / exp line
    # 1.65 -> 2.05, 2026-12-05), so a start here may round by its place in the batch
    np.matmul(D, T, out=g)
    np.exp2(g, out=g)  # the caller ignores overflow and division by zero (``_chunk_two``)
    g += 1.0
    np.divide(1.0, g, out=g)
    np.matmul(g, T.T, out=stats1)
    np.subtract(sums, stats1, out=stats0)
    ll[...] = E1 @ sums - _sum_log_unit(g)


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
        self._sums: dict[tuple[int, int], np.ndarray] = {}
        self._plans: dict[tuple[int, bool], list[tuple[int, int]]] = {}  # ``_chunks``'s
        self._reach: np.ndarray | None = None

    def reach(self) -> np.ndarray:
        """The largest magnitude of each statistic ``[1, T]`` over the points, (1+m,)."""
        if self._reach is None:
            self._reach = np.abs(self.TT).max(axis=1)
        return self._reach

    def _chunks(self, k: int, logistic: bool = False) -> list[tuple[int, int]]:
        """The chunks (first, end) of the E-step at K components, or of its K = 2 kernel of
        large data (``_logistic``) with ``logistic``. That kernel holds one (S, c) buffer where
        the exact one holds five, so its chunks are twice as long: at n = 1e6, 10 starts, one
        thread, 8,192 to 16,384 points per chunk took 2.11-2.16 ms per start-iteration against
        2.25 at 6,144 and 2.60 at 2,048 (best of four, 2026-12-05). The chunking depends on K
        only, never on how many starts share the batch, so a start's arithmetic is the same
        whichever starts run beside it."""
        size = max(1024, _CELLS_PER_CHUNK // (k * _STARTS_PER_CHUNK)) // 512 * 512
        size *= 2 if logistic else 1
        return [(a, min(a + size, self.n)) for a in range(0, self.n, size)]

    def _plan(self, k: int, logistic: bool = False) -> list[tuple[int, int]]:
        """``_chunks(k, logistic)``, computed once per data set."""
        chunks = self._plans.get((k, logistic))
        if chunks is None:
            chunks = self._plans[(k, logistic)] = self._chunks(k, logistic)
        return chunks

    def _run(self, chunks: list, work) -> None:
        n_threads = threads() if self.n >= _MIN_PARALLEL else 1
        if n_threads == 1 or len(chunks) < 2:
            work(range(len(chunks)))
            return
        parts = [range(t, len(chunks), n_threads) for t in range(n_threads)]
        for future in [_pool().submit(work, part) for part in parts]:
            future.result()

    def estep(
        self, eta: np.ndarray, bias: np.ndarray, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Log-likelihood and summed statistics for every start.

        Parameters
        ----------
        eta : ndarray of shape (S, K, m)
            Natural parameters.
        bias : ndarray of shape (S, K)
            ``log weight - log partition``.
        rows : ndarray of shape (S,), optional
            The starts' indices in their batch (unused: every start fits the same data).

        Returns
        -------
        loglik : ndarray of shape (S,)
            Weighted sum over points of ``log sum_k exp(bias + eta . T)`` (no base measure).
        stats : ndarray of shape (S, K, 1 + m)
            Responsibility-weighted sums of ``[1, T]``.
        """
        S, K, m = eta.shape
        # E (K*S, 1+m), component-major, written in place (no concatenate, transpose, copy)
        E = np.empty((K * S, 1 + m))
        E3 = E.reshape(K, S, 1 + m)
        E3[..., 0] = bias.T
        E3[..., 1:] = eta.transpose(1, 0, 2)
        if len(self._plan(K)) == 1 and self.w is None:
            # One chunk (a small data set): the same arithmetic without the chunk machinery,
            # whose ~10 numpy calls and closure are much of an E-step's cost at n = 200.
            ll, stats = np.empty(S), np.empty((S, K, 1 + m))
            L, scratch = np.empty((K * S, self.n)), np.empty((3, S, self.n))
            with np.errstate(invalid="ignore", over="ignore"):  # see NONFINITE
                self._chunk(E, K, S, 0, self.n, L, scratch, ll, stats)
            return ll, stats
        logistic = K == 2 and self.w is None
        chunks = self._plan(K, logistic)
        ll_parts = np.empty((len(chunks), S))
        stat_parts = np.empty((len(chunks), S, K, 1 + m))
        size = chunks[0][1] - chunks[0][0]

        if logistic:
            # once per E-step: ``_logistic`` takes the difference, in base 2
            D = (E[:S] - E[S:]) * _LOG2E

            def work(indices) -> None:
                g = np.empty((S, size))
                # per thread (see NONFINITE); exp overflows to inf and 1 / inf is 0 there
                with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                    for c in indices:
                        a, b = chunks[c]
                        self._chunk_two(E, D, S, a, b, g[:, : b - a], ll_parts[c], stat_parts[c])

        else:

            def work(indices) -> None:
                L, scratch = np.empty((K * S, size)), np.empty((3, S, size))
                with np.errstate(invalid="ignore", over="ignore"):  # per thread (see NONFINITE)
                    for c in indices:
                        a, b = chunks[c]
                        buf, sc = L[:, : b - a], scratch[:, :, : b - a]
                        self._chunk(E, K, S, a, b, buf, sc, ll_parts[c], stat_parts[c])

        self._run(chunks, work)
        return ll_parts.sum(axis=0), stat_parts.sum(axis=0)

    def _chunk(
        self,
        E: np.ndarray,
        K: int,
        S: int,
        a: int,
        b: int,
        L: np.ndarray,
        scratch: np.ndarray,
        ll: np.ndarray,
        stats: np.ndarray,
    ) -> None:
        """One chunk of points a .. b - 1: log-likelihoods (S,) into ``ll`` and summed
        statistics (S, K, 1+m) into ``stats``, with buffers L (K*S, b-a) and scratch (3, S, b-a).

        Where a point has at most ``OWN_PRODUCTS_MAX`` statistics (every one-dimensional
        family) every product is one start's own, a stack of per-start matrix products: a 2-D
        product over all the starts' rows rounds a row's sums by where BLAS's blocking puts
        it, so a start ended in other last digits beside other starts (a fanned-out part, or
        once its neighbours had converged), and on a flat likelihood those digits grew into
        another maximum (R's quakes magnitudes, Gamma K = 4: 1.2e-5 apart, 2026-12-05). With
        more statistics, and in the K = 2 kernel of data of several chunks (``_logistic``),
        per-start products cost more and the one 2-D product stays."""
        kernel = _responsibilities_two if K == 2 else _responsibilities
        T = self.TT[:, a:b]
        L3 = L.reshape(K, S, b - a)
        own = E.shape[1] <= OWN_PRODUCTS_MAX
        if own:
            np.matmul(E.reshape(K, S, -1).transpose(1, 0, 2), T, out=L3.transpose(1, 0, 2))
        else:
            np.matmul(E, T, out=L)
        top, total = kernel(L3, scratch)
        # L now holds responsibilities; per-point log-likelihood is top + log(total).
        if self.w is None:
            ll[...] = np.add.reduce(top, axis=1) + _sum_log(total, K)
            if own:
                np.matmul(L3.transpose(1, 0, 2), T.T, out=stats)
            else:
                stats[...] = np.matmul(L, T.T).reshape(K, S, -1).transpose(1, 0, 2)
        else:
            np.log(total, out=total)
            total += top
            if own:
                np.matmul(total[:, None, :], self.w[a:b, None], out=ll[:, None, None])
                np.matmul(L3.transpose(1, 0, 2), self.TW[a:b], out=stats)
            else:
                np.matmul(total, self.w[a:b], out=ll)
                stats[...] = np.matmul(L, self.TW[a:b]).reshape(K, S, -1).transpose(1, 0, 2)

    def _chunk_two(
        self,
        E: np.ndarray,
        D: np.ndarray,
        S: int,
        a: int,
        b: int,
        g: np.ndarray,
        ll: np.ndarray,
        stats: np.ndarray,
    ) -> None:
        """K = 2, unweighted, one chunk of a large data set: ``_logistic`` for every start;
        a start whose chunk overflows there runs it again with its components swapped, and one
        that overflows both ways the exact kernel (``_chunk``). Writes ``ll`` (S,) and
        ``stats`` (S, 2, 1+m), with ``g`` (S, b-a) as scratch."""
        T = self.TT[:, a:b]
        sums = self._sums.get((a, b))
        if sums is None:
            sums = self._sums[(a, b)] = T.sum(axis=1)
        _logistic(D, E[S:], T, sums, g, ll, stats[:, 0], stats[:, 1])
        if np.isfinite(ll).all():
            return
        bad = np.flatnonzero(~np.isfinite(ll))
        one, zero = np.empty((bad.size, stats.shape[2])), np.empty((bad.size, stats.shape[2]))
        swapped = np.empty(bad.size)
        _logistic(-D[bad], E[:S][bad], T, sums, g[: bad.size], swapped, one, zero)
        ll[bad], stats[bad, 0], stats[bad, 1] = swapped, zero, one
        still = bad[~np.isfinite(swapped)]
        if still.size:
            n2, c = still.size, b - a
            sub_ll, sub_stats = np.empty(n2), np.empty((n2, 2, stats.shape[2]))
            sub_E = np.concatenate([E[:S][still], E[S:][still]])
            L, scratch = np.empty((2 * n2, c)), np.empty((3, n2, c))
            self._chunk(sub_E, 2, n2, a, b, L, scratch, sub_ll, sub_stats)
            ll[still], stats[still] = sub_ll, sub_stats

    def log_densities(self, eta: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """Every start's log mixture density at every point, without the base measure.

        Parameters
        ----------
        eta : ndarray of shape (S, K, m)
        bias : ndarray of shape (S, K)

        Returns
        -------
        ndarray of shape (S, n)
        """
        L = np.matmul(np.concatenate([bias[..., None], eta], axis=-1), self.TT)
        top = L.max(axis=1)
        with np.errstate(invalid="ignore"):  # a start whose every term is -inf: NaN
            L -= top[:, None]
        np.exp(L, out=L)
        return np.log(L.sum(axis=1)) + top

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


class ReplicateBatch:
    """Sufficient statistics of R data sets of one size (bootstrap replicates) where each start
    fits its own: start ``s`` of a batch fits data set ``owner[s]``.

    One E-step then advances the starts of every replicate together, so many small fits pay the
    engine's per-iteration cost once (``mixfit.replicates``). Starts are taken in blocks of
    about ``_CELLS_PER_CHUNK`` values, each a batched matrix product over its starts' own data.

    Parameters
    ----------
    T : ndarray of shape (R, n, m)
        Sufficient statistics of every replicate's points.
    w : ndarray of shape (R, n) or None
        Point weights per replicate.
    constants : ndarray of shape (R,)
        What each replicate's log-likelihood adds to the E-step's (its base measure).
    owner : ndarray of shape (S,)
        The replicate of every start.
    """

    def __init__(
        self, T: np.ndarray, w: np.ndarray | None, constants: np.ndarray, owner: np.ndarray
    ) -> None:
        R, n, m = T.shape
        self.n, self.m = n, m
        self.TT = np.empty((R, 1 + m, n))
        self.TT[:, 0] = 1.0
        self.TT[:, 1:] = T.transpose(0, 2, 1)
        self.w = w
        self.constants = constants
        self.owner = owner

    def for_starts(self, owner: np.ndarray) -> ReplicateBatch:
        """The same data with another assignment of starts to replicates."""
        other = object.__new__(ReplicateBatch)
        other.__dict__.update(self.__dict__)
        other.owner = owner
        return other

    def estep(
        self, eta: np.ndarray, bias: np.ndarray, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Log-likelihood (S,) with each replicate's constant and the summed statistics
        (S, K, 1 + m) of starts ``rows`` (default: all) with parameters ``eta`` (S, K, m) and
        ``bias`` (S, K)."""
        S, K, m = eta.shape
        own = self.owner if rows is None else self.owner[rows]
        E = np.concatenate([bias[..., None], eta], axis=-1)
        ll = np.empty(S)
        stats = np.empty((S, K, 1 + m))
        block = max(1, _CELLS_PER_CHUNK // (K * self.n))
        with np.errstate(invalid="ignore", over="ignore"):  # see NONFINITE
            self._blocks(E, own, block, ll, stats)
        return ll + self.constants[own], stats

    def _blocks(
        self, E: np.ndarray, own: np.ndarray, block: int, ll: np.ndarray, stats: np.ndarray
    ) -> None:
        S = E.shape[0]
        for a in range(0, S, block):
            b = min(a + block, S)
            G = self.TT[own[a:b]]  # (B, 1+m, n)
            L = np.matmul(E[a:b], G)  # (B, K, n)
            top = L.max(axis=1)
            L -= top[:, None, :]
            np.exp(L, out=L)
            total = L.sum(axis=1)
            L /= total[:, None, :]
            np.log(total, out=total)
            total += top
            if self.w is None:
                ll[a:b] = total.sum(axis=1)
            else:
                W = self.w[own[a:b]]
                ll[a:b] = np.einsum("bn,bn->b", total, W)
                L *= W[:, None, :]
            np.matmul(L, G.transpose(0, 2, 1), out=stats[a:b])
