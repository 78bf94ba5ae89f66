"""FitResult in a notebook: the HTML summary (_repr_html_) and the matplotlib figure (plot)."""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser

import numpy as np
import pytest
from scipy import stats

import mixfit
from mixfit import display
from mixfit.schema import BetaParams, FitResult

from .conftest import beta_data, blobs, simulate


class Tables(HTMLParser):
    """Every table's rows as (attributes of <tr>, [cell texts]), keyed by the table's class."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[tuple[dict, list[str]]]] = {}
        self.current: str | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.current = dict(attrs).get("class", "")
            self.tables[self.current] = []
        elif tag == "tr" and self.current is not None:
            self.tables[self.current].append((dict(attrs), []))
        elif tag in ("td", "th") and self.current is not None:
            self.cell = []

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.tables[self.current][-1][1].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "table":
            self.current = None


def tables(html: str) -> dict[str, list[tuple[dict, list[str]]]]:
    parser = Tables()
    parser.feed(html)
    return parser.tables


def paths(svg: str) -> dict[str, list[np.ndarray]]:
    """Each <path>'s points as an (m, 2) array, grouped by class."""
    found: dict[str, list[np.ndarray]] = {}
    for cls, d in re.findall(r'<path class="(\w+)" d="M([^"]+)"', svg):
        points = np.array([[float(v) for v in p.split(",")] for p in d.split(" L")])
        found.setdefault(cls, []).append(points)
    return found


@pytest.fixture(scope="module")
def gaussian() -> FitResult:
    return mixfit.fit(simulate(200), k={"min": 1, "max": 3}, n_starts=3, seed=1)


@pytest.fixture(scope="module")
def beta() -> FitResult:
    return mixfit.fit(beta_data(300), family="beta", k=[1, 2], n_starts=3, seed=1)


@pytest.fixture(scope="module")
def gaussian_2d() -> FitResult:
    return mixfit.fit(blobs(200, d=2, k=2), k=[1, 2], n_starts=2, seed=1)


def test_k_table_has_one_row_per_k_and_marks_the_selected(gaussian: FitResult) -> None:
    rows = tables(gaussian._repr_html_())["mixfit-k-table"]
    head, body = rows[0][1], rows[1:]
    assert head[:9] == ["k", "status", "loglik", "n_params", "BIC", "AIC", "ICL", "converged",
                        "n_iter"]  # fmt: skip
    assert [cells[0] for _, cells in body] == ["1", "2", "3"]
    selected = [cells for attrs, cells in body if attrs.get("class") == "mixfit-selected"]
    assert len(selected) == 1
    cells = selected[0]
    r = next(r for r in gaussian.results if r.k == gaussian.k_selected)
    assert cells[0] == str(gaussian.k_selected)
    assert cells[2:7] == [f"{r.loglik:.2f}", str(r.n_params), f"{r.bic:.2f}", f"{r.aic:.2f}",
                          f"{r.icl:.2f}"]  # fmt: skip
    assert cells[9] == "\u2190 selected by BIC"
    assert all(c[9] == "" for attrs, c in body if "class" not in attrs)


def test_gaussian_parameters_are_listed(gaussian: FitResult) -> None:
    rows = tables(gaussian._repr_html_())["mixfit-params"]
    p = gaussian.model.params
    assert rows[0][1] == ["component", "weight", "mean", "sd"]
    assert [cells for _, cells in rows[1:]] == [
        [str(j + 1), f"{w:.4f}", f"{m:.5g}", f"{s:.5g}"]
        for j, (w, m, s) in enumerate(zip(p.weights, p.means, p.sds, strict=True))
    ]


def test_beta_parameters_are_listed(beta: FitResult) -> None:
    rows = tables(beta._repr_html_())["mixfit-params"]
    p = beta.model.params
    assert rows[0][1] == ["component", "weight", "alpha", "beta", "mean"]
    assert [c[2:4] for _, c in rows[1:]] == [
        [f"{a:.5g}", f"{b:.5g}"] for a, b in zip(p.alphas, p.betas, strict=True)
    ]


@pytest.mark.parametrize("which", ["gaussian", "beta"])
def test_svg_draws_the_mixture_above_each_component(which: str, request) -> None:
    result: FitResult = request.getfixturevalue(which)
    html = result._repr_html_()
    assert (
        html.count("<svg") == 1
        and "<script" not in html
        and "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    drawn = paths(html)
    assert len(drawn["mixture"]) == 1 and len(drawn["component"]) == result.k_selected
    mixture = drawn["mixture"][0]
    assert len(mixture) > 100 and np.isfinite(mixture).all()
    for comp in drawn["component"]:
        assert np.array_equal(comp[:, 0], mixture[:, 0])
        assert np.all(mixture[:, 1] <= comp[:, 1] + 0.1)  # SVG's y grows downwards
    # the curve reaches the top of the plot (8 px margin, 5 % headroom) and nears the base (130)
    assert 8 < mixture[:, 1].min() < 15 and 120 < mixture[:, 1].max() <= 130


def test_svg_peak_sits_at_the_heavier_gaussian_component(gaussian: FitResult) -> None:
    p = gaussian.model.params
    grid = display.density_grid(gaussian.model, n=160, n_local=25)
    mixture = paths(gaussian._repr_html_())["mixture"][0]
    peak = grid[np.argmin(mixture[:, 1])]
    heavier = int(np.argmax(np.asarray(p.weights) / np.asarray(p.sds)))
    assert abs(peak - p.means[heavier]) < 0.5 * p.sds[heavier]


def test_text_is_escaped(gaussian: FitResult) -> None:
    failed = gaussian.results[2].model_copy(
        update={"status": "failed", "message": "<script>alert('x')</script> & <b>"}
    )
    result = gaussian.model_copy(update={"results": [*gaussian.results[:2], failed]})
    html = result._repr_html_()
    assert "<script" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;" in html
    rows = tables(html)["mixfit-k-table"]
    assert rows[3][1][1] == "failed"


def test_u_shaped_beta_stays_finite_and_readable(beta: FitResult) -> None:
    params = BetaParams(weights=[0.5, 0.5], alphas=[0.2, 30.0], betas=[0.3, 30.0])
    model = beta.model.model_copy(update={"params": params})
    result = beta.model_copy(update={"model": model})
    mixture = paths(result._repr_html_())["mixture"][0]
    assert np.isfinite(mixture).all()
    # the Beta(30, 30) bump in the middle is drawn near the top, not squashed by the ends
    middle = mixture[np.abs(mixture[:, 0] - 183) < 5, 1]
    assert middle.min() < 40


def test_two_dimensions_render_the_first_marginal(gaussian_2d: FitResult) -> None:
    html = gaussian_2d._repr_html_()
    rows = tables(html)["mixfit-params"]
    assert rows[0][1] == ["component", "weight", "mean", "sd (diagonal)"]
    covs = np.asarray(gaussian_2d.model.params.covariances)
    assert rows[1][1][3] == "[" + ", ".join(f"{v:.4g}" for v in np.sqrt(np.diag(covs[0]))) + "]"
    assert "<summary>covariances</summary>" in html and "x1 marginal" in html
    drawn = paths(html)
    assert len(drawn["component"]) == gaussian_2d.k_selected and len(drawn["mixture"]) == 1


def test_component_densities_match_scipy_marginals(gaussian_2d: FitResult) -> None:
    model = gaussian_2d.model
    grid = np.linspace(-5.0, 10.0, 7)
    p = model.params
    expected = [
        w * stats.norm.pdf(grid, m[0], np.sqrt(c[0][0]))
        for w, m, c in zip(p.weights, p.means, p.covariances, strict=True)
    ]
    np.testing.assert_allclose(display.component_densities(model, grid), expected, rtol=1e-12)


def test_beta_component_densities_match_scipy(beta: FitResult) -> None:
    grid = np.linspace(0.05, 0.95, 7)
    p = beta.model.params
    expected = [
        w * stats.beta.pdf(grid, a, b) for w, a, b in zip(p.weights, p.alphas, p.betas, strict=True)
    ]
    np.testing.assert_allclose(display.component_densities(beta.model, grid), expected, rtol=1e-12)


@pytest.mark.parametrize("which", ["gaussian", "beta"])
def test_mixture_density_integrates_to_one(which: str, request) -> None:
    model = request.getfixturevalue(which).model
    grid = display.density_grid(model, n=20_000)
    total = np.trapezoid(display.component_densities(model, grid).sum(axis=0), grid)
    assert total == pytest.approx(1.0, abs=2e-3)


# -- plot ----------------------------------------------------------------------------------------


def render(fig) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()  # layout and drawing run, warnings are errors (~0.6 s: once)


def test_plot_draws_three_panels(gaussian: FitResult) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    x = simulate(200)
    fig = gaussian.plot(x)
    render(fig)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    data, trace, criteria = fig.axes
    k = gaussian.k_selected
    assert len(data.patches) > 8  # the histogram's bars
    lines = data.get_lines()
    assert len(lines) == 1 + k and lines[0].get_label() == "mixture"
    parts = np.array([line.get_ydata() for line in lines[1:]])
    np.testing.assert_allclose(lines[0].get_ydata(), parts.sum(axis=0))
    assert lines[0].get_xdata().min() < x.min() and lines[0].get_xdata().max() > x.max()
    chosen = next(r for r in gaussian.results if r.k == k)
    assert len(trace.get_lines()) == len(chosen.starts) == 3
    best = next(s for s in chosen.starts if s.start == chosen.best_start)
    highlighted = max(trace.get_lines(), key=lambda line: line.get_linewidth())
    assert list(highlighted.get_ydata()) == best.trace
    assert [line.get_label() for line in criteria.get_lines()] == ["bic", "aic", "icl"]
    assert list(criteria.get_lines()[0].get_ydata()) == [r.bic for r in gaussian.results]


def test_plot_without_data_draws_the_density_alone(beta: FitResult) -> None:
    pytest.importorskip("matplotlib")
    fig = beta.plot()
    data = fig.axes[0]
    assert len(data.patches) == 0 and len(data.get_lines()) == 1 + beta.k_selected
    xs = data.get_lines()[0].get_xdata()
    assert 0 < xs.min() < 0.01 and 0.99 < xs.max() < 1


def test_plot_two_dimensions(gaussian_2d: FitResult) -> None:
    pytest.importorskip("matplotlib")
    X = blobs(200, d=2, k=2)
    marginal = gaussian_2d.plot(X)
    assert marginal.axes[0].get_xlabel() == "x1 (marginal)"
    assert len(marginal.axes[0].get_lines()) == 1 + gaussian_2d.k_selected
    pairs = gaussian_2d.plot(X, pairs=True)
    assert len(pairs.axes[0].collections) == gaussian_2d.k_selected + 1  # components + means
    with pytest.raises(ValueError, match="2-dimensional"):
        gaussian_2d.plot(X[:, 0][:, None])


def test_plot_without_matplotlib_says_how_to_install(monkeypatch, gaussian: FitResult) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(ImportError, match=re.escape("pip install 'mixfit[plot]'")):
        gaussian.plot()


def test_an_ok_k_with_a_message_is_noted_under_both_tables(gaussian: FitResult) -> None:
    """An ok K that says something (K-1's fit with a component copied,
    ``mixfit.smem.never_below``) has it listed under the notebook's table and the CLI's."""
    from fitclient.cli import k_table

    said = "k=3: every start and move collapsed or ended below k=2's fit; this is a copy"
    results = [r.model_copy(update={"message": said}) if r.k == 3 else r for r in gaussian.results]
    noted = gaussian.model_copy(update={"results": results})
    from html import escape

    assert f"<li>{escape(said)}</li>" in noted._repr_html_()
    assert "<li>" not in gaussian._repr_html_()
    assert f"note: {said}" in k_table(noted) and "note:" not in k_table(gaussian)
