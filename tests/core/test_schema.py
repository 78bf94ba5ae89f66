"""The request schema: what it accepts, what it refuses, and how it says so."""

import pytest
from pydantic import ValidationError

from mixfit import BetaFitRequest, FitRequest, GaussianFitRequest
from mixfit.schema import MAX_K, MAX_STARTS


def parse(body: dict):
    return FitRequest.model_validate(body).root


def errors(body: dict) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        parse(body)
    return info.value.errors(include_url=False, include_input=False)


def test_family_defaults_to_gaussian_and_selects_the_member():
    assert isinstance(parse({}), GaussianFitRequest)
    assert isinstance(parse({"family": "beta"}), BetaFitRequest)


def test_unknown_family_is_one_clear_error():
    errs = errors({"family": "weibull"})
    assert len(errs) == 1 and "gaussian" in errs[0]["msg"]


def test_unknown_fields_are_refused():
    errs = errors({"k": 2, "n_components": 3})
    assert errs[0]["type"] == "extra_forbidden" and errs[0]["loc"] == ("gaussian", "n_components")


def test_family_specific_options_do_not_cross_over():
    assert errors({"family": "beta", "covariance": "full"})[0]["type"] == "extra_forbidden"
    assert errors({"family": "gaussian", "boundary": "clip"})[0]["type"] == "extra_forbidden"
    assert errors({"family": "gaussian", "init": "moments"})


@pytest.mark.parametrize(
    "family", ["gaussian", "beta", "gamma", "lognormal", "poisson", "student_t"]
)
def test_auto_is_refused_inside_a_list_of_methods(family):
    """A list cycles start methods; ``auto`` is the whole portfolio (it reached the start
    drawing as a method name and raised ValueError there: a fuzz of the core found it)."""
    errs = errors({"family": family, "init": ["quantile", "auto"]})
    assert len(errs) == 1 and "init 'auto' stands alone" in errs[0]["msg"]
    assert parse({"family": family, "init": ["quantile", "kmeans++"]}).init == [
        "quantile",
        "kmeans++",
    ]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_numbers_are_refused(value):
    errs = errors({"data": [1.0, value, 2.0]})
    assert any(e["type"] == "finite_number" for e in errs)


def test_json_nan_tokens_are_refused():
    with pytest.raises(ValidationError):
        FitRequest.model_validate_json('{"data": [1, NaN, 2]}')
    with pytest.raises(ValidationError):
        FitRequest.model_validate_json('{"tol": Infinity}')


def test_ragged_rows_and_weight_length():
    assert "same" in errors({"data": [[1, 2], [3]]})[0]["msg"]
    assert "weights" in errors({"data": [1, 2, 3], "weights": [1, 2]})[0]["msg"]


@pytest.mark.parametrize(
    ("k", "expected"),
    [(3, [3]), ([4, 2, 2], [2, 4]), ({"min": 1, "max": 3}, [1, 2, 3])],
)
def test_k_forms(k, expected):
    assert parse({"k": k}).k_values() == expected


def test_k_default_is_one_to_five():
    assert parse({}).k_values() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "body",
    [
        {"k": 0},
        {"k": MAX_K + 1},
        {"k": {"min": 4, "max": 2}},
        {"n_starts": MAX_STARTS + 1},
        {"max_iter": 0},
        {"tol": 0},
        {"tol_type": "loose"},
        {"criterion": "hqc"},
        {"weights": [1, -1]},
    ],
)
def test_out_of_range_options(body):
    assert errors(body)


def test_explicit_start_defines_k_and_one_start():
    req = parse({"init": {"weights": [0.5, 0.5], "means": [0, 4], "sds": [1, 1]}})
    assert req.k_values() == [2] and req.starts_per_k() == 1
    assert (
        "one start"
        in errors({"n_starts": 5, "init": {"weights": [0.5, 0.5], "means": [0, 4], "sds": [1, 1]}})[
            0
        ]["msg"]
    )
    assert (
        "k must be 2"
        in errors({"k": 3, "init": {"weights": [0.5, 0.5], "means": [0, 4], "sds": [1, 1]}})[0][
            "msg"
        ]
    )


@pytest.mark.parametrize(
    ("start", "says"),
    [
        ({"weights": [1.0], "means": [0]}, "1-D start values need 'sds' (standard deviations)"),
        ({"weights": [1.0], "means": [0], "covariances": [[[1]]]}, "not 'covariances'"),
        ({"weights": [1.0], "means": [[0, 0]]}, "start values need 'covariances'"),
        ({"weights": [1.0], "means": [[0, 0]], "sds": [1]}, "need 'covariances', not 'sds'"),
    ],
)
def test_a_gaussian_start_names_what_it_lacks(start, says):
    """The message names what is missing, and what is wrong only when it was given."""
    messages = [e["msg"] for e in errors({"init": start})]
    assert any(says in m for m in messages), messages
    if "not '" not in says:
        assert not any("not '" in m for m in messages), messages


@pytest.mark.parametrize(
    "start",
    [
        {"weights": [0.5, 0.6], "means": [0, 4], "sds": [1, 1]},
        {"weights": [0.5, 0.5], "means": [0], "sds": [1, 1]},
        {"weights": [0.5, 0.5], "means": [0, 4], "sds": [1, 1, 1]},
        {"weights": [0.5, 0.5], "means": [0, 4], "sds": [1, -1]},
        {"weights": [0.5, 0.5], "means": [0, 4]},
        {"weights": [0.5, 0.5], "means": [[0, 0], [1, 1]], "covariances": [[[1, 0], [0, 1]]]},
    ],
)
def test_inconsistent_gaussian_start_values(start):
    assert errors({"init": start})


def test_beta_start_values():
    req = parse({"family": "beta", "init": {"weights": [1.0], "alphas": [2], "betas": [3]}})
    assert req.k_values() == [1]
    assert errors({"family": "beta", "init": {"weights": [1.0], "alphas": [2], "betas": []}})
