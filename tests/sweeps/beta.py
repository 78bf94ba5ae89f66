"""Beta K = 1..4 grids (``boundary="squeeze"``) under seeds 0..8 of the 16 beta fixtures and of
24 simulated data sets (8 mixtures of 2 to 4 components: bells, J and U shapes, overlapping and
apart; 40, 150 and 600 points each). ``python -m tests.sweeps.beta ROOT OUT.json [SEEDS]``
(SEEDS: comma-separated, default 0..8)."""

from __future__ import annotations

import sys

import numpy as np

from .common import cell, core, data_sets, write

SHAPES = [
    [(2, 12), (20, 20), (12, 2)],
    [(0.5, 0.5), (5, 5)],
    [(0.7, 3), (3, 0.7)],
    [(2, 5), (5, 2)],
    [(1, 1), (30, 10)],
    [(0.4, 4), (8, 8), (50, 5)],
    [(3, 3), (4, 4)],
    [(1.5, 8), (9, 2), (40, 40), (2, 2)],
]


def simulated() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(123)
    out = []
    for i, components in enumerate(SHAPES):
        for n in (40, 150, 600):
            weights = rng.dirichlet(np.full(len(components), 3.0))
            labels = rng.choice(len(components), n, p=weights)
            x = np.array([rng.beta(*components[j]) for j in labels])
            out.append((f"sim{i}_n{n}", np.clip(x, 1e-9, 1 - 1e-9)))
    return out


def main(argv: list[str]) -> None:
    root, out = argv[0], argv[1]
    seeds = [int(s) for s in argv[2].split(",")] if len(argv) > 2 else list(range(9))
    mixfit = core(root)
    sets = list(data_sets("**/beta_*.json")) + simulated()
    rows = []
    for name, x in sets:
        for seed in seeds:
            k = {"min": 1, "max": 4}
            rows.append(
                cell(mixfit, [name, seed], x, family="beta", k=k, seed=seed, boundary="squeeze")
            )
    write(rows, out)


if __name__ == "__main__":
    main(sys.argv[1:])
