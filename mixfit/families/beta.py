"""Beta mixtures on (0, 1) with a maximum-likelihood M-step.

The M-step solves the weighted likelihood equations
``psi(a) - psi(a + b) = mean log x`` and ``psi(b) - psi(a + b) = mean log(1 - x)`` by Newton's
method (digamma/trigamma), for every start and component at once, warm-started from the previous
iteration (from the weighted method of moments at the start). The objective is concave, and each
Newton step is halved until it stays positive and does not lower it, so the EM trace cannot fall.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import betaln, digamma, polygamma

from ..errors import FitError
from ..schema import BetaParams
from . import register
from .base import Events, Family, ParamArrays, label_sums

CLIP_EPS = 1e-6
NEWTON_STEPS = 50
NEWTON_RTOL = 1e-13


def _objective(a: np.ndarray, b: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    return (a - 1.0) * s1 + (b - 1.0) * s2 - betaln(a, b)


def newton_beta(
    a: np.ndarray, b: np.ndarray, s1: np.ndarray, s2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Maximize ``(a-1) s1 + (b-1) s2 - betaln(a, b)`` elementwise, starting from (a, b).

    Parameters
    ----------
    a, b : ndarray of shape (S, K)
        Starting shape parameters (positive).
    s1, s2 : ndarray of shape (S, K)
        Weighted means of log x and log(1 - x).
    """
    a, b = a.copy(), b.copy()
    for _ in range(NEWTON_STEPS):
        ab = a + b
        psi_ab, tri_ab = digamma(ab), polygamma(1, ab)
        g1 = s1 - digamma(a) + psi_ab
        g2 = s2 - digamma(b) + psi_ab
        h11 = polygamma(1, a) - tri_ab  # minus the Hessian: positive definite
        h22 = polygamma(1, b) - tri_ab
        det = h11 * h22 - tri_ab * tri_ab
        with np.errstate(divide="ignore", invalid="ignore"):
            da = (h22 * g1 + tri_ab * g2) / det
            db = (h11 * g2 + tri_ab * g1) / det
        # A flat objective (huge a, b: the precision cap's business) takes no step.
        stuck = ~(np.isfinite(da) & np.isfinite(db))
        da, db = np.where(stuck, 0.0, da), np.where(stuck, 0.0, db)
        f0 = _objective(a, b, s1, s2)
        step = np.ones_like(a)
        for _ in range(60):
            na, nb = a + step * da, b + step * db
            with np.errstate(invalid="ignore"):
                ok = (na > 0) & (nb > 0)
                ok &= _objective(np.where(ok, na, a), np.where(ok, nb, b), s1, s2) >= f0
            if ok.all():
                break
            step = np.where(ok, step, 0.5 * step)
        else:
            step = np.where(ok, step, 0.0)
        a, b = a + step * da, b + step * db
        if np.all(np.abs(step * da) <= NEWTON_RTOL * a) and np.all(
            np.abs(step * db) <= NEWTON_RTOL * b
        ):
            break
    return a, b


@register
class Beta(Family):
    """Beta components. Parameters: ``alpha`` and ``beta``, each of shape (S, K, 1)."""

    name = "beta"
    standardize = False
    init_methods = ("kmeans++", "kmeans", "quantile", "random", "moments")

    def __init__(self, request: Any, d: int) -> None:
        if d != 1:
            raise FitError(f"beta mixtures are univariate; the data have {d} columns")
        super().__init__(request, d)

    def _apply_boundary(self, X: np.ndarray, n: float, what: str) -> tuple[np.ndarray, int]:
        x = X[:, 0]
        outside = int(np.count_nonzero((x < 0) | (x > 1)))
        if outside:
            raise FitError(
                f"{outside} {what} lie outside [0, 1]; the beta family's support is (0, 1)"
            )
        at = int(np.count_nonzero((x == 0) | (x == 1)))
        policy = self.request.boundary
        if policy == "squeeze":
            # Smithson & Verkuilen (2006): (y (n - 1) + 0.5) / n, applied to every point.
            return ((x * (n - 1.0) + 0.5) / n)[:, None], at
        if policy == "clip":
            return np.clip(x, CLIP_EPS, 1.0 - CLIP_EPS)[:, None], at
        if at:
            raise FitError(
                f"{at} {what} lie at exactly 0 or 1, outside the beta family's support (0, 1); "
                "send boundary='squeeze' or boundary='clip' to move them inside"
            )
        return X, 0

    def prepare(self, X: np.ndarray) -> tuple[np.ndarray, int]:
        return self._apply_boundary(X, float(X.shape[0]), "point(s)")

    def validate_points(self, X: np.ndarray, n_train: float) -> np.ndarray:
        return self._apply_boundary(X, n_train, "point(s) to score")[0]

    # -- engine interface ------------------------------------------------------------------------
    def statistics(self, Z: np.ndarray) -> np.ndarray:
        return np.column_stack([np.log(Z[:, 0]), np.log1p(-Z[:, 0])])

    def natural(self, params: ParamArrays) -> tuple[np.ndarray, np.ndarray]:
        a, b = params["alpha"][..., 0], params["beta"][..., 0]
        return np.stack([a - 1.0, b - 1.0], axis=-1), betaln(a, b)

    def _cap(self, a: np.ndarray, b: np.ndarray, floor: float, events: Events) -> tuple:
        mean = a / (a + b)
        cap = np.maximum(mean * (1 - mean) / floor - 1.0, 1.0)
        over = a + b > cap
        for s, k in zip(*np.nonzero(over), strict=True):
            events.append(
                (int(s), int(k), "precision_cap", "precision a+b capped (variance floor)")
            )
        factor = np.where(over, cap / (a + b), 1.0)
        return a * factor, b * factor

    def maximize(
        self, stats: np.ndarray, previous: ParamArrays, floor: float, reevaluate: Any = None
    ) -> tuple[ParamArrays, Events]:
        counts = np.maximum(stats[..., 0], 1e-300)
        s1, s2 = stats[..., 1] / counts, stats[..., 2] / counts
        a, b = newton_beta(previous["alpha"][..., 0], previous["beta"][..., 0], s1, s2)
        events: Events = []
        a, b = self._cap(a, b, floor, events)
        return {"alpha": a[..., None], "beta": b[..., None]}, events

    def initial(
        self, Z: np.ndarray, w: np.ndarray | None, labels: np.ndarray, k: int, floor: float
    ) -> ParamArrays:
        """Weighted method of moments per labelled group."""
        x = Z[:, 0]
        sums = label_sums(np.column_stack([x, x * x]), w, labels, k)
        counts = np.maximum(sums[..., 0], 1e-300)
        mean = np.clip(sums[..., 1] / counts, 1e-6, 1 - 1e-6)
        var = np.maximum(sums[..., 2] / counts - mean * mean, floor)
        common = np.maximum(mean * (1 - mean) / var - 1.0, 1e-2)
        a, b = self._cap(mean * common, (1 - mean) * common, floor, [])
        return {"alpha": a[..., None], "beta": b[..., None]}

    def n_params(self, k: int) -> int:
        return 3 * k - 1

    # -- JSON --------------------------------------------------------------------------------------
    def to_json(self, params: ParamArrays, weights: np.ndarray, scaling: Any) -> BetaParams:
        return BetaParams(
            weights=weights.tolist(),
            alphas=params["alpha"][:, 0].tolist(),
            betas=params["beta"][:, 0].tolist(),
        )

    def from_json(self, params: Any, scaling: Any) -> tuple[ParamArrays, np.ndarray]:
        a = np.asarray(params.alphas, dtype=float)
        b = np.asarray(params.betas, dtype=float)
        return {"alpha": a[None, :, None], "beta": b[None, :, None]}, np.asarray(
            params.weights, float
        )

    def log_pdf(self, params: Any, X: np.ndarray) -> np.ndarray:
        a = np.asarray(params.alphas, dtype=float)[:, None]
        b = np.asarray(params.betas, dtype=float)[:, None]
        x = X[:, 0][None, :]
        return (a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x) - betaln(a, b)
