"""The generic multi-start EM loop (the families only supply statistics and M-steps).

All starts of one K advance together: parameters carry a leading starts axis, one batched E-step
serves every start that is still running, and a start that has converged drops out of the batch
(it costs nothing more). Iteration ``t`` evaluates the log-likelihood of the current parameters
``theta_t``; if the gain over ``theta_{t-1}`` is at most the tolerance the start stops *at*
``theta_t`` (exactly normalmixEM's rule, so the same start gives the same answer), otherwise the
M-step makes ``theta_{t+1}``. ``trace[0]`` is the log-likelihood of the start values.

A component whose weight falls below ``min_count`` points' worth has collapsed: its start is
re-initialized from its own generator (at most ``MAX_RESTARTS`` times, each logged as an event),
then marked ``collapsed`` and left out of the selection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import entr

from .data import Scaling
from .estep import Batch, single_threaded_blas
from .families.base import Family, ParamArrays, take
from .init import partition, subsample
from .schema import Event, KResult, StartSummary

MAX_RESTARTS = 3
PROGRESS_INTERVAL = 0.2  # seconds between progress callbacks (and always after the last step)
RUNNING, CONVERGED, MAX_ITER, COLLAPSED = range(4)
STATUS_NAMES = ("running", "converged", "max_iter", "collapsed")
DECREASE_NOISE = 1e-10

Progress = Callable[[dict[str, Any]], None]


@dataclass
class Problem:
    """One data set, prepared for EM: the data in the engine's space and everything derived."""

    family: Family
    request: Any
    X: np.ndarray  # data space, after the family's boundary policy, (n, d)
    w: np.ndarray | None
    Z: np.ndarray  # engine space, (n, d)
    scaling: Scaling
    batch: Batch
    constant: float  # sum of w * base measure, minus the Jacobian of the scaling
    n_eff: float
    floor: float
    min_count: float
    seed: int
    moved: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]


def start_seeds(root: int, k: int, n_starts: int) -> list[int]:
    """Independent, recorded 63-bit seeds for the starts of one K (independent of other Ks)."""
    state = np.random.SeedSequence(root, spawn_key=(k,)).generate_state(n_starts, dtype=np.uint64)
    return [int(s) & (2**63 - 1) for s in state]


def _threshold(problem: Problem, ll: np.ndarray) -> np.ndarray | float:
    tol, kind = problem.request.tol, problem.request.tol_type
    if kind == "absolute":
        return tol
    if kind == "relative":
        return tol * np.abs(ll)
    return tol * problem.n_eff


class _Starts:
    """Mutable state of the starts of one K."""

    def __init__(self, problem: Problem, k: int, indices: range | None = None) -> None:
        req = problem.request
        self.problem, self.k = problem, k
        every = start_seeds(problem.seed, k, req.starts_per_k())
        self.index = list(indices if indices is not None else range(len(every)))
        self.S = len(self.index)
        self.seeds = [every[i] for i in self.index]
        self.rngs = [np.random.default_rng(s) for s in self.seeds]
        start = req.explicit_start
        if start is not None:
            self.methods = ["explicit"]
        else:
            self.methods = [req.init] if isinstance(req.init, str) else list(req.init)
        self.traces: list[list[float]] = [[] for _ in range(self.S)]
        self.events: list[list[Event]] = [[] for _ in range(self.S)]
        self.seen: list[set] = [set() for _ in range(self.S)]
        self.restarts = np.zeros(self.S, dtype=int)
        self.status = np.full(self.S, RUNNING)
        self.last = np.full(self.S, np.nan)  # each start's latest log-likelihood
        self.paths: list[list[tuple[ParamArrays, np.ndarray]]] = [[] for _ in range(self.S)]
        self.params, self.logw = self.initialize(np.arange(self.S))

    def method(self, s: int) -> str:
        return self.methods[self.index[s] % len(self.methods)]

    def initialize(self, rows: np.ndarray) -> tuple[ParamArrays, np.ndarray]:
        p, k = self.problem, self.k
        start = p.request.explicit_start
        if start is not None and self.restarts[rows[0]] == 0:
            params, weights = p.family.from_json(start, p.scaling)
            with np.errstate(divide="ignore"):
                return params, np.log(weights)[None, :]
        params, logws = [], []
        for s in rows:
            Zs, ws = subsample(p.Z, p.w, self.rngs[s])
            labels = partition(
                "kmeans++" if start is not None else self.method(s),
                Zs,
                ws,
                k,
                self.rngs[s],
                first=self.index[s] < len(self.methods) and self.restarts[s] == 0,
            )
            params.append(p.family.initial(Zs, ws, labels[None], k, p.floor))
            counts = np.bincount(labels, weights=ws, minlength=k)
            logws.append(np.log(counts / counts.sum()))
        stacked = {name: np.concatenate([q[name] for q in params]) for name in params[0]}
        return stacked, np.stack(logws)

    def log(self, s: int, iteration: int, kind: str, component: int | None, detail: str) -> None:
        key = (kind, component)
        if kind in ("variance_floor", "precision_cap") and key in self.seen[s]:
            return
        self.seen[s].add(key)
        self.events[s].append(
            Event(iteration=iteration, kind=kind, component=component, detail=detail)
        )


def run_k(
    problem: Problem, k: int, progress: Progress | None = None, starts: range | None = None
) -> KResult:
    """Fit the starts of one K and summarize them.

    Parameters
    ----------
    problem : Problem
    k : int
        Number of components.
    starts : range, optional
        Which of the request's starts to run (default: all). Every start has its own seed and
        the chunking does not depend on the other starts in the batch, so
        ``merge_k([run_k(p, k, starts=a), run_k(p, k, starts=b)])`` equals ``run_k(p, k)`` up
        to last-bit rounding (BLAS may block a batch differently by its size).
    progress : callable, optional
        Called after the first iteration, then at most every ``PROGRESS_INTERVAL`` seconds, and
        after the last, with a dict: ``k``, ``iteration``, ``starts_done``,
        ``n_starts``, ``best_loglik`` and ``trace`` (the leading start's trace so far).
    """
    with single_threaded_blas(problem.n):
        return _run_k(problem, k, progress, starts)


def merge_k(parts: list[KResult]) -> KResult:
    """One K's result from results over disjoint sets of its starts (fan-out)."""
    starts = sorted((s for part in parts for s in part.starts), key=lambda s: s.start)
    ok = [part for part in parts if part.status == "ok"]
    if not ok:
        return parts[0].model_copy(update={"starts": starts})
    best = max(ok, key=lambda part: (part.loglik, -part.best_start))
    return best.model_copy(update={"starts": starts})


def _run_k(problem: Problem, k: int, progress: Progress | None, starts: range | None) -> KResult:
    fam, req = problem.family, problem.request
    st = _Starts(problem, k, starts)
    active = np.arange(st.S)
    iteration = 0
    next_report = 0.0
    while active.size:
        sub = take(st.params, active)
        eta, log_partition = fam.natural(sub)
        ll, stats = problem.batch.estep(eta, st.logw[active] - log_partition)
        ll += problem.constant
        if req.keep_path:
            for s in active:
                snapshot = {name: value[s].copy() for name, value in st.params.items()}
                st.paths[s].append((snapshot, np.exp(st.logw[s])))
        gain = ll - st.last[active]  # NaN for a start's first evaluation
        with np.errstate(invalid="ignore"):
            converged = gain <= _threshold(problem, ll)
            fell = gain < -DECREASE_NOISE * (1.0 + np.abs(ll))
        for s, value in zip(active.tolist(), ll.tolist(), strict=True):
            st.traces[s].append(value)
        st.last[active] = ll
        for j in np.flatnonzero(fell):
            s = active[j]
            st.log(
                s,
                len(st.traces[s]) - 1,
                "ll_decrease",
                None,
                f"log-likelihood fell by {-gain[j]:.3g}",
            )
        lengths = np.fromiter((len(st.traces[s]) for s in active), dtype=int, count=active.size)
        exhausted = ~converged & (lengths - 1 >= req.max_iter)
        st.status[active[converged]] = CONVERGED
        st.status[active[exhausted]] = MAX_ITER
        running = ~(converged | exhausted)
        active, stats = active[running], stats[running]
        if active.size:
            _m_step(problem, st, active, stats)
            active = active[st.status[active] == RUNNING]
        iteration += 1
        if progress is not None and (not active.size or time.monotonic() >= next_report):
            _report(st, progress, iteration)
            next_report = time.monotonic() + PROGRESS_INTERVAL
    return _summarize(problem, st)


def _m_step(problem: Problem, st: _Starts, active: np.ndarray, stats: np.ndarray) -> None:
    counts = stats[..., 0]
    collapsed = counts < problem.min_count
    dead = collapsed.any(axis=1)
    alive = active[~dead]
    if alive.size:
        fam = problem.family

        def reevaluate(params, logw):
            eta, log_partition = fam.natural(params)
            return problem.batch.estep(eta, logw - log_partition)

        new, events = fam.maximize(stats[~dead], take(st.params, alive), problem.floor, reevaluate)
        logw = new.pop("logw", None)
        for name, value in new.items():
            st.params[name][alive] = value
        if logw is None:
            live_counts = counts[~dead]
            logw = np.log(live_counts / live_counts.sum(axis=1, keepdims=True))
        st.logw[alive] = logw
        for row, comp, kind, detail in events:
            s = alive[row]
            st.log(s, len(st.traces[s]) - 1, kind, comp, detail)
    if not dead.any():
        return
    retry = []
    for j in np.flatnonzero(dead):
        s = active[j]
        comp = int(np.argmin(counts[j]))
        it = len(st.traces[s]) - 1
        st.log(
            s,
            it,
            "weight_collapse",
            comp,
            f"component {comp} kept {counts[j, comp]:.3g} points' worth of weight",
        )
        if st.restarts[s] < MAX_RESTARTS:
            st.restarts[s] += 1
            st.log(
                s,
                it,
                "restart",
                None,
                f"re-initialized from a fresh draw (restart {st.restarts[s]})",
            )
            retry.append(s)
        else:
            st.status[s] = COLLAPSED
    if retry:
        rows = np.asarray(retry)
        params, logw = st.initialize(rows)
        for name, value in params.items():
            st.params[name][rows] = value
        st.logw[rows] = logw
        for s in retry:
            st.traces[s], st.paths[s], st.seen[s] = [], [], set()
            st.last[s] = np.nan


def _report(st: _Starts, progress: Progress, iteration: int) -> None:
    done = int(np.count_nonzero(st.status != RUNNING))
    finals = [(t[-1], s) for s, t in enumerate(st.traces) if t and st.status[s] != COLLAPSED]
    best_ll, best = max(finals) if finals else (None, None)
    progress(
        {
            "k": st.k,
            "iteration": iteration,
            "starts_done": done,
            "n_starts": st.S,
            "best_loglik": best_ll,
            "trace": st.traces[best] if best is not None else [],
        }
    )


def _summarize(problem: Problem, st: _Starts) -> KResult:
    fam = problem.family
    k = st.k
    starts = []
    for s in range(st.S):
        ok = st.status[s] != COLLAPSED
        starts.append(
            StartSummary(
                start=st.index[s],
                seed=st.seeds[s],
                init=st.method(s),
                status=STATUS_NAMES[st.status[s]],
                loglik=st.traces[s][-1] if ok and st.traces[s] else None,
                n_iter=max(len(st.traces[s]) - 1, 0),
                restarts=int(st.restarts[s]),
                trace=st.traces[s],
                events=st.events[s],
            )
        )
    n_params = fam.n_params(k)
    candidates = [s for s in starts if s.loglik is not None]
    if not candidates:
        return KResult(
            k=k,
            status="failed",
            message=(
                f"every start of k={k} collapsed (a component lost all its points) after "
                f"{MAX_RESTARTS} restarts each; try fewer components or more data"
            ),
            n_params=n_params,
            starts=starts,
        )
    best = max(
        range(st.S), key=lambda s: (starts[s].loglik is not None, starts[s].loglik or 0.0, -s)
    )
    params = take(st.params, best)
    weights = np.exp(st.logw[best])
    eta, log_partition = fam.natural(take(st.params, slice(best, best + 1)))
    _, resp = problem.batch.point_loglik(eta[0], st.logw[best] - log_partition[0])
    entropy = float(
        entr(resp).sum(axis=1) @ (np.ones(problem.n) if problem.w is None else problem.w)
    )
    ll = starts[best].loglik
    bic = -2.0 * ll + n_params * np.log(problem.n_eff)
    path = None
    if problem.request.keep_path:
        path = [fam.to_json(p, wts, problem.scaling) for p, wts in st.paths[best]]
    return KResult(
        k=k,
        status="ok",
        loglik=ll,
        n_params=n_params,
        bic=bic,
        aic=-2.0 * ll + 2.0 * n_params,
        icl=bic + 2.0 * entropy,
        converged=starts[best].status == "converged",
        n_iter=starts[best].n_iter,
        best_start=st.index[best],
        params=fam.to_json(params, weights, problem.scaling),
        starts=starts,
        path=path,
    )
