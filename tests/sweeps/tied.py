"""K = 1..5 grids (seed 0) of every fixture data set of at most 3,000 rows and 8 columns under
the tied Gaussian (1-D: equal variances), whose degeneracy rule differs from the other models'
(``GaussianFamily.least_weight``). ``python -m tests.sweeps.tied ROOT OUT.json [PART PARTS]``."""

from __future__ import annotations

import sys

from . import grids


def tied(x: object) -> list[tuple[str, dict]]:
    return [("gaussian", {"covariance": "tied"})]


if __name__ == "__main__":
    grids.main(sys.argv[1:], tied)
