"""A Python client of mixfit's REST API: the standard library's urllib plus mixfit's own models.

>>> from fitclient.client import Client
>>> api = Client("http://127.0.0.1:8000")
>>> result = api.fit(data, k={"min": 1, "max": 4}, seed=1)   # waits, with a progress bar
>>> result.k_selected, result.model.params
>>> api.score(result.model_id, [0.1, 12.0]).is_anomaly
>>> api.lrt(result.model_id, max_k=3, nboot=99).steps          # the bootstrap LRT, on the server
>>> api.bootstrap(result.model_id, nboot=199).parameters      # standard errors and intervals

``fit`` validates its options with ``FitRequest`` before anything is sent (the same model the
server validates with, so a bad option fails here, with pydantic's message) and returns the
server's ``FitResult``; a fit that fails raises ``FitError`` with the server's message (data the
server refuses at once raise ``FitRejected``, both a ``FitError`` and an ``ApiError``), any other
error answer raises ``ApiError`` carrying the status code and the server's message. It imports no
Flask, Redis or RQ.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, TextIO

from pydantic import PrivateAttr

from mixfit.errors import FitError
from mixfit.options import BootstrapResult, LRTResult
from mixfit.schema import FitRequest, FitResult, Model, ScoreRequest, ScoreResult

TERMINAL = ("finished", "failed", "canceled")


class ApiError(Exception):
    """The server answered with an error (or could not be reached: ``status`` 0).

    Attributes
    ----------
    status : int
        The HTTP status code; 0 when no answer came.
    message : str
        The server's ``message``: what went wrong and what to change.
    detail : Any
        The server's ``detail`` (validation errors, ...), or None.
    """

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(f"{status} {message}" if status else message)
        self.status = status
        self.message = message
        self.detail = detail


class FitRejected(ApiError, FitError):
    """The server refused a fit's data or options (422): both an ``ApiError`` and a ``FitError``,
    like the ``FitError`` that ``mixfit.fit`` raises in-process for the same data."""


class RemoteFitResult(FitResult):
    """A ``FitResult`` fitted by a server; also knows the server's ids of the fit and its model.

    It dumps exactly like ``FitResult`` (the ids are not fields).
    """

    _fit_id: str = PrivateAttr("")
    _model_id: str = PrivateAttr("")

    @property
    def fit_id(self) -> str:
        """The fit's id on the server (``GET /v1/fits/{id}``)."""
        return self._fit_id

    @property
    def model_id(self) -> str:
        """The selected model's id on the server, for ``Client.score`` and ``Client.model``."""
        return self._model_id


def _plain(value: Any) -> Any:
    """numpy arrays and scalars to lists and floats; everything else as it is."""
    return value.tolist() if hasattr(value, "tolist") else value


class ProgressBar:
    """A one-line text progress bar of a fit (starts done over all starts, per the server) or
    of an LRT or a bootstrap (replicates done over all).

    On a terminal the line is redrawn in place; elsewhere (a log file) a line is written only
    when the state changes.
    """

    def __init__(
        self, fit_id: str, stream: TextIO | None = None, width: int = 30, label: str = "fit"
    ) -> None:
        self.fit_id = fit_id
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last = ""
        self.last_status = ""

    def line(self, doc: dict[str, Any]) -> str:
        """The bar for one fit document."""
        status = doc["status"]
        progress = doc.get("progress") or {}
        if "total" in progress:
            return self._replicates(status, progress["done"], progress["total"])
        per_k = progress.get("per_k") or []
        ks = progress.get("k_values") or []
        n_starts = per_k[0]["n_starts"] if per_k else 0
        total = n_starts * len(ks)
        done = sum(p["starts_done"] for p in per_k)
        if status == "finished":
            done = total = total or 1
        share = done / total if total else 0.0
        filled = round(share * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        text = f"fit {self.fit_id[:8]} [{bar}] {status}"
        if total and status != "finished":
            text += f" {done}/{total} starts"
        running = [p for p in per_k if p["state"] == "running"]
        if running and status == "started":
            p = running[-1]
            best = p.get("best_loglik")
            text += f", k={p['k']} iteration {p['iteration']}"
            if best is not None:
                text += f" LL {best:.2f}"
        return text

    def _replicates(self, status: str, done: int, total: int) -> str:
        if status == "finished":
            done = total = total or 1
        filled = round(done / total * self.width) if total else 0
        bar = "#" * filled + "." * (self.width - filled)
        text = f"{self.label} {self.fit_id[:8]} [{bar}] {status}"
        if total and status != "finished":
            text += f" {done}/{total} replicates"
        return text

    def update(self, doc: dict[str, Any]) -> None:
        """Show the state of ``doc``."""
        text, status = self.line(doc), doc["status"]
        if self.tty and text != self.last:
            end = "\n" if status in TERMINAL else ""
            self.stream.write("\r" + text.ljust(len(self.last)) + end)
        elif not self.tty and status != self.last_status:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.last, self.last_status = text, status


class Client:
    """A mixfit server.

    Parameters
    ----------
    url : str
        The server's base URL, e.g. ``http://127.0.0.1:8000`` (``/v1`` is added).
    api_key : str, optional
        Sent as ``Authorization: Bearer <api_key>``.
    timeout : float
        Seconds one HTTP request may take (a ``?wait=`` poll takes at most 30 more).
    """

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    # -- HTTP ------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one request to ``/v1{path}`` and return its parsed JSON answer (None if empty).

        Raises
        ------
        ApiError
            For an error answer (with the server's status, message and detail) or no answer.
        """
        url = f"{self.url}/v1{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                raw = exc.read()
            try:
                doc = json.loads(raw)
                message, detail = doc.get("message") or exc.reason, doc.get("detail")
            except (ValueError, AttributeError):
                message, detail = f"{exc.reason}: {raw[:200].decode(errors='replace')}", None
            raise ApiError(exc.code, str(message), detail) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(
                0, f"could not reach the mixfit server at {self.url}: {reason}"
            ) from None
        return json.loads(raw) if raw else None

    # -- the API ---------------------------------------------------------------------------

    def upload(self, data: Any, weights: Any = None) -> dict[str, Any]:
        """Upload a dataset once, to fit it by id later (``POST /v1/datasets``).

        Parameters
        ----------
        data : array-like of shape (n,) or (n, d)
        weights : array-like of shape (n,), optional

        Returns
        -------
        dict
            The dataset's document: ``id`` (the data's SHA-256), ``n``, ``d``, ``summary``, ...
        """
        body: dict[str, Any] = {"data": _plain(data)}
        if weights is not None:
            body["weights"] = _plain(weights)
        return self.request("POST", "/datasets", body)

    def submit(self, data_or_dataset_id: Any, **options: Any) -> dict[str, Any]:
        """Queue a fit without waiting (``POST /v1/fits``); returns the fit's document.

        ``data_or_dataset_id`` is inline data (array-like) or an uploaded dataset's id (str);
        ``options`` are the fields of ``FitRequest`` and are validated here first.
        """
        options = {name: _plain(value) for name, value in options.items()}
        if isinstance(data_or_dataset_id, str):
            options["dataset_id"] = data_or_dataset_id
        else:
            options["data"] = _plain(data_or_dataset_id)
        request = FitRequest.model_validate(options).root
        body = request.model_dump(mode="json", exclude_unset=True)
        body["family"] = request.family
        return self.request("POST", "/fits", body)

    def wait(
        self, fit_id: str, progress: bool | TextIO = True, timeout: float | None = None
    ) -> dict[str, Any]:
        """Poll a fit until it ends (``GET /v1/fits/{id}?wait=S``); returns its last document.

        Parameters
        ----------
        fit_id : str
        progress : bool or file
            Draw a progress bar on stderr (or on this file) while waiting.
        timeout : float, optional
            Give up (``TimeoutError``) after this many seconds; None waits as long as it takes.
        """
        return self._poll("fits", fit_id, "fit", progress, timeout)

    def _poll(
        self,
        collection: str,
        job_id: str,
        label: str,
        progress: bool | TextIO,
        timeout: float | None,
    ) -> dict[str, Any]:
        """Poll ``/v1/{collection}/{job_id}?wait=S`` until it ends; its last document."""
        stream = None if isinstance(progress, bool) else progress
        bar = ProgressBar(job_id, stream, label=label) if progress else None
        deadline = None if timeout is None else time.monotonic() + timeout
        wait = 1.0 if progress else 30.0  # a finishing job answers at once either way
        while True:
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            doc = self.request(
                "GET", f"/{collection}/{job_id}", query={"wait": wait}, timeout=self.timeout + wait
            )
            if bar is not None:
                bar.update(doc)
            if doc["status"] in TERMINAL:
                return doc
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"{label} {job_id} is still {doc['status']} after {timeout} s")

    def _finish(
        self,
        collection: str,
        label: str,
        doc: dict[str, Any],
        progress: bool | TextIO,
        timeout: float | None,
    ) -> dict[str, Any]:
        """Wait for a submitted job (fit, LRT, bootstrap) to end; its finished document.
        Failed or canceled raises ``FitError``; Ctrl-C cancels it on the server."""
        job_id = doc["id"]
        try:
            doc = self._poll(collection, job_id, label, progress, timeout)
        except KeyboardInterrupt:
            try:
                self.request("DELETE", f"/{collection}/{job_id}")
            except ApiError:
                pass  # it ended meanwhile; the interrupt is what matters
            raise
        if doc["status"] == "failed":
            error = doc.get("error") or {}
            message = error.get("message", "no reason recorded")
            kind = error.get("type", "FitError")
            raise FitError(message if kind == "FitError" else f"{kind}: {message}")
        if doc["status"] == "canceled":
            raise FitError(f"{label} {job_id} was canceled")
        return doc

    def _submit(self, path: str, options: dict[str, Any]) -> dict[str, Any]:
        """POST a job's options; a 422 raises ``FitRejected``."""
        try:
            return self.request("POST", path, {k: _plain(v) for k, v in options.items()})
        except ApiError as exc:
            if exc.status != 422:
                raise
            raise FitRejected(exc.status, exc.message, exc.detail) from None

    def fit(
        self,
        data_or_dataset_id: Any,
        progress: bool | TextIO = True,
        timeout: float | None = None,
        **options: Any,
    ) -> RemoteFitResult:
        """Fit on the server and wait for the result.

        Parameters
        ----------
        data_or_dataset_id : array-like of shape (n,) or (n, d), or str
            Inline data, or the id of an uploaded dataset.
        progress : bool or file
            Draw a progress bar on stderr (or on this file) while the fit runs.
        timeout : float, optional
            Seconds to wait at most; None waits as long as the fit takes.
        **options
            The fields of ``FitRequest`` (``family``, ``k``, ``n_starts``, ``seed``, ...).

        Returns
        -------
        RemoteFitResult
            The ``FitResult``, with ``fit_id`` and ``model_id``.

        Raises
        ------
        pydantic.ValidationError
            An option ``FitRequest`` rejects (nothing is sent).
        FitError
            The fit failed or was canceled; the message is the server's. ``FitRejected`` (a
            ``FitError`` and an ``ApiError`` with status 422) when the server refused the data or
            options at once (constant data, values outside the family's support, ...).
        ApiError
            Any other error answer, or no answer.
        KeyboardInterrupt
            Ctrl-C while waiting also cancels the fit on the server.
        """
        try:
            doc = self.submit(data_or_dataset_id, **options)
        except ApiError as exc:
            if exc.status != 422:
                raise
            raise FitRejected(exc.status, exc.message, exc.detail) from None
        doc = self._finish("fits", "fit", doc, progress, timeout)
        result = RemoteFitResult.model_validate(doc["result"])
        result._fit_id = doc["id"]
        result._model_id = doc["model_id"]
        return result

    def score(self, model_id: str, points: Any, alpha: float = 0.01) -> ScoreResult:
        """Score points against a stored model (``POST /v1/models/{id}/score``).

        Parameters
        ----------
        model_id : str
        points : array-like of shape (m,) or (m, d)
        alpha : float
            A point is an anomaly when its p-value is below ``alpha``.

        Returns
        -------
        ScoreResult
        """
        request = ScoreRequest(points=_plain(points), alpha=alpha)
        answer = self.request("POST", f"/models/{model_id}/score", request.model_dump(mode="json"))
        return ScoreResult.model_validate(answer)

    def model(self, model_id: str) -> Model:
        """A stored model (``GET /v1/models/{id}``), usable with ``mixfit.score`` offline."""
        return Model.model_validate(self.request("GET", f"/models/{model_id}")["model"])

    # -- how many components, how sure ---------------------------------------------------

    def submit_lrt(self, model_id: str, **options: Any) -> dict[str, Any]:
        """Queue the bootstrap LRT of a stored model's K without waiting
        (``POST /v1/models/{id}/lrt``); returns its document (``id``, ``status``, ...).

        ``options``: ``k_min``, ``max_k``, ``nboot``, ``level``, ``seed``,
        ``replicate_starts`` (see ``lrt``).
        """
        return self._submit(f"/models/{model_id}/lrt", options)

    def lrt(
        self,
        model_id: str,
        progress: bool | TextIO = True,
        timeout: float | None = None,
        **options: Any,
    ) -> LRTResult:
        """The bootstrap likelihood-ratio test of K against K+1 on a stored model's data, run
        on the server's workers, with the model's fit's options.

        Parameters
        ----------
        model_id : str
        progress : bool or file
            Draw a progress bar (replicates done) on stderr (or on this file).
        timeout : float, optional
            Seconds to wait at most; None waits as long as it takes.
        **options
            ``k_min`` (default 1), ``max_k`` (default the model's K: every K up to it is
            tested), ``nboot`` (default 99), ``level`` (0.05), ``seed`` (0),
            ``replicate_starts`` (``"search"``, or ``"warm"``: see ``mixfit.bootstrap_lrt``).

        Returns
        -------
        LRTResult
            The same as ``mixfit.lrt.bootstrap_lrt(data, k_min=..., max_k=..., ...)`` with the
            fit's options.

        Raises
        ------
        FitError
            The test failed or was canceled (``FitRejected`` when the server refused it: 422).
        ApiError
            Any other error answer (404 unknown model, 409 its data are gone, ...).
        """
        doc = self.submit_lrt(model_id, **options)
        doc = self._finish("lrts", "lrt", doc, progress, timeout)
        return LRTResult.model_validate(doc["result"])

    def cancel_lrt(self, lrt_id: str) -> dict[str, Any]:
        """Cancel a queued or running LRT (``DELETE /v1/lrts/{id}``); its document."""
        return self.request("DELETE", f"/lrts/{lrt_id}")

    def submit_bootstrap(self, model_id: str, **options: Any) -> dict[str, Any]:
        """Queue a bootstrap of a stored model without waiting
        (``POST /v1/models/{id}/bootstrap``); returns its document.

        ``options``: ``method``, ``nboot``, ``conf_level``, ``seed`` (see ``bootstrap``).
        """
        return self._submit(f"/models/{model_id}/bootstrap", options)

    def bootstrap(
        self,
        model_id: str,
        progress: bool | TextIO = True,
        timeout: float | None = None,
        **options: Any,
    ) -> BootstrapResult:
        """Standard errors and intervals of a stored model's parameters, computed on the
        server's workers.

        Parameters
        ----------
        model_id : str
        progress : bool or file
            Draw a progress bar (replicates done) on stderr (or on this file).
        timeout : float, optional
            Seconds to wait at most; None waits as long as it takes.
        **options
            ``method`` ("nonparametric", the default, "weighted" or "observed_information":
            1-D Gaussian only), ``nboot`` (default 199), ``conf_level`` (0.95), ``seed`` (0).

        Returns
        -------
        BootstrapResult

        Raises
        ------
        FitError
            It failed or was canceled (``FitRejected`` when the server refused it: 422).
        ApiError
            Any other error answer.
        """
        doc = self.submit_bootstrap(model_id, **options)
        doc = self._finish("bootstraps", "bootstrap", doc, progress, timeout)
        return BootstrapResult.model_validate(doc["result"])

    def cancel_bootstrap(self, bootstrap_id: str) -> dict[str, Any]:
        """Cancel a queued or running bootstrap (``DELETE /v1/bootstraps/{id}``)."""
        return self.request("DELETE", f"/bootstraps/{bootstrap_id}")
