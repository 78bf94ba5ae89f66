"""How many components: the parametric bootstrap likelihood-ratio test of K against K+1.

``bootstrap_lrt`` follows mclust's ``mclustBootstrapLRT`` (McLachlan 1987; Scrucca et al. 2016,
section 2.4): from the smallest K of the grid, test K against K+1 with the statistic
``LRTS = 2 (LL_{K+1} - LL_K)`` of the data's own fits; simulate ``nboot`` data sets of the same
size from the fitted K-component model, fit each at K and at K+1, and report
``p = (1 + #{LRTS_b >= LRTS_obs}) / (nboot + 1)``; go on to K+1 while the test is significant at
``level`` and K+1 < ``max_k`` + 1.

A replicate's fits start where its truth is: at K from the generating model, at K+1 from the
data's K+1 fit and from the replicate's K fit with its widest component split in two; the K+1
maximum is at least the K maximum (the K-component fit is a K+1-component mixture with one
component split in two, weights summing to its weight), so a replicate whose K+1 starts all stop
lower counts that point: no statistic is negative.

``replicate_starts`` says what else a replicate's K+1 fit starts from. ``"search"`` (the
default) adds the starts the data's fit would draw on the replicate (its start settings,
screened): replicates are searched as the data were, which keeps the p-values calibrated (the
calibration check of ``make validate``). ``"warm"`` keeps the two warm starts alone, as the issue
that asked for the test allows ("replicate fits may warm-start from the generating model"): one
fit at K and one short search at K+1 a replicate, about mclust's own cost (its one hierarchical
start a fit), and on Old Faithful's waiting times about mclust's time on one core
(``make bench``). A weaker search finds lower K+1 maxima on some replicates, so its p-values
can run smaller than the search's.

The test comes in three pieces so that its replicates can be spread over processes (the
service's workers): ``lrt_plan`` fits the data (every step's null and alternative model),
``lrt_replicates`` computes any range of one step's bootstrap statistics from the plan alone (no
data: replicates are simulated), and ``lrt_result`` puts the statistics together. Each
replicate's randomness is its own (``replicate_generator``), so the result is the same however
the replicates are split.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from .data import as_points
from .errors import FitError
from .estep import single_threaded_blas
from .families.base import ParamArrays
from .fit import fit_ks, parse_request, prepare
from .options import LRTResult, LRTStep, Schema
from .replicates import (
    Progress,
    as_model,
    batchable,
    best_of,
    engine_starts,
    first_usable,
    fit_options,
    fit_replicates,
    prepare_replicates,
    replicate_generator,
    start_values,
)
from .sampling import sample
from .schema import MAX_K, KResult, Model
from .scoring import model_family

LRT_STREAM = 0x1A7
# Replicates fitted in one batch (``mixfit.replicates``): enough that the engine's cost per
# iteration is shared, few enough that a cancel or a progress report comes every second or so.
CHUNK = 64
START_STREAM = 0x57A
ReplicateStarts = Literal["search", "warm"]


class LRTPlanStep(Schema):
    """One test's observed fits: the null (K) and alternative (K+1) models."""

    k: int
    loglik: float
    loglik_alternative: float
    statistic: float
    null: Model
    alternative: Model


class LRTPlan(Schema):
    """Everything a replicate of the test needs: the data's fits per step and the settings."""

    n: int = Field(description="Points per replicate (``replicate_size``).")
    nboot: int
    level: float
    seed: int
    options: dict[str, Any]
    steps: list[LRTPlanStep]
    replicate_starts: ReplicateStarts = "search"


def _split_widest(model: Model) -> dict[str, Any]:
    """The model's parameters with its widest component split in two: half the weight each,
    the copies' first-coordinate locations moved apart by half its spread (a start of K+1)."""
    family = model_family(model)
    _, spread = family.moments(model.params)
    j = int(np.argmax(np.asarray(model.params.weights) * spread))
    start = start_values(model.params)
    shift = 0.5 * spread[j]
    for key, value in list(start.items()):
        if not isinstance(value, list) or len(value) != model.k:
            continue
        copy = list(value)
        copy.insert(j + 1, value[j])
        start[key] = copy
    start["weights"][j] *= 0.5
    start["weights"][j + 1] = start["weights"][j]
    means = start.get("means") or start.get("meanlogs")
    if means is not None and "lambdas" not in start:
        for idx, delta in ((j, -shift), (j + 1, shift)):
            if isinstance(means[idx], list):
                means[idx] = [means[idx][0] + delta, *means[idx][1:]]
            elif "meanlogs" in start:
                means[idx] = float(means[idx]) + np.sign(delta) * 0.5 * start["sdlogs"][j]
            else:
                means[idx] = float(means[idx]) + delta
    elif "lambdas" in start:
        start["lambdas"][j] = max(start["lambdas"][j] - shift, 1e-6)
        start["lambdas"][j + 1] = start["lambdas"][j + 1] + shift
    elif "shapes" in start or "alphas" in start:  # move the copies' means apart by the shape
        key = "shapes" if "shapes" in start else "alphas"
        start[key][j] *= 0.8
        start[key][j + 1] *= 1.25
    return start


def _check(k_min: int, last: int, nboot: int, level: float, replicate_starts: str) -> None:
    if replicate_starts not in ("search", "warm"):
        raise FitError(f"replicate_starts must be 'search' or 'warm', not {replicate_starts!r}")
    if not 1 <= k_min <= last < MAX_K:
        raise FitError(f"need 1 <= k_min <= max_k <= {MAX_K - 1}")
    if nboot < 1:
        raise FitError("nboot must be at least 1")
    if not 0.0 < level < 1.0:
        raise FitError("level must lie strictly between 0 and 1")


MAX_REPLICATE_POINTS = 1_000_000


def replicate_size(n: int, w: np.ndarray | None, max_k: int) -> int:
    """Points per bootstrap replicate: n, or with weights (counts) their sum, rounded.

    The data's log-likelihoods, and so the observed statistic, weigh each point by its count:
    replicates of n unweighted points made the statistic of data whose weights sum to 100 n
    (or n / 100) incomparable with its bootstrap distribution (weights of 100 on one normal
    sample rejected K = 1 at p = 0.05; weights of 0.01 on two far groups gave p = 1).

    Raises
    ------
    FitError
        When the weights sum to fewer points than the alternative's ``max_k + 1`` components,
        or to more than ``MAX_REPLICATE_POINTS`` (and more than n).
    """
    if w is None:
        return n
    size = int(round(float(np.sum(w))))
    if size < max_k + 1:
        raise FitError(
            f"the LRT reads weights as counts and draws replicates of their sum, {size} "
            f"point(s), too few for the {max_k + 1} components of K = max_k + 1; lower max_k "
            "or scale the weights up"
        )
    if size > max(n, MAX_REPLICATE_POINTS):
        raise FitError(
            f"the LRT reads weights as counts and draws replicates of their sum, {size:.3g} "
            f"points, more than {MAX_REPLICATE_POINTS:,}; scale the weights down"
        )
    return size


def lrt_plan(
    data: Any,
    weights: Any = None,
    *,
    k_min: int = 1,
    max_k: int,
    nboot: int = 999,
    level: float = 0.05,
    seed: int = 0,
    replicate_starts: ReplicateStarts = "search",
    progress: Progress | None = None,
    **options: Any,
) -> LRTPlan:
    """The data's fits at K = ``k_min`` .. ``max_k`` + 1: one step per K to ``max_k``.

    Parameters
    ----------
    data : array-like of shape (n,) or (n, d)
    weights : array-like of shape (n,), optional
    k_min, max_k : int
        The first and last null K.
    nboot, level, seed, replicate_starts
        Recorded for the replicates and the result (``bootstrap_lrt``).
    progress : callable, optional
        The fits' progress callback (``mixfit.fit``'s); raising from it stops the fits.
    **options
        Fit options (``family``, ``covariance``, ``n_starts`` of the observed fits, ...).

    Returns
    -------
    LRTPlan
    """
    options = fit_options(dict(options))
    _check(k_min, max_k, nboot, level, replicate_starts)
    X, w = as_points(data, weights)
    size = replicate_size(X.shape[0], w, max_k)
    fits = _observed_fits(X, w, list(range(k_min, max_k + 2)), seed, options, progress)
    d = X.shape[1]
    steps = [
        LRTPlanStep(
            k=k,
            loglik=fits[k].loglik,
            loglik_alternative=fits[k + 1].loglik,
            statistic=max(0.0, 2.0 * (fits[k + 1].loglik - fits[k].loglik)),
            null=as_model(fits[k], d, options),
            alternative=as_model(fits[k + 1], d, options),
        )
        for k in range(k_min, max_k + 1)
    ]
    if not batchable(model_family(steps[0].null)):
        # Its replicates are fitted from the two warm starts alone (``_replicate_lrts``):
        # the plan, and so the result, says so whatever was asked.
        replicate_starts = "warm"
    return LRTPlan(
        n=size,
        nboot=nboot,
        level=level,
        seed=seed,
        options=options,
        steps=steps,
        replicate_starts=replicate_starts,
    )


def lrt_replicates(
    plan: LRTPlan,
    step: int,
    start: int = 0,
    stop: int | None = None,
    progress: Progress | None = None,
) -> list[float]:
    """Bootstrap statistics ``start`` .. ``stop`` - 1 of one step of the plan.

    Parameters
    ----------
    plan : LRTPlan
    step : int
        Index into ``plan.steps``.
    start, stop : int
        The replicates' indices (stop None: ``plan.nboot``).
    progress : callable, optional
        Called after every replicate with ``{"step", "k", "done"}`` (done in this range).

    Returns
    -------
    list of float, length stop - start
    """
    stop = plan.nboot if stop is None else stop
    if not 0 <= start <= stop <= plan.nboot or not 0 <= step < len(plan.steps):
        raise FitError("replicates out of the plan's range")
    s = plan.steps[step]

    def replicate(i: int) -> np.ndarray:
        return sample(s.null, plan.n, replicate_generator(plan.seed, LRT_STREAM, step, i))[0]

    # every replicate of the step shares the scaling of its first usable one
    # (prepare_replicates), whichever part of a fan-out computes it
    request = parse_request({**plan.options, "k": [s.k, s.k + 1], "seed": plan.seed})
    reference = (first_usable(request, replicate, plan.nboot), None)
    out: list[float] = []
    for a in range(start, stop, CHUNK):
        b = min(a + CHUNK, stop)
        Ys = [replicate(i) for i in range(a, b)]
        rngs = [
            replicate_generator(plan.seed, LRT_STREAM, step, i, START_STREAM) for i in range(a, b)
        ]
        # BLAS on one thread, as in every fit: its threads in the batched products sped
        # nothing up and took the other core (30 replicates: 6.6 s of CPU in 4.8 s, against
        # 4.4 s in 4.6 s), so two workers on two cores ran slower than one (125 s against 166 s)
        with single_threaded_blas():
            out += _chunk_lrts(
                Ys,
                rngs,
                reference,
                s.null,
                s.alternative,
                plan.options,
                plan.seed,
                search=plan.replicate_starts == "search",
            )
        if progress is not None:
            progress({"step": step, "k": s.k, "done": b - start})
    return out


def lrt_result(plan: LRTPlan, bootstrap: list[list[float]]) -> LRTResult:
    """The test from the plan and every step's bootstrap statistics (in replicate order).

    Parameters
    ----------
    plan : LRTPlan
    bootstrap : list of lists of float
        Per step of the plan (a prefix of its steps), ``plan.nboot`` statistics.

    Returns
    -------
    LRTResult
    """
    steps = []
    for s, stats in zip(plan.steps, bootstrap, strict=False):
        values = np.asarray(stats, dtype=float)
        if values.shape != (plan.nboot,):
            raise FitError(f"step k={s.k}: {values.size} statistics, not {plan.nboot}")
        p = (1.0 + float(np.count_nonzero(values >= s.statistic))) / (plan.nboot + 1.0)
        steps.append(
            LRTStep(
                k=s.k,
                loglik=s.loglik,
                loglik_alternative=s.loglik_alternative,
                statistic=s.statistic,
                p_value=p,
                bootstrap=values.tolist(),
            )
        )
    selected = next((s.k for s in steps if s.p_value >= plan.level), steps[-1].k + 1)
    return LRTResult(
        nboot=plan.nboot,
        level=plan.level,
        seed=plan.seed,
        steps=steps,
        k_selected=selected,
        replicate_starts=plan.replicate_starts,
    )


def bootstrap_lrt(
    data: Any,
    weights: Any = None,
    *,
    k_min: int = 1,
    max_k: int | None = None,
    nboot: int = 999,
    level: float = 0.05,
    seed: int = 0,
    replicate_starts: ReplicateStarts = "search",
    progress: Progress | None = None,
    **options: Any,
) -> LRTResult:
    """Sequential parametric bootstrap LRT of K against K+1 (mclust's ``mclustBootstrapLRT``).

    Parameters
    ----------
    data : array-like of shape (n,) or (n, d)
    weights : array-like of shape (n,), optional
        Point weights (counts) of the data; replicates are their sum (rounded) of unweighted
        points (``replicate_size``).
    k_min : int
        The first null K.
    max_k : int, optional
        Test every K from ``k_min`` to ``max_k`` (against K+1), as mclust does when given
        ``maxG``. None: sequentially, until the first test that is not significant at ``level``
        (mclust without ``maxG``), at most to K = ``MAX_K`` - 1.
    nboot : int
        Replicates per step.
    level : float
        Significance level: where the sequence stops without ``max_k``, and which K is
        selected (the first whose test is not significant).
    seed : int
        Every fit's and replicate's randomness derives from it.
    replicate_starts : {"search", "warm"}
        What a replicate's K+1 fit starts from besides its two warm starts (the data's K+1 fit,
        the replicate's K fit with a component split): ``"search"`` the fit's own start
        settings, screened (calibrated; the default); ``"warm"`` nothing more (about mclust's
        cost; p-values can run small). See the module's docstring.
    progress : callable, optional
        Called after every replicate with ``{"step", "k", "done", "nboot"}``.
    **options
        Fit options (``family``, ``covariance``, ``n_starts`` of the observed fits, ...).

    Returns
    -------
    LRTResult
        Per step: K, the observed statistic, the p-value, every bootstrap statistic.
    """
    last = MAX_K - 1 if max_k is None else max_k
    _check(k_min, last, nboot, level, replicate_starts)
    bootstrap: list[list[float]] = []
    plan = None
    for k in range(k_min, last + 1):
        # Sequentially, each step's plan refits k_min..k+1: each K's fit is the same every time.
        plan = lrt_plan(
            data,
            weights,
            k_min=k_min,
            max_k=k,
            nboot=nboot,
            level=level,
            seed=seed,
            replicate_starts=replicate_starts,
            **options,
        )
        step = k - k_min

        def report(info: dict[str, Any], step: int = step, k: int = k) -> None:
            if progress is not None:
                progress({"step": step, "k": k, "done": info["done"], "nboot": nboot})

        bootstrap.append(lrt_replicates(plan, step, progress=report))
        if max_k is None and lrt_result(plan, bootstrap).steps[-1].p_value >= level:
            break
    assert plan is not None
    return lrt_result(plan, bootstrap)


def _observed_fits(X, w, ks, seed, options, progress=None) -> dict[int, KResult]:
    """The data's fits at every K of the test. Without split-and-merge moves whatever the
    options say: the replicates are fitted without them (a round of moves costs about a fit),
    and a statistic is only calibrated by replicates searched as the data were (a move finds a
    higher K+1 maximum on the data, a spike or a component between two, that the replicates'
    search would not, and the p-values would run small)."""
    request = parse_request({**options, "k": ks, "seed": seed, "split_merge": 0})
    problem = prepare(request, X, w)
    out = {r.k: r for r in fit_ks(problem, progress)}
    for k, r in out.items():
        if r.status != "ok":
            raise FitError(f"the data's own fit failed at k={k}: {r.message}")
    # K+1 at least K: the K fit, split, is a K+1 start (nested models).
    for k in ks[1:]:
        if out[k].loglik < out[k - 1].loglik:
            model = as_model(out[k - 1], X.shape[1], options)
            better = best_of(problem, k, [_split_widest(model)])
            if better is not None and better.loglik > out[k].loglik:
                out[k] = better
    return out


def _chunk_lrts(
    Ys: list[np.ndarray],
    rngs: list[np.random.Generator],
    reference: tuple[np.ndarray, None],
    model: Model,
    alternative: Model,
    options: dict[str, Any],
    seed: int,
    search: bool = True,
) -> list[float]:
    """The statistics of replicates Ys, their fits batched (``mixfit.replicates``): at K from
    the generating model; at K+1 from the data's K+1 fit, from the replicate's K fit with its
    widest component split and, with ``search``, from the starts the data's fit would continue
    on the replicate (its start settings, screened). A replicate the family cannot fit counts 0. A
    family whose E-step is not batched (Student t) fits each replicate from the two warm
    starts alone (``_replicate_lrts``): a weaker search than the data's, so its p-values run
    small."""
    k = model.k
    request = parse_request({**options, "k": [k, k + 1], "seed": seed})
    reps = prepare_replicates(request, Ys, None, reference)
    if reps is None:  # nothing usable, or a family whose E-step is not batched
        return [_replicate_lrts(Y, model, alternative, options, seed) for Y in Ys]
    R = reps.index.size
    params, logw = engine_starts(reps, [start_values(model.params)])
    null = fit_replicates(reps, k, *_tile(params, logw, R), np.arange(R))
    starts, owner, drawn = [], [], []
    for r in range(R):
        fitted = null.json(reps, r)
        if fitted is None:
            continue
        split = _split_widest(model.model_copy(update={"params": fitted}))
        starts += [start_values(alternative.params), split]
        owner += [r, r]
        if search:
            own_seed = int(rngs[reps.index[r]].integers(2**63))
            drawn.append((r, reps.screened(r, k + 1, own_seed)))
    out = np.zeros(len(Ys))
    if starts:
        params, logw = engine_starts(reps, starts)
        if drawn:
            params = {
                name: np.concatenate([params[name], *(q[name] for _, (q, _) in drawn)])
                for name in params
            }
            logw = np.concatenate([logw, *(lw for _, (_, lw) in drawn)])
            owner += [r for r, (_, lw) in drawn for _ in range(lw.shape[0])]
        alt = fit_replicates(reps, k + 1, params, logw, np.asarray(owner))
        with np.errstate(invalid="ignore"):
            gain = 2.0 * (alt.loglik - null.loglik)
        stats = np.where(np.isfinite(gain), np.maximum(gain, 0.0), 0.0)
        out[reps.index] = stats
    return out.tolist()


def _tile(params: ParamArrays, logw: np.ndarray, R: int) -> tuple[ParamArrays, np.ndarray]:
    return {name: np.repeat(value, R, axis=0) for name, value in params.items()}, np.repeat(
        logw, R, axis=0
    )


def _replicate_lrts(
    Y: np.ndarray, model: Model, alternative: Model, options: dict[str, Any], seed: int
) -> float:
    k = model.k
    request = parse_request({**options, "k": [k, k + 1], "seed": seed, "n_starts": 1})
    try:
        problem = prepare(request, Y)
    except FitError:
        return 0.0  # a replicate the family cannot fit (e.g. all points tied) says nothing
    null = best_of(problem, k, [start_values(model.params)])
    if null is None:
        return 0.0
    fitted = model.model_copy(update={"params": null.params})
    starts = [start_values(alternative.params), _split_widest(fitted)]
    better = best_of(problem, k + 1, starts)
    top = null.loglik if better is None else max(better.loglik, null.loglik)
    return 2.0 * (top - null.loglik)


__all__ = ["LRTPlan", "bootstrap_lrt", "lrt_plan", "lrt_replicates", "lrt_result"]
