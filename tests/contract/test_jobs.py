"""The service<->worker job contract (``fitqueue.jobs``): written through models, failures read
one way."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from fitqueue.jobs import (
    BootstrapCombineArgs,
    BootstrapPartArgs,
    FitArgs,
    FitOutput,
    FitProgress,
    InferenceOutput,
    JobError,
    LRTPartOutput,
    LRTPlanArgs,
    PartOutput,
    ReplicatePlan,
    job_error,
    job_work,
)
from fitqueue.settings import Settings
from mixfit.em import run_k
from mixfit.fit import parse_request, prepare


def test_a_writer_slip_fails_where_it_is_made():
    with pytest.raises(ValidationError, match="extra"):
        FitArgs(fit_id="a", dataset_id="b", request={}, model_tll=5)  # a typo
    with pytest.raises(ValidationError):
        FitProgress.model_validate({"k_values": [1], "per_k": [{"k": 1, "state": "sleeping"}]})
    with pytest.raises(ValidationError):  # JSON has no NaN: a NaN never reaches a client
        PartOutput(k=2, starts=[0, 3], worker="w", seconds=float("nan"), result={})
    with pytest.raises(ValidationError):
        FitOutput(model_id="m", result={}, parts=[{"job_id": "j", "k": [1], "starts": [0]}])


def test_the_replicate_jobs_contract_fails_where_it_is_written():
    plan = {"lrt_id": "a", "dataset_id": "b", "options": {}, "k_min": 1, "max_k": 2, "nboot": 9}
    LRTPlanArgs(**plan, level=0.05, seed=0)
    with pytest.raises(ValidationError):
        LRTPlanArgs(**plan, level=1.5, seed=0)  # a level is a probability
    with pytest.raises(ValidationError):  # a bootstrap part never computes observed information
        BootstrapPartArgs(
            bootstrap_id="a",
            dataset_id="b",
            model={},
            options={},
            method="observed_information",
            seed=0,
            replicates=[0, 3],
        )
    BootstrapCombineArgs(
        bootstrap_id="a",
        dataset_id="b",
        model={},
        options={},
        method="observed_information",
        conf_level=0.95,
        seed=0,
        parts=[],
    )
    with pytest.raises(ValidationError):  # a NaN statistic never reaches the combining job
        LRTPartOutput(step=0, replicates=[0, 1], statistics=[float("nan")], worker="w", seconds=1)
    with pytest.raises(ValidationError):
        ReplicatePlan(job_id="j", step=0, replicates=[0])
    with pytest.raises(ValidationError, match="extra"):
        InferenceOutput(result={}, seconds=0.1, parts=[])


@pytest.mark.parametrize(
    ("meta", "text", "expected"),
    [
        (
            {"error": {"type": "FitError", "message": "k=3: too few points"}},
            "ignored",
            ("FitError", "k=3: too few points"),
        ),
        (
            {},
            "Traceback ...\n  File x\nrq.timeouts.JobTimeoutException: Task exceeded maximum "
            "timeout value (1 seconds)\n",
            ("JobTimeoutException", "Task exceeded maximum timeout value (1 seconds)"),
        ),
        ({}, "Traceback...\nrq.exceptions.AbandonedJobError: gone", ("AbandonedJobError", None)),
        (
            {},
            "Segmentation fault (core dumped)",
            ("WorkerError", "Segmentation fault (core dumped)"),
        ),
        ({}, None, ("WorkerError", "the fit failed")),
    ],
)
def test_a_failure_reads_the_same_for_the_service_and_the_merging_job(meta, text, expected):
    error = job_error(meta, text)
    assert isinstance(error, JobError)
    assert error.type == expected[0]
    if expected[1] is not None:
        assert error.message == expected[1]
    else:
        assert "submit the fit again" in error.message


def test_a_stop_reaches_a_fit_while_its_starts_are_screened(stop_at_first_report):
    x = np.random.default_rng(0).normal(size=500)
    problem = prepare(parse_request({"k": 4, "seed": 0}), x)
    with pytest.raises(stop_at_first_report.Stopped):
        run_k(problem, 4, stop_at_first_report)
    seen = stop_at_first_report.seen
    assert seen[0]["iteration"] == 0 and seen[0]["starts_done"] == 0  # still screening
    assert seen[0]["best_loglik"] is None and seen[0]["n_starts"] == 10


def test_the_work_estimate_grows_with_the_dimension():
    """``job_work``: 1-D counts points x components x starts; in d dimensions a component costs
    as its covariance does, so a small multivariate fit taking seconds forks a work horse."""
    inline = Settings().inline_max_work
    assert job_work(200, 1, 2, 10) == 4_000  # the page's K = 2 fit: in the worker process
    assert job_work(200, 1, 1 + 2 + 3 + 4, 10) <= inline  # its K = 1..4 grid too
    assert job_work(333, 1, 15, 10) <= inline < job_work(334, 1, 15, 10)  # K = 1..5 in 1-D
    assert job_work(100, 2, 15, 10) == 100 * 15 * 10 * 9 // 4
    # wine (n = 178, d = 13), K = 1..5: about 1 s of CPU, in a work horse
    assert job_work(178, 13, 15, 10) > inline
