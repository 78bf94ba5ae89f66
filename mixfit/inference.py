"""How many components, how sure: the parametric bootstrap likelihood-ratio test for K and
bootstrap (and observed-information) standard errors of the parameters.

``bootstrap_lrt`` follows mclust's ``mclustBootstrapLRT`` (McLachlan 1987; Scrucca et al. 2016,
section 2.4): from the smallest K of the grid, test K against K+1 with the statistic
``LRTS = 2 (LL_{K+1} - LL_K)`` of the data's own fits; simulate ``nboot`` data sets of the same
size from the fitted K-component model, fit each at K and at K+1, and report
``p = (1 + #{LRTS_b >= LRTS_obs}) / (nboot + 1)``; go on to K+1 while the test is significant at
``level`` and K+1 < ``max_k`` + 1. A replicate's fits start where its truth is: at K from the
generating model, at K+1 from the data's K+1 fit and from the generating model with its widest
component split in two; the K+1 maximum is at least the K maximum (the K-component fit is a
K+1-component mixture with one component split in two, weights summing to its weight), so a
replicate whose K+1 starts all stop lower counts that point: no statistic is negative.

``bootstrap`` resamples the data (``method="nonparametric"``: n points with replacement;
``"weighted"``: the weighted likelihood bootstrap, Newton & Raftery 1994, point weights
n x Dirichlet(1, ..., 1)) and refits at the model's K from the fitted parameters; each replicate's
components are matched to the original fit's (``_match``), so label switching cannot
smear the spread. It reports per parameter the standard error and percentile interval.
``observed_information`` gives the 1-D Gaussian's standard errors from the numerical Hessian of
the log-likelihood (weights by the delta method), a fast default with no refit at all.

Every replicate has its own generator spawned from ``seed`` by its index, so a replicate is the
same whichever process (or worker, or part of a fan-out) computes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from .data import as_points
from .em import Problem, run_k
from .errors import FitError
from .fit import parse_request, prepare
from .options import BootstrapResult, LRTResult, LRTStep, ParameterSpread
from .sampling import sample
from .schema import MAX_K, KResult, Model
from .scoring import model_family

LRT_STREAM = 0x1A7
BOOT_STREAM = 0xB007

Progress = Callable[[dict[str, Any]], None]


def replicate_generator(seed: int, stream: int, step: int, b: int) -> np.random.Generator:
    """The generator of replicate ``b`` of a step: independent of every other replicate."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, step, b)))


def _start(params: Any) -> dict[str, Any]:
    start = params.model_dump(exclude_none=True)
    weights = np.asarray(start["weights"], dtype=float)
    start["weights"] = (weights / weights.sum()).tolist()
    return start


def _split_widest(model: Model, points: np.ndarray) -> dict[str, Any]:
    """The model's parameters with its widest component split in two: half the weight each,
    the copies' first-coordinate locations moved apart by half its spread (a start of K+1)."""
    family = model_family(model)
    _, spread = family.moments(model.params)
    j = int(np.argmax(np.asarray(model.params.weights) * spread))
    start = _start(model.params)
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


def _best(problem: Problem, k: int, starts: list[dict[str, Any]]) -> KResult | None:
    """The best non-degenerate start of one batched run of K from explicit start values
    (None: every start degenerated)."""
    batch = dataclasses.replace(problem, extra={**problem.extra, "starts": starts})
    r = run_k(batch, k, starts=range(len(starts)))
    return r if r.status == "ok" else None


def _options(options: dict[str, Any]) -> dict[str, Any]:
    bad = {"k", "init", "n_starts", "data", "weights", "dataset_id"} & set(options)
    if bad:
        raise FitError(f"{', '.join(sorted(bad))}: set by the bootstrap itself")
    return options


def bootstrap_lrt(
    data: Any,
    weights: Any = None,
    *,
    k_min: int = 1,
    max_k: int | None = None,
    nboot: int = 999,
    level: float = 0.05,
    seed: int = 0,
    progress: Progress | None = None,
    **options: Any,
) -> LRTResult:
    """Sequential parametric bootstrap LRT of K against K+1 (mclust's ``mclustBootstrapLRT``).

    Parameters
    ----------
    data : array-like of shape (n,) or (n, d)
    weights : array-like of shape (n,), optional
        Point weights (counts) of the data; replicates are n unweighted points.
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
    progress : callable, optional
        Called after every replicate with ``{"step", "k", "done", "nboot"}``.
    **options
        Fit options (``family``, ``covariance``, ``n_starts`` of the observed fits, ...).

    Returns
    -------
    LRTResult
        Per step: K, the observed statistic, the p-value, every bootstrap statistic.
    """
    options = _options(dict(options))
    last = MAX_K - 1 if max_k is None else max_k
    if not 1 <= k_min <= last < MAX_K:
        raise FitError(f"need 1 <= k_min <= max_k <= {MAX_K - 1}")
    if nboot < 1:
        raise FitError("nboot must be at least 1")
    X, w = as_points(data, weights)
    steps: list[LRTStep] = []
    for step, k in enumerate(range(k_min, last + 1)):
        # The fits of k_min..k+1 in one request: each K's fit is the same at every step.
        observed = _observed_fits(X, w, list(range(k_min, k + 2)), seed, options)
        null, alt = observed[k], observed[k + 1]
        obs = max(0.0, 2.0 * (alt.loglik - null.loglik))
        stats = np.empty(nboot)
        model = _model(null, X.shape[1], options)
        for b in range(nboot):
            rng = replicate_generator(seed, LRT_STREAM, step, b)
            Y, _ = sample(model, X.shape[0], rng)
            stats[b] = _replicate_lrts(Y, model, alt, k, options, seed)
            if progress is not None:
                progress({"step": step, "k": k, "done": b + 1, "nboot": nboot})
        p = (1.0 + float(np.count_nonzero(stats >= obs))) / (nboot + 1.0)
        steps.append(
            LRTStep(
                k=k,
                loglik=null.loglik,
                loglik_alternative=alt.loglik,
                statistic=obs,
                p_value=p,
                bootstrap=stats.tolist(),
            )
        )
        if max_k is None and p >= level:
            break
    selected = next((s.k for s in steps if s.p_value >= level), steps[-1].k + 1)
    return LRTResult(nboot=nboot, level=level, seed=seed, steps=steps, k_selected=selected)


def _observed_fits(X, w, ks, seed, options) -> dict[int, KResult]:
    request = parse_request({**options, "k": ks, "seed": seed})
    problem = prepare(request, X, w)
    from .fit import fit_ks

    out = {r.k: r for r in fit_ks(problem)}
    for k, r in out.items():
        if r.status != "ok":
            raise FitError(f"the data's own fit failed at k={k}: {r.message}")
    # K+1 at least K: the K fit, split, is a K+1 start (nested models).
    for k in ks[1:]:
        if out[k].loglik < out[k - 1].loglik:
            model = _model(out[k - 1], X.shape[1], options)
            better = _best(
                dataclasses.replace(problem, request=problem.request), k, [_split_widest(model, X)]
            )
            if better is not None and better.loglik > out[k].loglik:
                out[k] = better
    return out


def _model(r: KResult, d: int, options: dict[str, Any]) -> Model:
    from .options import ReferenceDensity

    return Model(
        family=options.get("family", "gaussian"),
        k=r.k,
        d=d,
        covariance=options.get("covariance"),
        boundary=options.get("boundary"),
        n_train=1.0,
        params=r.params,
        reference=ReferenceDensity(values=[0.0], probs=[1.0], exact=True),
    )


def _replicate_lrts(
    Y: np.ndarray, model: Model, alt: KResult, k: int, options: dict[str, Any], seed: int
) -> float:
    request = parse_request({**options, "k": [k, k + 1], "seed": seed, "n_starts": 1})
    try:
        problem = prepare(request, Y)
    except FitError:
        return 0.0  # a replicate the family cannot fit (e.g. all points tied) says nothing
    null = _best(problem, k, [_start(model.params)])
    if null is None:
        return 0.0
    fitted = model.model_copy(update={"params": null.params})
    starts = [_start(alt.params), _split_widest(fitted, Y)]
    better = _best(problem, k + 1, starts)
    top = null.loglik if better is None else max(better.loglik, null.loglik)
    return 2.0 * (top - null.loglik)


# -- parameter uncertainty ---------------------------------------------------------------------


def _flat(params: Any, family: Any) -> dict[str, np.ndarray]:
    """Each JSON parameter array of shape (K, ...) (weights included), by name."""
    out = {}
    for name, value in params.model_dump(exclude_none=True).items():
        arr = np.asarray(value, dtype=float)
        if arr.ndim >= 1 and arr.shape[0] == len(params.weights):
            out[name] = arr
    return out


def _match(family: Any, reference: Any, other: Any) -> np.ndarray:
    """The permutation of ``other``'s components nearest ``reference``'s: the assignment that
    minimizes the summed squared distances of the components' first-coordinate centres in units
    of their spreads (``Family.moments``), plus the squared log ratios of the spreads."""
    c0, s0 = family.moments(reference)
    c1, s1 = family.moments(other)
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = (c0[:, None] - c1[None, :]) ** 2 / (s0[:, None] ** 2 + s1[None, :] ** 2)
        cost = cost + np.log(s0[:, None] / s1[None, :]) ** 2
    return linear_sum_assignment(np.nan_to_num(cost, nan=1e300, posinf=1e300))[1]


def bootstrap(
    result: Any,
    data: Any,
    weights: Any = None,
    *,
    nboot: int = 999,
    method: str = "nonparametric",
    conf_level: float = 0.95,
    seed: int = 0,
    progress: Progress | None = None,
) -> BootstrapResult:
    """Bootstrap standard errors and percentile intervals of a fitted model's parameters.

    Parameters
    ----------
    result : FitResult
        The fit (its selected model and its options are used).
    data, weights : array-like
        The data it was fitted to.
    nboot : int
    method : {"nonparametric", "weighted"}
    conf_level : float
    seed : int
    progress : callable, optional
        Called after every replicate with ``{"done", "nboot"}``.

    Returns
    -------
    BootstrapResult
        Per parameter (``weights``, ``means``, ...): estimate, standard error, lower and upper
        percentile bounds, each shaped like the parameter.
    """
    if method not in ("nonparametric", "weighted"):
        raise FitError("method must be 'nonparametric' or 'weighted'")
    X, w = as_points(data, weights)
    model = result.model
    family = model_family(model)
    options = {
        key: value
        for key, value in result.options.items()
        if key not in ("k", "init", "n_starts", "seed", "screen_factor", "screen_iter")
    }
    request = parse_request({**options, "k": model.k, "n_starts": 1})
    reference = _flat(model.params, family)
    draws: dict[str, list[np.ndarray]] = {name: [] for name in reference}
    start = _start(model.params)
    n = X.shape[0]
    failed = 0
    for b in range(nboot):
        rng = replicate_generator(seed, BOOT_STREAM, 0, b)
        if method == "nonparametric":
            p = None if w is None else w / w.sum()
            idx = rng.choice(n, n, replace=True, p=p)
            Y, wy = X[idx], None
        else:
            base = np.ones(n) if w is None else w
            Y, wy = X, rng.dirichlet(np.ones(n)) * base.sum() * base / base.mean()
        try:
            problem = prepare(request, Y, wy)
            fitted = _best(problem, model.k, [start])
        except FitError:
            fitted = None
        if fitted is None:
            failed += 1
            continue
        flat = _flat(fitted.params, family)
        order = _match(family, model.params, fitted.params)
        for name in draws:
            draws[name].append(flat[name][order])
        if progress is not None:
            progress({"done": b + 1, "nboot": nboot})
    if not draws["weights"]:
        raise FitError("every bootstrap replicate failed")
    alpha = 1.0 - conf_level
    spreads = {}
    for name, values in draws.items():
        stack = np.stack(values)
        spreads[name] = ParameterSpread(
            estimate=reference[name].tolist(),
            se=stack.std(axis=0, ddof=1).tolist(),
            lower=np.quantile(stack, alpha / 2, axis=0).tolist(),
            upper=np.quantile(stack, 1 - alpha / 2, axis=0).tolist(),
        )
    return BootstrapResult(
        method=method,
        nboot=nboot,
        failed=failed,
        conf_level=conf_level,
        seed=seed,
        parameters=spreads,
    )


def observed_information(result: Any, data: Any, weights: Any = None) -> BootstrapResult:
    """Standard errors of a 1-D Gaussian mixture's weights, means and sds from the observed
    information: the inverse of the numerical Hessian (central differences) of the
    log-likelihood in (weights 1..K-1, means, sds), the last weight by the delta method;
    Wald intervals at 95 %."""
    model = result.model
    if model.family != "gaussian" or model.d != 1:
        raise FitError("observed-information standard errors: the 1-D Gaussian family only")
    X, w = as_points(data, weights)
    x = X[:, 0]
    wt = np.ones_like(x) if w is None else w
    p = model.params
    k = model.k
    sds = np.broadcast_to(np.asarray(p.sds, float), (k,))
    theta = np.concatenate([np.asarray(p.weights[:-1], float), np.asarray(p.means, float), sds])

    def loglik(t: np.ndarray) -> float:
        pis = np.append(t[: k - 1], 1.0 - t[: k - 1].sum())
        mu, sd = t[k - 1 : 2 * k - 1], t[2 * k - 1 :]
        z = (x[None, :] - mu[:, None]) / sd[:, None]
        logs = np.log(pis)[:, None] - 0.5 * z * z - np.log(sd)[:, None] - 0.5 * np.log(2 * np.pi)
        top = logs.max(axis=0)
        return float(wt @ (top + np.log(np.exp(logs - top).sum(axis=0))))

    size = theta.size
    step = 1e-4 * np.maximum(np.abs(theta), 1e-2 * np.std(x))
    H = np.empty((size, size))
    for i in range(size):
        for j in range(i, size):
            ei, ej = np.eye(size)[i] * step[i], np.eye(size)[j] * step[j]
            value = (
                loglik(theta + ei + ej)
                - loglik(theta + ei - ej)
                - loglik(theta - ei + ej)
                + loglik(theta - ei - ej)
            ) / (4 * step[i] * step[j])
            H[i, j] = H[j, i] = value
    cov = np.linalg.inv(-H)
    grad_last = np.concatenate([-np.ones(k - 1), np.zeros(2 * k)])
    var_w = np.append(np.diag(cov)[: k - 1], grad_last @ cov @ grad_last)
    se = {
        "weights": np.sqrt(var_w),
        "means": np.sqrt(np.diag(cov)[k - 1 : 2 * k - 1]),
        "sds": np.sqrt(np.diag(cov)[2 * k - 1 :]),
    }
    estimate = {"weights": np.asarray(p.weights, float), "means": np.asarray(p.means, float)}
    estimate["sds"] = sds
    spreads = {
        name: ParameterSpread(
            estimate=estimate[name].tolist(),
            se=se[name].tolist(),
            lower=(estimate[name] - 1.959963984540054 * se[name]).tolist(),
            upper=(estimate[name] + 1.959963984540054 * se[name]).tolist(),
        )
        for name in se
    }
    return BootstrapResult(
        method="observed_information",
        nboot=0,
        failed=0,
        conf_level=0.95,
        seed=0,
        parameters=spreads,
    )
