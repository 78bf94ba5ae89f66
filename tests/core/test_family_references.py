"""The new families' default fits reach their references on real data.

Fixtures under ``tests/fixtures/families/``: ``*.R.json`` from ``make_family_fixtures.R``
(flexmix's Poisson driver, ``mixtools::gammamixEM``, mclust on log x for the log-normal; best of
many random starts) and ``*.py.json`` from ``make_family_fixtures.py`` (a brute-force L-BFGS-B
maximization of the Student t mixture likelihood; no R package estimates t degrees of freedom).
At every cell mixfit's default fit (seed 0) must reach the reference's log-likelihood - 1e-6 n,
and the reference's log-likelihood must be what ``scipy.stats`` gives for its parameters.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

import mixfit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "families"
FAMILIES = ("poisson", "gamma", "lognormal", "student_t")


def _cells() -> list:
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        doc = json.loads(path.read_text())
        for cell in doc["cells"]:
            shared = cell.get("shared_df", False)
            name = f"{doc['family']}-{doc['dataset']}-k{cell['k']}" + ("-shared" if shared else "")
            out.append(pytest.param(path.name, cell["k"], shared, id=name))
    return out


CELLS = _cells()


def test_every_new_family_has_references() -> None:
    names = {json.loads(p.read_text())["family"] for p in FIXTURES.glob("*.json")}
    assert set(FAMILIES) <= names


def scipy_loglik(family: str, p: dict, x: np.ndarray) -> float:
    if family == "poisson":
        logs = [stats.poisson(lam).logpmf(x) for lam in p["lambdas"]]
    elif family == "gamma":
        logs = [
            stats.gamma(a, scale=1 / b).logpdf(x)
            for a, b in zip(p["shapes"], p["rates"], strict=True)
        ]
    elif family == "lognormal":
        pairs = zip(p["meanlogs"], p["sdlogs"], strict=True)
        logs = [stats.lognorm(s, scale=np.exp(m)).logpdf(x) for m, s in pairs]
    else:
        rows = zip(p["means"], p["scales"], p["dfs"], strict=True)
        logs = [stats.t(nu, m, s).logpdf(x) for m, s, nu in rows]
    joint = np.log(np.asarray(p["weights"]))[:, None] + np.stack(logs)
    return float(logsumexp(joint, axis=0).sum())


@pytest.mark.parametrize(("name", "k", "shared"), CELLS)
def test_default_fit_reaches_the_reference(name: str, k: int, shared: bool) -> None:
    doc = json.loads((FIXTURES / name).read_text())
    cell = next(c for c in doc["cells"] if c["k"] == k and c.get("shared_df", False) == shared)
    x = np.asarray(doc["x"], dtype=float)
    assert cell["loglik"] == pytest.approx(scipy_loglik(doc["family"], cell["params"], x), rel=1e-8)
    options = {"df": "shared"} if shared else {}
    result = mixfit.fit(x, family=doc["family"], k=k, seed=0, **options)
    r = result.results[0]
    assert r.status == "ok", r.message
    assert r.loglik >= cell["loglik"] - 1e-6 * doc["n"], (r.loglik, cell["reference"])
