"""K = 3, 4 and 5 each asked alone (seed 0), full and diagonal covariances (full only in 1-D),
on the mclust fixtures' data sets of at most 1,500 rows and 6 columns.
``python -m tests.sweeps.alone ROOT OUT.json``."""

from __future__ import annotations

import sys

from .common import cell, core, data_sets, write


def main(argv: list[str]) -> None:
    root, out = argv[0], argv[1]
    mixfit = core(root)
    rows = []
    for name, x in data_sets("mclust_*/*.json", max_rows=1500):
        if x.ndim == 2 and x.shape[1] > 6:
            continue
        for covariance in ["full"] if x.ndim == 1 else ["full", "diag"]:
            for k in (3, 4, 5):
                rows.append(
                    cell(mixfit, [name, covariance, k], x, k=k, seed=0, covariance=covariance)
                )
    write(rows, out)


if __name__ == "__main__":
    main(sys.argv[1:])
