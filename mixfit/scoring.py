"""Scoring new points against a fitted model: log-density, component, p-value, anomaly flag."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import logsumexp

from .data import as_points
from .errors import FitError
from .families import get_family
from .fit import parse_request
from .schema import Model, ScoreResult

LOG_DENSITY_FLOOR = -1e300


def p_values(model: Model, log_density: np.ndarray) -> np.ndarray:
    """Share of training points whose log-density is at or below each value, shape (n,)."""
    ref = model.reference
    values, probs = np.asarray(ref.values), np.asarray(ref.probs)
    if ref.exact:
        idx = np.searchsorted(values, log_density, side="right")
        return np.where(idx > 0, probs[np.maximum(idx - 1, 0)], 0.0)
    return np.interp(log_density, values, probs, left=0.0, right=1.0)


def model_family(model: Model) -> Any:
    """The family object a fitted model was fitted with (its options as in the fit)."""
    options: dict[str, Any] = {"family": model.family, "k": model.k}
    if model.covariance is not None:
        options["covariance"] = model.covariance
    if model.boundary is not None:
        options["boundary"] = model.boundary
    return get_family(model.family)(parse_request(options), model.d)


def joint_log_density(model: Model, points: Any) -> np.ndarray:
    """log(weight_k) + log f_k(x) of every component at every point, floored at -1e300.

    Parameters
    ----------
    model : Model
    points : array-like of shape (n,) or (n, d)
        Checked against the model's dimension and the family's support (boundary policy).

    Returns
    -------
    ndarray of shape (K, n)
    """
    X, _ = as_points(points)
    if X.shape[1] != model.d:
        raise FitError(f"points have {X.shape[1]} dimension(s) but the model has {model.d}")
    family = model_family(model)
    X = family.validate_points(X, model.n_train)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        logw = np.log(np.asarray(model.params.weights, dtype=float))
        joint = family.log_pdf(model.params, X) + logw[:, None]
        return np.nan_to_num(joint, nan=LOG_DENSITY_FLOOR, neginf=LOG_DENSITY_FLOOR)


def log_density(joint: np.ndarray) -> np.ndarray:
    """The mixture's log-density (n,) from ``joint_log_density``'s (K, n), floored."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return np.maximum(logsumexp(joint, axis=0), LOG_DENSITY_FLOOR)


def score(
    model: Model | dict, points: Any, alpha: float = 0.01, responsibilities: bool = False
) -> ScoreResult:
    """Score points against a fitted model.

    Parameters
    ----------
    model : Model or dict
        A fitted model (``FitResult.model``) or its JSON form.
    points : array-like of shape (n,) or (n, d)
    alpha : float, default 0.01
        A point is an anomaly when its p-value is below ``alpha``.
    responsibilities : bool, default False
        Also return each point's component responsibilities, shape (n, K).

    Returns
    -------
    ScoreResult
    """
    if not isinstance(model, Model):
        model = Model.model_validate(model)
    if not 0.0 < alpha < 1.0:
        raise FitError("alpha must lie strictly between 0 and 1")
    joint = joint_log_density(model, points)
    density = log_density(joint)
    p = p_values(model, density)
    flags = p < alpha
    resp = None
    if responsibilities:
        resp = np.exp(joint - density[None, :]).T.tolist()
    return ScoreResult(
        log_density=density.tolist(),
        component=np.argmax(joint, axis=0).tolist(),
        p_value=p.tolist(),
        is_anomaly=flags.tolist(),
        alpha=alpha,
        n_anomalies=int(flags.sum()),
        responsibilities=resp,
    )
