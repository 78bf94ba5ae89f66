"""The maximum of a mixture whose components are clusters too far apart to share a point."""

from __future__ import annotations

import numpy as np


def split_loglik(parts: list[np.ndarray]) -> float:
    """The log-likelihood of each part (n_i,) or (n_i, d) fitted alone by a Gaussian, weighted
    by its share: the mixture's maximum where the parts are too far apart to share a point."""
    n = sum(len(p) for p in parts)
    total = 0.0
    for p in parts:
        if p.ndim == 1:
            var = p.var()
            total += len(p) * (np.log(len(p) / n) - 0.5 * np.log(2 * np.pi * var) - 0.5)
        else:
            cov = np.cov(p.T, bias=True)
            logdet = np.linalg.slogdet(2 * np.pi * cov)[1]
            total += len(p) * (np.log(len(p) / n) - 0.5 * logdet - 0.5 * p.shape[1])
    return float(total)
