"""Entry points: ``fit`` (data + options) and the pieces the workers call one by one."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy

from . import __version__
from .data import (
    CLUSTER_SPREAD,
    FLAT_COLUMN,
    Scaling,
    as_points,
    check_fit_size,
    data_hash,
    local_variance,
    log_spread,
    point_weight,
    robust_variance,
    spread_hint,
    supported_k,
)
from .em import Problem, Progress, parent_ks, run_given, run_k
from .errors import FitError
from .estep import Batch
from .families import get_family
from .families.base import ParamArrays
from .finish import finish_k, refine_k
from .oblique import ObliqueFloor
from .options import MAX_ABS, KRange, StartValues
from .schema import (
    MAX_HELD_VALUES,
    MAX_PATH_KEPT,
    MAX_PATH_VALUES,
    FitRequest,
    FitResult,
    KResult,
    Model,
    ReferenceDensity,
)
from .screen import birth_count, candidate_count, candidate_methods
from .smem import MAX_MOVES, never_below
from .tight import TightFloor

EXACT_REFERENCE_MAX = 5000  # up to this many points the p-values use every training point
REFERENCE_LEVELS = 2048
START_CHECK_VALUES = 2**20  # statistics at a time in ``check_start_range`` (8 MB)
START_REACH = 1e300  # the most |eta . T| + |log partition| of an explicit start may reach


def parse_request(options: dict[str, Any]) -> Any:
    """Validate fit options with the ``FitRequest`` model; returns the family's request model."""
    return FitRequest.model_validate(options).root


def fit(data: Any, **options: Any) -> FitResult:
    """Fit finite mixtures to ``data`` for every requested K and select one.

    Parameters
    ----------
    data : array-like of shape (n,) or (n, d)
    **options
        Exactly the fields of ``FitRequest`` (``family``, ``k``, ``n_starts``, ``init``, ``tol``,
        ``tol_type``, ``max_iter``, ``criterion``, ``seed``, ``weights``, ...).

    Returns
    -------
    FitResult

    Raises
    ------
    FitError
        When the data or options cannot be fitted; the message says what to change.
    pydantic.ValidationError
        When an option is not valid for ``FitRequest``.
    """
    weights = options.pop("weights", None)
    if "data" in options or "dataset_id" in options:
        raise FitError("pass the data as the first argument; dataset_id is for the REST service")
    request = parse_request(options)
    return run(request, data, weights)


def run(
    request: Any, data: Any, weights: Any = None, progress: Progress | None = None
) -> FitResult:
    """Fit a validated request: prepare, fit every K, select.

    Parameters
    ----------
    request : FitOptions
        A validated request (``parse_request``), any family's.
    data : array-like of shape (n,) or (n, d)
    weights : array-like of shape (n,), optional
        Counts or importance weights of the points.
    progress : callable, optional
        Called with ``{"k", "iteration", "starts_done", "n_starts", "best_loglik", "trace"}``
        as EM goes.

    Returns
    -------
    FitResult
    """
    problem = prepare(request, data, weights)
    return assemble(problem, list(fit_ks(problem, progress)))


def fit_ks(problem: Problem, progress: Progress | None = None) -> Iterator[KResult]:
    """Fit every K of the request in increasing order, yielding each K's result as it ends;
    a K's ``split`` start gets the final fit of K-1 (``mixfit.em.split_index``), after its
    split-and-merge moves (``mixfit.smem``)."""
    done: dict[int, KResult] = {}
    for k in problem.request.k_values():
        parent = parent_fit(problem, k, done, progress)  # first: progress runs forward
        result = run_k(problem, k, progress, parent=parent)
        done[k] = final_fit(problem, result, done, parent, progress)
        yield done[k]


def final_fit(
    problem: Problem,
    result: KResult,
    done: dict[int, KResult],
    parent: KResult | None,
    progress: Progress | None = None,
) -> KResult:
    """A K's final fit from its starts' result (``run_k``, or the parts' ``merge_k``), the
    final fits of the request's smaller Ks ``done`` and K-1's fit ``parent``
    (``parent_fit``): ``mixfit.finish.refine_k``; where K-1 is not in ``done`` and K still
    failed, once more from K-1 as the grid would have fitted it (``parent_fit(deep=True)``)."""
    k = result.k
    final = refine_k(problem, result, progress, parent, nested_fit(problem, k, progress))
    if final.status != "ok" and k - 1 not in done and parent is not None and k - 2 not in done:
        final = finish_k(problem, final, progress, parent_fit(problem, k, done, progress, True))
    return final


def nested_fit(problem: Problem, k: int, progress: Progress | None = None) -> KResult | None:
    """The fit of K under the family's ``nested`` family (the Student t's: the Gaussian), one
    more start of K's (``mixfit.smem.refine``), or None: for K >= 2 searched with moves
    (``split_merge`` not 0, no explicit start values). The nested family's defaults but for
    the starts, seed, floor, search and the family's own ``nested_options``; fitted once for
    every such K of the request (a grid: each K grows from the one before) and kept on the
    problem. ``progress`` hears that time as K's screening (iteration 0, no start done)."""
    fam, req = problem.family, problem.request
    if fam.nested is None or k < 2 or req.explicit_start is not None or req.split_merge == 0:
        return None
    kept = problem.extra.setdefault("nested", {})
    if k not in kept:
        ks = [j for j in req.k_values() if j >= 2 and j not in kept]
        shared = ("n_starts", "var_floor", "screen_factor", "screen_iter", "split_merge")
        options = {name: getattr(req, name) for name in shared}
        options |= {"accelerate": req.accelerate, "polish": req.polish}
        nested = parse_request(
            {"family": fam.nested, "k": ks if k in ks else [k], "seed": problem.seed}
            | options
            | fam.nested_options()
        )
        X = problem.X[:, 0] if problem.d == 1 else problem.X
        try:
            for r in fit_ks(prepare(nested, X, problem.w), _screening(progress, k, req)):
                kept[r.k] = r
        except FitError:  # data the nested family refuses: no such start
            kept[k] = None
    return kept.get(k)


def finished_alone(request: Any) -> bool:
    """Whether each K of ``request`` can be finished (``final_fit``) apart from the others,
    given only the final fits of the Ks below it and the K-1s fitted for growth
    (``hidden_parent``): true unless the family fits a ``nested`` family's grid once for all
    its Ks (``nested_fit``), state that a K finished on its own would fit again, differently.
    A fanned-out fit finishes such Ks one RQ job each (``worker.jobs.finish``)."""
    family = get_family(request.family)
    return family.nested is None or request.explicit_start is not None or request.split_merge == 0


def _screening(progress: Progress | None, k: int, req: Any) -> Progress | None:
    """A progress callback that reports K's screening (iteration 0, no start done)."""
    if progress is None:
        return None
    n_starts = req.starts_per_k()

    def quiet(info: dict[str, Any]) -> None:
        progress(
            {"k": k, "iteration": 0, "starts_done": 0, "n_starts": n_starts}
            | {"best_loglik": None, "trace": []}
        )

    return quiet


def parent_fit(
    problem: Problem,
    k: int,
    done: dict[int, KResult],
    progress: Progress | None = None,
    deep: bool = False,
) -> KResult | None:
    """K-1's final fit, which K's growth moves start from (``mixfit.smem.growth``,
    ``mixfit.finish.regrow``): ``done[k - 1]`` when the request asks for K-1 too; else, for a
    K >= 3 searched with moves (``split_merge`` not 0, no explicit start values), K-1 fitted
    here with the same options and seed (``mixfit.em.parent_ks``), used for K's growth moves
    (not a split start: ``mixfit.em.split_index``) and not reported: by itself (its parent
    ``done.get(k - 2)``), or with ``deep`` as a grid would fit it, every K from the largest of
    ``done`` below it (else 1) up, each from the one before.

    A K asked alone searched less than the same K in a grid. Measured over the 1,878 cells at
    K >= 3 of the mclust fixtures (``tests/fixtures/mclust_*``) fitted alone under seed 0:
    MASS's nlschools, diagonal, was refused at K = 5 (every start and rescue draw degenerate;
    the grid fits it by growth from K = 4) and geyser's waiting times, V, ended at -1153.74 at
    K = 4 against mclust's -1151.57 (-1149.74 with K = 3's moves). K = 2 draws its births
    from one component itself (``mixfit.screen.birth_partitions``). The cost is K-1's fit,
    and a grid's below it for a K that still fails (``final_fit``: R's esoph counts, diagonal
    K = 7 under seed 1, regrow only from K = 6's fit in a grid). ``progress`` hears that
    time as K's screening (iteration 0, no start done); a stop request raises there as
    anywhere in the fit."""
    if k - 1 in done:
        return done[k - 1]
    req = problem.request
    if k - 1 not in parent_ks(req, *problem.X.shape):
        return None
    quiet = _screening(progress, k, req)
    below = [j for j in done if j < k - 1]
    first = max(below, default=0) + 1 if deep else k - 1
    chain = dict(done)
    for j in range(first, k):
        grand = chain.get(j - 1)
        chain[j] = refine_k(problem, run_k(problem, j, quiet, parent=grand), quiet, grand)
    return hidden_parent(problem, chain[k - 1])


def hidden_parent(problem: Problem, fit: KResult) -> KResult:
    """Keep a K-1 fitted only for K's moves on the problem (``problem.extra["parents"]``),
    where ``mixfit.smem.never_below`` finds it when the fit is assembled; returns it."""
    problem.extra.setdefault("parents", {})[fit.k] = fit
    return fit


def check(request: Any, data: Any, weights: Any = None) -> tuple[Any, np.ndarray, Any, int]:
    """Every check of the data against a validated request that ``prepare`` makes, without
    laying the data out for EM (no statistics, O(n d)): the service runs it before it queues a
    fit, so a request the data cannot satisfy is a 4xx at once; the worker's ``prepare`` runs it
    again on the stored data.

    Returns
    -------
    family : Family
    X : ndarray of shape (n, d)
        The data after the family's boundary policy.
    w : ndarray of shape (n,) or None
    moved : int
        Points the boundary policy moved.

    Raises
    ------
    FitError
        With what to change.
    """
    X, w = as_points(data, weights)
    family = get_family(request.family)(request, X.shape[1])
    X, moved = family.prepare(X)
    if isinstance(request.init, StartValues):
        family.check_start(request.init)
    Y = family.transform(X)[0]
    cut_default_k(request, X, Y, w)
    check_fit_size(X, w, max(request.k_values()))
    if Y is not X:  # the values the family models (log-normal: logs), at float64's precision
        # Found by fuzzing: eight values 1e10 apart by one ulp have one log, and EM divided
        # by that constant's variance of zero.
        check_fit_size(Y, w, max(request.k_values()), family.modelled)
    if isinstance(request.init, StartValues):
        check_start_range(family, request.init, Y, w)
    check_path_size(request, family)
    check_held_size(request, family, X)
    return family, X, w, moved


def cut_default_k(request: Any, X: np.ndarray, Y: np.ndarray, w: np.ndarray | None) -> None:
    """A request that did not send ``k`` asks for the default range 1..5: where the data hold
    fewer components (fewer points, or fewer distinct values, of X (n, d) or of the values Y
    (n, d) the family models), the range is cut to what they hold, in ``request.k`` itself.
    The service's check at submission cuts it before the request is queued, so the worker
    fits the same range. Three points, or counts of three values, fit K = 1..3 rather than
    being refused for a K = 5 nobody asked for (mclust's default G = 1:9 reports the Ks it
    cannot fit and fits the others). Data with one value stay refused (``check_fit_size``)."""
    if "k" in request.model_fields_set or request.explicit_start is not None:
        return
    top = max(request.k_values())
    most = min(supported_k(X, w, top), supported_k(Y, w, top) if Y is not X else top)
    if 2 <= most < top:
        request.k = KRange(min=1, max=most)


def check_start_range(family: Any, start: StartValues, Y: np.ndarray, w: Any) -> None:
    """Raise FitError where explicit start values leave float64's range in the engine's
    units (the data standardized, ``mixfit.data.Scaling``): an sd of 1e308 squared, one of
    1e-308 squared to a variance of 0, a mean or covariance entry past ``MAX_ABS`` (SQUAREM
    squares their steps), a shape of 1e308 whose log partition overflows, or natural
    parameters whose product with some point's statistics passes ``START_REACH``.
    Found by fuzzing the service: such starts ran into overflows and divisions by zero and
    failed in the worker as "degenerate after 3 restarts"; they are a 422 now, before the
    fit is queued.

    Parameters
    ----------
    family : Family
    start : StartValues
    Y : ndarray of shape (n, d)
        The values the family models (``Family.transform``).
    w : ndarray of shape (n,) or None
    """
    scaling = Scaling.standardize(Y, w) if family.standardize else Scaling.identity(Y.shape[1])
    with np.errstate(all="ignore"):
        params, weights = family.from_json(start, scaling)
        # the vector SQUAREM extrapolates (log scales where the family keeps them): squares of
        # it must stay finite, as the data's do (their values at most MAX_ABS)
        packed = family.pack(params, np.log(weights)[None, :])[:, weights.shape[0] :]
        fine = bool(family.valid(params).all()) and bool(np.all(np.abs(packed) <= MAX_ABS))
        fine = fine and _within_reach(family, params, scaling, Y)
    if not fine:
        raise FitError(
            "the start values leave float64's range in the data's standardized units (a "
            "variance that overflows or rounds to 0, a parameter too large); send start values "
            "on the data's scale"
        )


def _within_reach(family: Any, params: ParamArrays, scaling: Scaling, Y: np.ndarray) -> bool:
    """Whether the natural parameters, their log partition and eta . T of every point (the
    E-step's matrix product) stay below ``START_REACH``; True for a family with its own
    E-step (no natural parameters: the t's), where ``Family.valid`` decides alone."""
    if not family.exponential_family:
        return True
    eta, log_partition = family.natural(params)
    if not (np.isfinite(eta).all() and np.isfinite(log_partition).all()):
        return False
    Z = scaling.forward(Y)
    top = np.zeros(eta.shape[-1])
    rows = max(1, START_CHECK_VALUES // top.size)  # d = 64, full: 2,144 statistics a row
    for a in range(0, Z.shape[0], rows):
        top = np.maximum(top, np.abs(family.statistics(Z[a : a + rows])).max(axis=0))
    return bool(np.all(np.abs(eta) @ top + np.abs(log_partition) < START_REACH))


def _statistics_per_point(family: Any, X: np.ndarray) -> int:
    return family.statistics(family.transform(X[:1])[0]).shape[1]


def held_at_once(request: Any, family: Any, X: np.ndarray, k: int, m: int | None = None) -> int:
    """The most starts one K holds at once: its screening candidates (``mixfit.screen``), its
    starts, or its split-and-merge moves (``mixfit.smem``; K >= 3), whichever are more. ``m``:
    the family's statistics per point (None: read off the first point)."""
    starts = request.starts_per_k()
    if request.explicit_start is not None:
        return starts
    n, d = X.shape
    m = _statistics_per_point(family, X) if m is None else m
    count = candidate_count(request, family, n, d, m, k, starts)
    candidates = len(candidate_methods(request, family.portfolio, count, d > 1 and count > starts))
    candidates += birth_count(request, k, count > starts)
    moves = 0 if k < 3 else MAX_MOVES if request.split_merge is None else request.split_merge
    return max(candidates, starts, moves)


def check_held_size(request: Any, family: Any, X: np.ndarray) -> None:
    """Raise FitError when some K would hold more than ``MAX_HELD_VALUES`` parameter values at
    once: ``held_at_once`` starts times the K's free parameters. Every start a batch holds
    carries its parameters, their factors, its E-step's statistics and its M-step's temporaries,
    about 100 bytes per free parameter together (measured: d = 64, full, K = 20 on 1,400 points,
    max_iter 1: 316 candidates 1.5 GB, 106 candidates 0.6 GB), and ``max_iter`` bounds none of
    it: n_starts 200 and screen_factor 100 there (1,051 candidates) grew a worker to 3.5 GB
    within 60 s."""
    m = _statistics_per_point(family, X)  # once for every K
    held, worst = max(
        ((held_at_once(request, family, X, k, m), k) for k in request.k_values()),
        key=lambda pair: pair[0] * family.n_params(pair[1]),
    )
    values = held * family.n_params(worst)
    if values > MAX_HELD_VALUES:
        raise FitError(
            f"k={worst} would hold {held:,} starts of {family.n_params(worst):,} parameters at "
            f"once (screening candidates, starts or split-and-merge moves, whichever are more): "
            f"{values:,} values, more than {MAX_HELD_VALUES:,}; lower n_starts, screen_factor, "
            "split_merge or k (or d)"
        )


def check_path_size(request: Any, family: Any) -> None:
    """Raise FitError when ``keep_path`` could return more than ``MAX_PATH_VALUES`` numbers
    ((max_iter + 1) x the family's free parameters summed over the Ks, known only with the
    data's d) or keep more than ``MAX_PATH_KEPT`` while fitting (every start's path: n_starts
    times that)."""
    if not request.keep_path:
        return
    per_iteration = sum(family.n_params(k) for k in request.k_values())
    returned = (request.max_iter + 1) * per_iteration
    kept = request.starts_per_k() * returned
    what = f"(max_iter {request.max_iter} + 1) x {per_iteration:,} parameters over k"
    if returned > MAX_PATH_VALUES:
        raise FitError(
            f"keep_path would return up to {returned:,} parameter values ({what}); at most "
            f"{MAX_PATH_VALUES:,}: lower max_iter or k, or drop keep_path"
        )
    if kept > MAX_PATH_KEPT:
        raise FitError(
            f"keep_path would keep up to {kept:,} parameter values while fitting (n_starts "
            f"{request.starts_per_k()} x {what}); at most {MAX_PATH_KEPT:,}: lower n_starts, "
            "max_iter or k, or drop keep_path"
        )


def prepare(request: Any, data: Any, weights: Any = None) -> Problem:
    """Check the data for the request (``check``) and lay them out for the engine.

    Parameters
    ----------
    request : FitOptions
        A validated request (``parse_request``).
    data : array-like of shape (n,) or (n, d)
    weights : array-like of shape (n,), optional

    Returns
    -------
    Problem
        The data in data space (n, d) and in the engine's scaled space, the batch the E-step
        runs on, the variance floor and the constants of the log-likelihood.

    Raises
    ------
    FitError
        Data the request cannot fit (outside the family's support, too few distinct points,
        constant, values beyond 1e150, ...), with what to change.
    """
    family, X, w, moved = check(request, data, weights)
    Y, jacobian = family.transform(X)
    scaling = Scaling.standardize(Y, w) if family.standardize else Scaling.identity(X.shape[1])
    Z = scaling.forward(Y)
    n_eff = float(X.shape[0] if w is None else w.sum())
    base_total = _total(family.base_measure(Z), w, n_eff) + _total(jacobian, w, n_eff)
    col_var = np.average((Z - np.average(Z, axis=0, weights=w)) ** 2, axis=0, weights=w)
    z_var = float(col_var.mean())
    reference = col_var
    if family.robust_floor:
        # Skewed columns: the floor follows the bulk's spread, not the tail's. On R's islands
        # (areas 12 to 16,988; variance 1.1e7) a floor of 1e-6 of the variance held the
        # component of the eleven smallest (variance 1.8) and mclust's K = 4 maximum (-289.32)
        # was out of reach (-290.72); the robust variance (1,544 in its units) does not. Never above
        # the variance, so symmetric data keep about their floor; MAD 0 (ties): the variance.
        robust = robust_variance(Z, w)
        reference = np.where(robust > 0, np.minimum(col_var, robust), col_var)
        # Clusters far apart: the floor follows their own spread, not the distance between
        # them. Two clusters of sd 1 3,000 apart (variance 2.25e6): a floor of 1e-6 of the
        # variance held each cluster's component, every start of K = 2 "degenerated" but one
        # whose components coincided, and K = 1 was chosen. Never above CLUSTER_SPREAD times
        # the local variance (``mixfit.data.local_variance``; 0 where ties fill its window:
        # not used): on the 184 fixture data sets the local variance is at least 0.023 of
        # the reference (0.012 on the logs of positive ones), so their floors are unchanged.
        local = local_variance(Z, w)
        reference = np.where(local > 0, np.minimum(reference, CLUSTER_SPREAD * local), reference)
    ref_mean = float(reference.mean())
    floor: float | np.ndarray = request.var_floor * ref_mean
    if family.floors_per_column:  # each column's own (a constant column keeps the mean's)
        floor = request.var_floor * np.where(col_var > FLAT_COLUMN * z_var, reference, ref_mean)
    if family.dense and Z.shape[1] > 1:  # full and tied covariances: thin along no column
        family.oblique = ObliqueFloor.of(Z, w, request.var_floor)
    family.tight = TightFloor(Z, w)  # a tight few (read where the floor is a variance)
    # A data set whose own covariance is singular (collinear columns, a constant column) holds
    # every component at the floor: then the floor is the data's, not a degenerate component's.
    T = family.statistics(Z)
    singular = family.floored(T, Z, w, floor)
    seed = request.seed
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0]) & (2**63 - 1)
    batch = Batch(T, w)
    return Problem(
        family=family,
        request=request,
        X=X,
        w=w,
        Z=Z,
        scaling=scaling,
        batch=batch,
        data_batch=batch,
        constant=base_total - n_eff * scaling.log_jacobian,
        n_eff=n_eff,
        floor=floor,
        singular_data=singular,
        one_point=point_weight(w),
        seed=seed,
        moved=moved,
        unit_offset=n_eff * log_spread(X, w),
    )


def _total(values: np.ndarray | float, w: np.ndarray | None, n_eff: float) -> float:
    """The weighted sum over points of per-point values (n,), or of one value for every point."""
    if np.isscalar(values):
        return float(values) * n_eff
    return float(np.dot(values, w) if w is not None else np.sum(values))


def _criterion(result: KResult, criterion: str) -> float:
    return getattr(result, criterion)


def explained(problem: Problem, result: KResult) -> KResult:
    """A K refused because its starts' spreads reached the floor, its message told what in
    the data leaves components without spread (``data.spread_hint``): on R's mtcars (32
    cars, d = 11) diagonal K = 4 is refused, and five of its columns take 2 to 6 values."""
    if result.status == "ok" or not result.message:
        return result
    if not any(s.degenerate_reason == "floor" for s in result.starts):
        return result
    full = getattr(problem.request, "covariance", None) == "full"
    hint = spread_hint(problem.X, problem.w, result.k, full)
    if not hint:
        return result
    return result.model_copy(update={"message": f"{result.message}. Here {hint}"})


def assemble(problem: Problem, results: list[KResult]) -> FitResult:
    """Select K by the request's criterion and build the result with its scoring model; a K
    whose fit ended below K-1's reports K-1's fit with a component copied
    (``mixfit.smem.never_below``).

    Parameters
    ----------
    problem : Problem
        What ``prepare`` made of the request and its data.
    results : list of KResult
        One per K of the request, in increasing K.

    Returns
    -------
    FitResult

    Raises
    ------
    FitError
        When no K fitted (every one degenerate), with each K's reason.
    """
    request = problem.request
    results = [explained(problem, r) for r in never_below(problem, results, run_given)]
    ok = [r for r in results if r.status == "ok"]
    if not ok:
        raise FitError("; ".join(r.message or f"k={r.k} failed" for r in results))
    chosen = min(ok, key=lambda r: (_criterion(r, request.criterion), r.k))
    family = problem.family
    model = Model(
        family=request.family,
        k=chosen.k,
        d=problem.d,
        covariance=getattr(request, "covariance", None),
        boundary=getattr(request, "boundary", None),
        n_train=problem.n_eff,
        params=chosen.params,
        reference=reference_density(
            family.mixture_log_density(chosen.params, problem.X), problem.w
        ),
    )
    return FitResult(
        family=request.family,
        criterion=request.criterion,
        k_selected=chosen.k,
        n=problem.n,
        d=problem.d,
        n_effective=problem.n_eff,
        boundary_moved=problem.moved,
        results=results,
        model=model,
        seed=problem.seed,
        data_hash=data_hash(problem.X, problem.w),
        versions={
            "mixfit": __version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "python": platform.python_version(),
        },
        options=request.model_dump(mode="json", exclude={"data", "weights", "dataset_id"}),
    )


def reference_density(log_density: np.ndarray, w: np.ndarray | None) -> ReferenceDensity:
    """The training log-densities' weighted ECDF: every point up to ``EXACT_REFERENCE_MAX``,
    otherwise ``REFERENCE_LEVELS`` quantiles, denser in the lower tail where anomalies live."""
    if w is None:
        values = np.sort(log_density)
        cum = np.arange(1.0, values.shape[0] + 1.0)
    else:
        order = np.argsort(log_density, kind="stable")
        values = log_density[order]
        cum = np.cumsum(w[order])
    probs = cum / cum[-1]
    if values.shape[0] <= EXACT_REFERENCE_MAX:
        return ReferenceDensity(values=values.tolist(), probs=probs.tolist(), exact=True)
    tail = np.geomspace(1.0 / values.shape[0], 0.02, REFERENCE_LEVELS // 4)
    grid = np.unique(np.concatenate([tail, np.linspace(0.02, 1.0, REFERENCE_LEVELS - tail.size)]))
    idx = np.searchsorted(probs, grid, side="left").clip(0, values.shape[0] - 1)
    return ReferenceDensity(values=values[idx].tolist(), probs=probs[idx].tolist(), exact=False)
