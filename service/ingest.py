"""Dataset bodies -> validated float64 arrays: JSON, CSV or ``.npy``.

CSV rules (decided here, documented in the README): UTF-8; comma-separated; blank lines and lines
starting with ``#`` are skipped; an optional header row (recognized by a cell that is not a number)
may name one column ``weight`` or ``weights``, which then holds the per-point weights; every other
column is a dimension. ``.npy``: a 1-D or 2-D array of integers or floats, ``allow_pickle=False``.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from mixfit import FitError
from mixfit.data import as_points

from .errors import abort_json
from .models import DatasetUpload

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
ACCEPTED = (JSON, CSV, NPY)
WEIGHT_COLUMNS = {"weight", "weights"}


def parse_dataset(mimetype: str, body: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Parse a dataset body by its content type.

    Returns
    -------
    X : ndarray of shape (n, d)
    w : ndarray of shape (n,) or None

    Raises
    ------
    HTTPException
        415 for any other content type.
    FitError, pydantic.ValidationError
        When the body does not hold a valid dataset (both answered 422, 400 for broken JSON).
    """
    if mimetype == JSON:
        upload = DatasetUpload.model_validate_json(body, strict=True)  # no true for 1.0
        return as_points(upload.data, upload.weights)
    if mimetype == CSV:
        return parse_csv(body)
    if mimetype in (NPY, "application/octet-stream"):
        return parse_npy(body)
    abort_json(
        415,
        f"a dataset must be sent as {', '.join(ACCEPTED)} (Content-Type), not "
        f"{mimetype or 'an unspecified type'}",
    )


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def parse_csv(body: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Parse a CSV dataset (see the module docstring for the rules)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FitError("the CSV body is not UTF-8 text") from exc
    # newline="": the csv module splits lines itself, so \r, \n and \r\n all end a row (a bare
    # \r used to be a csv.Error, a 500); strict: a stray quote is an error, not a merged row.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = [
            (line_no, row)
            for line_no, row in enumerate(reader, start=1)
            if row and any(c.strip() for c in row) and not row[0].lstrip().startswith("#")
        ]
    except csv.Error as exc:
        raise FitError(f"the CSV body is malformed at line {reader.line_num}: {exc}") from exc
    if not rows:
        raise FitError("the CSV body has no data rows")
    weight_col = None
    first_line, first = rows[0]
    if any(_number(c) is None for c in first):
        names = [c.strip().lower() for c in first]
        hits = [i for i, name in enumerate(names) if name in WEIGHT_COLUMNS]
        if len(hits) > 1:
            raise FitError("the CSV header names more than one weight column")
        weight_col = hits[0] if hits else None
        rows = rows[1:]
        if not rows:
            raise FitError("the CSV body has a header but no data rows")
    width = len(rows[0][1])
    values = np.empty((len(rows), width), dtype=np.float64)
    for i, (line_no, row) in enumerate(rows):
        if len(row) != width:
            raise FitError(
                f"CSV line {line_no} has {len(row)} values; expected {width} like the first"
            )
        for j, cell in enumerate(row):
            number = _number(cell)
            if number is None:
                raise FitError(
                    f"CSV line {line_no}, column {j + 1}: {cell.strip()!r} is not a number"
                )
            values[i, j] = number
    if weight_col is None:
        return as_points(values)
    if width == 1:
        raise FitError("the CSV has only a weight column; add at least one data column")
    data = np.delete(values, weight_col, axis=1)
    return as_points(data, values[:, weight_col])


def parse_npy(body: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Parse a ``.npy`` body: a 1-D or 2-D numeric array, never pickled objects."""
    try:
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FitError(f"the body is not a valid .npy file of numbers ({exc})") from exc
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "iuf":
        kind = getattr(array, "dtype", type(array))
        raise FitError(f"the .npy array must hold integers or floats, not {kind}")
    return as_points(array)
