"""What a family provides to the generic EM engine.

Every family here is an exponential family: a component's log-density is
``eta . T(z) - A(eta) + h(z)``. The engine therefore needs only the sufficient statistics ``T``
(computed once per fit), the natural parameters ``eta`` and log-partition ``A`` of every start and
component (the E-step is then one matrix product), and the weighted M-step from summed statistics
(pomegranate's summarize / from_summaries). Parameters travel as a dict of arrays whose leading
axes are ``(S, K)``: starts, then components.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from ..data import Scaling
from ..schema import Params

ParamArrays = dict[str, np.ndarray]
Events = list[tuple[int, int, str, str]]  # (start row, component, kind, detail)
# E-step at given parameters and log weights of the same starts: -> (loglik (S,), stats)
Reevaluate = Callable[[ParamArrays, np.ndarray], tuple[np.ndarray, np.ndarray]]


class Family(ABC):
    """A mixture component family. Subclasses register themselves with ``@register``."""

    name: ClassVar[str]
    standardize: ClassVar[bool] = True
    init_methods: ClassVar[tuple[str, ...]] = ("kmeans++", "kmeans", "quantile", "random")

    def __init__(self, request: Any, d: int) -> None:
        self.request = request
        self.d = d

    # -- data ----------------------------------------------------------------------------------
    def prepare(self, X: np.ndarray) -> tuple[np.ndarray, int]:
        """Check support and apply the boundary policy. Returns (X, points moved)."""
        return X, 0

    # -- engine interface, in the engine's (scaled) space ---------------------------------------
    @abstractmethod
    def statistics(self, Z: np.ndarray) -> np.ndarray:
        """Sufficient statistics ``T`` of shape (n, m)."""

    def base_measure(self, Z: np.ndarray) -> np.ndarray | float:
        """``h(z)``: per point, shape (n,), or one constant."""
        return 0.0

    @abstractmethod
    def natural(self, params: ParamArrays) -> tuple[np.ndarray, np.ndarray]:
        """Natural parameters of shape (S, K, m) and log-partition of shape (S, K)."""

    @abstractmethod
    def maximize(
        self,
        stats: np.ndarray,
        previous: ParamArrays,
        floor: float,
        reevaluate: Reevaluate | None = None,
    ) -> tuple[ParamArrays, Events]:
        """Weighted M-step. ``stats`` has shape (S, K, 1 + m): summed weights, then summed T.

        A conditional (ECM) step may call ``reevaluate`` for a fresh E-step and return new log
        weights under the key ``"logw"``; otherwise the engine derives them from the counts."""

    @abstractmethod
    def initial(
        self, Z: np.ndarray, w: np.ndarray | None, labels: np.ndarray, k: int, floor: float
    ) -> ParamArrays:
        """Start parameters from hard labels of shape (S, n)."""

    @abstractmethod
    def n_params(self, k: int) -> int:
        """Free parameters of a K-component mixture, weights included."""

    # -- JSON, in data space --------------------------------------------------------------------
    @abstractmethod
    def to_json(self, params: ParamArrays, weights: np.ndarray, scaling: Scaling) -> Params:
        """One start's parameters (leading axis K) as the family's JSON model."""

    @abstractmethod
    def from_json(self, params: Any, scaling: Scaling) -> tuple[ParamArrays, np.ndarray]:
        """JSON parameters or start values -> (params with leading (1, K), weights (K,))."""

    @abstractmethod
    def log_pdf(self, params: Any, X: np.ndarray) -> np.ndarray:
        """Component log-densities of shape (K, n) at data-space points X of shape (n, d)."""

    def validate_points(self, X: np.ndarray, n_train: float) -> np.ndarray:
        """Check points to score against the family's support (boundary policy applied)."""
        return X


def take(params: ParamArrays, rows: np.ndarray | slice | int) -> ParamArrays:
    """Select starts (the leading axis) of every parameter array."""
    return {name: value[rows] for name, value in params.items()}


def label_sums(values: np.ndarray, w: np.ndarray | None, labels: np.ndarray, k: int) -> np.ndarray:
    """Per-start, per-component weighted sums of ``values``.

    Parameters
    ----------
    values : ndarray of shape (n, m)
    w : ndarray of shape (n,) or None
    labels : ndarray of shape (S, n), entries in [0, k)

    Returns
    -------
    sums : ndarray of shape (S, k, 1 + m)
        Summed weight, then the summed values, per start and component.
    """
    S = labels.shape[0]
    n, m = values.shape
    ones = np.ones(n) if w is None else w
    weighted = np.column_stack([ones, values * ones[:, None]])
    out = np.empty((S, k, 1 + m))
    for s in range(S):
        for j in range(1 + m):
            out[s, :, j] = np.bincount(labels[s], weights=weighted[:, j], minlength=k)
    return out
