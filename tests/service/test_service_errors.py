"""One test per bad input: its status code and its message. Every answer is also checked against
openapi.yaml by the client fixture."""

from __future__ import annotations

import gzip
import io
import json
import uuid

import numpy as np
import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from fitqueue import keys

JSON = {"Content-Type": "application/json"}
GOOD = [0.1, 0.3, 0.2, 2.2, 2.5, 2.4, 2.6, 0.15]


@pytest.fixture()
def app_config(app_config):
    """This module's app refuses bodies over 4 KiB (413)."""
    return {**app_config, "MAX_CONTENT_LENGTH": 4096}


def post_fit(client, body: str | bytes, **kwargs):
    return client.post("/v1/fits", data=body, headers={**JSON, **kwargs.pop("headers", {})})


# -- 400 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ['{"data": [1, 2', "", "{'data': [1]}", '{"data": [1,]}'])
def test_malformed_json_is_400(client, body) -> None:
    error = client.error(post_fit(client, body), 400)
    assert error["message"].startswith("malformed JSON")


def test_malformed_json_dataset_and_score_are_400(client) -> None:
    response = client.post("/v1/datasets", data="[1, 2", headers=JSON)
    assert client.error(response, 400)["message"].startswith("malformed JSON")


@pytest.mark.parametrize("key", ["has space", "", "k" * 256, "caf\u00e9"])
def test_bad_idempotency_key_is_400(client, key) -> None:
    """A key is 1 to 255 visible ASCII characters."""
    response = post_fit(client, '{"data": [1, 2, 3]}', headers={"Idempotency-Key": key})
    assert "Idempotency-Key" in client.error(response, 400)["message"]


def test_an_idempotency_key_of_255_visible_characters_is_taken(client) -> None:
    key = ("!~" + uuid.uuid4().hex * 8)[:255]
    first = post_fit(client, '{"data": [1, 2, 3]}', headers={"Idempotency-Key": key})
    again = post_fit(client, '{"data": [1, 2, 3]}', headers={"Idempotency-Key": key})
    assert first.status_code == 202 and again.get_json()["id"] == first.get_json()["id"]


# -- 422: the request model ------------------------------------------------------------------


def test_at_most_50_validation_errors_are_listed(client) -> None:
    """Every bad point is an error; the answer lists the first 50 and counts them all."""
    body = json.dumps({"data": ["x"] * 80})
    error = client.error(post_fit(client, body), 422)
    assert error["detail"]["error_count"] >= 80
    assert len(error["detail"]["errors"]) == 50


def test_unknown_field_is_422(client) -> None:
    error = client.error(post_fit(client, '{"data": [1, 2, 3], "bogus": 1}'), 422)
    assert error["message"] == "bogus: Extra inputs are not permitted"
    assert error["detail"]["errors"][0]["type"] == "extra_forbidden"
    assert "input" not in error["detail"]["errors"][0]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_data_is_422(client, token) -> None:
    error = client.error(post_fit(client, f'{{"data": [1, {token}, 3]}}'), 422)
    assert error["message"].startswith("data.1: Input should be a finite number")
    assert error["detail"]["error_count"] >= 1


def test_auto_among_init_methods_is_422(client) -> None:
    error = client.error(post_fit(client, '{"data": [1, 2, 3], "init": ["hc", "auto"]}'), 422)
    assert "init 'auto' stands alone" in error["message"]


def test_non_finite_option_is_422(client) -> None:
    error = client.error(post_fit(client, '{"data": [1, 2, 3], "tol": NaN}'), 422)
    assert error["message"] == "tol: Input should be a finite number"


def test_non_finite_dataset_is_422(client) -> None:
    response = client.post("/v1/datasets", data='{"data": [[1, 2], [Infinity, 3]]}', headers=JSON)
    assert "finite number" in client.error(response, 422)["message"]


def test_non_finite_csv_is_422(client) -> None:
    response = client.post("/v1/datasets", data="x\n1\nnan\n3\n", content_type="text/csv")
    assert "NaN or infinite" in client.error(response, 422)["message"]


def test_ragged_rows_are_422(client) -> None:
    error = client.error(post_fit(client, '{"data": [[1, 2], [3]]}'), 422)
    assert "data rows must all have the same, non-zero length" in error["message"]


def test_ragged_dataset_is_422(client) -> None:
    response = client.post("/v1/datasets", data='{"data": [[1, 2], [3]]}', headers=JSON)
    assert "same, non-zero length" in client.error(response, 422)["message"]


def test_ragged_csv_is_422(client) -> None:
    response = client.post("/v1/datasets", data="1,2\n3,4\n5\n", content_type="text/csv")
    assert (
        client.error(response, 422)["message"]
        == "CSV line 3 has 1 values; expected 2 like the first"
    )


def test_three_dimensional_data_is_422(client) -> None:
    error = client.error(post_fit(client, '{"data": [[[1]], [[2]]]}'), 422)
    assert error["message"].startswith("data.0.0: Input should be a valid number")


def test_wrong_weights_length_is_422(client) -> None:
    error = client.error(post_fit(client, '{"data": [1, 2, 3], "weights": [1, 1]}'), 422)
    assert "weights has 2 entries but data has 3 points" in error["message"]


def test_wrong_score_dimension_is_422(client, finished_fit) -> None:
    response = client.post(
        f"/v1/models/{finished_fit['model_id']}/score", json={"points": [[1.0, 2.0]]}
    )
    assert client.error(response, 422)["message"] == (
        "points have 2 dimension(s) but the model has 1"
    )


def test_nan_score_points_are_422(client, finished_fit) -> None:
    response = client.post(
        f"/v1/models/{finished_fit['model_id']}/score",
        data='{"points": [1.0, NaN]}',
        headers=JSON,
    )
    assert client.error(response, 422)["message"].startswith("points.1: Input should be a finite")


def test_wait_out_of_range_is_422(client, finished_fit) -> None:
    response = client.get(f"/v1/fits/{finished_fit['id']}?wait=31")
    assert client.error(response, 422)["message"] == (
        "wait: Input should be less than or equal to 30"
    )


# -- 422: the data do not fit the request (the core's FitError) ------------------------------


def test_fewer_points_than_components_is_422(client) -> None:
    error = client.error(post_fit(client, '{"data": [1.0, 2.0], "k": 3}'), 422)
    assert (
        error["message"] == "2 point(s) cannot fit 3 components; ask for k <= 2 or send more data"
    )


def test_constant_data_is_422(client) -> None:
    error = client.error(post_fit(client, '{"data": [1.0, 1.0, 1.0], "k": 1}'), 422)
    assert "data are constant" in error["message"]


def test_values_outside_beta_support_are_422(client) -> None:
    body = '{"family": "beta", "data": [0.2, 0.5, 1.5, 0.7], "k": 1}'
    error = client.error(post_fit(client, body), 422)
    assert error["message"] == "1 point(s) lie outside [0, 1]; the beta family's support is (0, 1)"


def test_values_on_the_beta_boundary_are_422(client) -> None:
    body = '{"family": "beta", "data": [0.2, 0.5, 1.0, 0.7], "k": 1}'
    error = client.error(post_fit(client, body), 422)
    assert "send boundary='squeeze' or boundary='clip'" in error["message"]


def test_unknown_family_is_422(client) -> None:
    error = client.error(post_fit(client, '{"family": "weibull", "data": [1, 2]}'), 422)
    assert error["message"] == (
        "body: family must be one of 'gaussian', 'beta', 'poisson', 'gamma', 'lognormal', "
        "'student_t'"
    )


def test_unknown_dataset_id_in_a_fit_is_422(client) -> None:
    body = '{"dataset_id": "' + "ab" * 32 + '", "k": 1}'
    error = client.error(post_fit(client, body), 422)
    assert error["message"].startswith(f"dataset {'ab' * 32} does not exist")


def test_no_data_is_422(client) -> None:
    error = client.error(post_fit(client, '{"k": 2}'), 422)
    assert "send the data inline" in error["message"]


def test_pickled_npy_is_refused(client) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    response = client.post("/v1/datasets", data=buffer.getvalue(), content_type="application/x-npy")
    assert "must hold integers or floats, not object" in client.error(response, 422)["message"]


def _npy_header(shape: tuple[int, ...], fortran: bool = False) -> bytes:
    text = f"{{'descr': '<f8', 'fortran_order': {fortran}, 'shape': {shape}, }}"
    text += " " * (63 - (10 + len(text)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode()


@pytest.mark.parametrize("shape", [(10**11,), (10**11, 2), (4,)])
def test_an_npy_header_that_declares_other_bytes_than_follow_is_422(client, shape) -> None:
    """numpy sets aside the declared shape before it reads: a 100-byte body declaring 1e11
    values raised a MemoryError, a 500. The header is checked against the bytes that follow."""
    for fortran in (False, True):
        body = _npy_header(shape, fortran) + b"\0" * 8
        response = client.post("/v1/datasets", data=body, content_type="application/x-npy")
        message = client.error(response, 422)["message"]
        assert f"declares shape {shape}" in message and "but 8 bytes follow it" in message


def test_a_broken_npy_header_is_422_in_plain_words(client) -> None:
    body = b"\x93NUMPY\x01\x00\x10\x00{'descr': x}    \n"
    response = client.post("/v1/datasets", data=body, content_type="application/x-npy")
    error = client.error(response, 422)
    assert error["message"] == "the body is not a valid .npy file (its header cannot be read)"


def test_weights_beside_a_dataset_id_are_422_not_ignored(client) -> None:
    """An upload carries its weights; a fit that names it and sends others had them dropped."""
    upload = client.post("/v1/datasets", json={"data": [float(v) for v in range(40)]})
    assert upload.status_code in (200, 201)
    body = {"dataset_id": upload.get_json()["id"], "k": 2, "weights": [1.0, 2.0]}
    error = client.error(post_fit(client, json.dumps(body)), 422)
    assert "carries its own weights" in error["message"]


def test_a_start_covariance_that_is_not_positive_definite_is_422_at_submit(client) -> None:
    """It was accepted (202) and the fit failed in the worker."""
    data = np.random.default_rng(0).normal(size=(70, 2)).tolist()
    for bad in ([[1.0, 2.0], [2.0, 1.0]], [[1.0, 0.5], [0.0, 1.0]]):
        start = {"weights": [0.5, 0.5], "means": [[0, 0], [5, 5]], "covariances": [bad, bad]}
        error = client.error(post_fit(client, json.dumps({"data": data, "init": start})), 422)
        assert "start covariance 0 is not symmetric positive definite" in error["message"]


@pytest.mark.parametrize(
    ("family", "start", "said"),
    [
        (  # t scales as numbers beside 2-D means: a raw LinAlgError in the worker
            "student_t",
            {"weights": [0.5, 0.5], "means": [[0, 0], [5, 5]], "scales": [1, 1]},
            "need 2 scale matrices of 2x2",
        ),
        (
            "student_t",
            {"weights": [0.5, 0.5], "means": [[0, 0], [5, 5]], "scales": [[[1, 2], [2, 1]]] * 2},
            "start scale 0 is not symmetric positive definite",
        ),
        (  # 1-D start values for 2-D data: failed in the worker
            "gaussian",
            {"weights": [0.5, 0.5], "means": [0, 5], "sds": [1, 1]},
            "start means have dimension 1 but the data have 2",
        ),
        (
            "student_t",
            {"weights": [0.5, 0.5], "means": [0, 5], "scales": [1, 1]},
            "start means have dimension 1 but the data have 2",
        ),
        (  # a variance past float64's range: overflowed in the worker (found by fuzzing)
            "gaussian",
            {"weights": [1.0], "means": [[0, 0]], "covariances": [[[1e300, 0], [0, 1]]]},
            "start values leave float64's range in the data's standardized units",
        ),
        (
            "student_t",
            {"weights": [1.0], "means": [[1e300, 0]], "scales": [[[1, 0], [0, 1]]]},
            "start values leave float64's range in the data's standardized units",
        ),
    ],
)
def test_start_values_that_cannot_fit_the_data_are_422_at_submit(client, family, start, said):
    """Every family's explicit start values are checked against the data before the fit is
    queued; they were accepted (202) and failed in the worker, some with raw numpy errors."""
    data = np.random.default_rng(0).normal(size=(70, 2)).tolist()
    body = {"data": data, "family": family, "init": start}
    assert said in client.error(post_fit(client, json.dumps(body)), 422)["message"]


def test_one_d_t_start_scales_must_be_numbers(client) -> None:
    start = {"weights": [0.5, 0.5], "means": [0, 5], "scales": [[[1.0]], [[1.0]]]}
    body = {"data": list(range(20)), "family": "student_t", "init": start}
    message = client.error(post_fit(client, json.dumps(body)), 422)["message"]
    assert "1-D start values need one scale value per component" in message


def test_explicit_start_values_are_told_what_is_wrong_with_them(client) -> None:
    """``init`` is a method name, a list of them or start values: start values whose weights
    do not sum to 1 were answered with the method names' complaint."""
    start = {"weights": [0.5, 0.2], "means": [0, 6], "sds": [1, 1]}
    body = {"data": [float(v) for v in range(10)], "k": 2, "init": start}
    error = client.error(post_fit(client, json.dumps(body)), 422)
    assert "start weights must sum to 1 (they sum to 0.7)" in error["message"]


@pytest.mark.parametrize("cell", ["1_000", "\u0661\u0662", "\uff11\uff12", "0x10"])
def test_a_csv_cell_is_a_number_only_in_ascii_decimals(client, cell) -> None:
    """Python's float() reads "1_000" and other scripts' digits; no CSV writer means them as
    numbers, and they were read as values (or, in the first row, made it a header)."""
    response = client.post("/v1/datasets", data=f"x\n1\n{cell}\n", content_type="text/csv")
    message = client.error(response, 422)["message"]
    assert message == f"CSV line 3, column 1: {cell!r} is not a number"


def test_a_json_body_may_begin_with_a_byte_order_mark(client) -> None:
    """RFC 8259 lets a parser ignore it; CSV bodies already did."""
    body = "\ufeff" + json.dumps({"data": [1.0, 2.0, 3.5]})
    response = client.post("/v1/datasets", data=body.encode(), content_type="application/json")
    assert response.status_code in (200, 201), response.get_json()


def test_non_numeric_csv_cell_is_422(client) -> None:
    response = client.post("/v1/datasets", data="x\n1\ntwo\n", content_type="text/csv")
    assert client.error(response, 422)["message"] == "CSV line 3, column 1: 'two' is not a number"


# -- 413, 415 --------------------------------------------------------------------------------


def test_oversized_body_is_413(client) -> None:
    body = '{"data": [' + ", ".join(["1.5"] * 2000) + "]}"
    error = client.error(post_fit(client, body), 413)
    assert "too large" in error["message"].lower() or "exceeds" in error["message"].lower()


def test_oversized_dataset_is_413(client) -> None:
    response = client.post("/v1/datasets", data="1\n" * 5000, content_type="text/csv")
    client.error(response, 413)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_fit_wrong_content_type_is_415(client, content_type) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/v1/fits", data='{"data": [1, 2, 3]}', headers=headers)
    error = client.error(response, 415)
    assert error["message"].startswith("send the body as application/json (Content-Type)")


def test_dataset_wrong_content_type_is_415(client) -> None:
    response = client.post("/v1/datasets", data="<data/>", content_type="application/xml")
    error = client.error(response, 415)
    assert "application/json, text/csv, application/x-npy" in error["message"]


def test_score_wrong_content_type_is_415(client) -> None:
    response = client.post(f"/v1/models/{'0' * 32}/score", data="1,2", content_type="text/csv")
    client.error(response, 415)


# -- 404, 410 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/fits/{'0' * 32}",
        f"/v1/models/{'0' * 32}",
        f"/v1/datasets/{'0' * 64}",
        "/v1/fits/not-an-id",
        "/v1/models/NOTHEX",
    ],
)
def test_unknown_id_is_404(client, path) -> None:
    error = client.error(client.get(path), 404)
    assert error["message"].startswith("no ") and "with id" in error["message"]


@pytest.mark.parametrize(
    "path", [f"/v1/fits/{'0' * 32}", f"/v1/models/{'0' * 32}", f"/v1/datasets/{'0' * 64}"]
)
def test_deleting_an_unknown_id_is_404(client, path) -> None:
    client.error(client.delete(path), 404)


def test_unknown_model_score_is_404(client) -> None:
    response = client.post(f"/v1/models/{'0' * 32}/score", json={"points": [1.0]})
    client.error(response, 404)


def test_expired_fit_is_410(client, finished_fit, redis_client) -> None:
    # What Redis does when RESULT_TTL runs out: the RQ job and its results go, the record stays.
    Job.fetch(finished_fit["id"], connection=redis_client, serializer=JSONSerializer).delete()
    error = client.error(client.get(f"/v1/fits/{finished_fit['id']}"), 410)
    assert error["message"] == f"fit {finished_fit['id']} has expired; its result is no longer kept"
    client.error(client.delete(f"/v1/fits/{finished_fit['id']}"), 410)


def test_expired_model_is_410(client, finished_fit, redis_client) -> None:
    model_id = finished_fit["model_id"]
    redis_client.delete(keys.model(model_id))  # as MODEL_TTL running out would
    error = client.error(client.get(f"/v1/models/{model_id}"), 410)
    assert error["message"] == f"model {model_id} has expired or was deleted"
    client.error(client.post(f"/v1/models/{model_id}/score", json={"points": [1.0]}), 410)


def test_expired_dataset_is_410(client, redis_client) -> None:
    data = np.random.default_rng().normal(size=20).tolist()
    dataset = client.post("/v1/datasets", json={"data": data}).get_json()
    redis_client.delete(keys.dataset(dataset["id"]))  # as DATASET_TTL running out would
    error = client.error(client.get(f"/v1/datasets/{dataset['id']}"), 410)
    assert error["message"] == f"dataset {dataset['id']} has expired or was deleted"
    body = '{"dataset_id": "' + dataset["id"] + '", "k": 1}'
    assert "has expired or was deleted" in client.error(post_fit(client, body), 422)["message"]


# -- 409 -------------------------------------------------------------------------------------


def test_cancelling_a_finished_fit_is_409(client, finished_fit) -> None:
    error = client.error(client.delete(f"/v1/fits/{finished_fit['id']}"), 409)
    assert error["message"] == (
        f"fit {finished_fit['id']} has already ended (finished); nothing to cancel"
    )


def test_idempotency_key_with_another_body_is_409(client) -> None:
    key = uuid.uuid4().hex
    first = post_fit(client, '{"data": [1, 2, 3, 4], "k": 1}', headers={"Idempotency-Key": key})
    assert first.status_code == 202
    again = post_fit(client, '{"data": [1, 2, 3, 5], "k": 1}', headers={"Idempotency-Key": key})
    assert "different request body" in client.error(again, 409)["message"]


# -- 503 -------------------------------------------------------------------------------------


def test_redis_unreachable_is_503(make_client) -> None:
    from devstack import free_port

    client = make_client(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", REDIS_TIMEOUT=1)
    for response in (
        client.get(f"/v1/fits/{'0' * 32}"),
        client.post("/v1/datasets", json={"data": [1.0, 2.0]}),
        post_fit(client, '{"data": [1, 2, 3], "k": 1}'),
        client.get("/readyz"),
    ):
        error = client.error(response, 503)
        assert error["message"] == "the queue store (Redis) is unavailable; retry later"


def test_redis_full_is_503(make_client, tmp_path) -> None:
    from redis import Redis

    import devstack

    proc, url = devstack.start_redis(tmp_path, port=devstack.free_port(), appendonly=False)
    try:
        admin = Redis.from_url(url)
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", 1)  # every write is now refused with OOM
        admin.close()
        client = make_client(REDIS_URL=url)
        response = client.post("/v1/datasets", json={"data": [1.0, 2.0, 3.0]})
        error = client.error(response, 503)
        assert error["message"] == "the queue store (Redis) is full; retry later"
    finally:
        devstack.stop([proc])


def test_healthz_needs_no_redis(make_client) -> None:
    from devstack import free_port

    client = make_client(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_octet_stream_is_npy_only_when_it_is_one(client) -> None:
    """Generic bytes are read as .npy when they begin with its magic bytes; a CSV sent without
    its type is told so (415), not that its .npy header is broken."""
    buffer = io.BytesIO()
    np.save(buffer, np.array([0.5, 1.5, 2.5]))
    stored = client.post(
        "/v1/datasets", data=buffer.getvalue(), content_type="application/octet-stream"
    )
    assert stored.status_code in (200, 201) and stored.get_json()["n"] == 3
    response = client.post(
        "/v1/datasets", data=b"1\n2\n3\n", content_type="application/octet-stream"
    )
    message = client.error(response, 415)["message"]
    assert "magic bytes" in message and "text/csv" in message


@pytest.mark.parametrize("route", ["/v1/datasets", "/v1/fits"])
def test_a_compressed_body_is_415_naming_the_coding(client, route) -> None:
    """Compressed bytes read as they came would fail as broken JSON (or parse as something
    else): a Content-Encoding is refused by name (RFC 9110 section 8.4.1)."""
    body = gzip.compress(json.dumps({"data": [1.0, 2.0, 3.0, 4.0], "k": 1}).encode())
    response = client.post(
        route, data=body, content_type="application/json", headers={"Content-Encoding": "gzip"}
    )
    assert "Content-Encoding 'gzip' is not accepted" in client.error(response, 415)["message"]
    plain = client.post(
        "/v1/datasets",
        json={"data": [1.0, 2.0]},
        headers={"Content-Encoding": "identity"},
    )
    assert plain.status_code in (200, 201)


def test_data_at_the_caps_get_a_finite_summary_not_a_422(client) -> None:
    """Values of 1e150 squared (times weights of 1e9) overflowed the summary's sd to inf, and
    the answer was a 422 about ``sd``, a field the client never sent."""
    for body in (
        {"data": [1e150, -1e150, 0.0], "weights": [1e9, 1e9, 1.0]},
        {"data": [[1e150, 1.0], [-1e150, 2.0], [0.0, 3.0]]},
    ):
        response = client.post("/v1/datasets", json=body)
        assert response.status_code == 201, response.get_json()
        summary = response.get_json()["summary"]
        assert summary["sd"][0] == pytest.approx(1e150 * np.sqrt(2 / 3), rel=1e-3) or (
            summary["sd"][0] == pytest.approx(1e150 * np.sqrt(2e9 / (2e9 + 1)), rel=1e-6)
        )
    fit = client.post("/v1/fits", json={"data": [1e150, -1e150, 0.0, 1.0], "k": 1})
    assert fit.status_code == 202, fit.get_json()


def test_locations_name_fields_not_union_members(client) -> None:
    """``k`` is a number, a list or a range: its complaint was located at ``k.constrained-int``,
    pydantic's tag for the union member, not a field the client can find."""
    error = client.error(post_fit(client, '{"data": [1.0, 2.0, 3.0], "k": 0}'), 422)
    assert error["message"].startswith("k: "), error["message"]
    assert "constrained" not in error["message"]
