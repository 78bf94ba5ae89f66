"""Core benchmarks against scikit-learn's GaussianMixture, measured in the same run.

Run with ``make bench``. Timings are wall-clock on this machine (2 cores); the ratios are what
matters, and they are printed, never asserted (machines are noisy)."""

from __future__ import annotations

import os
import time

import numpy as np
from sklearn.mixture import GaussianMixture

import mixfit
from mixfit.estep import single_threaded_blas, threads
from mixfit.fit import parse_request, prepare

TOL, MAX_ITER, STARTS = 1e-3, 100, 10


def simulate(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(rng.random(n) < 0.4, rng.normal(0, 1, n), rng.normal(4, 1.5, n))


def blobs(n: int, d: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 6, (k, d))
    labels = rng.integers(0, k, n)
    mix = rng.normal(0, 0.3, (k, d, d)) + np.eye(d)
    return centers[labels] + np.einsum("nij,nj->ni", mix[labels], rng.normal(size=(n, d)))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def ours(X: np.ndarray, k: int, covariance: str = "full", family: str = "gaussian"):
    options = dict(k=k, n_starts=STARTS, tol=TOL, tol_type="per_sample", max_iter=MAX_ITER, seed=0)
    if family == "gaussian":
        options["covariance"] = covariance
    result, seconds = timed(lambda: mixfit.fit(X, family=family, **options))
    r = result.results[0]
    start_iters = sum(s.n_iter + 1 for s in r.starts)  # E-steps actually run
    return r.loglik, seconds, start_iters


def sklearn(X: np.ndarray, k: int, covariance: str = "full"):
    X2 = X.reshape(len(X), -1)
    gm = GaussianMixture(
        k, covariance_type=covariance, n_init=STARTS, tol=TOL, max_iter=MAX_ITER, random_state=0
    )
    gm, seconds = timed(lambda: gm.fit(X2))
    return gm.score(X2) * len(X2), seconds


def estep_per_start_iteration(x: np.ndarray, k: int) -> float:
    """Seconds of one batched E-step divided by the number of starts (best of 7: the least
    disturbed run of a deterministic computation)."""
    problem = prepare(parse_request({"k": k, "n_starts": STARTS, "seed": 0}), x)
    from mixfit.em import _Starts

    starts = _Starts(problem, k, list(range(STARTS)), None)
    eta, log_partition = problem.family.natural(starts.params)
    bias = starts.logw - log_partition
    times = []
    with single_threaded_blas(len(x)):
        for _ in range(7):
            _, seconds = timed(lambda: problem.batch.estep(eta, bias))
            times.append(seconds / STARTS)
    return float(np.min(times))


def exp_alone(n: int, k: int) -> float:
    """Seconds for numpy's float64 exp of n*k values on one thread (best of 7)."""
    a = -np.random.default_rng(0).random(n * k) * 20
    out = np.empty_like(a)
    return min(timed(lambda: np.exp(a, out=out))[1] for _ in range(7))


def row(name, ll_ours, t_ours, ll_sk, t_sk, n):
    gap = (ll_ours - ll_sk) / n
    print(
        f"| {name} | {t_ours:.2f} s | {t_sk:.2f} s | **{t_sk / t_ours:.1f}x** | {gap:+.2e} |",
        flush=True,
    )
    return {"name": name, "ours": t_ours, "sklearn": t_sk, "ratio": t_sk / t_ours, "ll_gap": gap}


def main() -> list[dict]:
    print(
        "\n## Core: mixfit vs scikit-learn GaussianMixture "
        f"(n_init={STARTS}, tol={TOL} per sample, max_iter={MAX_ITER})\n"
    )
    print("| case | mixfit | scikit-learn | speed-up | (LL_mixfit - LL_sklearn) / n |")
    print("|---|---|---|---|---|")
    rows = []
    for n in (100_000, 1_000_000):
        x = simulate(n)
        ll, t, iters = ours(x, 2)
        ll_sk, t_sk = sklearn(x, 2)
        rows.append(row(f"1-D, K=2, n={n:.0e}", ll, t, ll_sk, t_sk, n))
    X = blobs(100_000, 10, 5)
    ll, t, _ = ours(X, 5, "full")
    ll_sk, t_sk = sklearn(X, 5, "full")
    rows.append(row("d=10, K=5, n=1e5, full", ll, t, ll_sk, t_sk, len(X)))

    n = 1_000_000
    x = simulate(n)
    per_iter = estep_per_start_iteration(x, 2)
    os.environ["MIXFIT_THREADS"] = "1"
    one_thread = estep_per_start_iteration(x, 2)
    del os.environ["MIXFIT_THREADS"]
    exps = exp_alone(n, 2)
    print(
        f"\nE-step at n=1e6, K=2: **{per_iter * 1e3:.1f} ms per start-iteration** with "
        f"{threads()} threads, {one_thread * 1e3:.1f} ms on one thread; numpy's float64 exp of "
        f"the n*K values alone takes {exps * 1e3:.1f} ms on one thread (one-thread E-step / "
        f"exps = {one_thread / exps:.2f}; the K=2 kernel needs only n exps)"
    )

    rng = np.random.default_rng(1)
    which = rng.choice(3, n, p=[0.3, 0.4, 0.3])
    u = np.choose(which, [rng.beta(2, 12, n), rng.beta(20, 20, n), rng.beta(12, 2, n)])
    g = np.choose(which, [rng.normal(-3, 1, n), rng.normal(0, 1, n), rng.normal(3, 1, n)])
    _, t_beta, it_beta = ours(u, 3, family="beta")
    _, t_gauss, it_gauss = ours(g, 3)
    ratio = (t_beta / it_beta) / (t_gauss / it_gauss)
    print(
        f"Beta vs Gaussian, n=1e6, K=3, 10 starts: {t_beta / it_beta * 1e3:.1f} vs "
        f"{t_gauss / it_gauss * 1e3:.1f} ms per start-iteration, all-in: **{ratio:.2f}x** "
        f"({t_beta:.2f} s / {it_beta} vs {t_gauss:.2f} s / {it_gauss} start-iterations)"
    )
    rows.append({"name": "beta/gaussian per start-iteration", "ratio": ratio})
    return rows


if __name__ == "__main__":
    main()
