"""A K's fit after its starts have run: the rescue of a K whose starts all failed, the
split-and-merge moves (``mixfit.smem``) and the polish of the winner.

``refine_k`` runs once per K where its starts are merged (in process, or by the job that merges
a fanned-out K's parts), so both end alike. A failed K draws starts in parameter space
(``rescue``), then regrows from K - 1's fit (``regrow``) and, still failed, tries flat
responsibilities (``rescue_flat``); every K then takes the moves and the polish (``finish_k``).
The engine they run starts with is ``mixfit.em``'s.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import newton
from .em import FLAT_INIT, RESCUE_INIT, Problem, Progress, merge_k, run_given
from .families.base import ParamArrays
from .schema import Event, KResult, StartSummary
from .screen import SCREEN_CELLS
from .smem import counting, engine_params, growth, refine
from .starts import sample

RESCUE_STREAM = 0x5E5C  # the generator of a K's rescue starts (``rescue``)
# A failed K's rescue draws up to these many times its starts, in rounds while none is regular
# (``rescue``).
RESCUE_FACTORS = (10, 300)
FLAT_STREAM = 0xF1A7  # the generator of a failed K's last starts (``rescue_flat``)
FLAT_VALUES = 2_000_000  # responsibilities built at once by ``rescue_flat`` (16 MB)
FLAT_ROUNDS = 2  # rounds of flat starts at most, while none is regular (``rescue_flat``)
ABOVE_PARENT = 1e-6  # a flat start counts when it ends this much (relative) above K - 1's fit
# Flat starts a round at most: the rescue's second round draws up to 300 times the starts
# (3,000), and on R's mtcars (n = 32, d = 11), full K = 3, two such rounds took 2.2 s of a
# refusal that had taken 0.4
FLAT_MOST = 600
# The tolerance the K's winner is run on to (``polish``), as a share of the request's.
POLISH_TOL = 1e-3


def refine_k(
    problem: Problem,
    result: KResult,
    progress: Progress | None = None,
    parent: KResult | None = None,
    nested: KResult | None = None,
) -> KResult:
    """A K's final fit after a rescue (``rescue``) and split-and-merge moves
    (``mixfit.smem``); run once per K where its starts are merged, so fanned-out and
    in-process fits agree. ``parent`` is K-1's final fit (``mixfit.fit.parent_fit``): the
    moves include growth from it (``mixfit.smem.growth``); ``nested`` the K's fit under the
    family's nested family (``mixfit.fit.nested_fit``), one more start."""
    return finish_k(problem, rescue(problem, result, progress), progress, parent, nested)


def finish_k(
    problem: Problem,
    result: KResult,
    progress: Progress | None = None,
    parent: KResult | None = None,
    nested: KResult | None = None,
) -> KResult:
    """``refine_k`` after its rescue: a K that still failed regrows from ``parent``, then the
    split-and-merge moves and the polish."""
    result = rescue_flat(problem, regrow(problem, result, parent, progress), parent, progress)
    refined = refine(problem, result, run_given, progress, parent, nested)
    return polish(problem, refined, progress)


def polish(problem: Problem, result: KResult, progress: Progress | None = None) -> KResult:
    """The K's winner run on from where it stopped to a tolerance ``POLISH_TOL`` times the
    request's; where it climbed, the winner's record (trace, iterations, events) goes on
    there and the K's result is the polished one.

    A gain per iteration below the tolerance is no distance to the maximum: where EM creeps
    (a t component's degrees of freedom on their way to the bound, two wide components
    trading weight at n = 2,800) the gains stay small for hundreds of iterations and add up.
    Measured (the fourteenth session's family sweep): MASS SP500 returns, t K = 2, stopped
    0.0095 below the brute-force maximum; Aids2's survival days, Gamma K = 5, 0.0096 below and
    log-normal K = 4, 0.0041 below, each where 1e-6 n is 0.0028. Run on to 1e-3 of the
    tolerance from the winner (its one start: the others' ranking is settled), the Gamma and
    log-normal fits reach it (``tests/core/test_polish.py``); the t only halved its gap, its
    EM crawling along a ridge. A winner that took ``newton.CRAWL`` iterations or more, in one
    dimension, is first climbed by BFGS on the log-likelihood (``mixfit.newton``) and EM runs
    on from the point reached (kept where regular and higher; else the EM polish as before):
    the t reaches the brute force's maximum (3e-8 below it, by hand). Not with ``polish:
    false`` or an absolute tolerance (mclust's or normalmixEM's stopping point reproduced),
    nor for explicit start values, nor with ``keep_path`` (the path shows where EM stopped as
    asked, within its cap)."""
    req = problem.request
    # keep_path: the path shows EM's stopping point as asked, within its cap (``MAX_PATH_VALUES``)
    asked = not req.polish or req.tol_type != "relative" or req.keep_path
    if result.status != "ok" or asked or req.explicit_start is not None:
        return result
    # Within the winner's max_iter (E-steps with SQUAREM, M-steps without), and only where it
    # converged: a start cut off at max_iter has spent what the request gave it.
    won = next(s for s in result.starts if s.start == result.best_start)
    left = req.max_iter - (won.evaluations if req.accelerate else won.n_iter)
    if won.status != "converged" or left < 1:
        return result
    engine = engine_params(problem, result.params)
    if engine is None:  # a covariance that round-off in data units leaves indefinite: as it is
        return result
    params, weights = engine
    with np.errstate(divide="ignore"):
        logw = np.log(weights)[None, :]
    # the K's counts (the polish continues a start of them) and its best log-likelihood
    report = counting(progress, len(result.starts) - 1, result)
    climbed = None
    if won.n_iter >= newton.CRAWL and newton.applies(problem.family, problem.batch, problem.d):
        climbed = newton.climb(problem.family, problem.batch, problem.n, params, logw, left - 1)
    if climbed is not None:
        # EM on from the climb's point: a fixed point of EM, and regular or not kept
        up, up_logw, gain, used = climbed
        tried = _run_on(problem, result, (up, up_logw), left - used, report)
        # the climb's point as EM evaluates it, a rise over the winner's last entry: a gain
        # within the two evaluations' rounding (+2e-10 by BFGS's, -2.5e-10 by EM's, measured on
        # an AMD EPYC) is none, and EM polishes the winner's own point
        if tried is not None and tried.starts[0].trace[0] > won.trace[-1]:
            note = f"BFGS on the log-likelihood from EM's point: {gain:+.6g} in {used} E-steps"
            return _continued(result, won, tried, (used, note))
    tried = _run_on(problem, result, (params, logw), left, report)
    return result if tried is None else _continued(result, won, tried)


def _run_on(
    problem: Problem,
    result: KResult,
    start: tuple[ParamArrays, np.ndarray],
    left: int,
    report: Progress | None,
) -> KResult | None:
    """EM from ``start`` (parameters (1, K, ...), log weights (1, K)) to ``POLISH_TOL`` times
    the request's tolerance within ``left`` iterations, as the K's winning start; None unless
    it ends regular (no restart) and above ``result``."""
    req = problem.request
    tight = dataclasses.replace(
        problem, request=req.model_copy(update={"tol": req.tol * POLISH_TOL, "max_iter": left})
    )
    tried = run_given(tight, result.k, (*start, ["polish"]), result.best_start, report)
    if tried.status != "ok" or tried.starts[0].restarts or not tried.loglik > result.loglik:
        return None
    return tried


def _continued(
    result: KResult,
    won: StartSummary,
    tried: KResult,
    newton_step: tuple[int, str] | None = None,
) -> KResult:
    """``result`` with its winner's record going on through ``tried``'s one start. Without
    ``newton_step`` ``tried`` began at the winner's last point, whose trace entry it repeats;
    after a climb (its E-steps and what it did) it began at the climb's point, a new entry,
    which counts as one iteration and is an event."""
    more = tried.starts[0]
    skip = 1 if newton_step is None else 0
    offset = len(won.trace) - skip
    events = [e.model_copy(update={"iteration": e.iteration + offset}) for e in more.events]
    used, detail = newton_step or (0, "")
    if newton_step is not None:
        events.insert(0, Event(iteration=offset, kind="quasi_newton", detail=detail))
    won = won.model_copy(
        update={
            "loglik": more.loglik,
            "n_iter": won.n_iter + more.n_iter + 1 - skip,
            "evaluations": won.evaluations + more.evaluations + used,
            "accelerated": won.accelerated + more.accelerated,
            "trace": [*won.trace, *more.trace[skip:]],
            "events": [*won.events, *events],
        }
    )
    return tried.model_copy(
        update={
            "starts": [won if s.start == won.start else s for s in result.starts],
            "best_start": result.best_start,
            "screening": result.screening,
            "converged": result.converged,
            "n_iter": won.n_iter,
        }
    )


def regrow(
    problem: Problem, result: KResult, parent: KResult | None, progress: Progress | None = None
) -> KResult:
    """A K that failed even after its rescue, with K-1 fitted, gets K-1's growth moves
    (``mixfit.smem.growth``: K-1's fit and one more component) as starts on all the data.

    Every mixture of K-1 components is one of K, and K-1's maximum plus a component where the
    data support one is often a regular start where random ones all collapse. Measured: on
    MASS's nlschools (n = 2,287; three columns of 21 to 47 distinct values), diagonal K = 5,
    seed 2's starts and all 499 rescue draws degenerated, while seeds 0 and 1 fit K = 5 at
    -20914.77 with every component over 270 points; a split of K = 4's third component
    reaches -20916.37, and the split-and-merge moves from there -20914.77. On R's esoph
    counts (n = 88), diagonal K = 7, seed 1 refused the K after 3,010 draws (seed 0:
    -463.56); a birth from K = 6's fit gives -458.82. The moves are labelled ``grow`` and do
    not run again after the split-and-merge rounds. Nothing changes for a K that fits, or with
    ``split_merge = 0`` or explicit start values."""
    req = problem.request
    if (
        result.status == "ok"
        or parent is None
        or parent.status != "ok"
        or req.explicit_start is not None
        or req.split_merge == 0
    ):
        return result
    given, _ = growth(problem, parent)
    if given is None:
        return result
    tried = run_given(problem, result.k, given, len(result.starts), progress)
    return merge_k([result, tried], problem.family)


def rescue(problem: Problem, result: KResult, progress: Progress | None = None) -> KResult:
    """A K every start of which degenerated gets ``RESCUE_FACTORS[0]`` times as many starts
    again, drawn in parameter space (the family's ``random_params``: means at data points,
    variances from 1e-3 to 1 times the data's, flat-Dirichlet weights), each from the K's own
    generator and run without restarts; if every one of those degenerates too, a second round
    brings the draws to ``RESCUE_FACTORS[1]`` times the starts. The K's result holds every set.
    A K that fitted on fewer than half of its starts (``fitted_sparsely``) gets the first round
    too.

    Soft restarts start every component on much of the data and can slide down the same path to
    a collapse: on R's cats heart weights (n = 144, 73 distinct values) every start of K = 3 and
    its three restarts degenerated under seeds 0 and 1, while regular maxima exist (mclust's
    -324.41; these starts reach -324.03 or -323.01). Ten times, because a regular basin among
    collapses can be small: on R's quakes magnitudes as proportions (22 distinct values), beta
    K = 4, 11 of 400 such draws stayed regular (2.75 %: ten draws miss it three times in four,
    a hundred 6 % of the time). Draws that collapse stop within a few iterations, so the rescue
    costs little (that K: 1.2 s for the whole fit either way). A hundred draws reached it under
    each of seeds 0..9 (1 to 9 of them). Screening 200 draws first (emEM) and continuing ten
    did worse, 4 seeds of 10: a draw sliding into a spike climbs fastest and wins the ranking.

    The second round: on MASS's geyser waiting times (n = 299, 52 distinct integers), K = 9,
    about 0.2 % of draws stay regular (0 to 6 of 1,000 or 3,000), and ten times the starts
    rescued 3 seeds of 10 (the other 7 refused the K, which mclust fits); 300 times, 19 of 20,
    the failed K's fit taking 1.5 s instead of 0.4. A round of its own, because 300 times at
    once made the quakes beta K above (which the first round rescues) 5.5 times slower. A K
    that fits without a rescue pays nothing. Large data get fewer (``rescue_count``).

    Explicit start values are rescued too, once the given start and its restarts have all
    degenerated, as ``mixtools::normalmixEM`` restarts from random values where its given start
    meets a singularity (up to 20 times) instead of refusing the K. Before (2026-12-04), 3 of 64
    normalmixEM runs from sampled start values on R data sets (K = 2, 3, equal and unequal
    variances) restarted there; of the same starts, two were refused here and are now rescued
    (``variance_update="normalmixem"``, plain EM, seed 0): Nile K = 3 at -647.90 (R's
    restarted answer: -648.12) and cats heart weights K = 3 at -324.41 (R: -324.41)
    (``tests/core/test_normalmixem_sweep.py``). The K's starts say which were rescue draws
    (``RESCUE_INIT``)."""
    if result.status == "ok" and not fitted_sparsely(problem, result):
        return result
    seq = np.random.SeedSequence(problem.seed, spawn_key=(result.k, RESCUE_STREAM))
    rng = np.random.default_rng(seq)
    drawn_so_far = 0
    for factor in RESCUE_FACTORS:
        count = rescue_count(problem, result.k, factor) - drawn_so_far
        if count <= 0:
            continue
        smp = sample(problem.Z, problem.w, rng)
        drawn = problem.family.random_params(rng, count, result.k, smp.Z, smp.w)
        if drawn is None:
            return result
        given = (drawn[0], drawn[1], [RESCUE_INIT] * count)
        tried = run_given(problem, result.k, given, len(result.starts), progress)
        result, drawn_so_far = merge_k([result, tried], problem.family), drawn_so_far + count
        if result.status == "ok":
            break
    return result


def fitted_sparsely(problem: Problem, result: KResult) -> bool:
    """Whether a K that fitted did so on fewer than half of its starts (the rest degenerated),
    so that ``rescue`` gives it the first round of draws all the same, merged with its starts:
    its answer otherwise rests on one or two starts. Measured (2026-12-04) on carData's Davis
    heights (n = 200, integer centimetres), Student t K = 3: seeds 0 and 2 ended regular in 1
    and 2 of 10 starts, both at -726.747, while a maximum at -726.296 exists (6 points' worth
    at scale 0.93 on 183 and 184 cm; seed 1's tenth start reaches it); 100 draws end regular 5
    and 10 times and reach it, in 0.3-0.4 s. A K most of whose starts end regular pays
    nothing; explicit start values are left as they are (their own rescue is for a start that
    degenerated)."""
    regular = sum(s.status != "degenerate" for s in result.starts)
    return problem.request.explicit_start is None and 2 * regular < len(result.starts)


def rescue_flat(
    problem: Problem, result: KResult, parent: KResult | None, progress: Progress | None = None
) -> KResult:
    """A K that failed after its rescue and its regrowth gets a last round of starts from flat
    responsibilities: each point's K shares drawn uniform on (0, 1) and normalized
    (scikit-learn's ``init_params="random"``), as many as the rescue's second round
    (``rescue_count`` with ``RESCUE_FACTORS[1]``) and at most ``FLAT_MOST`` a round, in up to
    ``FLAT_ROUNDS`` rounds while none is regular, each from the K's own generator and run
    without restarts, recorded with ``init`` ``FLAT_INIT``.

    Such starts begin every component on nearly the whole data, so each keeps points of every
    value of a column with few values, where partitions, parameter draws and the soft restarts'
    flat-Dirichlet responsibilities (a few components take most of each point) put a component
    on one value and degenerate. Measured on scikit-learn's diabetes data (n = 442, d = 10,
    column 1 binary), diagonal K = 8 (2026-12-04): under seed 0 its 10 starts, their restarts,
    538 parameter draws and the growth moves from K = 7 all degenerated, though regular maxima
    exist (scikit-learn's random-responsibility starts reach one in 3 of 340, at up to
    8259.76). Flat starts end regular about once in 340 (16 of 5,380 in ten batches of 538,
    at up to 8269.97), in about 30 iterations, while the rest degenerate within a median of
    6: 0.2 s a batch; 200 flat-Dirichlet starts, none. Seed 0 now fits the K at 8259.73 (its
    second round), and seeds 0..4 all do (seeds 1 and 4 did before).
    Flat starts can also stop where they began, every component nearly the same: on ten 0s and
    a 1, K = 2, both components ended as the K = 1 fit after one iteration, "converged". Such a
    point is K - 1's fit with a component repeated, no maximum of K that a refusal withholds.
    So a round counts only a start that ends regular above K - 1's fit ``parent`` (by
    ``ABOVE_PARENT`` relative), the K's result then holding the round's starts; a round with
    none leaves the result as it was (its draws unrecorded), and without a fitted K - 1 there
    is no round. A K that fits before it pays nothing, and no fitted K changes; explicit start
    values are left as ``regrow`` leaves them."""
    if (
        result.status == "ok"
        or problem.request.explicit_start is not None
        or parent is None
        or parent.status != "ok"
        or parent.loglik is None
    ):
        return result
    k = result.k
    above = parent.loglik + ABOVE_PARENT * abs(parent.loglik)
    seq = np.random.SeedSequence(problem.seed, spawn_key=(k, FLAT_STREAM))
    rng = np.random.default_rng(seq)
    count = min(FLAT_MOST, rescue_count(problem, k, RESCUE_FACTORS[1]))
    for _ in range(FLAT_ROUNDS):
        given = _flat_starts(problem, k, count, rng)
        tried = run_given(problem, k, given, len(result.starts), progress)
        if any(
            s.status != "degenerate" and s.loglik is not None and s.loglik > above
            for s in tried.starts
        ):
            return merge_k([result, tried], problem.family)
    return result


def _flat_starts(
    problem: Problem, k: int, count: int, rng: np.random.Generator
) -> tuple[ParamArrays, np.ndarray, list[str]]:
    """``count`` starts (parameters (count, K, ...), log weights (count, K), labels) from flat
    responsibilities on a sample, built ``FLAT_VALUES`` responsibilities at a time."""
    smp = sample(problem.Z, problem.w, rng)
    m = smp.Z.shape[0]
    step = max(1, FLAT_VALUES // (m * k))
    parts = []
    for first in range(0, count, step):
        resp = rng.random((min(step, count - first), m, k))
        resp /= resp.sum(axis=2, keepdims=True)
        mass = np.einsum("cmk,m->ck", resp, smp.weights)
        params = problem.family.initial(smp.Z, smp.w, resp, problem.floor)
        parts.append((params, np.log(mass / mass.sum(axis=1, keepdims=True))))
    params = {name: np.concatenate([q[name] for q, _ in parts]) for name in parts[0][0]}
    return params, np.concatenate([lw for _, lw in parts]), [FLAT_INIT] * count


def rescue_count(problem: Problem, k: int, factor: int = RESCUE_FACTORS[0]) -> int:
    """How many starts a failed K's rescue draws in all by a round of ``factor``: ``factor``
    times its starts where one E-step of them all stays within the screening's budget
    (``SCREEN_CELLS`` multiply-adds: starts x K x points x statistics), fewer beyond it, and
    never fewer than its starts (the rescue before the factor). n = 1,000, K = 4, 1-D, factor
    10: 100 of 10, factor 300: 3,000; n = 10,000: 333; n = 1e6: 10."""
    starts = problem.request.starts_per_k()
    affordable = int(SCREEN_CELLS / (problem.n * k * (1 + problem.batch.m)))
    return min(factor * starts, max(starts, affordable))
