"""Split-and-merge moves from a K's best fit (SMEM: Ueda, Nakano, Ghahramani & Hinton 2000).

A common local maximum of a mixture holds two components where the data have one and one
component where they have two: no EM start near it can leave, and independent starts rarely
land elsewhere once K is large. SMEM leaves it by a joint move: merge the two components whose
responsibilities overlap most, split the component that fits its own points worst in two, and
run EM from there. Measured on the peer fixtures: banknote diag K=5 (scikit-learn's -752.57
against -753.51 from 20 starts) and crabs tied K=3 (-1380.58 against -1381.97) are reached by
a move; both were beyond mixfit's screened starts.

Candidates (i, j, s) come in Ueda et al.'s order: merge pairs by decreasing overlap
``J_merge(i, j) = <r_i, r_j> / (|r_i| |r_j|)`` (responsibility vectors over the points), and for
each pair the other components by decreasing local misfit ``J_split(s) = KL(f_s || q_s)``,
where ``f_s`` is component s's share of the points (its responsibilities, normalized) and
``q_s`` its own density at the points, normalized over them. The merged component takes the
responsibilities ``r_i + r_j``; slot j takes the half of s's points on one side of s's
principal axis (engine space). Two more kinds of move follow, up to ``count // 2`` of each:
three-way moves (``ranked_three_way``: merge one overlapping pair, cut the union of another in
three, so a component can appear between two) and births (``births``: merge a pair, give the
freed component the tight cluster of points the fit explains worst, so a small component, a
spike on a few close points, can appear where no component held those points alone). A move
whose part would hold fewer rows than a non-singular component needs
(``Family.singular_points``) is not tried. Each candidate's parameters are one M-step from those
responsibilities on at most ``starts.SCREEN_POINTS`` points (all of a smaller data set). There
the candidates are told apart, beside the fit itself, by at most ``SAMPLE_MAX_ITER`` E-steps
at a looser tolerance (``_on_sample``); the best, when it ends above the fit, and up to
``runners_up`` others above it continue to convergence on all the data, each as an explicit
start of its own (``init`` ``"smem ..."``, start index after the request's, no restarts: a move
that degenerates is simply not taken). When the best of them beats the fit by more than the
tolerance, a new round starts from it (at most ``ROUNDS``). After the rounds, when K-1 was
fitted too, growth moves (``growth``: K-1's fit and one more component) are told apart and
continued the same way, beside the K's final fit.

It runs where a K's final fit is known, once per K: after ``run_k`` in ``fit_ks`` and after
the merge of a fanned-out fit, so the result does not depend on the number of workers. The
rounds are skipped for K < 3 (K = 2's split start is K = 1's one split); growth moves run from
K = 2 on. Nothing runs for explicit start values or ``split_merge = 0``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .data import log_spread, point_weight
from .errors import FitError
from .estep import Batch
from .families.base import ParamArrays
from .neighbourhoods import clusters_at_every_scale, tight_clusters
from .schema import KResult
from .starts import SCREEN_POINTS, Sample, sample

ROUNDS = 3
SMEM_STREAM = 0x53E3  # spawn key of the sample the moves are built on
# The moves only have to be told apart: a 100x looser tolerance and at most 30 E-steps (ten
# SQUAREM cycles). Measured (make bench's split_merge_cost): all moves to convergence cost the
# small K grid 1.64x its time without moves, told apart in 30 E-steps 1.18x; at n = 50,000,
# K = 3..5, 300 E-steps on the sample cost 1.37x, 30 1.15x, for the same gains (+4.91, 0,
# +4.64); the peer grid's misses under seeds 0..9 were the same 12.
SAMPLE_TOL_FACTOR = 100.0
SAMPLE_MAX_ITER = 30
# Births among the growth moves: K-1 of them, and at least this many (a K = 2 grown from one
# component would have room for one, and a data set can hold several tight clusters, some of
# them rounded values that collapse: ``growth``).
GROWTH_BIRTHS = 4
DEFAULT_MOVES = 10  # at least, and at most MAX_MOVES, by default (``move_count``)
MAX_MOVES = 100
# Multiply-adds the moves of a K may spend in d > 1 on at most ``starts.SCREEN_POINTS`` points,
# where they buy more than K (K - 1) moves (``move_count``, ``_move_cells``): wine's 178 points
# in 13-D at K = 6 and scikit-learn's digits on 8 principal components (1,797 points) at K = 4
# afford 100; 4,000 points in 10-D at K = 5, 25.
MOVE_BUDGET = 2e9
# Besides the best move on the sample, up to this many runners-up continue on all the data: after
# 30 loose E-steps the best is not always the move whose maximum is highest (R's quakes full
# K = 6: with K (K - 1) moves the best on the sample ends at -14331.22, a runner-up at -14329.76).
RUNNERS_UP = 2
# ... and one more per this many moves beyond K's default count (``runners_up``; small data
# in d > 1 get up to 100 moves): R's quakes full K = 6 (n = 1,000) reached -14329.76 with 30
# moves and two runners-up, -14331.22 with 92 moves (a first budget's) and two, -14329.76 with
# 92 and five (``tests/core/test_agglomeration.py``, now at 100 moves and nine).
MOVES_PER_RUNNER_UP = 10


def refine(
    problem: Any,
    result: KResult,
    run: Any,
    progress: Any = None,
    parent: KResult | None = None,
    nested: KResult | None = None,
) -> KResult:
    """``result`` improved by split-and-merge moves, with the moves' starts appended.

    Parameters
    ----------
    problem : mixfit.em.Problem
    result : KResult
        A K's final fit (all its starts merged).
    run : callable
        ``run(problem, k, given, first_index, progress) -> KResult``: the engine running the
        given start parameters (``mixfit.em.run_given``).
    progress : callable, optional
        The fit's progress callback (a worker's stop request raises there); it sees the K's
        starts and the moves as one count.
    parent : KResult, optional
        K-1's final fit: after the rounds, its growth moves are tried (``growth``).
    nested : KResult, optional
        The K's fit under the family's nested family (``mixfit.fit.nested_fit``): last, its
        parameters as one more start (``from_nested``), told apart from the fit on the sample
        and continued when above it there, as a move is.
    """
    req = problem.request
    k = result.k
    count = move_count(req.split_merge, k, _move_cells(problem, k))
    if count == 0 or k < 2 or req.explicit_start is not None or result.status != "ok":
        return result
    best = result
    starts = list(result.starts)
    for round_ in range(ROUNDS if k >= 3 else 0):
        seq = np.random.SeedSequence(problem.seed, spawn_key=(k, SMEM_STREAM, round_))
        rng = np.random.default_rng(seq)
        drawn = moves(problem, best, count, rng)
        if drawn is None:
            break
        given, s = drawn
        given = _on_sample(
            problem,
            best,
            given,
            s,
            run,
            counting(progress, len(starts), best, False),
            runners_up(count, k),
        )
        if given is None:
            break
        tried = run(problem, k, given, len(starts), counting(progress, len(starts), best))
        starts.extend(tried.starts)
        gain = (tried.loglik - best.loglik) if tried.status == "ok" else -np.inf
        if not gain > problem.gain_threshold(best.loglik):
            break
        best = tried
    regrown = any(t.init.startswith("grow") for t in result.starts)  # (``finish.regrow``)
    if parent is not None and parent.status == "ok" and not regrown:
        given, s = growth(problem, parent)
        if given is not None:
            report = counting(progress, len(starts), best, False)
            given = _on_sample(problem, best, given, s, run, report, runners_up(count, k))
        if given is not None:
            best = _continued(problem, given, starts, best, run, progress)
    given = from_nested(problem, nested)
    if given is not None:  # told apart from the fit on the sample first, as a move is
        seq = np.random.SeedSequence(problem.seed, spawn_key=(k, SMEM_STREAM, ROUNDS + 1))
        s = sample(problem.Z, problem.w, np.random.default_rng(seq))
        report = counting(progress, len(starts), best, False)
        given = _on_sample(problem, best, given, s, run, report, 0)
    if given is not None:
        best = _continued(problem, given, starts, best, run, progress)
    if best is result:
        return result.model_copy(update={"starts": starts})
    return best.model_copy(update={"starts": starts, "screening": result.screening})


def never_below(problem: Any, results: list[KResult], run: Any) -> list[KResult]:
    """The fit's K results (any order) in increasing K, each K whose fit ended below the
    reported K-1's by more than the tolerance replaced by that K-1 fit with a component in two
    equal halves (``copied``), run as one more start of K (``run``: ``mixfit.em.run_given``).

    Every mixture of K-1 components is one of K, so K's maximum is never below K-1's; yet on
    data of many repeated values every start and move of K can leave K-1's maximum only to
    collapse onto a repeated value (a component at the floor: degenerate, not kept) or to end
    lower. MASS's geyser durations (299 points, 118 distinct values, 53 copies of one),
    Gaussian: K = 4 ended at -261.75 and every move of K = 5 collapsed but those ending at
    -298.05 or below. The copy is an EM fixed point (two equal components share their points
    equally, so the M-step keeps them equal) at K-1's log-likelihood, so the reported
    log-likelihoods never fall as K grows; its information criteria are K-1's plus the
    penalty of the extra parameters, so it is never selected over K-1, and its ``message``
    says what it is. Applied to the results only, when the fit is assembled: K+1's growth
    moves still start from K's own fit, a maximum of its own, not K-1's again (R's petrol,
    full, seed 0: K = 4 ended at -460.95, below K = 3's -421.25, and K = 5 grew from it to
    -416.48, which growth from the copy missed). A K whose K-1 was not asked (a K alone, the
    smallest of a list) compares with the K-1 fitted for its growth moves
    (``mixfit.fit.parent_fit``, kept on ``problem.extra["parents"]``), so a K asked alone
    ends where the grid's does. A K every start of which collapsed is still refused (as
    mclust's NA BIC); left as they are: a K with no K-1 fitted at all (K = 1, a K = 2 alone),
    and every K with the moves off (``split_merge = 0``: a peer's EM reproduced) or explicit
    start values."""
    req = problem.request
    ordered = sorted(results, key=lambda r: r.k)
    if req.split_merge == 0 or req.explicit_start is not None:
        return ordered
    hidden = problem.extra.get("parents", {})  # K-1s fitted for moves only (``parent_fit``)
    shown: list[KResult] = []
    for result in ordered:
        below = shown[-1] if shown and shown[-1].k == result.k - 1 else hidden.get(result.k - 1)
        if below is not None and below.status == "ok" and result.status == "ok":
            if below.loglik - result.loglik > problem.gain_threshold(below.loglik):
                result = _copy_of(problem, below, result, run)
        shown.append(result)
    return shown


def _copy_of(problem: Any, below: KResult, result: KResult, run: Any) -> KResult:
    """``result`` (K) replaced by K-1's fit ``below`` with a component copied, where that
    start ends above it (see ``never_below``)."""
    given = copied(problem, below)
    if given is None:
        return result
    starts = list(result.starts)
    better = _continued(problem, given, starts, result, run, None)
    if better is result:
        return result
    message = (
        f"k={result.k}: every start and move collapsed or ended below k={below.k}'s fit; this "
        f"is k={below.k}'s fit with its largest component in two equal halves (the same "
        "log-likelihood, more parameters: the data support no more components)"
    )
    return better.model_copy(
        update={"starts": starts, "screening": result.screening, "message": message}
    )


def copied(problem: Any, parent: KResult) -> tuple[ParamArrays, np.ndarray, list[str]] | None:
    """One start (1, K, ...) from K-1's fit ``parent``: its parameters with the component of
    the largest weight copied into the last slot and its weight shared equally between the
    two; None where the parameters do not come back to engine space (``engine_params``) or
    the halves would hold less than a point's worth each."""
    engine = engine_params(problem, parent.params)
    if engine is None:
        return None
    params, weights = engine
    t = int(np.argmax(weights))
    if weights[t] * problem.n_eff < 2.0 * problem.one_point:
        return None
    start = {name: np.concatenate([v, v[:, t : t + 1]], axis=1) for name, v in params.items()}
    shares = np.append(weights, weights[t] / 2.0)
    shares[t] /= 2.0
    with np.errstate(divide="ignore"):
        return start, np.log(shares)[None, :], [f"grow (copy of {t})"]


def _continued(
    problem: Any,
    given: tuple[ParamArrays, np.ndarray, list[str]],
    starts: list,
    best: KResult,
    run: Any,
    progress: Any,
) -> KResult:
    """Run ``given`` to convergence on all the data as the K's next starts (appended to
    ``starts``): their result where it beats ``best`` by more than the tolerance, else
    ``best``."""
    tried = run(problem, best.k, given, len(starts), counting(progress, len(starts), best))
    starts.extend(tried.starts)
    gain = (tried.loglik - best.loglik) if tried.status == "ok" else -np.inf
    return tried if gain > problem.gain_threshold(best.loglik) else best


def from_nested(
    problem: Any, nested: KResult | None
) -> tuple[ParamArrays, np.ndarray, list[str]] | None:
    """The start (1, K, ...) parameters, log weights (1, K) and label taken from the K's fit
    under the family's nested family (``Family.nested_start``), or None."""
    if nested is None or nested.status != "ok" or nested.params is None:
        return None
    fam = problem.family
    params, weights = fam.from_json(fam.nested_start(nested.params), problem.scaling)
    with np.errstate(divide="ignore"):
        return params, np.log(weights)[None, :], [f"{fam.nested} fit"]


def move_count(requested: int | None, k: int, cells: float | None = None) -> int:
    """Moves of each K: the request's ``split_merge``, or by default ``K (K - 1)`` (two per
    pair of components, as many three-way and birth moves as pairs), at least
    ``DEFAULT_MOVES`` and at most ``MAX_MOVES``; more in d > 1 where the moves are cheap and
    told apart on all the data: as many as ``MOVE_BUDGET`` affords at ``cells`` multiply-adds a
    move (``_move_cells``; None in 1-D and on more than ``starts.SCREEN_POINTS`` points).

    Ueda et al. try candidates in their order until one improves; a fixed ten covers a
    shrinking share of the K (K - 1) / 2 merge pairs as K grows. Measured
    (``tests.benchmarks.moves_sweep``, seeds 0..4): against mclust at K = 6..9 on 35 R data sets
    (1,735 fits) ten moves missed 2 (MASS geyser tied K = 8 under seeds 0 and 2: -1338.16
    against -1332.45; K (K - 1) = 56 moves reach -1328.90 by a birth then a three-way move;
    since a tied component may hold less than a point, 2026-12-04, two moves reach it) in
    584 s, K (K - 1) with ``RUNNERS_UP`` none in 716 s; on the peers' grid at K = 3..6 (955
    fits) 7 and 5.

    Small data in several dimensions hold many maxima a few units apart, and their moves cost
    little. Measured on scikit-learn's data sets (``tests/core/test_sklearn_datasets.py``'s
    144 cells, seeds 0..2, against scikit-learn's best admissible of 30 starts): K (K - 1)
    moves missed 14 of 432 fits, all tied covariances on wine and linnerud; 100 moves 8, for
    18 % more time over the grid. On scikit-learn's digits projected on 8 principal components
    (n = 1,797, full, K = 4) 36 moves left seeds 0, 2, 3 and 5 of 0..5 up to 72 units below
    the best (-49139.98, which 2 of 40 single k-means++ starts reach), 100 moves none, for 20 %
    more time. On the peers' grid (573 fits, seeds 0..2) 100 moves changed no miss (2 and 2,
    both swiss tied) for 7 % more time, hence 1-D keeps K (K - 1): there a move's cost is
    mostly per-iteration overhead, and the small K grid of the simulator took 23 % longer with
    100. Against mclust at K = 6..9 (694 fits, seeds 0, 1) 100 moves changed no miss (none)
    for 29 % more time.
    """
    if requested is not None:
        return requested
    count = _default_count(k)
    if cells is not None:
        count = max(count, int(MOVE_BUDGET / cells))
    return int(min(MAX_MOVES, count))


def _default_count(k: int) -> int:
    return min(MAX_MOVES, max(DEFAULT_MOVES, k * (k - 1)))


def runners_up(count: int, k: int) -> int:
    """Moves that continue on all the data beside the best on the sample, when above the fit:
    ``RUNNERS_UP``, and one more per ``MOVES_PER_RUNNER_UP`` moves beyond K's default count."""
    return RUNNERS_UP + max(0, count - _default_count(k)) // MOVES_PER_RUNNER_UP


def _move_cells(problem: Any, k: int) -> float | None:
    """Multiply-adds of one move: its candidates (a pair move, and up to a three-way and a
    birth move) for ``SAMPLE_MAX_ITER`` E-steps of K components over the statistics of all the
    points. None in 1-D and where the moves are told apart on a sample (more than
    ``starts.SCREEN_POINTS`` points): there more moves meant more of them ranked wrongly on the
    sample, at more cost (2-D, n = 50,000, K = 3..5 with 46 to 92 moves: K = 4 2.7 units lower,
    K = 5 5.0 higher, 25 % more time), so large data keep ``K (K - 1)``."""
    n, d = problem.Z.shape
    if d == 1 or n > SCREEN_POINTS:
        return None
    return 2.0 * SAMPLE_MAX_ITER * n * k * (1 + problem.batch.m)


def _on_sample(
    problem: Any,
    best: KResult,
    given: tuple[ParamArrays, np.ndarray, list[str]],
    s: Sample,
    run: Any,
    report: Any,
    also: int = RUNNERS_UP,
) -> tuple[ParamArrays, np.ndarray, list[str]] | None:
    """The moves run on the sample (the data themselves when small) beside the fit itself (its
    parameters as one more start), a few E-steps at a looser tolerance: the best move,
    when it ends above the fit there, continues on all the data from where it ended, and up to
    ``also`` others above the fit from their own start (``runners_up``). (A
    fanned-out fit runs the moves in its merging job, one worker: at n = 50,000 the ten moves
    of K = 3..6 to convergence on all the data took 45 s there, longer than the parts.)"""
    fam = problem.family
    engine = engine_params(problem, best.params)
    if engine is None:
        return None
    params, weights = engine
    with np.errstate(divide="ignore"):
        logw = np.log(weights)[None, :]
    starts = {name: np.concatenate([value, params[name]]) for name, value in given[0].items()}
    n_eff = float(s.weights.sum())
    req = problem.request
    loose = req.model_copy(
        update={"tol": SAMPLE_TOL_FACTOR * req.tol, "max_iter": min(req.max_iter, SAMPLE_MAX_ITER)}
    )
    small = dataclasses.replace(
        problem,
        request=loose,
        X=s.Z,
        w=s.w,
        Z=s.Z,
        batch=Batch(fam.statistics(s.Z), s.w),
        constant=0.0,
        n_eff=n_eff,
        one_point=point_weight(s.w),
        hierarchy=None,
        extra={},
        unit_offset=n_eff * log_spread(s.Z, s.w),
    )
    offset = small.unit_offset
    labels = [*given[2], "fit"]
    tried = run(small, best.k, (starts, np.concatenate([given[1], logw]), labels), 0, report)
    if tried.status != "ok" or tried.best_start == len(labels) - 1:
        return None
    # the fit's own run on the sample, which may have degenerated there (no log-likelihood:
    # every move is above it; a None here failed the runners-up below, found by fuzzing)
    reference = tried.starts[-1].loglik
    if reference is None:
        reference = -np.inf
    gain = tried.loglik - reference
    if not gain > req.gain_threshold(tried.loglik + offset, n_eff):
        return None
    engine = engine_params(problem, tried.params)
    if engine is None:
        return None
    params, weights = engine
    with np.errstate(divide="ignore"):
        logw = np.log(weights)[None, :]
    # the runners-up above the fit continue too, from their move's own parameters; where the
    # sample is all the data, never a move that degenerated there (its log-likelihood is a
    # spike's: MASS's biopsy, 683 rows of which 449 distinct, spherical K = 8 continued six
    # splits onto repeated rows and no move that climbed). On a sample of larger data a move
    # that collapses there may not on all of it: a birth on 5 of 4,000 sample points holds
    # about 60 of 50,000 (1-D, K = 3: that runner-up gave the best maximum, -109884.96).
    lls = np.array(
        [
            -np.inf if t.loglik is None or (s.full and t.status == "degenerate") else t.loglik
            for t in tried.starts[:-1]
        ]
    )
    lls[tried.best_start] = -np.inf
    above = [
        int(i)
        for i in np.argsort(-lls, kind="stable")[:also]
        if np.isfinite(lls[i]) and req.gain_threshold(lls[i] + offset, n_eff) < lls[i] - reference
    ]
    params = {
        name: np.concatenate([value, given[0][name][above]]) for name, value in params.items()
    }
    logw = np.concatenate([logw, given[1][above]])
    return params, logw, [tried.starts[i].init for i in [tried.best_start, *above]]


def counting(progress: Any, before: int, best: KResult, comparable: bool = True) -> Any:
    """The progress callback of a round of moves: its counts follow the K's ``before`` starts;
    its log-likelihood leads when it is above the fit's (never when it is a sample's:
    ``comparable=False``)."""
    if progress is None:
        return None

    def report(info: dict[str, Any]) -> None:
        top = info["best_loglik"]
        lead = comparable and top is not None and top > best.loglik
        progress(
            {
                **info,
                "starts_done": before + info["starts_done"],
                "n_starts": before + info["n_starts"],
                "best_loglik": info["best_loglik"] if lead else best.loglik,
                "trace": info["trace"] if lead else _trace(best),
            }
        )

    return report


def _trace(result: KResult) -> list[float]:
    return next(s.trace for s in result.starts if s.start == result.best_start)


def engine_params(problem: Any, params: Any) -> tuple[ParamArrays, np.ndarray] | None:
    """A K's JSON parameters (data units) in engine space, or None where the round trip
    fails: a covariance positive definite in engine space can come back from data units with
    an eigenvalue at or below 0 (scikit-learn's wine with its columns scaled by 1e-3 .. 1e3,
    full K = 3: variances over 19 orders of magnitude; the fit ended in "start covariance 0
    is not symmetric positive definite", though no start was given). No move then starts
    from that fit, as ``finish.polish`` does not polish it."""
    try:
        return problem.family.from_json(params, problem.scaling)
    except FitError:
        return None


def moves(
    problem: Any, result: KResult, count: int, rng: np.random.Generator
) -> tuple[tuple[ParamArrays, np.ndarray, list[str]], Sample] | None:
    """The start parameters (C, K, ...), log weights (C, K) and labels of up to ``count``
    split-and-merge candidates from ``result``'s parameters, and the sample of at most
    ``starts.SCREEN_POINTS`` points they were built on."""
    fam = problem.family
    s = sample(problem.Z, problem.w, rng)
    engine = engine_params(problem, result.params)
    if engine is None:
        return None
    params, weights = engine
    with np.errstate(divide="ignore"):
        logw = np.log(weights)
    batch = Batch(fam.statistics(s.Z), s.w)
    ll, resp = fam.point_loglik(batch, params, logw)
    if not np.isfinite(resp).all():
        # no density to move from: a covariance that the round trip through data units left
        # singular in floating point (a t fit's nested Gaussian K = 4 on a cluster of points
        # equal to within an ulp of 1.9e10, found by fuzzing: NaN responsibilities)
        return None
    # A part too small to hold a non-singular component is a move that degenerates at once
    # (iris full K=5: 4 of 10 moves split an 8-point component into 4-point halves in 4-D);
    # counted in rows, since a weighted row is still one distinct point.
    least = fam.singular_points()
    labels: list[str] = []
    splits: list[np.ndarray] = []
    for i, j, t in ranked(resp, ll, logw, s.weights):
        if len(labels) == count:
            break
        split = merged_and_split(s.Z, resp, i, j, t)
        if np.all(_worth(split[:, [j, t]], s.w) >= least):
            labels.append(f"smem (merge {i}+{j}, split {t})")
            splits.append(split)
    three = 0
    for i, j, a, b in ranked_three_way(resp, s.weights):
        if three == count // 2:
            break
        split = merged_and_three_way(s.Z, s.weights, resp, i, j, a, b)
        if np.all(_worth(split[:, [a, j, b]], s.w) >= least):
            labels.append(f"smem (merge {i}+{j}, split {a}+{b} in three)")
            splits.append(split)
            three += 1
    base = fam.base_measure(s.Z)
    for i, j, members in births(s.Z, s.weights, ll + base, resp, least, count // 2):
        labels.append(f"smem (merge {i}+{j}, new on {_worth(members, s.w):g} points)")
        splits.append(merged_and_born(resp, i, j, members))
    given = _given(problem, s, splits, labels)
    return None if given is None else (given, s)


def growth(
    problem: Any, parent: KResult
) -> tuple[tuple[ParamArrays, np.ndarray, list[str]] | None, Sample]:
    """Growth moves from K-1's fit ``parent``, and the sample of at most
    ``starts.SCREEN_POINTS`` points they were built on (the K's own): start parameters
    (C, K, ...), log weights (C, K) and labels, or None. K-1's components and a new
    one in the last slot, which takes one side of a component's principal axis (for every
    component: ``merged_and_split`` into the empty slot) or a tight cluster of points the fit
    explains worst (``births``, up to K-1 of them).

    Every mixture of K-1 components is one of K, so K's maximum is at least K-1's, yet K's
    starts and moves can all end below it where most paths collapse: on R's Nile flows
    (n = 100) under the Gamma family, seed 0's K = 5 ended at -645.08 against K = 4's
    -643.90, and a growth move reaches -642.14 (seed 1's K = 4: -647.00, now -643.91). They
    run after the split-and-merge rounds, beside the K's final fit, so they can only add to
    it. Measured on the peers' and the family references' data sets fitted as K = 1..6 grids
    (seeds 0 and 1, 804 cells; the grids the tests fit one K at a time): 44 cells ended
    higher, Gaussian ones by up to 33.56 (banknote full K = 6), 8.1 to 22 on swiss, crabs,
    iris, USArrests full; one 0.002 lower; 3 % more time (Gaussian 5 %, Gamma 9 %; the
    simulator's K = 1..4 grid: 15 %, 125 -> 143 ms, K = 4 0.2 higher).

    From K = 2 on: on mclust's Test1D (n = 200) seed 0's screened starts of K = 2 all ended at
    -781.64 or below, and on MASS's leuk (n = 33, spherical) seed 2's at -700.78, each missing
    a tight cluster (32 points at one end; the five white blood counts at the cap) that a birth
    from K = 1's one component reaches (-765.97, -664.42; mclust's default start: -786.64 and
    -706.69). Test1D's values are rounded: the densest neighbourhoods are five copies of 14.6
    in the middle and five values within 0.1 at the high end, whose births collapse; the third
    reaches the cluster. Hence at least ``GROWTH_BIRTHS`` births, each kept off the clusters
    already taken (``tight_clusters``'s ``apart``); with one or two, seed 0 stays at -781.64."""
    fam = problem.family
    k = parent.k + 1
    seq = np.random.SeedSequence(problem.seed, spawn_key=(k, SMEM_STREAM, ROUNDS))
    s = sample(problem.Z, problem.w, np.random.default_rng(seq))
    engine = engine_params(problem, parent.params)
    if engine is None:
        return None, s
    params, weights = engine
    batch = Batch(fam.statistics(s.Z), s.w)
    with np.errstate(divide="ignore"):
        ll, resp = fam.point_loglik(batch, params, np.log(weights))
    if not np.isfinite(resp).all():  # no density to grow from (as in ``moves``)
        return None, s
    least = fam.singular_points()
    m, k1 = resp.shape
    padded = np.concatenate([resp, np.zeros((m, 1))], axis=1)
    labels: list[str] = []
    splits: list[np.ndarray] = []
    for t in range(k1):
        split = merged_and_split(s.Z, padded, k1, k1, t)
        if np.all(_worth(split[:, [t, k1]], s.w) >= least):
            labels.append(f"grow (split {t})")
            splits.append(split)
    base = fam.base_measure(s.Z)
    clusters = clusters_at_every_scale(s.Z, s.weights, ll + base, least, max(k1, GROWTH_BIRTHS))
    for members in clusters:
        labels.append(f"grow (new on {_worth(members, s.w):g} points)")
        splits.append(merged_and_born(padded, k1, k1, members))
    return _given(problem, s, splits, labels), s


def _given(
    problem: Any, s: Sample, splits: list[np.ndarray], labels: list[str]
) -> tuple[ParamArrays, np.ndarray, list[str]] | None:
    """Start parameters (C, K, ...), log weights (C, K) and labels from the moves'
    responsibilities on the sample (each (m, K)); a move that leaves a component empty is
    dropped."""
    if not splits:
        return None
    out = np.stack(splits)
    start = problem.family.initial(s.Z, s.w, out, problem.floor)
    mass = np.einsum("cmk,m->ck", out, s.weights)
    # a share that underflows is as empty as no mass (a born component of responsibilities
    # about 1e-310: log 0, found by fuzzing)
    share = mass / mass.sum(axis=1, keepdims=True)
    if np.any(share <= 0.0):
        keep = np.all(share > 0.0, axis=1)
        if not keep.any():
            return None
        start = {name: value[keep] for name, value in start.items()}
        share = share[keep]
        labels = [label for label, kept in zip(labels, keep, strict=True) if kept]
    return start, np.log(share), labels


def _overlap(resp: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Ueda et al.'s ``J_merge`` (K, K): cosines between the components' weighted
    responsibility vectors (m, K); NaN for a component without any."""
    rw = resp * weights[:, None]
    norms = np.linalg.norm(rw, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rw.T @ rw) / np.outer(norms, norms)


def _pairs_by_overlap(overlap: np.ndarray) -> list[tuple[int, int]]:
    """Every pair i < j of components, the most overlapping first (a stable sort)."""
    K = overlap.shape[0]
    return sorted(((i, j) for i in range(K) for j in range(i + 1, K)), key=lambda p: -overlap[p])


def _principal_axis(Z: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (m, d) centred on their ``r``-weighted mean, and the principal axis (d,) of
    their ``r``-weighted scatter."""
    mass = max(float(r.sum()), 1e-300)
    centered = Z - (r @ Z) / mass
    scatter = (centered * r[:, None]).T @ centered / mass
    return centered, np.linalg.eigh(scatter)[1][:, -1]


def ranked(
    resp: np.ndarray, ll: np.ndarray, logw: np.ndarray, weights: np.ndarray
) -> list[tuple[int, int, int]]:
    """Candidate moves (merge i and j, split s into s and j) in Ueda et al.'s order, from the
    responsibilities (m, K), per-point log-likelihoods (m,) and log weights (K,)."""
    rw = resp * weights[:, None]
    overlap = _overlap(resp, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        # log p_s(x_n) = log r_ns + log p(x_n) - log w_s
        log_own = np.log(resp) + ll[:, None] - logw[None, :]
        f = rw / rw.sum(axis=0, keepdims=True)
        top = np.max(np.where(np.isfinite(log_own), log_own, -np.inf), axis=0)
        q = np.exp(log_own - top) * weights[:, None]
        q /= q.sum(axis=0, keepdims=True)
        terms = np.where(f > 0.0, f * (np.log(f) - np.log(q)), 0.0)
    misfit = np.nan_to_num(terms.sum(axis=0), nan=-np.inf)
    pairs = _pairs_by_overlap(np.nan_to_num(overlap, nan=-1.0))
    order = np.argsort(-misfit, kind="stable")
    return [(i, j, int(t)) for i, j in pairs for t in order if t != i and t != j]


def merged_and_split(Z: np.ndarray, resp: np.ndarray, i: int, j: int, t: int) -> np.ndarray:
    """Responsibilities (m, K) after merging j into i and splitting t between t and j."""
    out = resp.copy()
    out[:, i] += out[:, j]
    r = out[:, t]
    centered, axis = _principal_axis(Z, r)
    side = centered @ axis >= 0.0
    out[:, j] = np.where(side, r, 0.0)
    out[:, t] = np.where(side, 0.0, r)
    return out


def ranked_three_way(resp: np.ndarray, weights: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Three-way moves (merge i and j, split the union of a and b in three) for four distinct
    components, by decreasing ``J_merge(i, j) x J_merge(a, b)``: a pair that overlaps much
    either is one component held by two, or two that share a region a third one should hold."""
    K = resp.shape[1]
    overlap = np.nan_to_num(_overlap(resp, weights), nan=0.0)
    pairs = [(i, j) for i in range(K) for j in range(i + 1, K)]
    out = [(i, j, a, b) for i, j in pairs for a, b in pairs if len({i, j, a, b}) == 4]
    out.sort(key=lambda q: -overlap[q[0], q[1]] * overlap[q[2], q[3]])
    return out


def merged_and_three_way(
    Z: np.ndarray, weights: np.ndarray, resp: np.ndarray, i: int, j: int, a: int, b: int
) -> np.ndarray:
    """Responsibilities (m, K) after merging j into i and cutting the points of a and b in three
    slices of equal weight along their union's principal axis, held by a, j and b (a point
    goes to the slice its cumulative weight ends in: the one at a boundary opens the next).

    The move SMEM's one-for-one split cannot make: where two components meet, a third one that
    holds the points between them (iris full K=5: from -134.06, merging the two halves of
    setosa and cutting versicolor and virginica in three reached scikit-learn's -131.89)."""
    out = resp.copy()
    out[:, i] += out[:, j]
    u = out[:, a] + out[:, b]
    uw = u * weights
    mass = max(float(uw.sum()), 1e-300)
    centered, axis = _principal_axis(Z, uw)
    order = np.argsort(centered @ axis, kind="stable")
    slice_of = np.empty(Z.shape[0], dtype=np.intp)
    slice_of[order] = np.minimum((3.0 * np.cumsum(uw[order]) / mass).astype(np.intp), 2)
    for slot, which in ((a, 0), (j, 1), (b, 2)):
        out[:, slot] = np.where(slice_of == which, u, 0.0)
    return out


def merged_and_born(resp: np.ndarray, i: int, j: int, members: np.ndarray) -> np.ndarray:
    """Responsibilities (m, K) after merging j into i and giving slot j the rows ``members``
    alone."""
    out = resp.copy()
    out[:, i] += out[:, j]
    out[members, :] = 0.0
    out[:, j] = 0.0
    out[members, j] = 1.0
    return out


def births(
    Z: np.ndarray,
    weights: np.ndarray,
    log_density: np.ndarray,
    resp: np.ndarray,
    least: float,
    count: int,
) -> list[tuple[int, int, np.ndarray]]:
    """Up to ``count`` birth moves: (i, j, rows) = merge j into i and give slot j the ``rows``,
    a tight cluster of points that the fit explains worst.

    A small component the data support (a handful of close points: beta's spikes, the 4-point
    components of galaxies or precipitation) is a maximum no split reaches, since no component
    holds those points alone. Each point's neighbourhood of m rows (m = a, 2a, 4a with
    a = max(5, 2 x the rows a non-singular component needs), at most a quarter of the sample)
    gives a nearest-neighbour density estimate ``m / (N V_d r_m^d)`` (Loftsgaarden &
    Quesenberry 1965; none where the m rows are copies of one point, r_m = 0); the
    neighbourhoods where it exceeds the fitted mixture's density
    (``log_density`` (m,), engine space) the most, not sharing a point, become the new
    components, each beside the next merge pair in Ueda et al.'s overlap order. Measured:
    beta j1_bell K=3 reached 418.16 against the brute force's 417.90 (a spike on 11 points);
    the peers' Gaussian grid under seeds 1..9 missed 12 cells instead of 17 (precip free K=5
    no longer).

    Parameters
    ----------
    Z : ndarray of shape (m, d)
        The sample in engine space.
    weights : ndarray of shape (m,)
    log_density : ndarray of shape (m,)
        The fit's log-density at each row.
    resp : ndarray of shape (m, K)
        The fit's responsibilities.
    least : float
        Rows a non-singular component needs.
    count : int
    """
    if resp.shape[1] < 2:
        return []
    pairs = _pairs_by_overlap(np.nan_to_num(_overlap(resp, weights), nan=0.0))
    clusters = tight_clusters(Z, weights, log_density, least, count)
    return [(*pairs[c % len(pairs)], members) for c, members in enumerate(clusters)]


def _worth(part: np.ndarray, w: np.ndarray | None) -> Any:
    """Points' worth: of each column of responsibilities ``part`` (m, c), or of the rows
    ``part`` (an index array), under the sample's weights w (m,) or None (each row one)."""
    if part.ndim == 1:
        return part.size if w is None else float(w[part].sum())
    return part.sum(axis=0) if w is None else w @ part
