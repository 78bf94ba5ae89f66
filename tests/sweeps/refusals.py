"""The Gaussian Ks a grid sweep refused, against scikit-learn:
``python -m tests.sweeps.refusals GRID.json [GRID.json ...] [STARTS]`` (a sweep's parts).

For every K that a ``tests.sweeps.grids`` output refused under the Gaussian family, scikit-learn's
``GaussianMixture`` runs STARTS starts (default 25) of each of its four start methods with
``reg_covar`` 1e-10 of the smallest column variance (no covariance is held up by it) and tol
1e-8. A solution is regular when every component holds at least one point's worth of weight
and its covariance's smallest eigenvalue, in units of the columns' variances, is at least 1e-4
(``regular``); it is a new maximum when its log-likelihood is above every K' < K the grid
fitted by more than 1e-6 relative (a mixture of K' components is one of K): K - 1's fit with a
component repeated is regular, but no maximum of K that a refusal withholds. The README's
audit of refusals comes from this.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

from .common import data_sets

METHODS = ("kmeans", "k-means++", "random_from_data", "random")
LEAST_EIGENVALUE = 1e-4
RTOL = 1e-6


def regular(gm, X: np.ndarray) -> bool:
    """Whether the fitted ``GaussianMixture`` ``gm`` of X (n, d) has every component on at least
    one point's worth of weight with spread in every direction (``LEAST_EIGENVALUE``)."""
    n, d = X.shape
    k, kind, C = gm.n_components, gm.covariance_type, gm.covariances_
    covs = {
        "full": lambda: C,
        "diag": lambda: np.stack([np.diag(c) for c in C]),
        "spherical": lambda: np.stack([np.eye(d) * c for c in C]),
        "tied": lambda: np.stack([C] * k),
    }[kind]()
    unit = 1.0 / np.sqrt(X.var(axis=0))
    least = min(np.linalg.eigvalsh(c * np.outer(unit, unit)).min() for c in covs)
    return bool(least >= LEAST_EIGENVALUE and n * gm.weights_.min() >= 1.0)


def best_regular(X: np.ndarray, k: int, covariance: str, starts: int) -> tuple[int, float | None]:
    """How many of scikit-learn's starts end regular, and the best of their log-likelihoods."""
    from sklearn.mixture import GaussianMixture

    floor = 1e-10 * float(X.var(axis=0).min())
    found = []
    for method in METHODS:
        for seed in range(starts):
            gm = GaussianMixture(
                k,
                covariance_type=covariance,
                init_params=method,
                random_state=seed,
                reg_covar=floor,
                tol=1e-8,
                max_iter=2000,
            )
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    gm.fit(X)
            except (ValueError, np.linalg.LinAlgError):  # a covariance it could not factor
                continue
            if regular(gm, X):
                found.append(float(gm.score(X)) * X.shape[0])
    return len(found), max(found, default=None)


def main(argv: list[str]) -> list[dict]:
    grids = [a for a in argv if a.endswith(".json")]
    starts = int(next((a for a in argv if a.isdigit()), 25))
    xs = dict(data_sets())
    out = []
    for row in (row for grid in grids for row in json.loads(Path(grid).read_text())):
        name, family, covariance = row["key"]
        if family != "gaussian" or "ll" not in row:
            continue
        x = xs[name]
        X = x if x.ndim == 2 else x[:, None]
        for k_text, ll in row["ll"].items():
            k = int(k_text)
            if ll is not None:
                continue
            count, best = best_regular(X, k, covariance or "full", starts)
            fitted = [v for j, v in row["ll"].items() if int(j) < k and v is not None]
            below = max(fitted, default=None)
            new = best is not None and (below is None or best > below + RTOL * abs(below))
            out.append({"key": row["key"], "k": k, "regular": count, "best": best, "new": new})
            print(
                f"{name} {covariance or '1-D'} K={k}: {count} regular, best {best}, "
                f"best fitted below {below}: {'A NEW MAXIMUM' if new else 'none new'}",
                flush=True,
            )
    print(f"{len(out)} refused Ks; {sum(r['new'] for r in out)} with a new regular maximum")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
