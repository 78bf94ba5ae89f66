"""The maximum of a mixture whose components are clusters too far apart to share a point."""

from __future__ import annotations

import numpy as np


def split_loglik(parts: list[np.ndarray], covariance: str = "full") -> float:
    """The log-likelihood of each part (n_i,) or (n_i, d) fitted alone by a Gaussian (of
    ``covariance`` 'full', 'diag' or 'spherical' in d > 1), weighted by its share: the
    mixture's maximum where the parts are too far apart to share a point."""
    n = sum(len(p) for p in parts)
    total = 0.0
    for p in parts:
        if p.ndim == 1:
            var = p.var()
            total += len(p) * (np.log(len(p) / n) - 0.5 * np.log(2 * np.pi * var) - 0.5)
        else:
            d = p.shape[1]
            if covariance == "full":
                logdet = np.linalg.slogdet(2 * np.pi * np.cov(p.T, bias=True))[1]
            else:
                var = p.var(axis=0)
                if covariance == "spherical":
                    var = np.full(d, var.mean())
                logdet = float(np.sum(np.log(2 * np.pi * var)))
            total += len(p) * (np.log(len(p) / n) - 0.5 * logdet - 0.5 * d)
    return float(total)
