"""How sure: bootstrap (and observed-information) standard errors and intervals of a fitted
model's parameters.

``bootstrap`` resamples the data (``method="nonparametric"``: n points with replacement;
``"weighted"``: the weighted likelihood bootstrap, Newton & Raftery 1994, point weights
n x Dirichlet(1, ..., 1)) and refits at the model's K from the fitted parameters; each replicate's
components are matched to the original fit's (``_match``), so label switching cannot
smear the spread. It reports per parameter the standard error and percentile interval.
``observed_information`` gives the 1-D Gaussian's standard errors from the numerical Hessian of
the log-likelihood (weights by the delta method), a fast default with no refit at all, and a
FitError where the fit is no strict maximum (the information is not positive definite).

The bootstrap comes in two pieces so that its replicates can be spread over processes (the
service's workers): ``bootstrap_replicates`` computes any range of replicates, and
``bootstrap_summary`` puts the ranges together. Every replicate has its own generator
(``replicate_generator``), so the result is the same however the replicates are split.
The likelihood-ratio test for K is in ``mixfit.lrt``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import norm

from .data import as_points
from .errors import FitError
from .estep import single_threaded_blas
from .fit import parse_request
from .options import BootstrapResult, ParameterSpread, Schema
from .replicates import Progress, refit, replicate_generator, start_values
from .schema import Model
from .scoring import model_family

BOOT_STREAM = 0xB007
CHUNK = 64  # replicates refitted in one batch (mixfit.replicates)
# A replicate's refit starts at the fitted parameters, so one stopped early stays near them and
# the spread comes out too narrow (measured on 200 two-component sets, n = 200, B = 199: means'
# 95 % intervals covered 91-93 % at the fit's tol 1e-8, 93-93.5 % at 1e-13): refits converge
# to this instead of the fit's tolerance.
REFIT_TOLERANCE = {"tol": 1e-12, "tol_type": "relative"}
METHODS = ("nonparametric", "weighted")
# A fit's options that are its own starts, not the model's definition: a replicate starts from
# the fitted parameters instead.
START_OPTIONS = frozenset({"k", "init", "n_starts", "seed", "screen_factor", "screen_iter"})


class BootstrapDraws(Schema):
    """Replicates ``start`` .. ``stop`` - 1: per parameter, each refit replicate's values
    (components matched to the fit's), and how many replicates failed to refit."""

    start: int
    stop: int
    failed: int
    draws: dict[str, list[Any]]


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
    # hypot and a difference of logs: spreads held at 1e300 (``Family.moments``) neither
    # overflow a square nor a ratio here (found by fuzzing: a log-normal sdlog of 153)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        cost = ((c0[:, None] - c1[None, :]) / np.hypot(s0[:, None], s1[None, :])) ** 2
        cost = cost + (np.log(s0)[:, None] - np.log(s1)[None, :]) ** 2
    return linear_sum_assignment(np.nan_to_num(cost, nan=1e300, posinf=1e300))[1]


def model_options(options: dict[str, Any]) -> dict[str, Any]:
    """A fit's options less its start settings and ``keep_path`` (no refit's path is
    returned): what a replicate's refit keeps."""
    return {
        key: value
        for key, value in options.items()
        if key not in START_OPTIONS and key != "keep_path"
    }


def bootstrap_replicates(
    model: Model,
    options: dict[str, Any],
    data: Any,
    weights: Any = None,
    *,
    method: str = "nonparametric",
    seed: int = 0,
    start: int = 0,
    stop: int,
    progress: Progress | None = None,
) -> BootstrapDraws:
    """Refit replicates ``start`` .. ``stop`` - 1 of the data at the model's K.

    Parameters
    ----------
    model : Model
        The fitted model (its parameters start every refit).
    options : dict
        The fit's options (``FitResult.options``); its start settings are ignored.
    data : array-like of shape (n,) or (n, d)
    weights : array-like of shape (n,), optional
    method : {"nonparametric", "weighted"}
    seed : int
    start, stop : int
        The replicates' indices.
    progress : callable, optional
        Called after every replicate with ``{"done"}`` (done in this range).

    Returns
    -------
    BootstrapDraws
    """
    if method not in METHODS:
        raise FitError("method must be 'nonparametric' or 'weighted'")
    X, w = as_points(data, weights)
    family = model_family(model)
    request = parse_request(
        {**model_options(options), "k": model.k, "n_starts": 1, **REFIT_TOLERANCE}
    )
    names = list(_flat(model.params, family))
    draws: dict[str, list[Any]] = {name: [] for name in names}
    first = start_values(model.params)
    n = X.shape[0]
    failed = 0
    for a in range(start, stop, CHUNK):
        chunk = range(a, min(a + CHUNK, stop))
        Ys, ws = [], []
        for b in chunk:
            rng = replicate_generator(seed, BOOT_STREAM, 0, b)
            if method == "nonparametric":
                p = None if w is None else w / w.sum()
                Ys.append(X[rng.choice(n, n, replace=True, p=p)])
            else:
                base = np.ones(n) if w is None else w
                Ys.append(X)
                ws.append(rng.dirichlet(np.ones(n)) * base.sum() * base / base.mean())
        with single_threaded_blas():  # as in every fit (see mixfit.lrt.lrt_replicates)
            fits = refit(request, Ys, ws or None, model.k, [first], (X, w))
        for fitted in fits:
            if fitted is None:
                failed += 1
                continue
            flat = _flat(fitted, family)
            order = _match(family, model.params, fitted)
            for name in names:
                draws[name].append(flat[name][order].tolist())
        if progress is not None:
            progress({"done": chunk.stop - start})
    return BootstrapDraws(start=start, stop=stop, failed=failed, draws=draws)


def bootstrap_summary(
    model: Model,
    parts: list[BootstrapDraws],
    *,
    method: str,
    conf_level: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Standard errors and percentile intervals from every range of replicates.

    Parameters
    ----------
    model : Model
    parts : list of BootstrapDraws
        Disjoint ranges covering 0 .. nboot - 1, in any order.
    method, conf_level, seed
        Recorded in the result (``conf_level`` sets the interval).

    Returns
    -------
    BootstrapResult
    """
    if not 0.0 < conf_level < 1.0:
        raise FitError("conf_level must lie strictly between 0 and 1")
    parts = sorted(parts, key=lambda part: part.start)
    nboot = sum(part.stop - part.start for part in parts)
    reference = _flat(model.params, model_family(model))
    alpha = 1.0 - conf_level
    spreads = {}
    for name, estimate in reference.items():
        values = [value for part in parts for value in part.draws[name]]
        if len(values) < 2:
            raise FitError(f"{len(values)} of {nboot} bootstrap replicates could be refitted")
        stack = np.asarray(values, dtype=float)
        spreads[name] = ParameterSpread(
            estimate=estimate.tolist(),
            se=_standard_deviation(stack).tolist(),
            lower=np.quantile(stack, alpha / 2, axis=0).tolist(),
            upper=np.quantile(stack, 1 - alpha / 2, axis=0).tolist(),
        )
    return BootstrapResult(
        method=method,
        nboot=nboot,
        failed=sum(part.failed for part in parts),
        conf_level=conf_level,
        seed=seed,
        parameters=spreads,
    )


def _standard_deviation(stack: np.ndarray) -> np.ndarray:
    """Column standard deviations (p,) of draws (R, p), ddof 1. Draws of a covariance of data
    at 1e150 reach 1e300 and their squares overflow (found by fuzzing): such columns are
    divided by their largest magnitude first (the others keep numpy's own arithmetic)."""
    with np.errstate(over="ignore", invalid="ignore"):
        se = stack.std(axis=0, ddof=1)
    wide = ~np.isfinite(se)
    if np.any(wide):
        part = stack[:, wide]
        scale = np.max(np.abs(part), axis=0)
        se[wide] = scale * (part / scale).std(axis=0, ddof=1)
    return se


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
    if nboot < 2:
        raise FitError("nboot must be at least 2")

    def report(info: dict[str, Any]) -> None:
        if progress is not None:
            progress({"done": info["done"], "nboot": nboot})

    part = bootstrap_replicates(
        result.model,
        result.options,
        data,
        weights,
        method=method,
        seed=seed,
        stop=nboot,
        progress=report,
    )
    return bootstrap_summary(result.model, [part], method=method, conf_level=conf_level, seed=seed)


def _inverse_information(information: np.ndarray) -> np.ndarray:
    """The inverse of the observed information (P, P), through its Cholesky factor; a
    FitError where it is not positive definite (a NaN in it included): the fit is then no
    strict maximum and the Hessian's inverse no covariance (its diagonal was NaN, and null in
    the result, or negative)."""
    factor = None
    if np.all(np.isfinite(information)):
        try:
            factor = np.linalg.cholesky(information)
        except np.linalg.LinAlgError:
            pass
    if factor is None:
        raise FitError(
            "observed_information: the observed information is not positive definite at this "
            "fit (it is no strict maximum of the log-likelihood: a component on tied values or "
            "at a boundary, or too few points), so it gives no standard errors; use the "
            "bootstrap, method 'nonparametric' or 'weighted'"
        )
    inverse = np.linalg.inv(factor)
    return inverse.T @ inverse


def observed_information(
    result: Any, data: Any, weights: Any = None, *, conf_level: float = 0.95
) -> BootstrapResult:
    """Standard errors of a 1-D Gaussian mixture's weights, means and sds from the observed
    information: the inverse of the numerical Hessian (central differences) of the
    log-likelihood in (weights 1..K-1, means, sds), the last weight by the delta method;
    Wald intervals at ``conf_level``.

    Parameters
    ----------
    result : FitResult
        The fit whose model (its selected K) holds the estimates.
    data : array-like of shape (n,)
        The data it was fitted to.
    weights : array-like of shape (n,), optional
    conf_level : float
        Of the Wald intervals, in (0, 1).

    Returns
    -------
    BootstrapResult
        ``method`` ``"observed_information"``: per parameter array (K,) its estimate, standard
        error and interval.

    Raises
    ------
    FitError
        Where the observed information is not positive definite at the fit (it is no strict
        maximum: a component on tied values, or at a boundary, or too few points): no standard
        error exists there, and the bootstrap's spread is what to ask for instead; and for a
        family other than the 1-D Gaussian.
    """
    if not 0.0 < conf_level < 1.0:
        raise FitError("conf_level must lie strictly between 0 and 1")
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
    # a step past a boundary (an sd or a weight below 0) is NaN, and so not definite, below
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
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
    cov = _inverse_information(-H)
    grad_last = np.concatenate([-np.ones(k - 1), np.zeros(2 * k)])
    var_w = np.append(np.diag(cov)[: k - 1], grad_last @ cov @ grad_last)
    se = {
        "weights": np.sqrt(var_w),
        "means": np.sqrt(np.diag(cov)[k - 1 : 2 * k - 1]),
        "sds": np.sqrt(np.diag(cov)[2 * k - 1 :]),
    }
    estimate = {"weights": np.asarray(p.weights, float), "means": np.asarray(p.means, float)}
    estimate["sds"] = sds
    z = float(norm.ppf(0.5 + 0.5 * conf_level))
    spreads = {
        name: ParameterSpread(
            estimate=estimate[name].tolist(),
            se=se[name].tolist(),
            lower=(estimate[name] - z * se[name]).tolist(),
            upper=(estimate[name] + z * se[name]).tolist(),
        )
        for name in se
    }
    return BootstrapResult(
        method="observed_information",
        nboot=0,
        failed=0,
        conf_level=conf_level,
        seed=0,
        parameters=spreads,
    )
