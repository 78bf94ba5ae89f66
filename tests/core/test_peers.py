"""mixfit's default fit reaches the best maximum its peers reach, on real data.

The fixtures under ``tests/fixtures/peers/`` (made by ``make_peer_fixtures.R`` and
``make_peer_fixtures.py``; their README says how) hold, for 6 multivariate data sets (d = 2..6)
x 4 covariance types and 4 univariate ones x 2 variance structures, K = 1..6, what mclust,
mixtools, flexmix and scikit-learn (three start strategies, ten starts each) reached, and which of
those solutions are degenerate (a variance at its regularization floor, or less than one point's
worth of weight: the fixture's ``degeneracy_rule``). At every cell where some peer reached a
non-degenerate solution, mixfit's default fit must reach its log-likelihood - 1e-6 n.

``make test`` runs the issue's named cells and every (data set, covariance) at K = 6; ``make
validate`` runs the whole grid (``-m validate``). Cells where a peer found a better maximum than
mixfit's default fit with seed 0 are listed in ``MISSES`` with what was measured: they are
expected failures (not strict: a change that finds those maxima makes them pass).

The beta fixtures hold a brute-force maximization of the full mixture likelihood (L-BFGS-B from
200 random starts, the best polished) for six simulated shapes and two real proportion data sets;
the bar is its best, spikes included (see ``test_beta_reaches_the_brute_force_maximum``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixfit

PEERS = Path(__file__).resolve().parents[1] / "fixtures" / "peers"
COVARIANCE = {"free": "full"}  # the univariate fixtures' name for free variances


# The cases (galaxies K=6 was refused, thyroid tied K=6 stopped 179 units short,
# mclust's single start beat mixfit on banknote full K=3 and thyroid diag K=2).
NAMED = {"galaxies-free-k6", "thyroid-tied-k6", "banknote-full-k3", "thyroid-diag-k2"}
# Maxima a peer reached and mixfit's default fit (seed 0) did not, with what was measured.
# banknote diag K=5 and crabs tied K=3 left this list with the split-and-merge moves
# (mixfit.smem), iris full K=5 with its three-way moves. Of the five sets added on 2026-12-01
# (quakes, USArrests, geyser, swiss, trees: 100 more cells) none is missed now. Under other
# seeds about one cell in 220 is missed (seeds 1..9, 12 of 2,619 cells), 3 of them banknote
# full K=4: flexmix's -576.24 is a basin that 4 of 1,000 unscreened starts reach (see the
# README).
# Cells seed 0 misses (xfail, with what was tried). Swiss tied K = 5 (n = 47, d = 6) was one
# until 2026-12-03: seed 0 stopped at -907.38 against scikit-learn's -906.67 (2 of seeds 0..5
# reached it); fitted alone, K = 5 now grows from K = 4's fit (mixfit.fit.parent_fit), and
# seeds 0..5 all reach it.
MISSES: dict[str, str] = {}


def _gaussian_cells(full: bool) -> list:
    cells = []
    for path in sorted(PEERS.glob("gaussian_*.json")):
        doc = json.loads(path.read_text())
        for cell in doc["cells"]:
            if cell.get("best_nondegenerate_loglik") is None:
                continue
            name = f"{doc['dataset']}-{cell['covariance']}-k{cell['k']}"
            # make test: the cases and K = 6 of the univariate sets (the roughest
            # surfaces per second of test time); make validate: every cell
            if not full and name not in NAMED and not (cell["k"] == 6 and doc["d"] == 1):
                continue
            marks = [pytest.mark.validate] if full else []
            if name in MISSES:
                marks.append(pytest.mark.xfail(reason=MISSES[name], strict=False))
            param = pytest.param(path.name, cell["covariance"], cell["k"], id=name, marks=marks)
            cells.append(param)
    return cells


# The fixtures' rule (d) reads a covariance eigenvalue against the mean of the columns'
# variances, so on data whose columns span orders of magnitude (quakes: 0.16 to 46,409) it
# calls every peer's solution degenerate, K = 1 included, and those cells had no bar. The
# scale-free reading (the eigenvalue of the covariance in standardized columns, the fixture's
# ``min_eigenvalue_standardized``) gives them one: a peer's solution degenerate by (d) alone
# and at least 1e-5 that way.
SCALE_FREE_FLOOR = 1e-5


def scale_free_bar(cell: dict) -> tuple[float, str] | None:
    """The best log-likelihood among peers degenerate only by rule (d) and regular in
    standardized columns, with the peer; None where there is none."""
    found = [
        (peer["loglik"], peer["peer"])
        for peer in cell["peers"]
        if peer.get("status") == "ok"
        and peer.get("degenerate")
        and peer.get("why", "").startswith("smallest covariance eigenvalue / mean data variance")
        and ";" not in peer.get("why", "")
        and (peer.get("min_eigenvalue_standardized") or 0.0) >= SCALE_FREE_FLOOR
    ]
    return max(found) if found else None


def _scale_free_cells() -> list:
    cells = []
    for path in sorted(PEERS.glob("gaussian_*.json")):
        doc = json.loads(path.read_text())
        for cell in doc["cells"]:
            if cell.get("best_nondegenerate_loglik") is None and scale_free_bar(cell):
                name = f"{doc['dataset']}-{cell['covariance']}-k{cell['k']}"
                cells.append(pytest.param(path.name, cell["covariance"], cell["k"], id=name))
    return cells


_DATA: dict[str, dict] = {}


def _load(name: str) -> dict:
    if name not in _DATA:
        _DATA[name] = json.loads((PEERS / name).read_text())
    return _DATA[name]


def _check_cell(name: str, covariance: str, k: int) -> None:
    doc = _load(name)
    cell = next(c for c in doc["cells"] if c["covariance"] == covariance and c["k"] == k)
    X = np.asarray(doc["x"], dtype=float)
    result = mixfit.fit(X, k=k, covariance=COVARIANCE.get(covariance, covariance), seed=0)
    r = result.results[0]
    assert r.status == "ok", r.message
    best = cell["best_nondegenerate_loglik"]
    assert r.loglik >= best - 1e-6 * doc["n"], (
        f"{doc['dataset']} {covariance} k={k}: mixfit {r.loglik:.4f} < "
        f"{cell['best_nondegenerate_peer']} {best:.4f}"
    )


@pytest.mark.slow
@pytest.mark.parametrize(("name", "covariance", "k"), _gaussian_cells(full=False))
def test_default_fit_reaches_the_best_non_degenerate_peer(name, covariance, k):
    _check_cell(name, covariance, k)


@pytest.mark.parametrize(("name", "covariance", "k"), _gaussian_cells(full=True))
def test_every_cell_of_the_grid(name, covariance, k):
    """``make validate``: all cells (about eight minutes)."""
    _check_cell(name, covariance, k)


@pytest.mark.validate
def test_other_seeds_miss_few_cells():
    """``make validate``: the whole grid under seeds 1..9 (about 4 minutes). Seed 0 is the
    test above; under other seeds the search is a different draw of the same portfolio, and a
    basin few starts reach is sometimes missed. Measured 2026-12-01 with K (K - 1)
    split-and-merge moves: 12 of 2,619 cell fits (0.46 %; 15 with ten moves), 3 of them
    banknote full K=4 (flexmix's -576.24, a basin 4 of 1,000 unscreened starts reach), 2
    faithful waiting free K=4 and 7 on swiss (n = 47, d = 6: tied K=5, full K=5, tied K=4);
    the bar is 2 %. Prints every miss."""
    misses, fits = [], 0
    for seed in range(1, 10):
        for param in _gaussian_cells(full=True):
            name, covariance, k = param.values
            doc = _load(name)
            cell = next(c for c in doc["cells"] if c["covariance"] == covariance and c["k"] == k)
            X = np.asarray(doc["x"], dtype=float)
            cov = COVARIANCE.get(covariance, covariance)
            r = mixfit.fit(X, k=k, covariance=cov, seed=seed).results[0]
            fits += 1
            ll = r.loglik if r.status == "ok" else -np.inf
            if ll < cell["best_nondegenerate_loglik"] - 1e-6 * doc["n"]:
                misses.append((seed, param.id, round(ll - cell["best_nondegenerate_loglik"], 3)))
    print(f"\nother seeds: {len(misses)} of {fits} cell fits below the best peer: {misses}")
    assert len(misses) <= 0.02 * fits, misses


BETA_MISSES: dict[str, str] = {}


def _beta_cells() -> list:
    cells = []
    for path in sorted(PEERS.glob("beta_*.json")):
        doc = json.loads(path.read_text())
        for cell in doc["cells"]:
            if cell["k"] < 2:
                continue
            name = f"{doc['dataset']}-k{cell['k']}"
            marks = []
            if name in BETA_MISSES:
                marks.append(pytest.mark.xfail(reason=BETA_MISSES[name], strict=False))
            cells.append(pytest.param(path.name, cell["k"], id=name, marks=marks))
    return cells


_BETA_FITS: dict[str, object] = {}


def _beta_fit(name: str):
    if name not in _BETA_FITS:
        x = np.asarray(_load(name)["x"], dtype=float)
        _BETA_FITS[name] = mixfit.fit(x, family="beta", k=[1, 2, 3], seed=0)
    return _BETA_FITS[name]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "k"), _beta_cells())
def test_beta_reaches_the_brute_force_maximum(name, k):
    doc = _load(name)
    cell = next(c for c in doc["cells"] if c["k"] == k)
    r = next(r for r in _beta_fit(name).results if r.k == k)
    assert r.status == "ok", r.message
    # The bar is the brute force's best, also where that is a spike (a component of precision
    # 1e3-1e4 on a handful of close points, "spurious" in the fixture: smallest / largest
    # component variance < 0.01): no variance sits at a floor there, so by the degeneracy rule
    # it is a maximum like any other. The birth moves (mixfit.smem.births) find those (j1_bell
    # K = 3: 418.16 against the brute force's 417.90; before them seed 0 stopped at 416.95).
    bar = cell["loglik"]
    assert r.loglik >= bar - 1e-6 * doc["n"], (
        f"{doc['dataset']} k={k}: mixfit {r.loglik:.4f} < brute force {bar:.4f}"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", [p.name for p in sorted(PEERS.glob("beta_*.json")) if json.loads(p.read_text())["true"]]
)
def test_bic_finds_the_true_k_of_simulated_beta_mixtures(name):
    doc = _load(name)
    assert doc["n"] >= 1000
    assert _beta_fit(name).k_selected == doc["true"]["k"]


@pytest.mark.validate
@pytest.mark.parametrize(("name", "covariance", "k"), _scale_free_cells())
def test_where_only_the_units_made_every_peer_degenerate_the_best_regular_one_is_reached(
    name, covariance, k
):
    """The cells the fixtures' rule left without a bar (``scale_free_bar``): mixfit's default
    fit (seed 0) reaches the best peer regular in standardized columns - 1e-6 n."""
    doc = _load(name)
    cell = next(c for c in doc["cells"] if c["covariance"] == covariance and c["k"] == k)
    bar, peer = scale_free_bar(cell)
    X = np.asarray(doc["x"], dtype=float)
    r = mixfit.fit(X, k=k, covariance=COVARIANCE.get(covariance, covariance), seed=0).results[0]
    assert r.status == "ok", r.message
    assert r.loglik >= bar - 1e-6 * doc["n"], (r.loglik, peer, bar)
