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

from .em import Problem, run_k
from .errors import FitError
from .options import ReferenceDensity
from .schema import KResult, Model

Progress = Callable[[dict[str, Any]], None]

# Options a bootstrap sets itself (a replicate's K, starts and data are its own).
OWN_OPTIONS = frozenset({"k", "init", "n_starts", "data", "weights", "dataset_id"})


def replicate_generator(seed: int, stream: int, step: int, b: int) -> np.random.Generator:
    """The generator of replicate ``b`` of a step: independent of every other replicate."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, step, b)))


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
    """The fit options a bootstrap passes on; a FitError names any it sets itself."""
    bad = OWN_OPTIONS & set(options)
    if bad:
        raise FitError(f"{', '.join(sorted(bad))}: set by the bootstrap itself")
    return options


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
