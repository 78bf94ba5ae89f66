"""Datasets: JSON, CSV and .npy uploads, content-hash ids, summaries, expiry and deletion."""

from __future__ import annotations

import io

import numpy as np
import pytest

from fitqueue import codec, keys
from mixfit.data import as_points, data_hash


def fresh(n: int = 30, d: int = 1) -> np.ndarray:
    return np.random.default_rng().normal(size=(n, d))


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_json_upload_stores_float64_and_summarizes(client, redis_client) -> None:
    X = fresh(25, 2)
    response = client.post("/v1/datasets", json={"data": X.tolist()})
    assert response.status_code == 201
    doc = response.get_json()
    assert doc["id"] == data_hash(X, None)
    assert response.headers["Location"] == f"/v1/datasets/{doc['id']}"
    assert (doc["n"], doc["d"], doc["weighted"]) == (25, 2, False)
    assert doc["summary"]["mean"] == pytest.approx(X.mean(axis=0).tolist())
    assert doc["summary"]["sd"] == pytest.approx(X.std(axis=0).tolist())
    assert doc["summary"]["min"] == X.min(axis=0).tolist()
    stored, w = codec.decode(redis_client.hgetall(keys.dataset(doc["id"])))
    assert w is None and np.array_equal(stored, X)  # bit-exact float64


def test_same_data_upload_once_whatever_the_format(client) -> None:
    X = fresh(12)
    first = client.post("/v1/datasets", json={"data": X[:, 0].tolist()})
    assert first.status_code == 201
    as_csv = "value\n" + "\n".join(repr(float(v)) for v in X[:, 0]) + "\n"
    again = client.post("/v1/datasets", data=as_csv, content_type="text/csv")
    as_npy = client.post("/v1/datasets", data=npy(X[:, 0]), content_type="application/x-npy")
    assert again.status_code == as_npy.status_code == 200
    assert first.get_json()["id"] == again.get_json()["id"] == as_npy.get_json()["id"]


def test_csv_with_weight_column(client) -> None:
    body = "# binned counts\nx,y,weight\n0.5,1.0,3\n1.5,2.0,1\n\n2.5,0.0,2\n"
    doc = client.post("/v1/datasets", data=body, content_type="text/csv").get_json()
    X, w = as_points([[0.5, 1.0], [1.5, 2.0], [2.5, 0.0]], [3, 1, 2])
    assert doc["id"] == data_hash(X, w)
    assert (doc["n"], doc["d"], doc["weighted"]) == (3, 2, True)
    assert doc["summary"]["n_effective"] == 6.0
    assert doc["summary"]["mean"] == pytest.approx([(1.5 + 1.5 + 2.5 * 2) / 6, 5 / 6])


def test_json_weights_and_unit_weights(client) -> None:
    X = fresh(5)[:, 0].tolist()
    weighted = client.post("/v1/datasets", json={"data": X, "weights": [1, 2, 1, 1, 1]})
    unit = client.post("/v1/datasets", json={"data": X, "weights": [1] * 5})
    plain = client.post("/v1/datasets", json={"data": X})
    assert weighted.get_json()["weighted"] is True
    assert unit.get_json()["id"] == plain.get_json()["id"]  # all-ones weights mean unweighted


def test_npy_two_dimensional_and_octet_stream(client) -> None:
    X = fresh(8, 3).astype(np.float32)
    response = client.post("/v1/datasets", data=npy(X), content_type="application/octet-stream")
    doc = response.get_json()
    assert (doc["n"], doc["d"]) == (8, 3)
    assert doc["id"] == data_hash(X.astype(np.float64), None)


def test_npy_of_strings_is_422(client) -> None:
    response = client.post(
        "/v1/datasets", data=npy(np.array(["a", "b"])), content_type="application/x-npy"
    )
    assert "integers or floats" in client.error(response, 422)["message"]


def test_too_many_dimensions_is_422(client) -> None:
    response = client.post("/v1/datasets", json={"data": fresh(3, 65).tolist()})
    assert "at most 64" in client.error(response, 422)["message"]


def test_get_and_delete(client) -> None:
    data = fresh(10)[:, 0].tolist()
    doc = client.post("/v1/datasets", json={"data": data}).get_json()
    got = client.get(f"/v1/datasets/{doc['id']}").get_json()
    assert got == doc
    assert 0 < got["expires_in"] <= 7 * 86400
    assert client.delete(f"/v1/datasets/{doc['id']}").status_code == 204
    client.error(client.get(f"/v1/datasets/{doc['id']}"), 410)
    client.error(client.delete(f"/v1/datasets/{doc['id']}"), 410)
    back = client.post("/v1/datasets", json={"data": data})  # the same data come back
    assert back.status_code == 201 and back.get_json()["id"] == doc["id"]


def test_dataset_ttl_zero_keeps_until_deleted(make_client, redis_client) -> None:
    client = make_client(DATASET_TTL=0)
    doc = client.post("/v1/datasets", json={"data": fresh(6)[:, 0].tolist()}).get_json()
    assert doc["expires_in"] is None
    assert redis_client.ttl(keys.dataset(doc["id"])) == -1
