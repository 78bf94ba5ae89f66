"""Fan-out: a large fit becomes one RQ job per K (or chunk of starts) plus a merge."""

import json
from pathlib import Path

import numpy as np
import pytest

from service import fanout, fits

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DATA = np.random.default_rng(5).normal(size=(400, 2)) * [1, 3] + np.repeat([[0, 0], [6, 0]], 200, 0)
REQUEST = {"data": DATA.tolist(), "k": [1, 2, 3], "n_starts": 6, "seed": 11, "covariance": "diag"}


def test_plan_splits_per_k_then_per_chunk_of_starts(app):
    with app.app_context():
        app.config.update(FANOUT_MIN_WORK=1000, FANOUT_PARTS=4)
        assert fanout.plan_parts([1], 10, 10) is None  # too little work
        assert fanout.plan_parts([1, 2, 3, 4, 5], 10, 1000) == [(k, 0, 10) for k in (5, 4, 3, 2, 1)]
        # finished K by K in a chain of jobs: the smallest K first, so the chain starts early
        chained = fanout.plan_parts([1, 2, 3, 4, 5], 10, 1000, chained=True)
        assert chained == [(k, 0, 10) for k in (1, 2, 3, 4, 5)]
        assert fanout.plan_parts([2, 3], 10, 1000) == [(3, 0, 5), (3, 5, 10), (2, 0, 5), (2, 5, 10)]
        assert fanout.plan_parts([3], 3, 1000) == [(3, 0, 1), (3, 1, 2), (3, 2, 3)]
        assert fanout.plan_parts([3], 1, 10**6) is None  # one start of one K cannot be split
        # K's split start (its last) needs K-1's final fit: no part runs it, the merge does.
        assert fanout.plan_parts([2, 3], 10, 1000, {2: None, 3: 9}) == [
            (3, 0, 4),
            (3, 4, 9),
            (2, 0, 5),
            (2, 5, 10),
        ]


def test_fanned_out_fit_merges_to_the_one_job_result(make_client, worker_proc, poll):
    one = make_client(FANOUT_MIN_WORK=10**15)
    many = make_client(FANOUT_MIN_WORK=0, FANOUT_PARTS=4)
    single = poll(one, one.post("/v1/fits", json=REQUEST).get_json()["id"])
    fanned = poll(many, many.post("/v1/fits", json=REQUEST).get_json()["id"])
    assert single["status"] == fanned["status"] == "finished", (single, fanned)

    assert len(single["parts"]) == 1 and single["parts"][0]["k"] == [1, 2, 3]
    parts = fanned["parts"]
    # K = 2 and 3 hold back their split start (index 5): the merge runs it.
    assert sorted((p["k"][0], tuple(p["starts"])) for p in parts) == [
        (1, (0, 3)),
        (1, (3, 6)),
        (2, (0, 2)),
        (2, (2, 5)),
        (3, (0, 2)),
        (3, (2, 5)),
    ]
    assert all(p["status"] == "finished" and p["worker"] for p in parts + single["parts"])
    # each K was finished by a job of its own, in a chain (worker.jobs.finish)
    with many.client.application.app_context():
        job = fits._fetch_job(fanned["id"])
        chain = fits._finish_jobs(job)
    assert [j.kwargs["k"] for j in chain] == [1, 2, 3]
    assert [j.kwargs["before"] for j in chain] == [[], [chain[0].id], [chain[0].id, chain[1].id]]
    assert all(j.get_status(refresh=False) == "finished" and j.worker_name for j in chain)
    assert job.kwargs["finishes"] == [j.id for j in chain]

    a, b = single["result"], fanned["result"]
    assert a["k_selected"] == b["k_selected"] and a["seed"] == b["seed"] == 11
    for ra, rb in zip(a["results"], b["results"], strict=True):
        assert ra["k"] == rb["k"] and ra["best_start"] == rb["best_start"]
        # 2-D data: a start's products are shared with the starts beside it
        # (mixfit.estep.OWN_PRODUCTS_MAX), so to rounding, not to the bit
        starts_a, starts_b = ([s["loglik"] for s in r["starts"]] for r in (ra, rb))
        assert starts_b == pytest.approx(starts_a, rel=1e-12)
        assert rb["loglik"] == pytest.approx(ra["loglik"], rel=1e-12)
        # K = 3's split-and-merge moves follow the 6 starts, the same in both (mixfit.smem)
        assert [s["start"] for s in rb["starts"]][:6] == list(range(6))
        assert [s["init"] for s in rb["starts"]] == [s["init"] for s in ra["starts"]]
    assert many.get(f"/v1/models/{fanned['model_id']}").status_code == 200


def test_a_k_asked_alone_fans_out_to_the_one_job_result(make_client, worker_proc, poll):
    """K = 4 of geyser's waiting times asked alone (seed 0): K = 3, which the one job fits for
    the growth moves (``mixfit.fit.parent_fit``), runs as parts too, and the merge finishes
    K = 4 with it (its growth moves, and the rescue draws of a K whose starts mostly
    degenerate, ``mixfit.finish.fitted_sparsely``); the parts' own maximum is -1153.74, and both
    reach -1149.74 from the same start. Progress shows K = 4 only."""
    doc = json.loads((FIXTURES / "mclust_wide" / "mclust_geyser_waiting.json").read_text())
    request = {"data": doc["x"], "k": 4, "seed": 0}
    one = make_client(FANOUT_MIN_WORK=10**15)
    many = make_client(FANOUT_MIN_WORK=0, FANOUT_PARTS=4)
    single = poll(one, one.post("/v1/fits", json=request).get_json()["id"])
    fanned = poll(many, many.post("/v1/fits", json=request).get_json()["id"])
    assert single["status"] == fanned["status"] == "finished", (single, fanned)
    assert sorted(p["k"][0] for p in fanned["parts"]) == [3, 3, 4, 4]
    with many.client.application.app_context():  # the progress a poll shows while it runs
        job = fits._fetch_job(fanned["id"])
        shown = fits._merged_progress(job, fits._part_jobs(job))
    assert shown["k_values"] == [4] and [entry["k"] for entry in shown["per_k"]] == [4]
    a, b = single["result"]["results"][0], fanned["result"]["results"][0]
    assert a["loglik"] == pytest.approx(-1149.738, abs=1e-3)
    assert b["loglik"] == a["loglik"]
    assert b["best_start"] == a["best_start"]
    assert b["starts"][b["best_start"]]["init"] == a["starts"][a["best_start"]]["init"]


@pytest.mark.parametrize("k", [5, {"min": 4, "max": 5}])
def test_a_k_below_k_minus_1_is_the_same_copy_fanned_out(make_client, worker_proc, poll, k):
    """MASS's geyser durations, Gaussian, seed 0: K = 5's own starts and moves end at -298.05,
    below K = 4's -261.75, and the fit reports K = 4's with a component copied
    (``mixfit.smem.never_below``): asked alone, against the K = 4 fitted for its moves (which
    the merge fits from parts), or in a grid; one job and four parts alike."""
    path = FIXTURES / "families_more" / "gamma_geyser_duration.json"
    request = {"data": json.loads(path.read_text())["x"], "k": k, "seed": 0}
    one = make_client(FANOUT_MIN_WORK=10**15)
    many = make_client(FANOUT_MIN_WORK=0, FANOUT_PARTS=4)
    single = poll(one, one.post("/v1/fits", json=request).get_json()["id"])
    fanned = poll(many, many.post("/v1/fits", json=request).get_json()["id"])
    assert single["status"] == fanned["status"] == "finished", (single, fanned)
    assert len(fanned["parts"]) >= 4  # (a grid from K = 4 fits K = 3 as parts too)
    a, b = single["result"]["results"][-1], fanned["result"]["results"][-1]
    assert a["k"] == b["k"] == 5
    assert a["loglik"] == pytest.approx(-261.747, abs=1e-3)
    assert b["loglik"] == a["loglik"]
    for r in (a, b):
        assert r["starts"][r["best_start"]]["init"] == "grow (copy of 3)" and r["message"]


def test_canceling_a_fanned_out_fit_cancels_every_part(make_client, worker_proc, poll):
    client = make_client(FANOUT_MIN_WORK=0)
    body = {
        "data": DATA.tolist(),
        "k": {"min": 1, "max": 6},
        "n_starts": 20,
        "max_iter": 10000,
        "tol": 1e-300,
        "tol_type": "absolute",
    }
    fit_id = client.post("/v1/fits", json=body).get_json()["id"]
    doc = client.delete(f"/v1/fits/{fit_id}").get_json()
    assert doc["status"] == "canceled"
    assert {p["status"] for p in doc["parts"]} <= {"canceled"}
    assert poll(client, fit_id)["status"] == "canceled"
    with client.client.application.app_context():
        chain = fits._finish_jobs(fits._fetch_job(fit_id))
    assert len(chain) == 6 and {j.get_status(refresh=True) for j in chain} == {"canceled"}


def test_a_failed_part_fails_the_chain_and_the_fit_with_its_reason(make_client, worker_proc, poll):
    """The parts of the larger Ks run out of time (a 1 s timeout; EM that never converges on
    3,000 points of noise) and fail; the finishing job of the last K fails too, and the fit
    reports the first failed part's reason."""
    client = make_client(FANOUT_MIN_WORK=0, JOB_TIMEOUT_MIN=1, JOB_SECONDS_PER_UNIT=0)
    data = np.random.default_rng(0).normal(size=(3000, 2)).tolist()
    body = {"data": data, "k": [1, 2, 3, 4], "n_starts": 50, "max_iter": 10_000}
    body |= {"tol": 1e-300, "tol_type": "absolute"}
    fit_id = client.post("/v1/fits", json=body).get_json()["id"]
    doc = poll(client, fit_id)
    assert doc["status"] == "failed", doc
    assert "JobTimeoutException" in doc["error"]["type"] + doc["error"]["message"], doc["error"]
    assert f"(in part {fit_id}-" in doc["error"]["message"]
    with client.client.application.app_context():
        chain = fits._finish_jobs(fits._fetch_job(fit_id))
    assert [j.kwargs["k"] for j in chain] == [1, 2, 3, 4]
    assert chain[-1].get_status(refresh=True) == "failed"


def test_unseeded_fits_get_a_seed_at_submission(client, worker_proc, poll):
    body = {"data": DATA[:, 0].tolist(), "k": 2}
    doc = poll(client, client.post("/v1/fits", json=body).get_json()["id"])
    seed = doc["result"]["seed"]
    assert doc["result"]["options"]["seed"] == seed
    again = poll(client, client.post("/v1/fits", json={**body, "seed": seed}).get_json()["id"])
    assert again["result"]["results"] == doc["result"]["results"]


def test_replicates_are_cut_into_at_least_fanout_parts(app):
    with app.app_context():
        app.config.update(FANOUT_PARTS=4)
        assert fanout.plan_replicates(10) == [(0, 2), (2, 5), (5, 8), (8, 10)]
        assert fanout.plan_replicates(10, steps=3) == [(0, 5), (5, 10)]  # 6 parts in all
        assert fanout.plan_replicates(10, steps=19) == [(0, 10)]
        assert fanout.plan_replicates(3) == [(0, 1), (1, 2), (2, 3)]
        app.config.update(FANOUT_PARTS=1)
        assert fanout.plan_replicates(999) == [(0, 999)]


def test_a_student_t_fit_is_finished_by_its_merge(make_client, worker_proc, poll):
    """A Student t fit fits the Gaussian grid of all its Ks once (``mixfit.fit.nested_fit``):
    its Ks are not finished one job each but by the merge, and fanned out it still gives the
    one job's result."""
    from mixfit.fit import finished_alone, parse_request

    assert finished_alone(parse_request({"k": [1, 2]}))
    assert not finished_alone(parse_request({"family": "student_t", "k": [1, 2]}))
    assert finished_alone(parse_request({"family": "student_t", "k": [1, 2], "split_merge": 0}))

    request = {"data": DATA[:, 0].tolist(), "family": "student_t", "k": [1, 2, 3], "seed": 4}
    request["n_starts"] = 4
    one = make_client(FANOUT_MIN_WORK=10**15)
    many = make_client(FANOUT_MIN_WORK=0, FANOUT_PARTS=4)
    single = poll(one, one.post("/v1/fits", json=request).get_json()["id"])
    fanned = poll(many, many.post("/v1/fits", json=request).get_json()["id"])
    assert single["status"] == fanned["status"] == "finished", (single, fanned)
    with many.client.application.app_context():
        assert fits._finish_jobs(fits._fetch_job(fanned["id"])) == []
    for a, b in zip(single["result"]["results"], fanned["result"]["results"], strict=True):
        assert b["loglik"] == a["loglik"]
