"""How a fit fans out over the workers: one RQ job, or a job per K (and per chunk of starts)
merged by a reducing job; and how the replicates of an LRT or a bootstrap are cut into parts."""

from __future__ import annotations

import numpy as np

from .store import cfg


def plan_parts(
    k_values: list[int],
    n_starts: int,
    n: int,
    split: dict[int, int | None] | None = None,
    chained: bool = False,
) -> list[tuple[int, int, int]] | None:
    """How a fit fans out: ``(k, first start, stop)`` per RQ job, or None for one job.

    Fits with less work than ``FANOUT_MIN_WORK`` (n * sum(K) * starts) run as one job. Larger
    ones get a job per K, and each K's starts are cut into chunks when there are fewer than
    ``FANOUT_PARTS`` Ks. A K's ``split`` start (``split[k]``, always its last;
    ``mixfit.em.split_index``) needs the final fit of K-1, so no part runs it: K's finishing
    job does.

    Order. Each K is finished after the K below it (its split start and growth moves start from
    K-1's final fit), and that chain of finishing work is about a third of a fit's (K = 1..6,
    n = 50,000: 2.6 s of 8.3). ``chained`` (one finishing job per K, ``worker.jobs.finish``):
    the smallest K comes first, so the chain begins while the larger Ks' parts still run
    (measured on that fit, 2 workers: 1.45x one worker's speed with the chain after every part,
    see README "Fan-out"). Otherwise (the merge finishes every K after the last part) the
    largest K comes first, so workers that take jobs in order end close together
    (longest-first scheduling).
    """
    if n * sum(k_values) * n_starts < int(cfg("FANOUT_MIN_WORK")):
        return None
    split = split or {}
    plan = []
    for k in sorted(k_values, reverse=not chained):
        held = split.get(k) is not None
        starts = n_starts - held
        chunks = min(starts, -(-int(cfg("FANOUT_PARTS")) // len(k_values)))
        bounds = np.linspace(0, starts, chunks + 1).round().astype(int)
        plan += [
            (k, int(first), int(stop))
            for first, stop in zip(bounds[:-1], bounds[1:], strict=True)
            if stop > first
        ]
    return plan if len(plan) > 1 else None


def plan_replicates(nboot: int, steps: int = 1) -> list[tuple[int, int]]:
    """How the replicates of one of ``steps`` LRT steps, or of a bootstrap, fan out:
    ``(first, stop)`` per RQ job. As a fit's Ks: each step's replicates are cut into ranges so
    that all steps together have at least ``FANOUT_PARTS`` (fewer when there are fewer
    replicates). Every replicate has its own generator and the core's batches share a fixed
    reference's scaling, so the result is the same, bit for bit, for any split.
    """
    chunks = max(1, min(nboot, -(-int(cfg("FANOUT_PARTS")) // steps)))
    bounds = np.linspace(0, nboot, chunks + 1).round().astype(int)
    return [
        (int(first), int(stop))
        for first, stop in zip(bounds[:-1], bounds[1:], strict=True)
        if stop > first
    ]
