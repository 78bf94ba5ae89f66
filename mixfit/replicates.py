"""What every bootstrap replicate needs: its own generator, explicit start values, the best of
one batched EM run from them, and the fitted K as a model to simulate from.

Every replicate has its own generator spawned from the seed by its stream, step and index, so a
replicate is the same whichever process (or worker, or part of a fan-out) computes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from .em import CONVERGED, MAX_ITER, Problem, run_k, run_starts
from .errors import FitError
from .estep import Batch, ReplicateBatch
from .families.base import Family, ParamArrays, take
from .fit import check, prepare
from .options import ReferenceDensity
from .schema import KResult, Model
from .screen import screen

Progress = Callable[[dict[str, Any]], None]

# Options a bootstrap sets itself (a replicate's K, starts and data are its own).
OWN_OPTIONS = frozenset({"k", "seed", "data", "weights", "dataset_id"})


def replicate_generator(
    seed: int, stream: int, step: int, b: int, *more: int
) -> np.random.Generator:
    """The generator of replicate ``b`` of a step: independent of every other replicate
    (``more``: further independent streams of the same replicate)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, step, b, *more)))


def start_values(params: Any) -> dict[str, Any]:
    """A model's parameters as explicit start values (weights renormalized to sum to 1)."""
    start = params.model_dump(exclude_none=True)
    weights = np.asarray(start["weights"], dtype=float)
    start["weights"] = (weights / weights.sum()).tolist()
    return start


def best_of(problem: Problem, k: int, starts: list[dict[str, Any]]) -> KResult | None:
    """The best non-degenerate start of one batched run of K from explicit start values
    (None: every start degenerated)."""
    batch = dataclasses.replace(problem, extra={**problem.extra, "starts": starts})
    r = run_k(batch, k, starts=range(len(starts)))
    return r if r.status == "ok" else None


def fit_options(options: dict[str, Any]) -> dict[str, Any]:
    """The fit options a bootstrap passes on; a FitError names any it sets itself. Without
    ``keep_path``: no refit's path is returned, and the test's Ks (up to max_k + 1) could take
    its count past ``MAX_PATH_VALUES``."""
    bad = OWN_OPTIONS & set(options)
    if bad:
        raise FitError(f"{', '.join(sorted(bad))}: set by the bootstrap itself")
    return {key: value for key, value in options.items() if key != "keep_path"}


def as_model(r: KResult, d: int, options: dict[str, Any]) -> Model:
    """A K's fit as a model to simulate from (no reference density: it is never scored)."""
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


@dataclasses.dataclass
class Replicates:
    """Data sets of one size laid out for batched EM on one scaling (``ReplicateBatch``).

    ``problem`` is a Problem whose batch holds every usable replicate (its ``constant`` is 0:
    each replicate's own is in the batch); ``index`` (R,) says which of the given data sets
    they are (one the family cannot fit, e.g. all points tied, is left out)."""

    problem: Problem
    index: np.ndarray
    Z: list[np.ndarray]  # each usable replicate's points in the engine's space

    def screened(self, r: int, k: int, seed: int) -> tuple[ParamArrays, np.ndarray]:
        """The starts of K a fit of replicate r would continue (``mixfit.screen.screen``: the
        request's candidates from its start portfolio, short-EM screened, the best
        ``n_starts`` kept), in the engine's space of every replicate: parameters
        (n_starts, K, ...) and log weights (n_starts, K)."""
        p = self.problem
        T = self.problem.batch.TT[r, 1:].T
        own = dataclasses.replace(
            p, X=self.Z[r], w=None, Z=self.Z[r], batch=Batch(T, None), seed=seed, hierarchy=None
        )
        chosen = screen(own, k, p.request.starts_per_k())
        return chosen.params, chosen.logw


def first_usable(request: Any, draw: Callable[[int], np.ndarray], count: int) -> np.ndarray:
    """The first of the data sets ``draw(0)`` .. ``draw(count - 1)`` that ``check`` accepts:
    the reference every part of a fan-out agrees on (``prepare_replicates``). ``draw(0)``
    when none is: then no replicate is usable, and each counts as one that cannot be fitted
    (never a failure that would blame the user's data for a replicate's)."""
    for i in range(count):
        data = draw(i)
        try:
            check(request, data, None)
        except FitError:
            continue
        return data
    return draw(0)


def batchable(family: Family) -> bool:
    """Whether the family's E-step is the exponential families' matrix product, which
    ``ReplicateBatch`` batches over data sets (Student t's is not)."""
    return type(family).estep is Family.estep


def prepare_replicates(
    request: Any,
    datasets: list[np.ndarray],
    weights: list[np.ndarray] | None,
    reference: tuple[np.ndarray, np.ndarray | None],
) -> Replicates | None:
    """Check every data set and lay the usable ones out for batched EM (None: none usable
    or the family cannot be batched).

    All share the scaling, variance floor and one-point weight of the ``reference`` data set
    (points (n, d), weights (n,) or None): the MLE does not depend on an affine rescaling, so
    only rounding differs from fitting each on its own scaling, and a replicate's arithmetic
    does not depend on which others share its batch (a fan-out's parts agree to the last bit
    with one process). The floor's exemptions for clusters tighter or thinner than it
    (``mixfit.tight``, ``mixfit.oblique``) read the reference's points too: the replicates are
    draws from one model (or resamples of one data set), so its points stand for the density
    each replicate has where a component narrows. Every data set must have the same number of
    points."""
    kept, rows, ws = [], [], []
    for i, data in enumerate(datasets):
        try:
            _, X, w, _ = check(request, data, None if weights is None else weights[i])
        except FitError:
            continue
        kept.append(X)
        ws.append(w)
        rows.append(i)
    if not kept:
        return None
    weighted = weights is not None
    pooled = prepare(request, *reference)
    family = pooled.family
    if not batchable(family):
        return None
    T, constants, Zs = [], [], []
    for X, w in zip(kept, ws, strict=True):
        Y, jacobian = family.transform(X)
        Z = pooled.scaling.forward(Y)
        Zs.append(Z)
        T.append(family.statistics(Z))
        base = family.base_measure(Z) + jacobian
        n_eff = X.shape[0] if w is None else w.sum()
        total = base * n_eff if np.isscalar(base) else (np.sum(base) if w is None else base @ w)
        constants.append(float(total) - n_eff * pooled.scaling.log_jacobian)
    batch = ReplicateBatch(
        np.stack(T), np.stack(ws) if weighted else None, np.asarray(constants), np.zeros(0, int)
    )
    n_eff = float(kept[0].shape[0] if not weighted else ws[0].sum())
    problem = dataclasses.replace(
        pooled,
        X=kept[0],
        w=ws[0],
        Z=pooled.Z[: kept[0].shape[0]],
        batch=batch,
        constant=0.0,
        n_eff=n_eff,
    )
    return Replicates(problem=problem, index=np.asarray(rows), Z=Zs)


def engine_starts(reps: Replicates, starts: list[Any]) -> tuple[ParamArrays, np.ndarray]:
    """JSON parameters or start values, one per start, in the engine's space: parameters
    (S, K, ...) and log weights (S, K)."""
    family, scaling = reps.problem.family, reps.problem.scaling
    pairs = [
        family.from_json(family.start_model(**start) if isinstance(start, dict) else start, scaling)
        for start in starts
    ]
    params = {name: np.concatenate([q[name] for q, _ in pairs]) for name in pairs[0][0]}
    with np.errstate(divide="ignore"):
        logw = np.log(np.stack([w / w.sum() for _, w in pairs]))
    return params, logw


@dataclasses.dataclass
class Best:
    """Each replicate's best non-degenerate start of one batched run: log-likelihood (R,),
    NaN where every start of a replicate degenerated, and the start's index (R,), -1 there."""

    loglik: np.ndarray
    start: np.ndarray
    params: ParamArrays
    logw: np.ndarray

    def json(self, reps: Replicates, r: int) -> Any:
        """Replicate r's best parameters as the family's JSON model (None if it failed)."""
        s = int(self.start[r])
        if s < 0:
            return None
        fam = reps.problem.family
        return fam.to_json(take(self.params, s), np.exp(self.logw[s]), reps.problem.scaling)


def fit_replicates(
    reps: Replicates,
    k: int,
    params: ParamArrays,
    logw: np.ndarray,
    owner: np.ndarray,
    progress: Progress | None = None,
) -> Best:
    """Run starts (engine space, (S, K, ...)) each on its replicate ``owner[s]`` (an index into
    ``reps.index``) to convergence in one batch, and keep every replicate's best."""
    problem = dataclasses.replace(reps.problem, batch=reps.problem.batch.for_starts(owner))
    st = run_starts(problem, k, params, logw, progress)
    R = reps.index.size
    loglik = np.full(R, np.nan)
    best = np.full(R, -1)
    for s in range(owner.size):
        if st.status[s] not in (CONVERGED, MAX_ITER) or not st.traces[s]:
            continue
        r, value = owner[s], st.traces[s][-1]
        if best[r] < 0 or value > loglik[r]:
            loglik[r], best[r] = value, s
    return Best(loglik=loglik, start=best, params=st.params, logw=st.logw)


def refit(
    request: Any,
    datasets: list[np.ndarray],
    weights: list[np.ndarray] | None,
    k: int,
    starts: list[dict[str, Any]],
    reference: tuple[np.ndarray, np.ndarray | None],
) -> list[Any]:
    """Every data set fitted at K from the same start values, batched where the family allows
    (else one after another; ``reference``: see ``prepare_replicates``): each one's best
    non-degenerate fit as the family's JSON parameters, None where every start degenerated or
    the data set cannot be fitted."""
    reps = prepare_replicates(request, datasets, weights, reference)
    if reps is None:
        out = []
        for i, data in enumerate(datasets):
            try:
                problem = prepare(request, data, None if weights is None else weights[i])
                fitted = best_of(problem, k, starts)
            except FitError:
                fitted = None
            out.append(None if fitted is None else fitted.params)
        return out
    R = reps.index.size
    params, logw = engine_starts(reps, starts)
    S = logw.shape[0]
    tiled = {name: np.tile(value, (R,) + (1,) * (value.ndim - 1)) for name, value in params.items()}
    best = fit_replicates(reps, k, tiled, np.tile(logw, (R, 1)), np.repeat(np.arange(R), S))
    out: list[Any] = [None] * len(datasets)
    for r, i in enumerate(reps.index.tolist()):
        out[i] = best.json(reps, r)
    return out
