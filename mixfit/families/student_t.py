"""Student t mixtures: robust Gaussians, 1-D and d-dimensional (full or diagonal scale).

A t component is a Gaussian whose precision is scaled by a latent ``u ~ Gamma(nu/2, nu/2)``:
heavy tails absorb outliers that would otherwise pull a Gaussian component's mean and inflate its
variance. It is no exponential family, so it takes the engine's general path (``estep`` and
``point_loglik`` overridden) instead of the sufficient-statistics product; the Gaussian fast
path is untouched.

EM (Peel & McLachlan 2000, "Robust mixture modelling using the t distribution"): the E-step gives
each point's responsibilities ``tau`` and expected scale weights ``u = (nu + d) / (nu + delta)``
(``delta`` the Mahalanobis distance, computed for every start and component as one matrix
product of the Gaussian statistics ``[1, z, z z']``), and sums what the M-step needs:
``sum tau``, ``sum tau u [1, z, z z']`` and ``sum tau (log u - u)``. The M-step: mean
``sum tau u z / sum tau u``; scale ``sum tau u (z - mean)(z - mean)' / sum tau``; ``nu`` solves
``log(nu/2) - psi(nu/2) + 1 + c = 0`` with ``c`` the weighted mean of ``E[log u] - E[u]``
(``E[log u] = log u + psi((nu_old + d)/2) - log((nu_old + d)/2)``), per component or pooled
over components (``df="shared"``), by safeguarded Newton on ``[DF_MIN, DF_MAX]`` (the left side
falls with ``nu``: the maximizer, or the bound it lies beyond). Every step maximizes the expected
complete-data log-likelihood, so the trace does not fall, but for rounding where a component's
scale is tiny (``term_size``: the bound an ``ll_decrease`` event compares a fall with).

Degeneracy is the Gaussian rule: a scale held at the floor (``var_floor`` times the data's
variance; the smallest eigenvalue of a full scale matrix) marks a component sitting on too few
points.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator
from scipy.special import digamma, gammaln, zeta

from ..data import Scaling
from ..estep import OWN_PRODUCTS_MAX
from ..options import (
    INIT_DESCRIPTION,
    MAX_ITER,
    FitOptions,
    InitMethod,
    Matrix,
    PositiveFloat,
    Schema,
    StartValues,
    Vector,
)
from . import register
from .base import Events, ParamArrays, factor, remedy_in_words, resp_sums, whitening
from .gaussian import Gaussian, lift

DF_MIN, DF_MAX = 0.5, 200.0
DF_START = 10.0
# nu of the start taken from the Gaussian fit of the same K (``StudentT.nested_start``): its
# limit within the bounds; the first M-step moves each nu to what the points' weights say.
DF_NESTED = DF_MAX
NEWTON_STEPS = 8
CHUNK_CELLS = 1 << 20  # starts x components x points per chunk of the E-step
CHUNK_STARTS = 10  # chunks are planned for this many starts (their size never depends on S)


class StudentTStart(StartValues):
    """Explicit start values for a t mixture (one start, K = len(weights)). 1-D: ``scales``
    are scale values (sigma); d-dim: K scale matrices. ``dfs`` default to 10."""

    means: Vector | Matrix
    scales: list[PositiveFloat] | list[Matrix]
    dfs: list[Annotated[float, Field(ge=DF_MIN, le=DF_MAX)]] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> StudentTStart:
        k = len(self.weights)
        if len(self.means) != k or len(self.scales) != k:
            raise ValueError(f"means and scales need {k} entries each, like weights")
        if self.dfs is not None and len(self.dfs) != k:
            raise ValueError(f"dfs needs {k} values, like weights")
        one_d = all(isinstance(m, float | int) for m in self.means)
        scalar = all(isinstance(c, float | int) for c in self.scales)
        if one_d and not scalar:
            raise ValueError("1-D start values need one scale value per component, not matrices")
        if not one_d:
            d = len(self.means[0])
            if any(len(row) != d for row in self.means):
                raise ValueError("every start mean must have the same dimension")
            if scalar or any(len(c) != d or any(len(r) != d for r in c) for c in self.scales):
                raise ValueError(f"d-dimensional start values need {k} scale matrices of {d}x{d}")
            for c, scale in enumerate(np.asarray(self.scales, dtype=float)):
                if not np.allclose(scale, scale.T) or np.any(np.linalg.eigvalsh(scale) <= 0):
                    raise ValueError(f"start scale {c} is not symmetric positive definite")
        return self


class StudentTFitRequest(FitOptions):
    """Fit a Student t mixture (robust to outliers): location, scale and degrees of freedom
    per component."""

    family: Literal["student_t"]
    covariance: Literal["full", "diag"] = Field(
        "full", description="d-dim scale matrices: full or diagonal (1-D: one scale each)."
    )
    df: Literal["per_component", "shared"] = Field(
        "per_component",
        description="Degrees of freedom estimated per component or one shared by all, "
        f"within [{DF_MIN}, {DF_MAX}].",
    )
    tol: Annotated[float, Field(gt=0.0, le=1e6)] = Field(
        1e-10,
        description="Stop when the log-likelihood gain of an iteration is at most this. The t "
        "family's default is 100x tighter than the others': the likelihood is flat in a large "
        "nu, EM crawls along it, and at 1e-8 a fit stopped 3e-6 per point short of its maximum "
        "(Old Faithful waiting times, K = 2).",
    )
    max_iter: Annotated[int, Field(ge=1, le=MAX_ITER)] = Field(
        5000,
        description="At most this many E-steps per start. The t family's default is 5x the "
        "others': where the best nu sits at its bound (200) EM approaches it slowly; at 1000 "
        "E-steps fits of eruptions and a simulated set (K = 3) stopped 8e-4 and 1.6e-3 short, "
        "converging after 1,101 and 897 iterations.",
    )
    init: InitMethod | Annotated[list[InitMethod], Field(min_length=1)] | StudentTStart = Field(
        "auto",
        description=INIT_DESCRIPTION,
    )


class StudentTParams(Schema):
    """t mixture parameters: 1-D ``scales`` are sigma (scipy's ``t(df, loc, scale)``); d-dim
    they are K scale matrices (scipy's ``multivariate_t(loc, shape, df)``)."""

    weights: Vector
    means: Vector | Matrix
    scales: Vector | list[Matrix]
    dfs: Vector


def _log_norm(nu: np.ndarray, d: int, logdet: np.ndarray) -> np.ndarray:
    """log of the t density's constant: Gamma((nu+d)/2) / (Gamma(nu/2) (nu pi)^(d/2) |S|^(1/2))."""
    return gammaln(0.5 * (nu + d)) - gammaln(0.5 * nu) - 0.5 * d * np.log(nu * np.pi) - 0.5 * logdet


def solve_df(c: np.ndarray, start: np.ndarray) -> np.ndarray:
    """nu in [DF_MIN, DF_MAX] solving ``g(nu) = log(nu/2) - psi(nu/2) + 1 + c = 0`` elementwise.

    g falls with nu, so the root is unique; where g keeps one sign over the bracket the nearer
    bound is the constrained maximizer. Safeguarded Newton on ``log nu`` from ``start`` (the
    previous iteration's nu): a step leaving the current bracket is replaced by bisection.
    Quadratic from a warm start: ``NEWTON_STEPS`` reach rounding."""
    lo = np.full(c.shape, np.log(DF_MIN))
    hi = np.full(c.shape, np.log(DF_MAX))
    x = np.clip(np.log(start), lo, hi)
    for _ in range(NEWTON_STEPS):
        nu = np.exp(x)
        half = 0.5 * nu
        g = np.log(half) - digamma(half) + 1.0 + c
        up = g > 0  # the root lies above x
        lo, hi = np.where(up, x, lo), np.where(up, hi, x)
        # trigamma as zeta(2, .), value by value (few values: cheaper than the series of
        # ``mixfit.special.trigamma``; a value's bits its own, as ``gamma_shape``'s)
        slope = 1.0 - half * zeta(2.0, half)  # dg / dlog(nu), negative
        with np.errstate(divide="ignore", invalid="ignore"):
            step = x - g / slope
        x = np.where((step > lo) & (step < hi), step, 0.5 * (lo + hi))
    # Where g keeps its sign over the whole bracket, the bound.
    for bound, beyond in ((np.log(DF_MAX), 1.0), (np.log(DF_MIN), -1.0)):
        half = 0.5 * np.exp(bound)
        g = np.log(half) - digamma(half) + 1.0 + c
        x = np.where(beyond * g >= 0, bound, x)
    return np.exp(x)


@register
class StudentT(Gaussian):
    """Student t components. Parameters: ``mean`` (S, K, d), ``var`` (S, K, d) (1-D and
    diagonal) or ``cov`` (S, K, d, d) (full), and ``df`` (S, K, 1)."""

    name = "student_t"
    exponential_family = False
    log_params = frozenset({"var", "df"})
    request_model = StudentTFitRequest
    start_model = StudentTStart
    params_model = StudentTParams
    floor_phrase = "scale reached the floor"
    # where no component stays regular, tied values can hold a t without bound (its degrees of
    # freedom shrinking): R's ships' incidents (14 of 40 are 0) refuse K = 1 under the t and fit
    # under the Gaussian. covariance='diag' exists in d > 1 only (``remedy``).
    remedies = ("covariance='diag'", "family='gaussian'", "a larger var_floor")

    def remedy(self, k: int) -> str:
        """``Family.remedy`` without the scale's shape in 1-D, where there is only one."""
        options = [r for r in self.remedies if self.d > 1 or not r.startswith("covariance")]
        return remedy_in_words(k, options)

    def __init__(self, request: Any, d: int) -> None:
        self.request, self.d = request, d
        self.dense = d > 1 and request.covariance == "full"
        self.tied = self.spherical = self.lagged = False
        self.shared = request.df == "shared"
        self._iu = np.triu_indices(d)

    def base_measure(self, Z: np.ndarray) -> float:
        return 0.0

    # Every Gaussian mixture is the limit of t mixtures as every nu grows, so the Gaussian
    # fit's maximum is one more start of each K, which the t's own starts may not reach: on
    # Boston's median home values (n = 506, 16 censored at 50), K = 3, every screened start,
    # move and growth move of seeds 0, 1 and 2 ended at -1771.62, a scipy brute force of 300
    # starts at -1767.87; from the Gaussian fit (-1766.54, seeds 0..2) t EM reaches -1766.55.
    nested = "gaussian"

    def nested_options(self) -> dict[str, Any]:
        return {"covariance": self.request.covariance}

    def nested_start(self, params: Any) -> StudentTStart:
        scales = params.sds if self.d == 1 else params.covariances
        k = len(params.weights)
        return StudentTStart.model_construct(
            weights=params.weights, means=params.means, scales=scales, dfs=[DF_NESTED] * k
        )

    def natural(self, params: ParamArrays) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError("the t family is no exponential family: see estep")

    # -- the general E-step ----------------------------------------------------------------------
    def _quadratic(self, params: ParamArrays) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients Q (S, K, 1 + m) with Mahalanobis distance ``Q . [1, T(z)]``, and log
        determinants (S, K) of the scale matrices."""
        mean = params["mean"]
        if not self.dense:
            prec = 1.0 / params["var"]
            q0 = np.sum(prec * mean * mean, axis=-1, keepdims=True)
            return np.concatenate([q0, -2.0 * prec * mean, prec], axis=-1), np.sum(
                np.log(params["var"]), axis=-1
            )
        cov = params["cov"]
        chol, prec = factor(cov)
        logdet = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
        pm = np.einsum("skij,skj->ski", prec, mean)
        q0 = np.einsum("ski,ski->sk", mean, pm)[..., None]
        i, j = self._iu
        return np.concatenate([q0, -2.0 * pm, np.where(i == j, 1.0, 2.0) * prec[..., i, j]], -1), (
            logdet
        )

    def _log_terms(self, params: ParamArrays, logw: np.ndarray, TT: np.ndarray):
        """Per start, component and point (S*K rows, component-major within a start... as
        (S, K, c)): the joint log-density and the scale weights u."""
        Q, logdet = self._quadratic(params)
        nu = params["df"][..., 0]
        S, K = nu.shape
        if Q.shape[-1] <= OWN_PRODUCTS_MAX:  # per start, as ``Batch._chunk``
            delta = np.maximum(np.matmul(Q, TT), 0.0)
        else:
            delta = np.maximum(np.matmul(Q.reshape(S * K, -1), TT).reshape(S, K, -1), 0.0)
        half = (0.5 * (nu + self.d))[..., None]
        joint = (logw + _log_norm(nu, self.d, logdet))[..., None] - half * np.log1p(
            delta / nu[..., None]
        )
        u = 2.0 * half / (nu[..., None] + delta)
        return joint, u

    def term_size(self, params: ParamArrays, logw: np.ndarray, reach: np.ndarray) -> float:
        """The Mahalanobis distance is a sum ``Q . [1, T]`` of terms up to ``|Q| . reach``, and
        a point's log-density moves by at most ``(nu + d) / (2 nu)`` per unit of it; beside it
        the constant ``log weight + log norm``."""
        Q, logdet = self._quadratic(params)
        nu = params["df"][..., 0]
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            constant = np.where(np.isfinite(logw), logw, 0.0) + _log_norm(nu, self.d, logdet)
            size = 0.5 * (nu + self.d) / nu * (np.abs(Q) @ reach) + np.abs(constant)
        return float(np.max(size))

    def estep(self, batch: Any, params: ParamArrays, logw: np.ndarray, rows: Any = None):
        nu = params["df"][..., 0]
        S, K = nu.shape
        m1 = batch.TT.shape[0]
        ll = np.zeros(S)
        stats = np.zeros((S, K, 2 + m1))
        # Chunks of points by K only and every product a start's own, so a start's sums round
        # the same beside any other starts (a fanned-out part: ``mixfit.estep.Batch._chunk``);
        # many starts (screening) go in groups, which keeps a chunk's arrays near CHUNK_CELLS.
        size = max(256, CHUNK_CELLS // (CHUNK_STARTS * K))
        group = max(1, CHUNK_CELLS // (K * min(size, batch.n)))
        for g in range(0, S, group):
            rows_g = slice(g, g + group)
            part = {name: value[rows_g] for name, value in params.items()}
            for a in range(0, batch.n, size):
                self._chunk(batch, part, logw[rows_g], a, size, ll[rows_g], stats[rows_g])
        return ll, stats

    def _chunk(self, batch, params, logw, a, size, ll, stats) -> None:
        """Add points a .. a + size - 1 to the log-likelihoods ``ll`` (S,) and the sums
        ``stats`` (S, K, 2 + m1) of the starts ``params``, in place."""
        m1 = batch.TT.shape[0]
        TT = batch.TT[:, a : a + size]
        w = None if batch.w is None else batch.w[a : a + size]
        joint, u = self._log_terms(params, logw, TT)
        top = joint.max(axis=1, keepdims=True)
        tau = np.exp(joint - top)
        total = tau.sum(axis=1, keepdims=True)
        tau /= total
        point = (np.log(total) + top)[:, 0, :]
        if w is None:
            ll += point.sum(axis=1)
        else:
            tau *= w
            ll += np.matmul(point[:, None, :], w[:, None])[:, 0, 0]
        stats[..., 0] += tau.sum(axis=-1)
        stats[..., 1 : 1 + m1] += np.matmul(tau * u, TT.T)
        stats[..., -1] += np.sum(tau * (np.log(u) - u), axis=-1)

    def log_densities(self, batch: Any, params: ParamArrays, logw: np.ndarray) -> np.ndarray:
        joint, _ = self._log_terms(params, logw, batch.TT)
        top = joint.max(axis=1)
        with np.errstate(invalid="ignore"):
            return np.log(np.exp(joint - top[:, None]).sum(axis=1)) + top

    def point_loglik(self, batch: Any, params: ParamArrays, logw: np.ndarray):
        joint, _ = self._log_terms(params, logw[None], batch.TT)
        joint = joint[0]
        top = joint.max(axis=0)
        p = np.exp(joint - top)
        total = p.sum(axis=0)
        return np.log(total) + top, (p / total).T

    # -- the M-step ------------------------------------------------------------------------------
    def _scale(self, counts, su, first, second, floor, events: Events) -> ParamArrays:
        """Mean and floored scale from the sums of tau (counts), tau u (su), tau u z (first)
        and tau u T2 (second), each (S, K, ...)."""
        d = self.d
        mean = first / su[..., None]
        if not self.dense:
            var = (second - su[..., None] * mean * mean) / counts[..., None]
            low = self.below_floor(mean, var, floor)
            for s, k in zip(*np.nonzero(low.any(axis=-1)), strict=True):
                events.append((int(s), int(k), "variance_floor", "scale floored"))
            return {"mean": mean, "var": np.where(low, np.maximum(var, floor), var)}
        i, j = self._iu
        full = np.empty(second.shape[:2] + (d, d))
        full[..., i, j] = second
        full[..., j, i] = second
        outer = mean[..., :, None] * mean[..., None, :]
        cov = (full - su[..., None, None] * outer) / counts[..., None, None]
        low = lift(cov, floor, self.oblique, self.tight, mean)
        for s, k in zip(*np.nonzero(low), strict=True):
            events.append((int(s), int(k), "variance_floor", "scale matrix lifted to the floor"))
        return {"mean": mean, "cov": cov}

    def maximize(
        self, stats: np.ndarray, previous: Any, floor: float, reevaluate: Any = None
    ) -> tuple[ParamArrays, Events]:
        d = self.d
        counts = np.maximum(stats[..., 0], 1e-300)
        su = np.maximum(stats[..., 1], 1e-300)
        events: Events = []
        out = self._scale(counts, su, stats[..., 2 : 2 + d], stats[..., 2 + d : -1], floor, events)
        old = previous["df"][..., 0]
        half = 0.5 * (old + d)
        c = stats[..., -1] / counts + digamma(half) - np.log(half)
        if self.shared:
            c = np.broadcast_to(
                (np.sum(c * counts, axis=1) / np.sum(counts, axis=1))[:, None], c.shape
            )
        out["df"] = solve_df(c, old)[..., None]
        return out, events

    def floored(self, T: np.ndarray, Z: np.ndarray, w: np.ndarray | None, floor: float) -> bool:
        sums = resp_sums(T, w, np.ones((1, Z.shape[0], 1)))
        events: Events = []
        d = self.d
        self._scale(
            sums[..., 0], sums[..., 0], sums[..., 1 : 1 + d], sums[..., 1 + d :], floor, events
        )
        return bool(events)

    def initial(
        self, Z: np.ndarray, w: np.ndarray | None, resp: np.ndarray, floor: float
    ) -> ParamArrays:
        """The responsibility-weighted Gaussian fit of every component, with nu = 10."""
        sums = resp_sums(self.statistics(Z), w, resp)
        counts = np.maximum(sums[..., 0], 1e-300)
        d = self.d
        params = self._scale(counts, counts, sums[..., 1 : 1 + d], sums[..., 1 + d :], floor, [])
        params["df"] = np.full(counts.shape + (1,), DF_START)
        return params

    def random_params(
        self, rng: np.random.Generator, c: int, k: int, Z: np.ndarray, w: np.ndarray | None
    ) -> tuple[ParamArrays, np.ndarray]:
        """The Gaussian's random parameters (means at data points, log-uniform scales), with
        nu log-uniform on [1, 100]."""
        params, logw = super().random_params(rng, c, k, Z, w)
        params["df"] = np.exp(rng.uniform(0.0, np.log(100.0), (c, k, 1)))
        return params, logw

    def valid(self, params: ParamArrays) -> np.ndarray:
        ok = super().valid(params)
        df = params["df"][..., 0]
        return ok & np.all((df >= DF_MIN) & (df <= DF_MAX), axis=1)

    def n_params(self, k: int) -> int:
        return super().n_params(k) + (1 if self.shared else k)

    def component_params(self) -> int:
        return super().component_params() + (0 if self.shared else 1)

    # -- JSON --------------------------------------------------------------------------------------
    def to_json(self, params: ParamArrays, weights: np.ndarray, scaling: Scaling) -> Any:
        g = super().to_json(
            {name: value for name, value in params.items() if name != "df"}, weights, scaling
        )
        scales = g.sds if self.d == 1 else g.covariances
        return StudentTParams(
            weights=g.weights, means=g.means, scales=scales, dfs=params["df"][:, 0].tolist()
        )

    def _gaussian(self, params: Any) -> Any:
        from .gaussian import GaussianStart

        key = "sds" if self.d == 1 else "covariances"
        return GaussianStart.model_construct(
            weights=params.weights, means=params.means, **{key: params.scales}
        )

    def from_json(self, params: Any, scaling: Scaling) -> tuple[ParamArrays, np.ndarray]:
        out, weights = super().from_json(self._gaussian(params), scaling)
        dfs = getattr(params, "dfs", None)
        k = len(params.weights)
        df = np.full(k, DF_START) if dfs is None else np.asarray(dfs, dtype=float)
        out["df"] = df[None, :, None]
        return out, weights

    def draw(self, params: Any, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # x = mean + (z / sqrt(u)) with z Gaussian of the scale matrix and u ~ Gamma(nu/2, 2/nu)
        g = self._gaussian(params)
        if self.d == 1:
            g = g.model_copy(update={"means": [0.0] * len(params.weights)})
        else:
            g = g.model_copy(update={"means": [[0.0] * self.d] * len(params.weights)})
        z = super().draw(g, labels, rng)
        nu = np.asarray(params.dfs, dtype=float)[labels]
        # a small df's ``rng.gamma`` draw can be exactly 0.0: the point is then beyond any float
        # (``inside`` caps it), not 0/0
        u = np.maximum(rng.gamma(0.5 * nu, 2.0 / nu), np.finfo(float).tiny)
        k = len(params.weights)
        means = np.asarray(params.means, dtype=float).reshape(k, -1)
        return means[labels] + z / np.sqrt(u)[:, None]

    def log_pdf(self, params: Any, X: np.ndarray) -> np.ndarray:
        k = len(params.weights)
        means = np.asarray(params.means, dtype=float).reshape(k, -1)
        nu = np.asarray(params.dfs, dtype=float)
        if self.d == 1:
            sc = np.asarray(params.scales, dtype=float)
            delta = ((X[:, 0][None, :] - means) / sc[:, None]) ** 2
            logdet = 2.0 * np.log(sc)
        else:
            delta, logdet = np.empty((k, X.shape[0])), np.empty(k)
            for c, scale in enumerate(np.asarray(params.scales, dtype=float)):
                inverse, half_logdet = whitening(scale)  # as the Gaussian's ``log_pdf``
                y = (X - means[c]) @ inverse.T
                delta[c], logdet[c] = np.einsum("nd,nd->n", y, y), 2.0 * half_logdet
        return _log_norm(nu, self.d, logdet)[:, None] - (0.5 * (nu + self.d))[:, None] * np.log1p(
            delta / nu[:, None]
        )

    def columns(self, params: Any) -> dict[str, list[float]]:
        return {"mean": list(params.means), "scale": list(params.scales), "df": list(params.dfs)}

    def moments(self, params: Any) -> tuple[np.ndarray, np.ndarray]:
        """Location and scale of the first coordinate (a t's variance may not exist)."""
        k = len(params.weights)
        means = np.asarray(params.means, dtype=float).reshape(k, -1)[:, 0]
        if self.d == 1:
            return means, np.asarray(params.scales, dtype=float)
        return means, np.sqrt(np.asarray(params.scales, dtype=float)[:, 0, 0])

    def marginal_log_pdf(self, params: Any, grid: np.ndarray) -> np.ndarray:
        """The first coordinate's marginal: a 1-D t with the same nu and the scale matrix's
        first diagonal entry."""
        means, scales = self.moments(params)
        nu = np.asarray(params.dfs, dtype=float)
        delta = ((grid[None, :] - means[:, None]) / scales[:, None]) ** 2
        return _log_norm(nu, 1, 2.0 * np.log(scales))[:, None] - (0.5 * (nu + 1.0))[
            :, None
        ] * np.log1p(delta / nu[:, None])
