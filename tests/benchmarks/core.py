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


def sklearn_grid(x: np.ndarray, ks: list[int], **options) -> tuple[dict[int, float], float]:
    """scikit-learn over a K grid: log-likelihood per K and the total seconds."""
    X = x.reshape(len(x), -1)
    lls, total = {}, 0.0
    for k in ks:
        gm = GaussianMixture(k, random_state=0, **options)
        gm, seconds = timed(lambda gm=gm: gm.fit(X))
        lls[k], total = gm.score(X) * len(X), total + seconds
    return lls, total


def small_grid() -> dict:
    """The simulator's fit (n=200, K=1..4, 10 starts, defaults) against scikit-learn's
    n_init=10 over the same grid (its defaults otherwise: k-means starts, tol 1e-3)."""
    x = simulate(200)
    mixfit.fit(x, k={"min": 1, "max": 4}, seed=0)  # warm: first-call costs are not the fit's
    result, t_ours = timed(lambda: mixfit.fit(x, k={"min": 1, "max": 4}, seed=0))
    lls, t_sk = sklearn_grid(x, [1, 2, 3, 4], n_init=10)
    label = "small K grid: n=200, K=1..4, 10 starts, defaults vs sklearn n_init=10"
    return grid_row("small grid", label, result, lls, t_ours, t_sk, digits=0)


def evaluated_cells(fn) -> dict[int, int]:
    """What the E-steps of ``fn()`` evaluate: for each K, S x n summed over every batched E-step
    of K components (``mixfit.estep.Batch.estep``); K times it are that K's component
    densities. The basins' and births' densities are left out, so this is a lower bound of the
    fit's arithmetic."""
    from mixfit import estep

    cells: dict[int, int] = {}
    original = estep.Batch.estep

    def counting(self, eta, bias, rows=None):
        S, K = eta.shape[:2]
        cells[K] = cells.get(K, 0) + S * self.n
        return original(self, eta, bias, rows)

    estep.Batch.estep = counting
    try:
        fn()
    finally:
        estep.Batch.estep = original
    return cells


def exp_seconds_per_value() -> float:
    """numpy's float64 exp per value on one thread, on a 2**16-value block that stays in cache
    (``exp_alone``)."""
    return exp_alone(1 << 16, 1) / (1 << 16)


def estep_seconds_per_density(x: np.ndarray, starts: int = 300, k: int = 4) -> float:
    """The E-step's cost per component density at its most efficient: one batched E-step of
    ``starts`` starts of ``k`` Gaussian components on x (the K = 4 screening's first round on
    the small grid), best of 21, divided by starts x k x n."""
    from mixfit.estep import Batch

    rng = np.random.default_rng(0)
    batch = Batch(np.stack([x, x * x], axis=1), None)
    mean, var = rng.normal(2.0, 2.0, (starts, k)), rng.uniform(0.5, 2.0, (starts, k))
    eta = np.stack([mean / var, -0.5 / var], axis=-1)
    bias = -np.log(k) - 0.5 * mean * mean / var - 0.5 * np.log(var)
    best = min(timed(lambda: batch.estep(eta, bias))[1] for _ in range(21))
    return best / (starts * k * x.size)


def arithmetic_floor(t_sk: float) -> dict:
    """What the default small grid's search costs in arithmetic alone, against the tenth of
    scikit-learn's time measured on the small grid line: its E-steps' component densities
    (``evaluated_cells``) at today's E-step's best rate (``estep_seconds_per_density``), and
    the exps any E-step needs, K - 1 a point and start (the largest component's is 1), at
    numpy's exp rate (``exp_seconds_per_value``). The same for the round trip's fit
    (``service_roundtrip.simulator_request``), whose arithmetic is far below its time: there
    the engine's per-iteration overhead is what costs."""
    import json

    from tests.benchmarks.service_roundtrip import simulator_request

    x = simulate(200)
    grid = evaluated_cells(lambda: mixfit.fit(x, k={"min": 1, "max": 4}, seed=0))
    body = json.loads(simulator_request(0))
    data = body.pop("data")
    trip = evaluated_cells(lambda: mixfit.fit(data, **body))
    _, t_trip = timed(lambda: mixfit.fit(data, **body))
    per_exp, per_density = exp_seconds_per_value(), estep_seconds_per_density(x)
    allowance = t_sk / 10
    densities = sum(k * v for k, v in grid.items())
    exps = sum((k - 1) * v for k, v in grid.items())
    trip_densities = sum(k * v for k, v in trip.items())
    print(
        f"\nThe default small grid's arithmetic: its E-steps evaluate {densities / 1e6:.1f} M "
        f"component densities (S x K x n summed), at the E-step's best rate "
        f"({per_density * 1e9:.1f} ns a density: 300 starts, K = 4, n = 200) "
        f"**{densities * per_density * 1e3:.0f} ms**; "
        f"their {exps / 1e6:.1f} M exps alone (K - 1 a point and start) at numpy's rate "
        f"({per_exp * 1e9:.2f} ns, in cache) **{exps * per_exp * 1e3:.1f} ms**: "
        f"{exps * per_exp / allowance:.2f} of the {allowance * 1e3:.1f} ms that 10x "
        f"scikit-learn's {t_sk * 1e3:.0f} ms allows, before any product, log or M-step. The "
        f"round trip's K = 2 fit: {trip_densities / 1e3:.0f} k densities, "
        f"{trip_densities * per_density * 1e3:.1f} ms at that rate, "
        f"against the fit's {t_trip * 1e3:.1f} ms.",
        flush=True,
    )
    return {"name": "small grid exps / allowance", "ratio": exps * per_exp / allowance}


def grid_row(
    name: str, label: str, result, lls: dict[int, float], t_ours: float, t_sk: float, digits: int
) -> dict:
    """Print one small-grid table row (mixfit's time to ``digits`` decimals of a ms, the worst
    LL gap over K) and return its figures."""
    worst = min(r.loglik - lls[r.k] for r in result.results)
    print(
        f"| {label} | {t_ours * 1e3:.{digits}f} ms | {t_sk * 1e3:.0f} ms | "
        f"**{t_sk / t_ours:.1f}x** | min over K of LL_mixfit - LL_sklearn = {worst:+.3f} |",
        flush=True,
    )
    return {"name": name, "ours": t_ours, "sklearn": t_sk, "ratio": t_sk / t_ours}


def small_grid_equal() -> dict:
    """The small K grid like for like: one thread each, k-means++ x 10 starts, nothing screened,
    no moves and no polish, the same stopping rule (tol 1e-3 per sample, max_iter 100); best of
    5 each, taking turns. What the default line's search costs is the difference."""
    from threadpoolctl import threadpool_limits

    x = simulate(200)
    options = dict(
        k={"min": 1, "max": 4},
        n_starts=STARTS,
        init="kmeans++",
        screen_factor=1,
        split_merge=0,
        polish=False,
        tol=TOL,
        tol_type="per_sample",
        max_iter=MAX_ITER,
        seed=0,
    )
    sk_options = dict(n_init=STARTS, init_params="k-means++", tol=TOL, max_iter=MAX_ITER)
    os.environ["MIXFIT_THREADS"] = "1"
    try:
        mixfit.fit(x, **options)  # warm
        ours, theirs = [], []
        for _ in range(5):
            result, seconds = timed(lambda: mixfit.fit(x, **options))
            ours.append(seconds)
            with threadpool_limits(1):
                lls, seconds = sklearn_grid(x, [1, 2, 3, 4], **sk_options)
            theirs.append(seconds)
    finally:
        del os.environ["MIXFIT_THREADS"]
    label = (
        "small K grid, equal footing: one thread each, k-means++ x 10, no screening, moves "
        "or polish, tol 1e-3/sample"
    )
    return grid_row("small grid equal", label, result, lls, min(ours), min(theirs), digits=1)


def split_merge_cost() -> dict:
    """What the split-and-merge moves (``mixfit.smem``) cost and find: the small K grid and a
    K=3..5 fit at n=50,000, each with ``split_merge=0`` and with the default, side by side
    (the small grid: median of 3 runs each)."""
    x = simulate(200)
    grid = {"min": 1, "max": 4}
    times: dict[int | None, list[float]] = {0: [], None: []}  # None: the default move count
    for _ in range(3):
        for moves in (0, None):
            times[moves].append(
                timed(lambda m=moves: mixfit.fit(x, k=grid, seed=0, split_merge=m))[1]
            )
    off, on = float(np.median(times[0])), float(np.median(times[None]))
    big = simulate(50_000)
    r_off, t_off = timed(lambda: mixfit.fit(big, k=[3, 4, 5], seed=0, split_merge=0))
    r_on, t_on = timed(lambda: mixfit.fit(big, k=[3, 4, 5], seed=0))
    gains = [b.loglik - a.loglik for a, b in zip(r_off.results, r_on.results, strict=True)]
    print(
        f"\nSplit-and-merge moves: small K grid {off * 1e3:.0f} ms without, {on * 1e3:.0f} ms "
        f"with (**{on / off:.2f}x** the time); n=50,000, K=3..5: {t_off:.1f} s without, "
        f"{t_on:.1f} s with (**{t_on / t_off:.2f}x**), LL gain per K "
        + ", ".join(f"{g:+.2f}" for g in gains),
        flush=True,
    )
    return {"name": "split-merge cost", "ratio": on / off, "large ratio": t_on / t_off}


def equal_footing(n: int = 1_000_000) -> dict:
    """The one like-for-like line: one thread each, the same start strategy (k-means++ seeds,
    10 starts, no screening), the same stopping rule (tol 1e-3 per sample, max_iter 100)."""
    x = simulate(n)
    os.environ["MIXFIT_THREADS"] = "1"
    try:
        options = dict(
            k=2,
            n_starts=STARTS,
            init="kmeans++",
            screen_factor=1,
            tol=TOL,
            tol_type="per_sample",
            max_iter=MAX_ITER,
            seed=0,
        )
        result, t_ours = timed(lambda: mixfit.fit(x, **options))
    finally:
        del os.environ["MIXFIT_THREADS"]
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        gm = GaussianMixture(
            2, n_init=STARTS, init_params="k-means++", tol=TOL, max_iter=MAX_ITER, random_state=0
        )
        gm, t_sk = timed(lambda: gm.fit(x[:, None]))
    gap = (result.results[0].loglik - gm.score(x[:, None]) * n) / n
    print(
        f"| equal footing: 1-D K=2 n=1e6, one thread each, k-means++ x 10, no screening | "
        f"{t_ours:.2f} s | {t_sk:.2f} s | **{t_sk / t_ours:.1f}x** | {gap:+.2e} |",
        flush=True,
    )
    return {"name": "equal footing", "ours": t_ours, "sklearn": t_sk, "ratio": t_sk / t_ours}


def default_vs_default(n: int = 1_000_000) -> dict:
    """Each library as a user calls it: mixfit.fit(x, k=2) against GaussianMixture(2).fit(x)
    (one k-means start, tol 1e-3). mixfit searches far more (screened starts, 10 of them)."""
    x = simulate(n)
    result, t_ours = timed(lambda: mixfit.fit(x, k=2, seed=0))
    gm, t_sk = timed(lambda: GaussianMixture(2, random_state=0).fit(x[:, None]))
    gap = (result.results[0].loglik - gm.score(x[:, None]) * n) / n
    print(
        f"| default vs default: 1-D K=2 n=1e6 (mixfit {threads()} threads) | {t_ours:.2f} s | "
        f"{t_sk:.2f} s | **{t_sk / t_ours:.1f}x** | {gap:+.2e} |",
        flush=True,
    )
    return {"name": "default vs default", "ours": t_ours, "sklearn": t_sk, "ratio": t_sk / t_ours}


def acceleration() -> list[dict]:
    """E-steps with and without SQUAREM from the same starts (no screening, so the main loop
    does all the climbing), to the same tolerance, on three slow cases."""
    rng = np.random.default_rng(3)
    over = simulate(200)
    overlap = np.where(rng.random(2000) < 0.5, rng.normal(0, 1, 2000), rng.normal(1.2, 1, 2000))
    which = rng.random(1000) < 0.4
    beta = np.clip(np.where(which, rng.beta(0.5, 5, 1000), rng.beta(8, 3, 1000)), 1e-9, 1 - 1e-9)
    cases = [
        ("overfit K=4, n=200", over, {"k": 4}),
        ("overlapping components K=2, n=2000", overlap, {"k": 2}),
        ("beta J + bell, K=3, n=1000", beta, {"k": 3, "family": "beta"}),
    ]
    print("\n| slow case | E-steps plain EM | E-steps SQUAREM | fewer | LL SQUAREM - LL plain |")
    print("|---|---|---|---|---|")
    rows = []
    for name, data, extra in cases:
        runs = {}
        for acc in (False, True):
            r = mixfit.fit(
                data,
                n_starts=10,
                screen_factor=1,
                tol=1e-10,
                max_iter=10000,
                seed=0,
                accelerate=acc,
                **extra,
            ).results[0]
            runs[acc] = (sum(s.evaluations for s in r.starts), r.loglik)
        (plain, ll_plain), (fast, ll_fast) = runs[False], runs[True]
        print(
            f"| {name} | {plain} | {fast} | **{plain / fast:.1f}x** | "
            f"{ll_fast - ll_plain:+.2e} (relative {(ll_fast - ll_plain) / abs(ll_plain):+.1e}) |",
            flush=True,
        )
        rows.append({"name": name, "ratio": plain / fast})
    return rows


def beta_vs_gaussian(n: int, rounds: int = 5) -> dict:
    """Wall time of a beta fit against a Gaussian fit of the same shape (three well-separated
    components, K=3 asked alone, 10 starts, defaults otherwise), the best of ``rounds`` each,
    the two taking turns so that both see the same hours of the machine (the least disturbed
    run of a deterministic computation: single runs of the Gaussian fit at n=200 ranged over
    63-129 ms in one process)."""
    rng = np.random.default_rng(1)
    which = rng.choice(3, n, p=[0.3, 0.4, 0.3])
    u = np.choose(which, [rng.beta(2, 12, n), rng.beta(20, 20, n), rng.beta(12, 2, n)])
    g = np.choose(which, [rng.normal(-3, 1, n), rng.normal(0, 1, n), rng.normal(3, 1, n)])
    cases = {"beta": (u, "beta"), "gaussian": (g, "gaussian")}
    for data, family in cases.values():
        mixfit.fit(data[:200], family=family, k=3, seed=0)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (data, family) in cases.items():

            def fit(d=data, f=family):
                return mixfit.fit(d, family=f, k=3, seed=0)

            times[name].append(timed(fit)[1])
    out = {name: min(values) for name, values in times.items()}
    ratio = out["beta"] / out["gaussian"]
    print(
        f"Beta vs Gaussian, same shape, n={n:.0e}, K=3, 10 starts, defaults: "
        f"{out['beta']:.3f} s vs {out['gaussian']:.3f} s all-in, best of {rounds}: "
        f"**{ratio:.2f}x**",
        flush=True,
    )
    return {"name": f"beta/gaussian n={n}", "ratio": ratio}


def main() -> list[dict]:
    print("\n## Core: mixfit vs scikit-learn GaussianMixture, each line side by side in one run\n")
    print("| case | mixfit | scikit-learn | speed-up | LL gap |")
    print("|---|---|---|---|---|")
    rows = [small_grid(), small_grid_equal(), equal_footing(), default_vs_default()]
    for n in (100_000, 1_000_000):
        x = simulate(n)
        ll, t, iters = ours(x, 2)
        ll_sk, t_sk = sklearn(x, 2)
        name = f"1-D, K=2, n={n:.0e}, 10 starts each, tol 1e-3/sample"
        rows.append(row(name, ll, t, ll_sk, t_sk, n))
    X = blobs(100_000, 10, 5)
    ll, t, _ = ours(X, 5, "full")
    ll_sk, t_sk = sklearn(X, 5, "full")
    rows.append(row("d=10, K=5, n=1e5, full, 10 starts each", ll, t, ll_sk, t_sk, len(X)))
    rows += acceleration()

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
        f"exps = **{one_thread / exps:.2f}**; the K=2 kernel of large data takes n exps and n "
        "logs, mixfit.estep._logistic)"
    )
    rows.append({"name": "estep/exp", "ratio": one_thread / exps})
    rows.append(arithmetic_floor(rows[0]["sklearn"]))
    rows.append(beta_vs_gaussian(200))
    rows.append(beta_vs_gaussian(1_000_000, rounds=3))
    rows.append(split_merge_cost())
    return rows


if __name__ == "__main__":
    main()
