"""K = 1..5 grids (seed 0) of every fixture data set of at most 3,000 rows and 8 columns under
the tied Gaussian (1-D: equal variances), whose degeneracy rule differs from the other models'
(``GaussianFamily.least_weight``). ``python -m tests.sweeps.tied ROOT OUT.json [PART PARTS]``."""

from __future__ import annotations

import sys

from .common import cell, core, data_sets, write


def main(argv: list[str]) -> None:
    root, out = argv[0], argv[1]
    part, parts = (int(argv[2]), int(argv[3])) if len(argv) > 3 else (0, 1)
    mixfit = core(root)
    rows = []
    for i, (name, x) in enumerate(data_sets()):
        if i % parts != part or (x.ndim == 2 and x.shape[1] > 8):
            continue
        options = {"family": "gaussian", "covariance": "tied", "k": {"min": 1, "max": 5}}
        rows.append(cell(mixfit, [name, "gaussian", "tied"], x, seed=0, **options))
    write(rows, out)


if __name__ == "__main__":
    main(sys.argv[1:])
