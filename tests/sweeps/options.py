"""Random option combinations fitted with warnings as errors (the README's option fuzz):
``python -m tests.sweeps.options BASE N`` fits the requests of seeds BASE .. BASE + N - 1.

Each request draws a family and data of its support (3 to 1,500 points; sometimes rounded,
beta data at 0 or 1, count weights with zeros), K or a K range, ``init`` and any of
``accelerate``, ``polish``, ``keep_path``, the tolerance type, 1 to 10 starts, ``split_merge``
0 or 3, ``screen_factor`` 1 to 30 and the criterion. A failure is an exception other than
``FitError``, a non-finite number in a result or in its model's scores at five points, or a K
whose log-likelihood falls below the K - 1 before it (moves on)."""

from __future__ import annotations

import json
import math
import sys
import traceback
import warnings

import numpy as np

from .common import core

INITS = {
    "gaussian": [
        "auto",
        "kmeans",
        "kmeans++",
        "random",
        "partition",
        "dirichlet",
        "quantile",
        "hc",
        "params",
    ],
    "beta": ["auto", "kmeans", "moments", "params", "quantile"],
    "gamma": ["auto"],
    "lognormal": ["auto"],
    "poisson": ["auto"],
    "student_t": ["auto"],
}
CHOICES = {
    "accelerate": [True, False],
    "polish": [True, False],
    "keep_path": [False, True],
    "tol_type": ["relative", "absolute", "per_sample"],
    "n_starts": [1, 2, 10],
    "split_merge": [None, 0, 3],
    "screen_factor": [1, 5, 30],
    "criterion": ["bic", "aic", "icl"],
}


def non_finite(value, path: str = "") -> list[str]:
    """Paths of the non-finite numbers in a JSON document."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_finite(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for v in value for p in non_finite(v, f"{path}[]")]
    return []


def request(seed: int) -> tuple[np.ndarray, np.ndarray | None, dict]:
    rng = np.random.default_rng(seed)
    family = str(rng.choice(list(INITS)))
    n = int(rng.choice([3, 8, 30, 200, 1500]))
    d = int(rng.choice([1, 1, 2, 3])) if family in ("gaussian", "student_t") else 1
    k = int(rng.integers(1, 4))
    labels = rng.integers(0, k, n)
    if family == "beta":
        X = rng.beta(rng.uniform(0.3, 20, k)[labels], rng.uniform(0.3, 20, k)[labels])
    elif family in ("gamma", "lognormal"):
        X = rng.gamma(rng.uniform(0.5, 20, k)[labels], rng.uniform(0.01, 100, k)[labels])
    elif family == "poisson":
        X = rng.poisson(rng.uniform(0.1, 300, k)[labels]).astype(float)
    else:
        spread = rng.uniform(1e-3, 2, k)[labels][:, None]
        X = rng.normal(0, 5, (k, d))[labels] + rng.normal(0, 1, (n, d)) * spread
    if rng.random() < 0.3:
        X = np.round(X, int(rng.integers(0, 3)))
    if family == "beta" and rng.random() < 0.3:
        X[: max(1, n // 10)] = rng.choice([0.0, 1.0])
    if d == 1 and X.ndim > 1:
        X = X[:, 0]
    options: dict = {"family": family, "seed": seed}
    if rng.random() < 0.5:
        options["k"] = int(rng.integers(1, 5))
    else:
        options["k"] = {"min": 1, "max": int(rng.integers(2, 5))}
    if rng.random() < 0.4:
        options["init"] = str(rng.choice(INITS[family]))
    if family == "gaussian" and d > 1 and rng.random() < 0.6:
        options["covariance"] = str(rng.choice(["full", "diag", "tied", "spherical"]))
    for key, values in CHOICES.items():
        if rng.random() < 0.3:
            value = values[int(rng.integers(len(values)))]
            if value is not None:
                options[key] = value
    w = rng.integers(0, 4, n).astype(float) if rng.random() < 0.2 else None
    if w is not None and w.sum() == 0:
        w[0] = 1.0
    return X, w, options


def check(mixfit, seed: int) -> list[str]:
    """What is wrong with the fit of request ``seed`` (nothing: an empty list)."""
    X, w, options = request(seed)
    try:
        result = mixfit.fit(X, weights=w, **options)
    except mixfit.FitError:
        return []
    except Exception as exc:  # the point: anything but FitError is a defect
        traceback.print_exc(limit=3)
        return [f"{type(exc).__name__}: {str(exc)[:200]}"]
    problems = [f"non-finite {p}" for p in non_finite(json.loads(result.model_dump_json()))]
    if options.get("split_merge") != 0:
        ok = [(r.k, r.loglik) for r in result.results if r.status == "ok"]
        for (k1, l1), (k2, l2) in zip(ok, ok[1:], strict=False):
            if k2 == k1 + 1 and l2 < l1 - 1e-7 * max(1.0, abs(l1)):
                problems.append(f"K = {k2} at {l2} below K = {k1}'s {l1}")
    if result.model is not None:
        scores = mixfit.score(result.model, X[:5].tolist())
        scored = json.loads(scores.model_dump_json())
        problems += [f"score non-finite {p}" for p in non_finite(scored)]
    return problems


def main(argv: list[str]) -> int:
    base, count = int(argv[0]), int(argv[1])
    mixfit = core(argv[2] if len(argv) > 2 else ".")
    warnings.simplefilter("error")
    failures = 0
    for seed in range(base, base + count):
        problems = check(mixfit, seed)
        if problems:
            failures += 1
            print("seed", seed, request(seed)[2], problems)
    print(f"{count} requests, {failures} failed")
    return failures


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv[1:]) else 0)
