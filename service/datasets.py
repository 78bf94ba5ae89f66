"""Datasets: upload (content-addressed), read, delete, and load for a fit."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from fitqueue import codec, datasets, keys
from mixfit.data import data_hash

from .models import Dataset, DatasetLinks, DatasetSummary
from .store import cfg, clients, gone_or_missing, now, ttl_of

DATASET_ID = re.compile(r"^[0-9a-f]{16,64}$")


def summarize(X: np.ndarray, w: np.ndarray | None) -> DatasetSummary:
    """Per-dimension weighted min, max, mean and standard deviation.

    In scaled units: values up to ``MAX_ABS`` (1e150) squared, or times weights of 1e9, overflow
    float64 (the summary's sd came out inf, and the answer was a 422 about a field the client
    never sent). The weights are divided by their largest and the deviations by theirs."""
    rel = None if w is None else w / w.max()
    mean = np.average(X, axis=0, weights=rel)
    dev = X - mean
    scale = np.max(np.abs(dev), axis=0)
    scale[scale == 0] = 1.0
    sd = scale * np.sqrt(np.average((dev / scale) ** 2, axis=0, weights=rel))
    return DatasetSummary(
        n_effective=float(X.shape[0] if w is None else w.sum()),
        min=X.min(axis=0).tolist(),
        max=X.max(axis=0).tolist(),
        mean=mean.tolist(),
        sd=sd.tolist(),
    )


def _dataset_doc(dataset_id: str, fields: dict[bytes, bytes], ttl: int | None) -> Dataset:
    return Dataset(
        id=dataset_id,
        n=int(fields[b"n"]),
        d=int(fields[b"d"]),
        weighted=b"w" in fields,
        summary=DatasetSummary.model_validate_json(fields[b"summary"]),
        created_at=fields[b"created_at"].decode(),
        expires_in=ttl,
        links=DatasetLinks(self=f"/v1/datasets/{dataset_id}", fits="/v1/fits"),
    )


def put_dataset(X: np.ndarray, w: np.ndarray | None) -> tuple[Dataset, bool]:
    """Store a dataset under its content hash; ``(document, created)``.

    Uploading the same data again refreshes its expiry and creates nothing.
    """
    dataset_id, created = store_dataset(X, w)
    return get_dataset(dataset_id), created


def store_dataset(X: np.ndarray, w: np.ndarray | None, pipe: Any = None) -> tuple[str, bool]:
    """Store a dataset unless it exists, refresh its expiry; ``(id, created)``. With a
    ``pipe`` (a transaction the caller executes) the writes join it."""
    redis = clients().redis
    dataset_id = data_hash(X, w)
    key, tomb = keys.dataset(dataset_id), keys.tombstone("dataset", dataset_id)
    created = not redis.exists(key)
    own = pipe is None
    if own:
        pipe = redis.pipeline()
    if created:
        fields = codec.encode(X, w)
        fields.update(summary=summarize(X, w).model_dump_json(), created_at=now())
        pipe.hset(key, mapping=fields)
    refresh(pipe, key, tomb, int(cfg("DATASET_TTL")))
    if own:
        pipe.execute()
    return dataset_id, created


def refresh(pipe: Any, key: str, tomb: str, ttl: int) -> None:
    if ttl > 0:
        pipe.expire(key, ttl)
        pipe.set(tomb, 1, ex=ttl + int(cfg("TOMBSTONE_TTL")))
    else:
        pipe.persist(key)
        pipe.set(tomb, 1)


def get_dataset(dataset_id: str) -> Dataset:
    """A dataset's document; 404 if unknown, 410 if expired or deleted."""
    redis = clients().redis
    key = keys.dataset(dataset_id)
    if DATASET_ID.match(dataset_id):
        fields = redis.hmget(key, ["n", "d", "summary", "created_at", "w"])
        if fields[0] is not None:
            names = [b"n", b"d", b"summary", b"created_at", b"w"]
            present = {n: v for n, v in zip(names, fields, strict=True) if v is not None}
            return _dataset_doc(dataset_id, present, ttl_of(redis, key))
    gone_or_missing("dataset", dataset_id, keys.tombstone("dataset", dataset_id))
    raise AssertionError  # unreachable: the call above aborts


def delete_dataset(dataset_id: str) -> None:
    """Delete a dataset; 404 if unknown, 410 if already gone. Queued fits of it will fail."""
    if not (DATASET_ID.match(dataset_id) and clients().redis.delete(keys.dataset(dataset_id))):
        gone_or_missing("dataset", dataset_id, keys.tombstone("dataset", dataset_id))


def load_dataset(dataset_id: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The arrays of a dataset a fit refers to; 422 when it does not exist (any more)."""
    return datasets.load(clients().redis, dataset_id)
