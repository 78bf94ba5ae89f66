"""K = 1..5 grids (seed 0) of every fixture data set of at most 3,000 rows and 8 columns, under
every family that fits it: 1-D data Gaussian and Student t, Gamma and log-normal where positive,
Poisson where counts, beta where inside (0, 1); multivariate data the four Gaussian covariance
types. ``python -m tests.sweeps.grids ROOT OUT.json [PART PARTS]`` (a part of the data sets, for
two processes on two cores)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

from .common import cell, core, data_sets, write


def families(x: np.ndarray) -> list[tuple[str, dict]]:
    if x.ndim == 2:
        return [("gaussian", {"covariance": c}) for c in ("full", "diag", "tied", "spherical")]
    out = [("gaussian", {}), ("student_t", {})]
    if (x > 0).all():
        out += [("gamma", {}), ("lognormal", {})]
    if (x >= 0).all() and np.all(x == np.round(x)) and x.max() < 1e6:
        out.append(("poisson", {}))
    if ((x > 0) & (x < 1)).all():
        out.append(("beta", {}))
    return out


def main(argv: list[str], fits: Callable[[np.ndarray], list[tuple[str, dict]]] = families) -> None:
    """Run the sweep of ``argv`` (ROOT OUT [PART PARTS]) over the families and options
    ``fits`` gives each data set."""
    root, out = argv[0], argv[1]
    part, parts = (int(argv[2]), int(argv[3])) if len(argv) > 3 else (0, 1)
    mixfit = core(root)
    rows = []
    for i, (name, x) in enumerate(data_sets()):
        if i % parts != part or (x.ndim == 2 and x.shape[1] > 8):
            continue
        for family, options in fits(x):
            key = [name, family, options.get("covariance", "")]
            rows.append(
                cell(mixfit, key, x, family=family, k={"min": 1, "max": 5}, seed=0, **options)
            )
    write(rows, out)


if __name__ == "__main__":
    main(sys.argv[1:])
