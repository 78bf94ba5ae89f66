"""Dataset bodies -> validated float64 arrays: JSON, CSV or ``.npy``.

CSV: UTF-8, with the rules of ``mixfit.csvdata`` (shared with the CLI; documented in the README):
comma-separated, ``#`` comments and blank lines skipped, an optional header that may name one
``weight``/``weights`` column. ``.npy``: a 1-D or 2-D array of integers or floats,
``allow_pickle=False``; ``application/octet-stream`` bodies are read as ``.npy`` when they begin
with its magic bytes, else refused (415).
"""

from __future__ import annotations

import io
import math

import numpy as np

from mixfit import FitError, csvdata
from mixfit.data import as_points

from .errors import abort_json
from .models import DatasetUpload

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
OCTET = "application/octet-stream"
NPY_MAGIC = b"\x93NUMPY"
ACCEPTED = (JSON, CSV, NPY)


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
    if mimetype == NPY:
        return parse_npy(body)
    if mimetype == OCTET:
        # Generic bytes are read as .npy (what numpy's clients send without a type of their
        # own) only when they are one; CSV or JSON sent as bytes is told its type is missing.
        if body.startswith(NPY_MAGIC):
            return parse_npy(body)
        abort_json(
            415,
            f"an {OCTET} body is read as .npy, and this one does not begin with .npy's magic "
            f"bytes; send it as {', '.join(ACCEPTED)} (Content-Type)",
        )
    abort_json(
        415,
        f"a dataset must be sent as {', '.join(ACCEPTED)} (Content-Type), not "
        f"{mimetype or 'an unspecified type'}",
    )


def parse_csv(body: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Parse a CSV dataset (rules in ``mixfit.csvdata``)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FitError("the CSV body is not UTF-8 text") from exc
    values, weights = csvdata.parse_csv(text, "the CSV body")
    return as_points(values, weights)


def parse_npy(body: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Parse a ``.npy`` body: a 1-D or 2-D numeric array, never pickled objects.

    The header is read and checked first: its dtype must be numbers and its shape must match
    the bytes that follow. numpy allocates the declared shape before it reads, and a 100-byte
    body declaring 1e11 values raised a MemoryError (a 500) where it should be refused."""
    stream = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"version {version[0]}.{version[1]} is not read here")
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read_header(stream)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise FitError("the body is not a valid .npy file (its header cannot be read)") from exc
    if dtype.hasobject or dtype.kind not in "iuf":
        raise FitError(f"the .npy array must hold integers or floats, not {dtype}")
    declared = math.prod(shape) * dtype.itemsize
    held = len(body) - stream.tell()
    if declared != held:
        raise FitError(
            f"the .npy header declares shape {tuple(shape)} ({declared} bytes of {dtype}) "
            f"but {held} bytes follow it"
        )
    try:
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FitError(f"the body is not a valid .npy file of numbers ({exc})") from exc
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "iuf":
        kind = getattr(array, "dtype", type(array))
        raise FitError(f"the .npy array must hold integers or floats, not {kind}")
    return as_points(array)
