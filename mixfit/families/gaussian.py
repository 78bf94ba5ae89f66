"""Gaussian mixtures, 1-D and d-dimensional, with scikit-learn's covariance types.

In 1-D ``tied`` means one variance shared by all components (mclust "E", normalmixEM's
``arbvar = FALSE``); every other type means free variances (mclust "V"). In d dimensions ``full``,
``diag``, ``spherical`` and ``tied`` have scikit-learn's meanings. Variances are floored at
``floor``: ``var_floor`` times each column's variance (in d > 1, but for spherical components:
times the columns' mean variance, as in 1-D), so a column's units do not set another's floor.
A full or tied covariance C below it is lifted (``lift``: with F = diag(floor), by
``(1 - smallest) F`` where the smallest eigenvalue of F^-1/2 C F^-1/2 is below 1, unless the
data are as thin along its eigenvector: ``mixfit.oblique``); unlike
scikit-learn's ``reg_covar``, nothing is added to a covariance that does not need it, so the
M-step is the exact maximizer whenever the floor does not bind.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from ..data import Scaling
from ..errors import FitError
from ..options import (
    INIT_DESCRIPTION,
    CovarianceType,
    FitOptions,
    InitMethod,
    Matrix,
    PositiveFloat,
    Schema,
    StartValues,
    Vector,
)
from . import register
from .base import (
    Events,
    Family,
    ParamArrays,
    Reevaluate,
    data_rows,
    factor,
    resp_sums,
    spread,
    whitening,
)

LOG_2PI = float(np.log(2.0 * np.pi))
# ``lift``: an exempted covariance's smallest eigenvalue is at least this fraction of the
# largest second moment it was computed from (about 5,000 times float64's rounding)
ROUNDOFF = 1e-12


class GaussianStart(StartValues):
    """Explicit start values for a Gaussian mixture (one start, K = len(weights)).

    1-D: ``means`` and ``sds`` (standard deviations, normalmixEM's ``sigma``; one value means equal
    variances). d-dim: ``means`` as K rows of d and ``covariances`` as K d-by-d matrices.
    """

    means: Vector | Matrix
    sds: list[PositiveFloat] | None = None
    covariances: list[Matrix] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> GaussianStart:
        k = len(self.weights)
        if len(self.means) != k:
            raise ValueError(f"means has {len(self.means)} entries but weights has {k}")
        one_d = all(isinstance(m, float | int) for m in self.means)
        if one_d:
            if self.sds is None or self.covariances is not None:
                given = ", not 'covariances'" if self.covariances is not None else ""
                raise ValueError(f"1-D start values need 'sds' (standard deviations){given}")
            if len(self.sds) not in (1, k):
                raise ValueError(f"sds needs 1 or {k} values, got {len(self.sds)}")
        else:
            if self.covariances is None or self.sds is not None:
                given = ", not 'sds'" if self.sds is not None else ""
                raise ValueError(f"d-dimensional start values need 'covariances'{given}")
            d = len(self.means[0])
            if any(len(row) != d for row in self.means):
                raise ValueError("every start mean must have the same dimension")
            if len(self.covariances) != k or any(
                len(c) != d or any(len(r) != d for r in c) for c in self.covariances
            ):
                raise ValueError(f"covariances must be {k} matrices of shape {d}x{d}")
            for c, cov in enumerate(np.asarray(self.covariances, dtype=float)):
                if not np.allclose(cov, cov.T) or np.any(np.linalg.eigvalsh(cov) <= 0):
                    raise ValueError(f"start covariance {c} is not symmetric positive definite")
        return self


class GaussianFitRequest(FitOptions):
    """Fit a Gaussian mixture. In 1-D, ``tied`` means equal variances (mclust E); the other
    covariance types all mean free variances (mclust V)."""

    family: Literal["gaussian"] = "gaussian"
    covariance: CovarianceType = "full"
    variance_update: Literal["exact", "normalmixem"] = Field(
        "exact",
        description="exact: the M-step's variances use the new means. normalmixem: use the "
        "previous iteration's means, as mixtools::normalmixEM does (an ECM-like variant), to "
        "reproduce its iterates from the same start.",
    )
    init: InitMethod | Annotated[list[InitMethod], Field(min_length=1)] | GaussianStart = Field(
        "auto",
        description=INIT_DESCRIPTION,
    )

    @model_validator(mode="after")
    def _plain_for_normalmixem(self) -> GaussianFitRequest:
        """normalmixEM's iterates are plain EM's: unless asked otherwise, no acceleration."""
        if self.variance_update == "normalmixem" and "accelerate" not in self.model_fields_set:
            self.accelerate = False
        return self


class GaussianParams(Schema):
    """Gaussian mixture parameters. 1-D: ``sds`` are standard deviations; d-dim: ``covariances``
    are full K x d x d matrices whatever the covariance type."""

    weights: Vector
    means: Vector | Matrix
    sds: Vector | None = None
    covariances: list[Matrix] | None = None


def lift(
    cov: np.ndarray,
    floor: float | np.ndarray,
    oblique: Any = None,
    tight: Any = None,
    mean: np.ndarray | None = None,
) -> np.ndarray:
    """Lift, in place, covariances (S, K, d, d) that fall below the floor: a scalar, or one
    variance per column (d,), F = diag(floor). Where the smallest eigenvalue of
    F^-1/2 C F^-1/2 is below 1, C += (1 - smallest) F, which brings it to 1 (with a scalar
    floor f: the smallest eigenvalue of C to f), except where ``oblique`` (a
    ``mixfit.oblique.ObliqueFloor``) finds the data as thin along its eigenvector, or
    ``tight`` (a ``mixfit.tight.TightFloor``) a tight cluster of its own about its mean
    (S, K, d). Returns which were lifted, (S, K)."""
    f = np.broadcast_to(np.asarray(floor, dtype=float), cov.shape[-1:])
    r = 1.0 / np.sqrt(f)
    white = cov * r[:, None] * r[None, :]
    smallest = np.linalg.eigvalsh(white)[..., 0]
    low = smallest < 1.0
    if (oblique is not None or tight is not None) and low.any():
        where = np.nonzero(low)
        values, vectors = np.linalg.eigh(white[where])
        kept = np.zeros(values.shape[0], dtype=bool)
        if oblique is not None:
            kept = oblique.exempt(values, vectors, r)
        if tight is not None and mean is not None and not kept.all():
            rest = ~kept
            kept[rest] = tight.exempt(mean[where][rest], values[rest], vectors[rest], r)
        if kept.any():
            reach = None  # the largest squared mean of each exempted covariance's start, (L,)
            if mean is not None:
                reach = np.max(np.sum(mean * mean, axis=-1), axis=-1)[where[0][kept]]
            kept[kept] = _numerical(cov[where][kept], reach)
        low[tuple(i[kept] for i in where)] = False
    if low.any():
        cov[low] += (1.0 - smallest[low])[:, None, None] * np.diag(f)
    return low


def _numerical(cov: np.ndarray, reach: np.ndarray | None) -> np.ndarray:
    """Which exempted covariances (L, d, d) are more than the rounding of a singular one: their
    smallest eigenvalue at least ``ROUNDOFF`` times the largest second moment they were
    computed from (the largest eigenvalue plus ``reach`` (L,), the largest squared mean of
    their start's components).

    A covariance from uncentred moments is good to about 1e-16 of those moments. With a small
    ``var_floor`` the oblique rule's bound (``MIN_SHARE`` of the floor) came within that
    rounding: 8 points in 3-D, 4 of them one repeated row, tied K = 3 at ``var_floor=4e-9``
    (found by fuzzing), kept a pooled covariance of rank 2, an eigenvalue of 1e-17, as a
    converged fit; in data units it was indefinite, and the split-and-merge moves from it
    failed on NaN responsibilities (``tests/core/test_oblique.py``)."""
    values = np.linalg.eigvalsh(cov)
    moment = values[:, -1] if reach is None else values[:, -1] + reach
    return values[:, 0] >= ROUNDOFF * moment


@cache
def _upper(d: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(d)``, made once per d (a family is made several times per fit), read
    only."""
    i, j = np.triu_indices(d)
    i.flags.writeable = j.flags.writeable = False
    return i, j


@register
class Gaussian(Family):
    """Gaussian components. Parameters: ``mean`` (S, K, d) and either ``var`` (S, K, d) for the
    diagonal types (and every 1-D fit) or ``cov`` (S, K, d, d) for ``full`` and ``tied``."""

    name = "gaussian"
    remedies = ("covariance='tied' or 'spherical'", "a larger var_floor")
    robust_floor = True
    log_params = frozenset({"var"})
    request_model = GaussianFitRequest
    start_model = GaussianStart
    params_model = GaussianParams

    def __init__(self, request: Any, d: int) -> None:
        super().__init__(request, d)
        cov = request.covariance
        self.dense = d > 1 and cov in ("full", "tied")
        self.tied = cov == "tied"
        self.spherical = d > 1 and cov == "spherical"
        self._iu = _upper(d)
        self.lagged = request.variance_update == "normalmixem"
        if self.lagged and d > 1:
            raise FitError("variance_update='normalmixem' reproduces a 1-D algorithm; use 'exact'")

    # -- engine interface ------------------------------------------------------------------------
    def statistics(self, Z: np.ndarray) -> np.ndarray:
        n, d = Z.shape
        i, j = self._iu if self.dense else (np.arange(d), np.arange(d))
        out = np.empty((n, d + i.shape[0]))
        out[:, :d] = Z
        for c, (a, b) in enumerate(zip(i, j, strict=True)):  # no (n, d(d+1)/2) temporaries
            np.multiply(Z[:, a], Z[:, b], out=out[:, d + c])
        return out

    def base_measure(self, Z: np.ndarray) -> float:
        return -0.5 * self.d * LOG_2PI

    def natural(self, params: ParamArrays) -> tuple[np.ndarray, np.ndarray]:
        mean = params["mean"]
        if not self.dense:
            prec = 1.0 / params["var"]
            eta = np.concatenate([mean * prec, -0.5 * prec], axis=-1)
            log_partition = 0.5 * np.add.reduce(mean * mean * prec + np.log(params["var"]), axis=-1)
            return eta, log_partition
        cov = params["cov"]
        chol, prec = factor(cov)
        logdet = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
        eta_x = np.einsum("skij,skj->ski", prec, mean)
        i, j = self._iu
        eta_xx = np.where(i == j, -0.5, -1.0) * prec[..., i, j]
        log_partition = 0.5 * (np.einsum("ski,ski->sk", mean, eta_x) + logdet)
        return np.concatenate([eta_x, eta_xx], axis=-1), log_partition

    def maximize(
        self,
        stats: np.ndarray,
        previous: ParamArrays | None,
        floor: float | np.ndarray,
        reevaluate: Reevaluate | None = None,
    ) -> tuple[ParamArrays, Events]:
        d = self.d
        counts = np.maximum(stats[..., 0], 1e-300)
        mean = stats[..., 1 : 1 + d] / counts[..., None]
        events: Events = []
        out: ParamArrays = {}
        shift = None
        if self.lagged and previous is not None:
            if self.tied:
                # normalmixEM (equal variances): residuals about the previous means,
                # i.e. var + (new mean - old mean)^2.
                shift = mean - previous["mean"]
            elif reevaluate is not None:
                # normalmixEM (free variances) runs an ECM: after the weights and means it
                # re-runs the E-step, then updates weights and variances about the new means.
                logw = np.log(counts / counts.sum(axis=1, keepdims=True))
                _, stats = reevaluate({"mean": mean, "var": previous["var"]}, logw)
                counts = np.maximum(stats[..., 0], 1e-300)
                out["logw"] = np.log(counts / counts.sum(axis=1, keepdims=True))
                second = stats[..., 1 + d :] / counts[..., None]
                first = stats[..., 1 : 1 + d] / counts[..., None]
                shift = first - mean  # var about `mean` = E[x^2] - first^2 + (first - mean)^2
                mean_for_var = first
        if not self.dense:
            if shift is not None and "logw" in out:
                var = second - mean_for_var * mean_for_var + shift * shift
            else:
                var = stats[..., 1 + d :] / counts[..., None] - mean * mean
                if shift is not None:
                    var = var + shift * shift
            if self.tied:
                pooled = np.sum(var * counts[..., None], axis=1) / counts.sum(axis=1)[:, None]
                var = np.broadcast_to(pooled[:, None, :], var.shape).copy()
            elif self.spherical:
                var = np.broadcast_to(var.mean(axis=-1, keepdims=True), var.shape).copy()
                floor = float(np.mean(floor))  # one variance: the columns' floors' mean
            low = self.below_floor(mean, var, floor)
            if np.count_nonzero(low):
                for s, k in zip(*np.nonzero(low.any(axis=-1)), strict=True):
                    events.append((int(s), int(k), "variance_floor", "variance floored"))
                var = np.where(low, np.maximum(var, floor), var)
            return {**out, "mean": mean, "var": var}, events
        i, j = self._iu
        second = np.empty(stats.shape[:2] + (d, d))
        second[..., i, j] = stats[..., 1 + d :]
        second[..., j, i] = stats[..., 1 + d :]
        cov = second / counts[..., None, None] - mean[..., :, None] * mean[..., None, :]
        if shift is not None:
            cov = cov + shift[..., :, None] * shift[..., None, :]
        if self.tied:
            pooled = (
                np.sum(cov * counts[..., None, None], axis=1) / counts.sum(axis=1)[:, None, None]
            )
            cov = np.broadcast_to(pooled[:, None], cov.shape).copy()
        low = lift(cov, floor, self.oblique, self.tight, mean)
        for s, k in zip(*np.nonzero(low), strict=True):
            events.append((int(s), int(k), "variance_floor", "covariance lifted to the floor"))
        return {"mean": mean, "cov": cov}, events

    def initial(
        self, Z: np.ndarray, w: np.ndarray | None, resp: np.ndarray, floor: float
    ) -> ParamArrays:
        params, _ = self.maximize(resp_sums(self.statistics(Z), w, resp), None, floor)
        return params

    def random_params(
        self, rng: np.random.Generator, c: int, k: int, Z: np.ndarray, w: np.ndarray | None
    ) -> tuple[ParamArrays, np.ndarray]:
        """Means at random data points, spherical variances log-uniform between 1e-3 and 1 times
        the data's (mean) variance, flat-Dirichlet weights: normalmixEM's kind of random start.
        Narrow components on a few close or tied values, which partitions seldom produce, are
        among them."""
        mean = Z[data_rows(rng, Z.shape[0], w, (c, k))]
        scale = spread(Z, w) * np.exp(rng.uniform(np.log(1e-3), 0.0, (c, k)))
        logw = np.log(rng.dirichlet(np.ones(k), size=c))
        if self.dense:
            cov = scale[..., None, None] * np.eye(self.d)
            if self.tied:
                cov[:] = cov.mean(axis=1, keepdims=True)
            return {"mean": mean, "cov": cov}, logw
        var = np.broadcast_to(scale[..., None], (c, k, self.d)).copy()
        if self.tied:
            var[:] = var.mean(axis=1, keepdims=True)
        return {"mean": mean, "var": var}, logw

    def valid(self, params: ParamArrays) -> np.ndarray:
        ok = super().valid(params)
        if self.dense and ok.any():
            cov = params["cov"]
            cov = np.where(ok[:, None, None, None], cov, np.eye(self.d))
            ok &= np.all(np.linalg.eigvalsh(cov)[..., 0] > 0.0, axis=1)
        return ok

    def singular_points(self) -> float:
        if self.tied:
            return 1.0  # the shared covariance gives a one-point component its spread
        return self.d + 1.0 if self.dense else 2.0

    def least_weight(self) -> float:
        """A tied component of any weight is well defined (the shared covariance is its
        spread) and may end with less than a point's worth, so only a vanishing one (1e-12
        points' worth: its weight is gone) is degenerate. ``mixtools::normalmixEM``'s equal
        variances pass below a point and back (R's rivers, log, K = 5 from sampled means:
        0.14 points' worth at its 9th iteration, 1.03 at its end; MASS geyser durations,
        K = 5: 0.96, ending at 0.99) where the one-point rule restarted the start and ended
        lower (-117.11 against R's -111.83; -279.42 is higher there, the restart's luck)."""
        return 1e-12 if self.tied else 1.0

    def component_params(self) -> int:
        d = self.d
        if self.tied:
            return d + 1  # its mean and weight; the covariance is shared
        if self.dense:
            return d + d * (d + 1) // 2 + 1
        return d + (1 if self.spherical or d == 1 else d) + 1

    def n_params(self, k: int) -> int:
        d = self.d
        if self.dense:
            cov = d * (d + 1) // 2 * (1 if self.tied else k)
        elif d == 1:
            cov = 1 if self.tied else k
        else:
            cov = k if self.spherical else k * d
        return (k - 1) + k * d + cov

    @property
    def floors_per_column(self) -> bool:
        """In d > 1 each column's variance sets its own floor (spherical components take their
        mean): wine's proline (variance 1e5) no longer floors columns of variance 0.01."""
        return self.d > 1

    # -- JSON --------------------------------------------------------------------------------------
    def to_json(self, params: ParamArrays, weights: np.ndarray, scaling: Scaling) -> GaussianParams:
        s = scaling.scale
        means = scaling.center + s * params["mean"]
        if self.d == 1:
            sds = s * np.sqrt(params["var"][:, 0])
            return GaussianParams(
                weights=weights.tolist(), means=means[:, 0].tolist(), sds=sds.tolist()
            )
        if self.dense:
            covs = params["cov"] * s * s
        else:
            covs = np.stack([np.diag(v) for v in params["var"]]) * s * s
        return GaussianParams(
            weights=weights.tolist(), means=means.tolist(), covariances=covs.tolist()
        )

    def from_json(self, params: Any, scaling: Scaling) -> tuple[ParamArrays, np.ndarray]:
        weights = np.asarray(params.weights, dtype=float)
        k = weights.shape[0]
        means = np.asarray(params.means, dtype=float).reshape(k, -1)
        if means.shape[1] != self.d:
            raise FitError(
                f"start means have dimension {means.shape[1]} but the data have {self.d}"
            )
        s = scaling.scale
        mean = (means - scaling.center) / s
        if self.d == 1:
            sds = np.broadcast_to(np.asarray(params.sds, dtype=float), (k,))
            var = (sds / s) ** 2
            if self.tied:
                var = np.full(k, var.mean())
            return {"mean": mean[None], "var": var[None, :, None]}, weights
        covs = np.asarray(params.covariances, dtype=float) / (s * s)
        for c, cov in enumerate(covs):
            if not np.allclose(cov, cov.T) or np.any(np.linalg.eigvalsh(cov) <= 0):
                raise FitError(f"start covariance {c} is not symmetric positive definite")
        if self.dense:
            return {"mean": mean[None], "cov": covs[None]}, weights
        var = np.diagonal(covs, axis1=-2, axis2=-1).copy()
        if self.spherical:
            var[:] = var.mean(axis=-1, keepdims=True)
        return {"mean": mean[None], "var": var[None]}, weights

    def draw(self, params: Any, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        k = len(params.weights)
        means = np.asarray(params.means, dtype=float).reshape(k, -1)
        if self.d == 1:
            sds = np.asarray(params.sds, dtype=float)
            return (means[labels, 0] + sds[labels] * rng.standard_normal(len(labels)))[:, None]
        # x = mean + L z with L the Cholesky factor (a zero-variance direction is fine: eigh)
        covs = np.asarray(params.covariances, dtype=float)
        values, vectors = np.linalg.eigh(covs)
        roots = vectors * np.sqrt(np.clip(values, 0.0, None))[:, None, :]
        z = rng.standard_normal((len(labels), self.d))
        return means[labels] + np.einsum("nij,nj->ni", roots[labels], z)

    def columns(self, params: Any) -> dict[str, list[Any]]:
        k = len(params.weights)
        if self.d > 1:
            return {"mean": list(params.means), "covariance": list(params.covariances)}
        sds = np.broadcast_to(np.asarray(params.sds, float), (k,))
        return {"mean": list(params.means), "sd": sds.tolist()}

    def moments(self, params: Any) -> tuple[np.ndarray, np.ndarray]:
        k = len(params.weights)
        means = np.asarray(params.means, dtype=float).reshape(k, -1)[:, 0]
        if self.d == 1:
            return means, np.broadcast_to(np.asarray(params.sds, float), (k,)).copy()
        return means, np.sqrt(np.asarray(params.covariances, float)[:, 0, 0])

    def marginal_log_pdf(self, params: Any, grid: np.ndarray) -> np.ndarray:
        means, sds = self.moments(params)
        z = (grid[None, :] - means[:, None]) / sds[:, None]
        return -0.5 * z * z - np.log(sds)[:, None] - 0.5 * LOG_2PI

    def log_pdf(self, params: Any, X: np.ndarray) -> np.ndarray:
        k = len(params.weights)
        means = np.asarray(params.means, dtype=float).reshape(k, -1)
        if self.d == 1:
            sds = np.asarray(params.sds, dtype=float)
            z = (X[:, 0][None, :] - means) / sds[:, None]
            return -0.5 * z * z - np.log(sds)[:, None] - 0.5 * LOG_2PI
        out = np.empty((k, X.shape[0]))
        for c, cov in enumerate(np.asarray(params.covariances, dtype=float)):
            # one (d, d) triangular inverse, then a matrix product over the points: a
            # triangular solve with n right-hand sides took 14 ms at n=1e5, d=10
            inverse, half_logdet = whitening(cov)
            y = (X - means[c]) @ inverse.T
            out[c] = -0.5 * np.einsum("nd,nd->n", y, y) - half_logdet - 0.5 * self.d * LOG_2PI
        return out
