"""CSV text -> numbers: the one reader behind ``POST /v1/datasets`` (``text/csv``) and the CLI.

Rules: comma-separated; ``\\r``, ``\\n`` and ``\\r\\n`` all end a row; blank lines and lines
starting with ``#`` are skipped; an optional header row (recognized by a cell that is not a
number) may name one column ``weight`` or ``weights``, which then holds per-point weights; every
other column is a dimension; a stray quote is an error, not a merged row.
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np

from .errors import FitError

WEIGHT_COLUMNS = ("weight", "weights")


# A decimal number in ASCII (or nan/inf, refused later as not finite). Python's float() also
# reads "1_000" and other scripts' digits ("١٢", full-width "１２"), which no CSV writer means as
# numbers: such a cell in the first row made it a header, elsewhere it was read as a value.
NUMBER = re.compile(
    r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)\s*",
    re.ASCII | re.IGNORECASE,
)


def _number(cell: str) -> float | None:
    if not NUMBER.fullmatch(cell):
        return None
    return float(cell)


def _separator_hint(cell: str) -> str:
    """A hint when a cell that is not a number holds numbers split by another separator."""
    for sep, name in ((";", "semicolons"), ("\t", "tabs")):
        parts = cell.split(sep)
        if len(parts) > 1 and all(_number(part) is not None for part in parts):
            return f" (values separated by {name}? the CSV must be comma-separated)"
    if re.fullmatch(r"\s*[+-]?\d+,\d+\s*", cell):
        return " (a decimal comma? write decimal points)"
    return ""


def parse_csv(text: str, source: str = "the CSV") -> tuple[np.ndarray, np.ndarray | None]:
    """Parse CSV text into values and optional weights.

    Parameters
    ----------
    text : str
    source : str
        How messages name the input ("the CSV body", a file name).

    Returns
    -------
    values : ndarray of shape (n, d)
    weights : ndarray of shape (n,) or None

    Raises
    ------
    FitError
        For malformed CSV, no data rows, ragged rows or a cell that is not a number.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = [
            (line_no, row)
            for line_no, row in enumerate(reader, start=1)
            if row and any(c.strip() for c in row) and not row[0].lstrip().startswith("#")
        ]
    except csv.Error as exc:
        raise FitError(f"{source} is malformed at line {reader.line_num}: {exc}") from exc
    if not rows:
        raise FitError(f"{source} has no data rows")
    weight_col = None
    if any(_number(c) is None for c in rows[0][1]):
        names = [c.strip().lower() for c in rows[0][1]]
        hits = [i for i, name in enumerate(names) if name in WEIGHT_COLUMNS]
        if len(hits) > 1:
            raise FitError(f"{source}: the header names more than one weight column")
        weight_col = hits[0] if hits else None
        rows = rows[1:]
        if not rows:
            raise FitError(f"{source} has a header but no data rows")
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
                    + _separator_hint(cell)
                )
            values[i, j] = number
    if weight_col is None:
        return values, None
    if width == 1:
        raise FitError(f"{source} has only a weight column; add at least one data column")
    return np.delete(values, weight_col, axis=1), values[:, weight_col]
