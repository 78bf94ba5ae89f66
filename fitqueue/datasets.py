"""Reading a stored dataset: one place for the service (a fit that names a dataset) and the
workers (the fit's job, its parts and its merge)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mixfit import FitError

from . import codec, keys


def load(
    connection: Any,
    dataset_id: str,
    *,
    queued: bool = False,
    hgetall: Callable[[str], dict] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """A dataset's float64 arrays.

    Parameters
    ----------
    connection : redis.Redis
    dataset_id : str
    queued : bool, default False
        The fit was accepted before (a worker reading it): the message says the data went away
        after the fit was queued.
    hgetall : callable, optional
        How to read the hash (a worker passes one that waits out a Redis outage).

    Returns
    -------
    X : ndarray of shape (n, d)
    w : ndarray of shape (n,) or None

    Raises
    ------
    FitError
        When the dataset does not exist (any more), saying which and what to do.
    """
    fields = (hgetall or connection.hgetall)(keys.dataset(dataset_id))
    if fields:
        return codec.decode(fields)
    if queued:
        raise FitError(
            f"dataset {dataset_id} no longer exists (deleted or expired after the fit was "
            "queued); upload the data again and resubmit the fit"
        )
    if connection.exists(keys.tombstone("dataset", dataset_id)):
        raise FitError(f"dataset {dataset_id} has expired or was deleted; upload it again")
    raise FitError(f"dataset {dataset_id} does not exist; upload it with POST /v1/datasets")
