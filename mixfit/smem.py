"""Split-and-merge moves from a K's best fit (SMEM: Ueda, Nakano, Ghahramani & Hinton 2000).

A common local maximum of a mixture holds two components where the data have one and one
component where they have two: no EM start near it can leave, and independent starts rarely
land elsewhere once K is large. SMEM leaves it by a joint move: merge the two components whose
responsibilities overlap most, split the component that fits its own points worst in two, and
run EM from there. Measured on the peer fixtures: banknote diag K=5 (scikit-learn's -752.57
against -753.51 from 20 starts) and crabs tied K=3 (-1380.58 against -1381.97) are reached by
a move; both were beyond mixfit's screened starts.

Candidates (i, j, s) come in Ueda et al.'s order: merge pairs by decreasing overlap
``J_merge(i, j) = <r_i, r_j> / (|r_i| |r_j|)`` (responsibility vectors over the points), and for
each pair the other components by decreasing local misfit ``J_split(s) = KL(f_s || q_s)``,
where ``f_s`` is component s's share of the points (its responsibilities, normalized) and
``q_s`` its own density at the points, normalized over them. The merged component takes the
responsibilities ``r_i + r_j``; slot j takes the half of s's points on one side of s's
principal axis (engine space). Each candidate's parameters are one M-step from those
responsibilities; the candidates run to convergence together, as explicit starts of their own
(``init`` ``"smem"``, start indices after the request's, no restarts: a move that degenerates
is simply not taken). When the best candidate beats the fit by more than the tolerance, a
new round starts from it (at most ``ROUNDS``).

It runs where a K's final fit is known, once per K: after ``run_k`` in ``fit_ks`` and after
the merge of a fanned-out fit, so the result does not depend on the number of workers. It is
skipped for K < 3 (K = 2 is the split start's move), explicit start values and
``split_merge = 0``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .estep import Batch
from .families.base import ParamArrays
from .schema import KResult
from .starts import sample

ROUNDS = 3
SMEM_STREAM = 0x53E3  # spawn key of the sample the moves are built on


def refine(problem: Any, result: KResult, run: Any, progress: Any = None) -> KResult:
    """``result`` improved by split-and-merge moves, with the moves' starts appended.

    Parameters
    ----------
    problem : mixfit.em.Problem
    result : KResult
        A K's final fit (all its starts merged).
    run : callable
        ``run(problem, k, given, first_index, progress) -> KResult``: the engine running the
        given start parameters (``mixfit.em.run_given``).
    progress : callable, optional
        The fit's progress callback (a worker's stop request raises there); it sees the K's
        starts and the moves as one count.
    """
    req = problem.request
    count = req.split_merge
    k = result.k
    if count == 0 or k < 3 or req.explicit_start is not None or result.status != "ok":
        return result
    best = result
    starts = list(result.starts)
    tol = req.tol
    for round_ in range(ROUNDS):
        seq = np.random.SeedSequence(problem.seed, spawn_key=(k, SMEM_STREAM, round_))
        rng = np.random.default_rng(seq)
        given = moves(problem, best, count, rng)
        if given is None:
            break
        tried = run(problem, k, given, len(starts), _counting(progress, len(starts), best))
        starts.extend(tried.starts)
        gain = (tried.loglik - best.loglik) if tried.status == "ok" else -np.inf
        if not gain > _threshold(req, best.loglik, problem.n_eff, tol):
            break
        best = tried
    if best is result:
        return result.model_copy(update={"starts": starts})
    return best.model_copy(update={"starts": starts})


def _counting(progress: Any, before: int, best: KResult) -> Any:
    """The progress callback of a round of moves: its counts follow the K's starts."""
    if progress is None:
        return None

    def report(info: dict[str, Any]) -> None:
        lead = info["best_loglik"] is not None and info["best_loglik"] > best.loglik
        progress(
            {
                **info,
                "starts_done": before + info["starts_done"],
                "n_starts": before + info["n_starts"],
                "best_loglik": info["best_loglik"] if lead else best.loglik,
                "trace": info["trace"] if lead else _trace(best),
            }
        )

    return report


def _trace(result: KResult) -> list[float]:
    return next(s.trace for s in result.starts if s.start == result.best_start)


def _threshold(req: Any, ll: float, n_eff: float, tol: float) -> float:
    if req.tol_type == "absolute":
        return tol
    if req.tol_type == "relative":
        return tol * abs(ll)
    return tol * n_eff


def moves(
    problem: Any, result: KResult, count: int, rng: np.random.Generator
) -> tuple[ParamArrays, np.ndarray, list[str]] | None:
    """The start parameters (C, K, ...), log weights (C, K) and labels of up to ``count``
    split-and-merge candidates from ``result``'s parameters, on a sample of the points."""
    fam = problem.family
    s = sample(problem.Z, problem.w, rng)
    params, weights = fam.from_json(result.params, problem.scaling)
    with np.errstate(divide="ignore"):
        logw = np.log(weights)
    batch = Batch(fam.statistics(s.Z), s.w)
    ll, resp = fam.point_loglik(batch, params, logw)
    triples = ranked(resp, ll, logw, s.weights)[:count]
    if not triples:
        return None
    out = np.empty((len(triples),) + resp.shape)
    for c, (i, j, t) in enumerate(triples):
        out[c] = merged_and_split(s.Z, resp, i, j, t)
    start = fam.initial(s.Z, s.w, out, problem.floor)
    mass = np.einsum("cmk,m->ck", out, s.weights)
    if np.any(mass <= 0.0):
        keep = np.all(mass > 0.0, axis=1)
        if not keep.any():
            return None
        start = {name: value[keep] for name, value in start.items()}
        mass = mass[keep]
        triples = [t for t, kept in zip(triples, keep, strict=True) if kept]
    labels = [f"smem (merge {i}+{j}, split {t})" for i, j, t in triples]
    return start, np.log(mass / mass.sum(axis=1, keepdims=True)), labels


def ranked(
    resp: np.ndarray, ll: np.ndarray, logw: np.ndarray, weights: np.ndarray
) -> list[tuple[int, int, int]]:
    """Candidate moves (merge i and j, split s into s and j) in Ueda et al.'s order, from the
    responsibilities (m, K), per-point log-likelihoods (m,) and log weights (K,)."""
    K = resp.shape[1]
    rw = resp * weights[:, None]
    norms = np.linalg.norm(rw, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        overlap = (rw.T @ rw) / np.outer(norms, norms)
        # log p_s(x_n) = log r_ns + log p(x_n) - log w_s
        log_own = np.log(resp) + ll[:, None] - logw[None, :]
        f = rw / rw.sum(axis=0, keepdims=True)
        top = np.max(np.where(np.isfinite(log_own), log_own, -np.inf), axis=0)
        q = np.exp(log_own - top) * weights[:, None]
        q /= q.sum(axis=0, keepdims=True)
        terms = np.where(f > 0.0, f * (np.log(f) - np.log(q)), 0.0)
    misfit = np.nan_to_num(terms.sum(axis=0), nan=-np.inf)
    pairs = [(i, j) for i in range(K) for j in range(i + 1, K)]
    pairs.sort(key=lambda ij: -np.nan_to_num(overlap[ij], nan=-1.0))
    order = np.argsort(-misfit, kind="stable")
    return [(i, j, int(t)) for i, j in pairs for t in order if t != i and t != j]


def merged_and_split(Z: np.ndarray, resp: np.ndarray, i: int, j: int, t: int) -> np.ndarray:
    """Responsibilities (m, K) after merging j into i and splitting t between t and j."""
    out = resp.copy()
    out[:, i] += out[:, j]
    r = out[:, t]
    mass = max(float(r.sum()), 1e-300)
    mean = (r @ Z) / mass
    centered = Z - mean
    scatter = (centered * r[:, None]).T @ centered / mass
    axis = np.linalg.eigh(scatter)[1][:, -1]
    side = centered @ axis >= 0.0
    out[:, j] = np.where(side, r, 0.0)
    out[:, t] = np.where(side, 0.0, r)
    return out
