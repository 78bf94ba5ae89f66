"""The generic multi-start EM loop (the families only supply statistics and M-steps).

All starts of one K advance together: parameters carry a leading starts axis, one batched E-step
serves every start that is still running, and a start that has converged drops out of the batch
(it costs nothing more). Iteration ``t`` evaluates the log-likelihood of the current parameters
``theta_t``; if the gain over ``theta_{t-1}`` is at most the tolerance the start stops *at*
``theta_t`` (exactly normalmixEM's rule, so the same start gives the same answer), otherwise the
M-step makes ``theta_{t+1}``. ``trace[0]`` is the log-likelihood of the start values.

Where the starts come from: explicit start values (one start, nothing else), or the screened
candidates of ``mixfit.screen`` (a portfolio of methods, emEM), plus one start that splits the
widest component of the best K-1 fit when K-1 was fitted too (``split``).

Degeneracy. The likelihood of a Gaussian mixture is unbounded: a component shrinking onto one
point (or onto fewer distinct points than its covariance needs) sends it to infinity. Only that
is degenerate, and a small, well-defined component is a result. A start is degenerate when a
component's weight falls below one point's worth (``Family.least_weight``: a tied Gaussian's
below 1e-12 points' worth, its spread being shared), or when the M-step has to hold a variance at
the floor (``var_floor`` times the data's variance; the smallest eigenvalue of a full or tied
covariance; a beta component's precision cap). Which components can do that depends on the
covariance type by itself: a tied or spherical component of three points is fine, a full one in
five dimensions is singular. A degenerate start is re-initialized from its own generator (at most
``MAX_RESTARTS`` times, each an event that says what happened), then marked ``degenerate`` and
stopped. A restart is a new run with its own ``max_iter`` (with SQUAREM the budget counts E-steps
since the last restart; plain EM's counts the new run's trace), as plain EM's always was. When
the runs shared one budget, a start whose runs collapsed onto tied values three times had little
left for its fourth, which then stopped on the same climb, not converged, and could be the K's
best: on R's first 1,500 monthly sunspot numbers (57 exactly 0) seed 0's K = 4 was such a point
at -7352.37 (seed 5's at -7322.98), above every regular maximum, and BIC chose K = 4 for it.
With a budget of its own the fourth run degenerates too and the K's rescue finds a regular
maximum (-7373.43 by hand; K = 5 is chosen, as under seeds 1..4 by hand): the test is
``tests/core/test_degeneracy.py::test_a_restart_runs_on_a_budget_of_its_own`` (seeds 0, 5).
The best start of a K is the best non-degenerate one; a K fails only when every start
degenerated, with a message that counts what happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import entr

from .agglomeration import Hierarchy
from .data import Scaling
from .estep import Batch, single_threaded_blas
from .families.base import Family, ParamArrays, remedy_in_words, take
from .schema import Event, KResult, ScreeningSummary, StartSummary
from .screen import Screened, screen
from .smem import engine_params
from .starts import responsibilities, sample, split_responsibilities

MAX_RESTARTS = 3
# The labels of a rescued K's starts (``mixfit.finish``), which ``failure_message`` counts.
RESCUE_INIT = "params (rescue)"
FLAT_INIT = "flat (rescue)"
# SQUAREM (Varadhan & Roland 2008; the R package's defaults): the step length starts bounded by
# 1 and the bound grows 4-fold each time a step reaches it.
STEP_MAX0 = 1.0
MSTEP = 4.0
PROGRESS_INTERVAL = 0.2  # seconds between progress callbacks (and always after the last step)
RUNNING, CONVERGED, MAX_ITER, DEGENERATE = range(4)
STATUS_NAMES = ("running", "converged", "max_iter", "degenerate")
# A fall of the log-likelihood below this share of |LL| is rounding, not a failing step: a beta
# spike of precision 1e6 (a birth move's, mixfit.smem.births) sums log-density terms of 1e5
# that cancel to O(1), and its E-steps wobble by 1e-10 |LL| (measured 1.2e-8 and 1.8e-8 on
# LL ~ 180).
DECREASE_NOISE = 1e-9
# An extrapolation is kept when its log-likelihood is at least the cycle start's, to this share.
EXTRAPOLATION_SLACK = 1e-10
EPS = float(np.finfo(float).eps)
# Plain EM iterations before SQUAREM's first cycle from explicit start values (``_squarem``).
EXPLICIT_WARMUP = 10
# A K's log-likelihood is evaluated again in data units where the engine's arithmetic may have
# lost more than this per point (``accurate_loglik``).
ACCURATE_LOGLIK = 1e-10
FLOOR_EVENTS = ("variance_floor", "precision_cap")

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
    floor: float | np.ndarray  # per column (d,) where the family takes it so
    one_point: float  # one point's worth of weight (``data.point_weight``)
    seed: int
    singular_data: bool = False  # one component on all the data already needs the floor
    moved: int = 0
    # n_eff x the sum of the log standard deviations of the columns of the points whose
    # log-likelihood ``ll`` this problem measures: ll + unit_offset is in standard units
    # (``data.log_spread``), which the relative tolerance reads
    unit_offset: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    hierarchy: Hierarchy | None = None
    # The batch of the points X in data units (``mixfit.fit.prepare``): a problem derived with
    # another batch (the moves' sample in engine units, bootstrap replicates) measures other
    # points than X, and ``accurate_loglik`` leaves its log-likelihoods alone.
    data_batch: Any = None

    def __post_init__(self) -> None:
        if self.hierarchy is None:
            self.hierarchy = Hierarchy(self.Z, self.w, self.seed)

    @property
    def n(self) -> int:
        return self.X.shape[0]

    def gain_threshold(self, ll: Any) -> Any:
        """The gain at or below which EM has converged at log-likelihood ``ll`` (a float or an
        array) of these points (``FitOptions.gain_threshold``, in standard units)."""
        return self.request.gain_threshold(ll + self.unit_offset, self.n_eff)

    @property
    def d(self) -> int:
        return self.X.shape[1]


def start_seeds(root: int, k: int, n_starts: int) -> list[int]:
    """Independent, recorded 63-bit seeds for the starts of one K (independent of other Ks)."""
    state = np.random.SeedSequence(root, spawn_key=(k,)).generate_state(n_starts, dtype=np.uint64)
    return [int(s) & (2**63 - 1) for s in state]


def split_index(request: Any, k: int) -> int | None:
    """The index of K's ``split`` start (its last), or None: only when K-1 is asked for too,
    there are at least two starts and no explicit start values.

    Not from a K-1 fitted only for K's growth moves (``parent_ks``): measured over 825 cells
    at K >= 3 of the mclust fixtures fitted alone under seed 0, such a split start ended 32
    cells higher and 15 lower than the growth moves alone (a regular split start also keeps
    the rescue from running: DAX returns, V, K = 4, 5987.02 against 5988.74), while the
    growth moves alone can only add to the K's own search."""
    n = request.starts_per_k()
    if request.explicit_start is not None or n < 2 or k - 1 not in request.k_values():
        return None
    return n - 1


# A K asked alone on data of more values than this (rows x columns) fits no K-1 for its
# growth moves (``parent_ks``).
PARENT_MAX_VALUES = 100_000


def parent_ks(request: Any, n: int, d: int) -> list[int]:
    """The Ks a fit of ``request`` on data of shape (n, d) fits besides its own for their
    growth moves (``mixfit.fit.parent_fit``): K-1 of each K >= 3 whose K-1 it does not ask
    for, when the moves are on (``split_merge`` not 0), no explicit start values are given
    and the data hold at most ``PARENT_MAX_VALUES`` values (n x d).

    K-1's fit costs about what K's own does, at any size. On small data, where a fit takes
    milliseconds to a second, it bought maxima a K asked alone had missed (``parent_fit``);
    on large data it doubled a K's time (d = 10, K = 5, n = 1e5: 2.09x the core before issue
    9, whose bar is 1.5x; 2026-12-04) and no reference set needed it (the largest, GvHD.pos,
    holds 36,332 values). There, asking for K-1 too (``k=[K-1, K]``) buys the same search.
    The service plans and times their work with the request's (``service.fits``); a K that
    still fails may fit more (``mixfit.fit.final_fit``)."""
    ks = request.k_values()
    if request.explicit_start is not None or request.split_merge == 0:
        return []
    if n * d > PARENT_MAX_VALUES:
        return []
    return sorted({k - 1 for k in ks if k >= 3 and k - 1 not in ks})


class _Starts:
    """Mutable state of the starts of one K."""

    def __init__(
        self,
        problem: Problem,
        k: int,
        indices: list[int],
        parent: KResult | None,
        given: tuple[ParamArrays, np.ndarray, list[str]] | None = None,
        progress: Progress | None = None,
    ) -> None:
        req = problem.request
        self.problem, self.k = problem, k
        every = start_seeds(problem.seed, k, max(req.starts_per_k(), max(indices) + 1))
        self.index = indices
        self.S = len(indices)
        self.seeds = [every[i] for i in indices]
        self.rngs = [np.random.default_rng(s) for s in self.seeds]
        self.traces: list[list[float]] = [[] for _ in range(self.S)]
        self.events: list[list[Event]] = [[] for _ in range(self.S)]
        self.seen: list[set] = [set() for _ in range(self.S)]
        # the iteration of each start's latest floor, logged or not (``fall_detail``)
        self.floored_at = np.full(self.S, -2)
        self.restarts = np.zeros(self.S, dtype=int)
        # given starts (split-and-merge moves) are not redrawn: a move that degenerates is dropped
        self.max_restarts = MAX_RESTARTS if given is None else 0
        self.status = np.full(self.S, RUNNING)
        self.last = np.full(self.S, np.nan)  # each start's latest log-likelihood
        # SQUAREM: where each start is in its cycle, the points it came through, its step bound
        self.phase = np.zeros(self.S, dtype=int)
        self.warmup = EXPLICIT_WARMUP if req.explicit_start is not None else 0
        # per start: theta_0, theta_1, theta_2 of its cycle as packed rows (allocated at the
        # first M-step, when the packed width is known), LL at theta_0, the step it took
        self.saved: np.ndarray | None = None
        self.ll0 = np.full(self.S, -np.inf)
        self.step = np.ones(self.S)
        self.step_max = np.full(self.S, STEP_MAX0)
        self.accepted = np.zeros(self.S, dtype=int)
        self.evaluations = np.zeros(self.S, dtype=int)
        # E-steps since the start's last restart: each run's own max_iter (``_loop``)
        self.spent = np.zeros(self.S, dtype=int)
        self.paths: list[list[tuple[ParamArrays, np.ndarray]]] = [[] for _ in range(self.S)]
        self.why: list[str | None] = [None] * self.S  # what made a start degenerate
        self.candidate: list[int | None] = [None] * self.S
        self.screen_ll: list[float | None] = [None] * self.S
        self.screened: Screened | None = None
        self.progress = progress
        if given is not None:
            params, logw, methods = given
            self.params, self.logw, self.methods = dict(params), logw.copy(), list(methods)
        else:
            self.params, self.logw, self.methods = self._first(parent)

    def _first(self, parent: KResult | None) -> tuple[ParamArrays, np.ndarray, list[str]]:
        p, k, req = self.problem, self.k, self.problem.request
        several = p.extra.get("starts")
        if several is not None:  # explicit start values of several starts (mixfit.inference)
            pairs = [p.family.from_json(p.family.start_model(**v), p.scaling) for v in several]
            params = {name: np.concatenate([q[name] for q, _ in pairs]) for name in pairs[0][0]}
            with np.errstate(divide="ignore"):
                logw = np.log(np.stack([wts for _, wts in pairs]))
            return params, logw, ["explicit"] * len(pairs)
        start = req.explicit_start
        if start is not None:
            params, weights = p.family.from_json(start, p.scaling)
            with np.errstate(divide="ignore"):
                return params, np.log(weights)[None, :], ["explicit"]
        split = split_index(req, k)
        engine = None
        if parent is not None and parent.params is not None:
            engine = engine_params(p, parent.params)
        if split is not None and engine is None:
            # K-1 failed (or its parameters do not come back from data units): the slot takes
            # the next screened candidate instead
            split = None
        normal = [i for i in self.index if i != split]
        parts: list[tuple[ParamArrays, np.ndarray]] = []
        methods = []
        if normal:
            # Always rank n_starts candidates: the first n - 1 are the same either way, so a
            # fanned-out part (which cannot know whether K-1 will fail) continues the same starts.
            screened = screen(p, k, req.starts_per_k(), self._tick if self.progress else None)
            self.screened = screened
            rows = np.asarray(normal)
            parts.append((take(screened.params, rows), screened.logw[rows]))
            for j, i in enumerate(normal):
                methods.append(screened.methods[i])
                self.candidate[j] = screened.candidates[i]
                self.screen_ll[j] = screened.screen_loglik[i]
        if split is not None and split in self.index:
            assert engine is not None
            parts.append(self._split(engine))
            methods.append("split")
        params = {name: np.concatenate([q[name] for q, _ in parts]) for name in parts[0][0]}
        return params, np.concatenate([lw for _, lw in parts]), methods

    def _split(self, parent: tuple[ParamArrays, np.ndarray]) -> tuple[ParamArrays, np.ndarray]:
        p = self.problem
        s = sample(p.Z, p.w, np.random.default_rng(self.seeds[-1]))
        params, weights = parent  # K-1's final fit in engine space
        batch = Batch(p.family.statistics(s.Z), s.w)
        resp = p.family.point_loglik(batch, params, np.log(weights))[1]
        resp = split_responsibilities(s, resp)[None]
        mass = resp[0].T @ s.weights
        with np.errstate(divide="ignore"):  # a half left empty: its weight collapses, a restart
            logw = np.log(mass / mass.sum())[None]
        return p.family.initial(s.Z, s.w, resp, p.floor), logw

    def _tick(self) -> None:
        """Progress while screening: no start has begun (a stop request raises here)."""
        assert self.progress is not None
        info = {"k": self.k, "iteration": 0, "starts_done": 0, "n_starts": self.S}
        self.progress({**info, "best_loglik": None, "trace": []})

    def method(self, s: int) -> str:
        return self.methods[s]

    def redraw(self, rows: np.ndarray) -> tuple[ParamArrays, np.ndarray]:
        """Fresh starts for degenerate starts, each from its own generator: random soft
        responsibilities, which start every component on much of the data (a partition by
        location would likely isolate the same few points again)."""
        p, k = self.problem, self.k
        params, logws = [], []
        for s in rows:
            rng = self.rngs[s]
            smp = sample(p.Z, p.w, rng)
            resp = responsibilities("dirichlet", 1, smp, k, rng, None, False)
            params.append(p.family.initial(smp.Z, smp.w, resp, p.floor))
            mass = resp[0].T @ smp.weights
            logws.append(np.log(mass / mass.sum()))
        stacked = {name: np.concatenate([q[name] for q in params]) for name in params[0]}
        return stacked, np.stack(logws)

    def log(self, s: int, iteration: int, kind: str, component: int | None, detail: str) -> None:
        key = (kind, component)
        if kind in FLOOR_EVENTS:
            self.floored_at[s] = iteration
            if key in self.seen[s]:
                return
        self.seen[s].add(key)
        self.events[s].append(
            Event(iteration=iteration, kind=kind, component=component, detail=detail)
        )


def run_k(
    problem: Problem,
    k: int,
    progress: Progress | None = None,
    starts: range | None = None,
    parent: KResult | None = None,
) -> KResult:
    """Fit the starts of one K and summarize them.

    Parameters
    ----------
    problem : Problem
    k : int
        Number of components.
    progress : callable, optional
        Called after the first iteration, then at most every ``PROGRESS_INTERVAL`` seconds, and
        after the last, with a dict: ``k``, ``iteration``, ``starts_done``,
        ``n_starts``, ``best_loglik`` and ``trace`` (the leading start's trace so far).
    starts : range, optional
        Which of the request's starts to run (default: all). Every part screens the same
        candidates and every start has its own seed, and a start's arithmetic (its chunks,
        its matrix products, its M-step) does not depend on the other starts in the batch,
        so ``merge_k([run_k(p, k, starts=a), run_k(p, k, starts=b)])`` equals
        ``run_k(p, k)`` bit for bit.
    parent : KResult, optional
        The final result of K-1, needed when ``starts`` holds K's ``split`` start
        (``split_index``).
    """
    indices = list(starts if starts is not None else range(problem.request.starts_per_k()))
    with single_threaded_blas(problem.n):
        return _run_k(problem, k, progress, indices, parent)


def run_given(
    problem: Problem,
    k: int,
    given: tuple[ParamArrays, np.ndarray, list[str]],
    first: int,
    progress: Progress | None = None,
) -> KResult:
    """Run given start parameters (C, K, ...) with log weights (C, K) and labels to
    convergence, as starts ``first .. first + C - 1`` of K (``mixfit.smem``'s moves)."""
    indices = list(range(first, first + given[1].shape[0]))
    with single_threaded_blas(problem.n):
        st = _Starts(problem, k, indices, None, given)
        return _iterate(problem, st, progress)


def merge_k(parts: list[KResult], family: Family | None = None) -> KResult:
    """One K's result from results over disjoint sets of its starts (fan-out); ``family``
    words the message of a K that failed (``failure_message``)."""
    starts = sorted((s for part in parts for s in part.starts), key=lambda s: s.start)
    ok = [part for part in parts if part.status == "ok"]
    if not ok:
        return parts[0].model_copy(
            update={"starts": starts, "message": failure_message(parts[0].k, starts, family)}
        )
    # the start a whole fit would pick: by the starts' own log-likelihoods, the engine's, as
    # ``_summarize`` does (a part's K log-likelihood may be evaluated again: accurate_loglik)
    engine = {s.start: s.loglik for s in starts}
    best = max(ok, key=lambda part: (engine[part.best_start], -part.best_start))
    # the K's screening summary is the K's, whichever part's start wins (a rescue's or a
    # move's given starts are not screened)
    screening = next((p.screening for p in [best, *parts] if p.screening is not None), None)
    return best.model_copy(update={"starts": starts, "screening": screening})


def _run_k(
    problem: Problem,
    k: int,
    progress: Progress | None,
    indices: list[int],
    parent: KResult | None,
) -> KResult:
    return _iterate(problem, _Starts(problem, k, indices, parent, progress=progress), progress)


def _iterate(problem: Problem, st: _Starts, progress: Progress | None) -> KResult:
    _loop(problem, st, progress)
    return _summarize(problem, st)


def run_starts(
    problem: Problem,
    k: int,
    params: ParamArrays,
    logw: np.ndarray,
    progress: Progress | None = None,
) -> _Starts:
    """Run given starts (engine space: parameters (S, K, ...), log weights (S, K)) to the end,
    with no restarts, and return their final state unsummarized: ``status``, ``traces``,
    ``params``, ``logw`` per start. For batches whose starts fit different data sets
    (``mixfit.estep.ReplicateBatch``), where one best start per batch means nothing."""
    given = (params, logw, ["explicit"] * logw.shape[0])
    st = _Starts(problem, k, list(range(logw.shape[0])), None, given=given, progress=progress)
    _loop(problem, st, progress)
    return st


def _loop(problem: Problem, st: _Starts, progress: Progress | None) -> None:
    req = problem.request
    fam = problem.family
    accelerate = req.accelerate
    active = np.arange(st.S)
    iteration = 0
    next_report = 0.0
    while active.size:
        if active.size == st.S:  # every start (active is sorted): no copies to read them
            ll, stats = fam.estep(problem.batch, st.params, st.logw, rows=active)
        else:
            ll, stats = fam.estep(problem.batch, take(st.params, active), st.logw[active], active)
        ll += problem.constant
        st.evaluations[active] += 1
        st.spent[active] += 1
        waiting = active[:0]
        silent = np.zeros(active.size, dtype=bool)
        leap = silent
        if accelerate:
            # SQUAREM keeps an extrapolated point whose log-likelihood is at least that of its
            # cycle's start theta_0 (the R package's rule, without its allowance for a fall);
            # otherwise the cycle ends at theta_2 = F(theta_1), whose E-step comes next.
            phase = st.phase[active]
            extrapolated = phase == 2
            if np.count_nonzero(extrapolated):  # (count_nonzero: 4x .any() on small arrays)
                with np.errstate(invalid="ignore"):
                    floor_ll = st.ll0[active] - _allowance(problem, ll)
                    dropped = extrapolated & ~(ll >= floor_ll)
                if np.count_nonzero(dropped):
                    waiting = active[dropped]
                    _fall_back(st, waiting)
                    keep = ~dropped
                    active, ll, stats, phase = active[keep], ll[keep], stats[keep], phase[keep]
                    if not active.size:
                        active = waiting
                        continue
            # theta_1 is a step inside the cycle: recorded only when the cycle stops there.
            silent = phase == 1
            # An extrapolation's gain is no test of convergence: a step along a ridge may gain
            # next to nothing where plain EM still climbs (the cycle's theta_1 gained more than
            # the threshold, or the cycle had stopped there). The next E-step, after F of the
            # extrapolated point, judges it.
            leap = phase == 2
        # A non-finite log-likelihood: a component has collapsed past what its floor holds
        # (a density without bound at a point). Degenerate; nothing of it enters the trace.
        lost = ~np.isfinite(ll)
        if np.count_nonzero(lost):
            for s in active[lost].tolist():
                st.status[s], st.why[s] = DEGENERATE, "floor"
            active, ll, stats = active[~lost], ll[~lost], stats[~lost]
            silent, leap = silent[~lost], leap[~lost]
            if not active.size:
                active = waiting
                continue
        gain = ll - st.last[active]  # NaN for a start's first evaluation
        with np.errstate(invalid="ignore"):
            converged = (gain <= problem.gain_threshold(ll)) & ~leap
            fell = gain < -DECREASE_NOISE * (1.0 + np.abs(ll))
        shown = ~silent | converged
        if req.keep_path:
            for s in active[shown]:
                snapshot = {name: value[s].copy() for name, value in st.params.items()}
                st.paths[s].append((snapshot, np.exp(st.logw[s])))
        for s, value in zip(active[shown].tolist(), ll[shown].tolist(), strict=True):
            st.traces[s].append(value)
        st.last[active[shown]] = ll[shown]
        for j in np.flatnonzero(fell & shown) if np.count_nonzero(fell) else ():
            s = active[j]
            at = len(st.traces[s]) - 1
            floored = bool(st.floored_at[s] == at - 1)
            allowance = float(_allowance(problem, ll[j])) if leap[j] else None
            detail = fall_detail(
                problem, take(st.params, [s]), st.logw[s], float(-gain[j]), floored, allowance
            )
            st.log(s, at, "ll_decrease", None, detail)
        if accelerate:  # the budget counts E-steps, three to a cycle, each run its own
            exhausted = ~converged & (st.spent[active] > req.max_iter)
        else:
            lengths = np.fromiter((len(st.traces[s]) for s in active), dtype=int, count=active.size)
            exhausted = ~converged & (lengths - 1 >= req.max_iter)
        st.status[active[converged]] = CONVERGED
        st.status[active[exhausted]] = MAX_ITER
        running = ~(converged | exhausted)
        if np.count_nonzero(running) < running.size:
            active, stats, ll = active[running], stats[running], ll[running]
        if active.size:
            # theta_0 of the cycles that begin here (phase 0): only they need it packed
            before = None
            if accelerate and np.count_nonzero(st.phase[active] == 0):
                before = _vectors(fam, st, active)
            _m_step(problem, st, active, stats)
            if accelerate:
                _squarem(problem, st, active, ll, before)
            active = active[st.status[active] == RUNNING]
        if accelerate and waiting.size:
            active = np.union1d(active, waiting)
        iteration += 1
        if progress is not None and (not active.size or time.monotonic() >= next_report):
            _report(st, progress, iteration)
            next_report = time.monotonic() + PROGRESS_INTERVAL


def _allowance(problem: Problem, ll: np.ndarray) -> np.ndarray:
    """How far below its cycle's start SQUAREM keeps an extrapolation of log-likelihood ``ll``
    (any shape): ``EXTRAPOLATION_SLACK`` of the larger of |LL| and n, for rounding."""
    return EXTRAPOLATION_SLACK * np.maximum(np.abs(ll + problem.unit_offset), problem.n_eff)


def _vectors(fam: Family, st: _Starts, rows: np.ndarray) -> np.ndarray:
    if rows.size == st.S:  # every start (rows are sorted): no copies to read them
        return fam.pack(st.params, st.logw)
    return fam.pack(take(st.params, rows), st.logw[rows])


def _fall_back(st: _Starts, rows: np.ndarray) -> None:
    """The extrapolated points of starts ``rows`` fell below theta_0: go on from theta_2
    instead, with a smaller step bound."""
    assert st.saved is not None
    params, logw = st.problem.family.unpack(st.saved[2, rows], st.params)
    for name, value in params.items():
        st.params[name][rows] = value
    st.logw[rows] = logw
    # SQUAREM shrinks the bound only when the step had reached it; with the fall forbidden, a
    # step well inside the bound can fail cycle after cycle (EM creeping along a ridge makes
    # ||r|| / ||v|| huge), so the bound drops below the failed step.
    st.step_max[rows] = np.maximum(STEP_MAX0, np.minimum(st.step_max[rows], st.step[rows]) / MSTEP)
    st.phase[rows] = 0


def _squarem(
    problem: Problem, st: _Starts, rows: np.ndarray, ll: np.ndarray, before: np.ndarray | None
) -> None:
    """Advance each start's SQUAREM cycle after the M-step that took it from ``before``.

    A cycle (Varadhan & Roland 2008, scheme S3): theta_1 = F(theta_0), theta_2 = F(theta_1),
    r = theta_1 - theta_0, v = theta_2 - 2 theta_1 + theta_0, step s = ||r|| / ||v|| in
    [1, step_max], theta' = theta_0 + 2 s r + s^2 v, then one stabilizing EM step from theta'.
    The extrapolation is kept only if theta' is a valid parameter and its log-likelihood is at
    least that of theta_0 (checked at its E-step, ``_run_k``); otherwise the cycle ends at
    theta_2. The trace holds theta_0, theta' and the next theta_0 = F(theta'), each at least the
    one before, so it never falls. Parameters are extrapolated where they are unbounded:
    log weights, means, log variances (log shapes for beta); a full covariance that leaves the
    positive definite cone fails the validity check. Starts re-drawn in the M-step begin anew.
    Every start's cycle advances at once (arrays over starts, no loop over them).

    In a fit from explicit start values a run makes ``EXPLICIT_WARMUP`` plain EM iterations
    before its first cycle: the first extrapolations are long and can carry a start over a ridge
    into another basin, and such a fit is asked for EM's maximum from that start (a screened
    start has climbed its basin on the sample already). From the 128 sampled starts of
    ``tests/fixtures/normalmixem_sweep`` (exact M-step, default tolerance; 2026-12-04;
    ``python -m tests.sweeps.normalmixem``), SQUAREM from the first iteration ended in a lower
    basin than plain EM in 3 runs (islands K = 4 E by 0.0038 relative with two components on
    one mean, ozone K = 4 V by 0.00043, waiting K = 5 E by 3.6e-7) and among the rescue draws
    of MASS geyser K = 5 V (by 0.14); warmed up 10 iterations none does (of the 5 runs still
    below plain EM, two stop within 1.6e-8 on the same climb, three follow other rescue draws
    or plain EM's unfinished climb to a spike), and the median saving in E-steps went from
    3.19x to 2.98x (5 iterations: islands still jumped).
    """
    fam = problem.family
    # ended, or re-drawn by the M-step (its trace and last log-likelihood were reset: its cycle
    # begins anew): left alone, phase -1 here
    live = (st.status[rows] == RUNNING) & ~np.isnan(st.last[rows])
    phase = np.where(live, st.phase[rows], -1)
    done = rows[phase == 2]  # an accepted extrapolation, now stabilized by one EM step
    if done.size:
        st.accepted[done] += 1
        st.phase[done] = 0
        if done.size == rows.size:  # every cycle stabilized: nothing to save or extrapolate
            return
    after = _vectors(fam, st, rows)
    if st.saved is None:
        st.saved = np.empty((3, st.S, after.shape[1]))
    first = phase == 0
    if st.warmup:  # cycles begin once a run has made its warm-up iterations
        made = np.fromiter((len(st.traces[s]) for s in rows.tolist()), dtype=int, count=rows.size)
        first &= made > st.warmup
    a = rows[first]
    if a.size:
        assert before is not None  # packed by the loop wherever a cycle begins
        st.saved[0, a], st.saved[1, a] = before[first], after[first]
        st.ll0[a] = ll[first]
        st.phase[a] = 1
    second = phase == 1
    starts = rows[second]
    if not starts.size:
        return
    v0, v1 = st.saved[0, starts], st.saved[1, starts]
    v2 = st.saved[2, starts] = after[second]
    r = v1 - v0
    v = v2 - 2.0 * v1 + v0
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.sqrt(np.sum(r * r, axis=1) / np.sum(v * v, axis=1))
    step = np.where(np.isfinite(step), step, 1.0)
    bound = st.step_max[starts]
    step = np.minimum(np.maximum(step, 1.0), bound)
    point = v0 + 2.0 * step[:, None] * r + (step * step)[:, None] * v
    params, logw = fam.unpack(point, st.params)
    valid = np.isfinite(point).all(axis=1) & fam.valid(params)
    if np.count_nonzero(valid) == valid.size:
        ok = starts
    else:
        # theta' is no parameter: the cycle ends at theta_2, which the M-step just produced.
        st.phase[starts[~valid]] = 0
        ok = starts[valid]
        params = take(params, valid)
        logw, step, bound = logw[valid], step[valid], bound[valid]
    for name, value in params.items():
        st.params[name][ok] = value
    st.logw[ok] = logw
    st.step[ok] = step
    st.step_max[ok] = np.where(step >= bound, bound * MSTEP, bound)
    st.phase[ok] = 2


def _m_step(problem: Problem, st: _Starts, active: np.ndarray, stats: np.ndarray) -> None:
    fam = problem.family
    counts = stats[..., 0]
    weak = counts < problem.one_point * fam.least_weight()
    bad = np.logical_or.reduce(weak, axis=1)
    floored: dict[int, int] = {}
    # rows of the batch the M-step serves: all of them unless a weight collapsed
    fine = np.flatnonzero(~bad) if np.count_nonzero(bad) else np.arange(active.size)
    if fine.size:
        whole = fine.size == active.size
        alive = active if whole else active[fine]

        def reevaluate(params, logw):
            return fam.estep(problem.batch, params, logw, rows=alive)

        served = stats if whole else stats[fine]
        new, events = fam.maximize(served, take(st.params, alive), problem.floor, reevaluate)
        for row, comp, kind, detail in events:
            s = alive[row]
            st.log(s, len(st.traces[s]) - 1, kind, comp, detail)
            if kind in FLOOR_EVENTS and not problem.singular_data:
                floored.setdefault(int(fine[row]), comp)
        logw = new.pop("logw", None)
        if floored:  # a floored component's start keeps its parameters (degenerate below)
            keep = np.asarray([j not in floored for j in fine.tolist()], dtype=bool)
            new = take(new, keep)
            alive, fine = alive[keep], fine[keep]
            logw = None if logw is None else logw[keep]
            bad[list(floored)] = True
        for name, value in new.items():
            st.params[name][alive] = value
        if logw is None:
            live = counts[fine]
            logw = np.log(live / live.sum(axis=1, keepdims=True))
        st.logw[alive] = logw
    if not np.count_nonzero(bad):
        return
    retry = []
    for j in np.flatnonzero(bad):
        s = active[j]
        it = len(st.traces[s]) - 1
        if weak[j].any():
            comp = int(np.argmin(counts[j]))
            st.why[s] = "weight"
            least = fam.least_weight()
            kept = below(counts[j, comp] / problem.one_point, least)
            st.log(
                s,
                it,
                "weight_collapse",
                comp,
                f"component {comp} kept {kept} points' worth of weight, less than "
                f"{least_words(least)}",
            )
        else:
            comp = floored[j]
            st.why[s] = "floor"
            worth = counts[j, comp] / problem.one_point
            detail = (
                f"component {comp}'s {fam.floor_phrase} with {worth:.3g} points' worth of "
                "weight: it sits on too few distinct points"
            )
            st.log(s, it, "degenerate", comp, detail)
        if st.restarts[s] < st.max_restarts:
            st.restarts[s] += 1
            st.log(
                s,
                it,
                "restart",
                None,
                f"degenerate, re-initialized from random responsibilities (its own generator) "
                f"(restart {st.restarts[s]} of {MAX_RESTARTS})",
            )
            retry.append(s)
        else:
            st.status[s] = DEGENERATE
    if retry:
        rows = np.asarray(retry)
        params, logw = st.redraw(rows)
        for name, value in params.items():
            st.params[name][rows] = value
        st.logw[rows] = logw
        for s in retry:
            st.traces[s], st.paths[s], st.seen[s] = [], [], set()
            st.last[s] = np.nan
            st.phase[s] = 0
            st.spent[s] = 0


def _report(st: _Starts, progress: Progress, iteration: int) -> None:
    done = int(np.count_nonzero(st.status != RUNNING))
    finals = [(t[-1], s) for s, t in enumerate(st.traces) if t and st.status[s] != DEGENERATE]
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


def below(points: float, least: float = 1.0) -> str:
    """``points`` (less than ``least``) to 3 significant digits, or as many more as keep it
    below (0.9996 points' worth is not "1")."""
    for digits in (3, 6, 12):
        text = f"{points:.{digits}g}"
        if float(text) < least:
            return text
    return repr(points)


def least_words(points: float) -> str:
    """The degeneracy rule's least weight (``Family.least_weight``) in words."""
    return "one point's worth" if points == 1.0 else f"{points:.3g} points' worth"


def failure_message(k: int, starts: list[StartSummary], family: Family | None = None) -> str:
    """What happened to the starts of a K none of whose starts stayed non-degenerate, and what
    to try: in the family's words (``Family.floor_phrase`` and ``Family.remedy``, which names
    only options the family has)."""
    floors = sum(1 for s in starts if s.degenerate_reason == "floor")
    weights = sum(1 for s in starts if s.degenerate_reason == "weight")
    phrase = family.floor_phrase if family is not None else Family.floor_phrase
    remedy = family.remedy(k) if family is not None else remedy_in_words(k, Family.remedies)
    parts = []
    if floors:
        parts.append(
            f"in {floors} a component's {phrase} (var_floor times the data's variance, each "
            "column's in d > 1): it sat on too few distinct points"
        )
    if weights:
        least = least_words(family.least_weight() if family is not None else 1.0)
        parts.append(f"in {weights} a component kept less than {least} of weight")
    rescued = sum(1 for s in starts if s.init == RESCUE_INIT)
    grown = sum(1 for s in starts if s.init.startswith("grow"))
    n = len(starts) - rescued - grown
    which = "its only start was" if n == 1 else f"every one of its {n} starts was"
    more = f", and so were {rescued} more drawn in parameter space" if rescued else ""
    if grown:
        more += f"{' and' if rescued else ', and so were'} {grown} grown from k={k - 1}'s fit"
    return (
        f"k={k}: {which} degenerate after {MAX_RESTARTS} restarts{'' if n == 1 else ' each'}"
        f"{more} "
        f"({'; '.join(parts) or 'no start ran'})" + (f"; try {remedy}" if remedy else "")
    )


def term_size(problem: Problem, params: ParamArrays, logw: np.ndarray) -> float | None:
    """The largest term a point's log-density is summed from in the E-step, for one start's
    parameters (a leading axis of 1; log weights (K,)): ``Family.term_size`` with the batch's
    largest magnitude of each statistic. A point's log-density is a sum of ``1 + m`` such
    terms (m statistics), so ``(1 + m) * n_eff * EPS * size`` bounds what rounding can move
    the engine's log-likelihood by (``fall_detail``; the usual bound for a sum), and
    ``accurate_loglik`` evaluates it again where ``n_eff * EPS * size`` is large. None for
    batches of replicate data sets."""
    if not isinstance(problem.batch, Batch):
        return None
    return problem.family.term_size(params, logw, problem.batch.reach())


def fall_detail(
    problem: Problem,
    params: ParamArrays,
    logw: np.ndarray,
    fall: float,
    floored: bool,
    allowance: float | None = None,
) -> str:
    """The ``ll_decrease`` event's words for a start whose log-likelihood fell by ``fall`` at
    parameters ``params`` (a leading axis of 1; log weights (K,)), ``floored`` where a floor
    lifted one of its components in the M-step before, ``allowance`` where the parameters are
    a SQUAREM extrapolation (what its acceptance allows below the cycle's start:
    ``EXTRAPOLATION_SLACK`` of the larger of |LL| and n, for rounding). An EM step cannot
    lower the likelihood, but three things can:

    - rounding: the E-step sums each point's log-density from ``1 + m`` terms (m statistics),
      so it keeps it to ``(1 + m) * EPS * term_size`` a point (the usual bound for a sum);
      where components are extreme (one of shape 1e8 on lake levels sums terms of 1e9 to
      O(1)) a fall within ``n_eff`` times that is rounding, and the words say so;
    - a floor: EM's guarantee is its M-step's maximizer's, and a covariance lifted to the
      floor is the floor's, not that maximizer (nor need the step's start be within the floor:
      the exemption for tight clusters, ``mixfit.tight``, depends on the responsibilities);
    - SQUAREM's acceptance, which keeps an extrapolation up to its allowance below the cycle's
      start (where n is large against |LL| the allowance exceeds ``DECREASE_NOISE``).

    Only called on a fall: nothing on the EM loop's path."""
    words = f"log-likelihood fell by {fall:.3g}"
    if floored:
        return words + ", where a floor lifted a component (its first lift is an event)"
    size = term_size(problem, params, logw)
    if size is not None and np.isfinite(size):
        reach = (1 + problem.batch.m) * problem.n_eff * EPS * size
        if fall <= reach:
            return words + (
                f", within what rounding can move it here ({reach:.2g}: its components' "
                f"log-densities are sums of terms up to {size:.2g} a point)"
            )
    if allowance is not None and fall <= allowance:
        return words + (
            f", an extrapolation kept within SQUAREM's allowance for rounding ({allowance:.2g})"
        )
    return words


def accurate_loglik(
    problem: Problem, params: ParamArrays, logw: np.ndarray, json_params: Any = None
) -> float | None:
    """The log-likelihood of one start's parameters (a leading axis of 1; log weights (K,))
    evaluated in data units (``Family.mixture_log_density``: centred, whitened), where the
    engine's may have lost more than ``ACCURATE_LOGLIK`` of it; None where it cannot have.

    The E-step sums ``eta . T + bias`` per point and component: for a component thin in some
    direction and far from the data's centre these terms reach 1e10 and cancel to O(1), and
    the sum keeps about 1e-16 of the terms. Two clusters 100 apart, one of correlation
    0.9999999 (``tests/core/test_oblique.py``): the engine's log-likelihood of the maximum
    stood 2.5e-4 above its value in 50-digit arithmetic over 400 points on one machine's BLAS,
    1e-4 on another's; evaluated here it is 1.3e-12 from it. The test: float64's epsilon
    times the largest ``|eta| . max|T| + |bias|`` of a component against ``ACCURATE_LOGLIK``
    (a point's possible loss against what it may lose). Families with an E-step of their own
    (no natural parameters: the t's) keep the engine's, and so do problems whose batch is not
    their data's (``Problem.data_batch``: the moves' sample, in engine units, whose
    log-likelihoods the moves compare among themselves)."""
    fam = problem.family
    if problem.batch is not problem.data_batch or not fam.exponential_family:
        return None
    size = term_size(problem, params, logw)
    if size is None or problem.n_eff * EPS * size <= ACCURATE_LOGLIK * max(1.0, problem.n_eff):
        return None
    if json_params is None:
        json_params = fam.to_json(take(params, 0), np.exp(logw), problem.scaling)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        density = fam.mixture_log_density(json_params, problem.X)
        total = float(density.sum() if problem.w is None else density @ problem.w)
    return total if np.isfinite(total) else None


def _summarize(problem: Problem, st: _Starts) -> KResult:
    fam = problem.family
    k = st.k
    starts = []
    for s in range(st.S):
        starts.append(
            StartSummary(
                start=st.index[s],
                seed=st.seeds[s],
                init=st.method(s),
                candidate=st.candidate[s],
                screen_loglik=st.screen_ll[s],
                status=STATUS_NAMES[st.status[s]],
                degenerate_reason=st.why[s] if st.status[s] == DEGENERATE else None,
                loglik=st.traces[s][-1] if st.traces[s] else None,
                n_iter=max(len(st.traces[s]) - 1, 0),
                evaluations=int(st.evaluations[s]),
                accelerated=int(st.accepted[s]),
                restarts=int(st.restarts[s]),
                trace=st.traces[s],
                events=st.events[s],
            )
        )
    n_params = fam.n_params(k)
    screening = None
    if st.screened is not None:
        sc = st.screened
        screening = ScreeningSummary(
            candidates=sc.n_candidates,
            iterations=sc.iterations,
            points=sc.points,
            degenerate=sc.degenerate,
        )
    healthy = [
        s for s in range(st.S) if st.status[s] != DEGENERATE and starts[s].loglik is not None
    ]
    if not healthy:
        return KResult(
            k=k,
            status="failed",
            message=failure_message(k, starts, fam),
            n_params=n_params,
            starts=starts,
            screening=screening,
        )
    best = max(healthy, key=lambda s: (starts[s].loglik, -s))
    params = take(st.params, best)
    weights = np.exp(st.logw[best])
    one = take(st.params, slice(best, best + 1))
    _, resp = fam.point_loglik(problem.batch, one, st.logw[best])
    entropy = float(
        entr(resp).sum(axis=1) @ (np.ones(problem.n) if problem.w is None else problem.w)
    )
    json_params = fam.to_json(params, weights, problem.scaling)
    ll = accurate_loglik(problem, one, st.logw[best], json_params)
    ll = starts[best].loglik if ll is None else ll
    bic = -2.0 * ll + n_params * np.log(problem.n_eff)
    path = None
    if problem.request.keep_path:
        path = [fam.to_json(p, wts, problem.scaling) for p, wts in st.paths[best]]
    points = weights * problem.n_eff
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
        params=json_params,
        points=points.tolist(),
        small_components=[int(j) for j in np.flatnonzero(points < fam.component_params())],
        starts=starts,
        path=path,
        screening=screening,
    )
