"""The batched E-step (``mixfit.estep``): the K = 2 kernel of large data sets against the exact
one, where exp overflows one way, both ways, and with weights."""

from __future__ import annotations

import numpy as np
import pytest

from mixfit import estep
from mixfit.estep import Batch


def natural(mu: np.ndarray, sd: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-D Gaussian starts (S, 2) as (eta (S, 2, 2), bias (S, 2)) on T = [x, x^2]."""
    var = sd**2
    eta = np.stack([mu / var, -0.5 / var], axis=-1)
    bias = np.log(w) - 0.5 * mu**2 / var - 0.5 * np.log(var)
    return eta, bias


def exact(batch: Batch, eta: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per start, from the per-point log-likelihoods and responsibilities."""
    lls, stats = [], []
    for s in range(eta.shape[0]):
        ll, resp = batch.point_loglik(eta[s], bias[s])
        lls.append(ll.sum())
        stats.append(resp.T @ batch.TT.T)
    return np.asarray(lls), np.asarray(stats)


@pytest.mark.parametrize(
    ("case", "mu", "sd", "paths"),
    [
        (
            "overlapping",
            [[0.0, 1.0], [-1.0, 3.0], [2.0, 2.5]],
            [[1.0, 1.5], [0.7, 2.0], [1, 1]],
            (1, 0),
        ),
        # a narrow component: exp(L0 - L1) overflows far from it, swapped it does not
        ("narrow second", [[0.0, 2.0], [1.0, 0.0]], [[2.0, 0.01], [3.0, 0.02]], (2, 0)),
        ("narrow first", [[2.0, 0.0], [0.0, 1.0]], [[0.01, 2.0], [0.02, 3.0]], (1, 0)),
        # two narrow components far apart: both orientations overflow (the exact kernel)
        ("both narrow", [[-3.0, 3.0], [0.0, 1.0]], [[0.01, 0.01], [0.05, 0.01]], (2, 1)),
    ],
)
def test_two_component_kernel_of_large_data_is_the_exact_one(
    case, mu, sd, paths, monkeypatch
) -> None:
    """``paths``: logistic passes and exact-kernel passes per chunk."""
    calls = {"logistic": 0, "exact": 0}
    logistic, chunk = estep._logistic, Batch._chunk

    def count(name, fn):
        def wrapped(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(estep, "_logistic", count("logistic", logistic))
    monkeypatch.setattr(Batch, "_chunk", count("exact", chunk))
    rng = np.random.default_rng(4)
    n = 20_000  # several chunks: the large-data path
    x = np.where(rng.random(n) < 0.5, rng.normal(-2, 1, n), rng.normal(2, 1, n))
    batch = Batch(np.column_stack([x, x * x]), None)
    assert len(batch._chunks(2, logistic=True)) > 1
    mu, sd = np.asarray(mu), np.asarray(sd)
    eta, bias = natural(mu, sd, np.full(mu.shape, 0.5))
    ll, stats = batch.estep(eta, bias)
    want_ll, want_stats = exact(batch, eta, bias)
    assert np.all(np.isfinite(ll)) and np.all(np.isfinite(stats))
    np.testing.assert_allclose(ll, want_ll, rtol=1e-12)
    # component sums to 1e-12 of the data's sums (a difference, by design), counts >= 0 - 1e-9
    scale = np.abs(batch.TT).sum(axis=1)
    np.testing.assert_allclose(stats / scale, want_stats / scale, rtol=0, atol=1e-12)
    assert stats[..., 0].min() > -1e-9
    chunks = len(batch._chunks(2, logistic=True))
    assert (calls["logistic"], calls["exact"]) == (paths[0] * chunks, paths[1] * chunks)


def test_weighted_and_small_data_keep_the_exact_kernel() -> None:
    """Point weights, and a data set of one chunk, take the branch-free kernel: its bits are
    what the normalmixEM reproduction checks."""
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, 20_000)
    eta, bias = natural(np.array([[-0.5, 0.5]]), np.array([[1.0, 1.0]]), np.array([[0.5, 0.5]]))
    weighted = Batch(np.column_stack([x, x * x]), rng.uniform(0.5, 2.0, x.size))
    ll, stats = weighted.estep(eta, bias)
    lls, resp = weighted.point_loglik(eta[0], bias[0])
    np.testing.assert_allclose(ll[0], lls @ weighted.w, rtol=1e-12)
    np.testing.assert_allclose(stats[0], (resp * weighted.w[:, None]).T @ weighted.TT.T, rtol=1e-11)
    small = Batch(np.column_stack([x[:500], x[:500] ** 2]), None)
    assert len(small._chunks(2)) == 1
    ll, stats = small.estep(eta, bias)
    want_ll, want_stats = exact(small, eta, bias)
    np.testing.assert_allclose(ll, want_ll, rtol=1e-13)
    np.testing.assert_allclose(stats, want_stats, rtol=1e-12)


@pytest.mark.parametrize("n", [200, 5000])
def test_a_start_whose_products_overflow_has_a_non_finite_log_likelihood_quietly(n) -> None:
    """Natural parameters of 1e306 against statistics of 300 overflow eta . T (found by
    fuzzing an LRT: a Gamma replicate's start drawn from extreme shapes): that start's
    log-likelihood is not finite, which the engine drops as degenerate, and numpy's overflow
    warning (an error under this suite) is not raised; the other start is untouched."""
    T = np.random.default_rng(0).uniform(1.0, 300.0, (n, 2))
    batch = Batch(T, None)
    eta = np.array([[[-1e306, 1e306], [-1.0, 0.5]], [[-1.0, 0.5], [-2.0, 1.0]]])
    bias = np.zeros((2, 2))
    ll, _ = batch.estep(eta, bias)
    assert not np.isfinite(ll[0]) and np.isfinite(ll[1])
    alone, _ = batch.estep(eta[1:], bias[1:])
    assert ll[1] == alone[0]


@pytest.mark.parametrize("c", [3, 8, 61, 6144])
def test_sum_of_logs_by_block_products_is_the_sum_of_logs_where_blocks_underflow(c) -> None:
    """``_sum_log_unit``: rows of values in (0, 1] from 1 down to 1e-300 (blocks of 8 whose
    product falls below the smallest normal double are taken value by value), widths below,
    at and off a multiple of 8; a 0 gives -inf in its row only."""
    rng = np.random.default_rng(c)
    r = 10.0 ** -rng.uniform(0, np.array([[0.1], [5], [40], [300]]), (4, c))
    want = np.log(r).sum(axis=1)
    got = estep._sum_log_unit(r)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    products = np.multiply.reduce(r[:, : c - c % 8].reshape(4, 8, c // 8), axis=1)
    assert c < 8 or (products[3] < np.finfo(float).tiny).any()  # the value-by-value path ran
    r[1, -1] = 0.0
    with np.errstate(divide="ignore"):
        got = estep._sum_log_unit(r)
    assert got[1] == -np.inf and np.isfinite(got[[0, 2, 3]]).all()
