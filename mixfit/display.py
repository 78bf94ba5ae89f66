"""How a ``FitResult`` shows itself: an HTML summary for Jupyter and a matplotlib figure.

``result_html`` is what ``FitResult._repr_html_`` returns: the per-K table with the selected row
marked, the selected model's parameters and an inline SVG of its density. It is plain string
building, every text HTML-escaped, with no script, stylesheet or image to fetch, so a notebook
shows it offline and a sanitizing viewer (GitHub, nbviewer) keeps it. ``figure`` draws the
simulator page's three panels (the data with the fitted density, every start's log-likelihood
trace of the selected K, the criteria against K) for ``FitResult.plot`` and ``mixfit fit --plot``.
matplotlib is the optional ``plot`` extra: it is imported inside ``figure`` only.

Densities are drawn in one dimension. A d-dimensional Gaussian shows its first coordinate's
marginal (component k: mean ``means[k][0]``, sd ``sqrt(covariances[k][0][0])``), in the SVG and in
the figure; ``figure(..., pairs=True)`` shows the data's first two coordinates coloured by
component instead, as the CLI does.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .schema import FitResult, KResult, Model

# matplotlib's default colour cycle (tab10), so the SVG and the figure colour components alike.
COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
PLOT_EXTRA = "pip install 'mixfit[plot]'"

# -- densities ---------------------------------------------------------------------------------


def _family(model: Model) -> Any:
    from .scoring import model_family

    return model_family(model)


def density_grid(
    model: Model, x: np.ndarray | None = None, n: int = 500, n_local: int = 41
) -> np.ndarray:
    """Sorted points at which to draw the (first coordinate's) density.

    The range is the data's padded by 5 % when ``x`` (the first coordinate's values) is given,
    else every component's mean +- 4 sd (location +- 4 scales for a t), kept inside the family's
    support; a family on a bounded interval (beta) spans it without its ends, where a density
    may be infinite. Each component adds ``n_local`` points across its own mean +- 4 sd, so a
    narrow component beside a wide one still shows its peak. A discrete family (counts) is drawn
    at the integers of the range.

    Returns
    -------
    grid : ndarray of shape (m,)
    """
    family = _family(model)
    centre, spread = family.moments(model.params)
    low, high = family.support
    if np.isfinite(low) and np.isfinite(high):
        grid = np.linspace(low, high, n)[1:-1]
        lo, hi = grid[0], grid[-1]
    else:
        if x is not None and x.size:
            lo, hi = float(np.min(x)), float(np.max(x))
        else:
            lo, hi = float(np.min(centre - 4 * spread)), float(np.max(centre + 4 * spread))
        pad = 0.0 if x is None else 0.05 * (hi - lo or 1.0)
        lo, hi = lo - pad, hi + pad
        if np.isfinite(low):
            lo = max(lo, low + 1e-3 * (hi - low) if not family.discrete else low)
        if family.discrete:
            return np.arange(np.floor(lo), np.ceil(hi) + 1.0)
        grid = np.linspace(lo, hi, n)
    local = (centre[:, None] + spread[:, None] * np.linspace(-4.0, 4.0, n_local)).ravel()
    local = local[(local > lo) & (local < hi)]
    return np.unique(np.concatenate([grid, local]))


def component_densities(model: Model, grid: np.ndarray) -> np.ndarray:
    """Weighted component densities (probabilities, for a discrete family) of the first
    coordinate on ``grid``.

    Returns
    -------
    densities : ndarray of shape (K, len(grid))
        Row k is ``weights[k]`` times component k's density; the rows sum to the mixture's.
    """
    logs = _family(model).marginal_log_pdf(model.params, grid)
    weights = np.asarray(model.params.weights, float)
    with np.errstate(divide="ignore", over="ignore"):  # a weight of 0: a density of 0
        return np.exp(np.log(weights)[:, None] + logs)


def _density_top(model: Model, mixture: np.ndarray) -> float:
    """Where to cut the density axis: the mixture's maximum, except that next to a finite end
    of the support (the outer 2 % of the grid, where a density with a shape below 1 may be
    unbounded) is left out."""
    inner = mixture
    if np.isfinite(_family(model).support[0]) and mixture.size > 50:
        edge = max(1, mixture.size // 50)
        inner = mixture[edge:-edge]
    finite = inner[np.isfinite(inner)]
    top = float(finite.max()) if finite.size else 1.0
    return top * 1.05 if top > 0 else 1.0


# -- HTML --------------------------------------------------------------------------------------


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "&ndash;" if value is None else escape(format(value, fmt))


def _vec(values: Sequence[float]) -> str:
    return escape("[" + ", ".join(f"{v:.4g}" for v in values) + "]")


_TABLE = 'style="font-size:12px;text-align:right;margin:4px 0 8px 0"'  # cells: the notebook's
_SELECTED = "font-weight:bold;background:#e8eefb"


def _row(cells: Sequence[str], header: bool = False, attrs: str = "") -> str:
    tag = "th" if header else "td"
    inner = "".join(f"<{tag}>{c}</{tag}>" for c in cells)
    return f"<tr{attrs}>{inner}</tr>"


def k_table_html(result: FitResult) -> str:
    """The per-K table; the selected K's row has class ``mixfit-selected`` and says so."""
    head = ["k", "status", "loglik", "n_params", "BIC", "AIC", "ICL", "converged", "n_iter", ""]
    rows = [_row(head, header=True)]
    notes = []
    for r in result.results:
        selected = r.k == result.k_selected
        attrs = f' class="mixfit-selected" style="{_SELECTED}"' if selected else ""
        mark = f"&larr; selected by {escape(result.criterion.upper())}" if selected else ""
        cells = [
            str(r.k),
            escape(r.status),
            _num(r.loglik),
            str(r.n_params),
            _num(r.bic),
            _num(r.aic),
            _num(r.icl),
            "yes" if r.converged else "no",
            str(r.n_iter),
            mark,
        ]
        rows.append(_row(cells, attrs=attrs))
        if r.status != "ok":
            notes.append(f"<li>k = {r.k} failed: {escape(r.message or 'no message')}</li>")
        elif r.message:  # K-1's fit with a component copied (``mixfit.smem.never_below``)
            notes.append(f"<li>{escape(r.message)}</li>")
    table = f'<table class="mixfit-k-table" {_TABLE}>{"".join(rows)}</table>'
    return table + (f'<ul style="font-size:12px">{"".join(notes)}</ul>' if notes else "")


def _cell(value: Any) -> str:
    """A parameter as a table cell: a number, a vector, or a matrix by its diagonal's roots."""
    v = np.asarray(value, dtype=float)
    if v.ndim == 0:
        return escape(f"{float(v):.5g}")
    if v.ndim == 1:
        return _vec(v)
    return _vec(np.sqrt(np.diag(v)))


def params_html(model: Model) -> str:
    """The model's parameters, one component a row (numbered from 1, as the CLI's tables): the
    weight, then the family's columns (``Family.columns``: Gaussian mean and sd; beta alpha,
    beta and mean; ...). A matrix (a d-dim covariance or scale) shows the square roots of its
    diagonal, the full matrices in a ``<details>`` element."""
    columns = _family(model).columns(model.params)
    weights = model.params.weights
    head = ["component", "weight"]
    matrices = {}
    for name, values in columns.items():
        matrix = np.asarray(values, dtype=float).ndim == 3
        label = "sd (diagonal)" if name == "covariance" else f"{name} (diagonal root)"
        head.append(label if matrix else name)
        if matrix:
            matrices[name] = values
    body = [
        [str(j + 1), f"{w:.4f}"] + [_cell(values[j]) for values in columns.values()]
        for j, w in enumerate(weights)
    ]
    rows = [_row(head, header=True)] + [_row(cells) for cells in body]
    table = f'<table class="mixfit-params" {_TABLE}>{"".join(rows)}</table>'
    for name, values in matrices.items():
        shown = "".join(
            f"<div>component {j + 1}: " + ", ".join(_vec(row) for row in m) + "</div>"
            for j, m in enumerate(values)
        )
        plural = "covariances" if name == "covariance" else f"{name} matrices"
        table += f'<details style="font-size:12px"><summary>{plural}</summary>{shown}</details>'
    return table


def density_svg(model: Model, width: int = 360, height: int = 150) -> str:
    """An inline SVG of the fitted density: the mixture (black) and each weighted component.

    The range comes from the parameters (a ``FitResult`` keeps no data): every Gaussian
    component's mean +- 4 sd, (0, 1) for beta. A d-dimensional Gaussian shows its first
    coordinate's marginal and says so."""
    grid = density_grid(model, n=160, n_local=25)
    parts = component_densities(model, grid)
    mixture = parts.sum(axis=0)
    top = _density_top(model, mixture)
    left, right, upper, lower = 6.0, 6.0, 8.0, 20.0
    support = _family(model).support
    bounded = np.isfinite(support[0]) and np.isfinite(support[1])
    lo, hi = support if bounded else (float(grid[0]), float(grid[-1]))
    px = left + (grid - lo) / ((hi - lo) or 1.0) * (width - left - right)

    def path(values: np.ndarray, color: str, stroke: float, cls: str) -> str:
        py = upper + (1.0 - np.clip(values / top, 0.0, 1.0)) * (height - upper - lower)
        points = " L".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))
        return (
            f'<path class="{cls}" d="M{points}" fill="none" stroke="{color}" '
            f'stroke-width="{stroke}" stroke-linejoin="round"/>'
        )

    curves = [path(part, COLORS[j % len(COLORS)], 1.2, "component") for j, part in enumerate(parts)]
    curves.append(path(mixture, "#000", 2.0, "mixture"))
    base = height - lower
    what = "first coordinate's marginal" if model.d > 1 else "density"
    label = escape(f"{model.family} mixture, k = {model.k}: {what}")
    ticks = "".join(
        f'<text x="{x:.1f}" y="{height - 6}" font-size="10" text-anchor="{anchor}">'
        f"{escape(format(v, '.4g'))}</text>"
        for x, v, anchor in ((left, lo, "start"), (width - right, hi, "end"))
    )
    caption = "x1 marginal" if model.d > 1 else "x"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mixfit-density" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img">'
        f"<title>{label}</title>"
        f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#999"/>'
        f"{''.join(curves)}{ticks}"
        f'<text x="{width / 2:.1f}" y="{height - 6}" font-size="10" text-anchor="middle">'
        f"{caption}</text></svg>"
    )


def result_html(result: FitResult) -> str:
    """The HTML summary of a fit: a header line, the per-K table, the selected parameters and
    the density SVG. What ``FitResult._repr_html_`` returns."""
    model = result.model
    shape = f", covariance {model.covariance}" if model.d > 1 and model.covariance else ""
    head = escape(
        f"{result.family} mixture{shape}, n = {result.n}, d = {result.d}, seed {result.seed}: "
        f"selected k = {result.k_selected} by {result.criterion.upper()}"
    )
    return (
        '<div class="mixfit-result" style="font-family:sans-serif">'
        f"<div><strong>{head}</strong></div>"
        f"{k_table_html(result)}"
        f"<div>parameters of k = {result.k_selected}</div>"
        f"{params_html(model)}"
        f"{density_svg(model)}"
        "</div>"
    )


# -- matplotlib --------------------------------------------------------------------------------


def _points(model: Model, x: Any, weights: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """The data as (n, d) and the weights as (n,), checked against the model."""
    X = np.asarray(x, dtype=float)
    X = X.reshape(-1, 1) if X.ndim == 1 else X
    if X.ndim != 2 or X.shape[1] != model.d:
        raise ValueError(
            f"x has shape {np.shape(x)} but the model is {model.d}-dimensional: give "
            f"{'a list of numbers' if model.d == 1 else f'rows of {model.d} values'}"
        )
    w = None if weights is None else np.asarray(weights, dtype=float).ravel()
    if w is not None and len(w) != len(X):
        raise ValueError(f"weights has {len(w)} entries but x has {len(X)} points")
    return X, w


def draw_density(ax: Axes, model: Model, X: np.ndarray | None, w: np.ndarray | None) -> None:
    """The (first coordinate's) histogram, when there is data, the mixture and its components."""
    first = None if X is None else X[:, 0]
    grid = density_grid(model, first)
    parts = component_densities(model, grid)
    mixture = parts.sum(axis=0)
    top = _density_top(model, mixture)
    if first is not None:
        bins = int(np.clip(np.sqrt(len(first)) * 1.3, 8, 60))
        heights, _, _ = ax.hist(
            first, bins=bins, weights=w, density=True, color="#dbe4f3", label="data"
        )
        top = max(top, float(np.max(heights)) * 1.05)
    ax.plot(grid, mixture, color="black", lw=2.2, label="mixture")
    for j, part in enumerate(parts):
        ax.plot(grid, part, color=COLORS[j % len(COLORS)], lw=1.3, label=f"comp. {j + 1}")
    ax.set_ylim(0.0, top)
    ax.set(xlabel="x1 (marginal)" if model.d > 1 else "x", ylabel="density")


def draw_pairs(ax: Axes, model: Model, X: np.ndarray) -> None:
    """The data's first two coordinates, coloured by most responsible component, and the means."""
    from .scoring import score

    labels = np.asarray(score(model, X, responsibilities=False).component)
    for j in range(model.k):
        pts = X[labels == j]
        ax.scatter(pts[:, 0], pts[:, 1], s=6, color=COLORS[j % len(COLORS)], alpha=0.6)
    means = np.asarray(model.params.model_dump()["means"])
    ax.scatter(means[:, 0], means[:, 1], marker="x", s=80, color="black", label="means")
    ax.set(xlabel="x1", ylabel="x2")


def draw_traces(ax: Axes, chosen: KResult) -> None:
    """One line per start of ``chosen``: the others grey, the best one on top in colour."""
    for s in chosen.starts:
        if s.start != chosen.best_start:
            ax.plot(s.trace, color="#9aa5b8", lw=0.9)
    best = next(s for s in chosen.starts if s.start == chosen.best_start)
    ax.plot(best.trace, color=COLORS[0], lw=2.2, label=f"best start ({best.start})")
    ax.set(xlabel="iteration", ylabel="log-likelihood", title=f"every start, k = {chosen.k}")
    ax.legend(fontsize=8)


def draw_criteria(ax: Axes, result: FitResult) -> None:
    """BIC, AIC and ICL against K, the selected K circled."""
    chosen = next(r for r in result.results if r.k == result.k_selected)
    for name, color in (("bic", COLORS[0]), ("aic", COLORS[1]), ("icl", COLORS[4])):
        ok = [r for r in result.results if getattr(r, name) is not None]
        ax.plot([r.k for r in ok], [getattr(r, name) for r in ok], "o-", color=color, label=name)
    ax.scatter(
        [chosen.k], [getattr(chosen, result.criterion)], s=180, facecolors="none", color="black"
    )
    ax.set(xlabel="K", ylabel="criterion (lower is better)", title="selection")
    ax.set_xticks([r.k for r in result.results])
    ax.legend(fontsize=8)


def figure(result: FitResult, x: Any = None, weights: Any = None, *, pairs: bool = False) -> Figure:
    """The simulator page's three panels: data and fitted density, traces, criteria against K.

    Parameters
    ----------
    result : FitResult
    x : array-like of shape (n,) or (n, d), optional
        The fitted data (a ``FitResult`` does not keep it): drawn as a histogram of its first
        coordinate under the density. Without it, the density alone.
    weights : array-like of shape (n,), optional
        Per-point weights of ``x``, for the histogram.
    pairs : bool
        d > 1 only: draw the first two coordinates of ``x`` coloured by most responsible
        component instead of the first coordinate's marginal density.

    Returns
    -------
    matplotlib.figure.Figure
        Made without pyplot: no global state, no backend chosen, shown once in a notebook.

    Raises
    ------
    ImportError
        When matplotlib (the ``plot`` extra) is not installed; the message says how to install it.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"plotting needs matplotlib: {PLOT_EXTRA}") from None
    model = result.model
    X, w = (None, None) if x is None else _points(model, x, weights)
    fig = Figure(figsize=(15, 4.2), layout="constrained")
    ax_data, ax_trace, ax_ic = fig.subplots(1, 3)
    if pairs and model.d > 1:
        if X is None:
            raise ValueError("pairs=True draws the data: give x")
        draw_pairs(ax_data, model, X)
    else:
        draw_density(ax_data, model, X, w)
    ax_data.set_title(f"{model.family} mixture, k = {model.k}")
    ax_data.legend(fontsize=8)
    draw_traces(ax_trace, next(r for r in result.results if r.k == result.k_selected))
    draw_criteria(ax_ic, result)
    return fig
