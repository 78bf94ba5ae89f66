"""The ``mixfit`` command: fit a CSV, score points, run the service.

    mixfit fit data.csv --family beta --k 1-5 [--starts N --seed S --criterion bic]
    mixfit score MODEL_ID_OR_FILE points.csv [--alpha 0.01]
    mixfit lrt data.csv [--k-min 1] [--max-k N] [--nboot 999] [--level 0.05] [--seed S]
                        [--replicate-starts search|warm]
    mixfit bootstrap data.csv --k K [--method nonparametric|weighted|observed_information]
    mixfit serve

Where a fit, an LRT or a bootstrap runs: on a server with ``--url URL`` (or the environment
variable ``MIXFIT_API``, the same one the README's curl walkthrough uses), else in this process
(``--local``, the default; ``--local`` also overrides ``MIXFIT_API``). Both give the same result:
the server runs the same core with the same options. On a server, ``lrt`` and ``bootstrap`` first
fit the data there (the LRT at K = ``--k-min``, the bootstrap at ``--k``, with ``--family`` and
``--seed``), then queue the LRT or the bootstrap of that model, which fans out over the server's
workers; the remote ``lrt`` needs ``--max-k`` (the server tests every K up to it). ``--json``
prints the result; ``--plot fit.png`` draws a fit (needs the ``plot`` extra, matplotlib).

CSV files follow the API's rules: UTF-8, comma-separated, blank lines and lines starting with
``#`` skipped, a first row holding a non-number is a header, a header column named ``weight`` or
``weights`` holds per-point weights; one other column is 1-D data, several are d-dimensional.
``-`` reads standard input.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from mixfit.csvdata import parse_csv
from mixfit.errors import FitError
from mixfit.families import FAMILIES
from mixfit.schema import INIT_METHODS, FitResult, Model, ScoreResult, family_options


class UsageError(Exception):
    """A command line or input file that cannot run as given; the message says what to change."""


# -- input -------------------------------------------------------------------------------------


def read_csv(path: str, stdin: TextIO | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Read data (and optional weights) from a CSV file, or from standard input for ``-``.

    Parameters
    ----------
    path : str
        A file name, or ``-`` for standard input.
    stdin : file, optional
        What ``-`` reads (default ``sys.stdin``).

    Returns
    -------
    X : ndarray of shape (n,) or (n, d)
        One column gives shape (n,), several give (n, d).
    w : ndarray of shape (n,) or None
        The ``weight``/``weights`` column, if the header names one.

    Raises
    ------
    UsageError
        For a missing file, an empty file, ragged rows or a cell that is not a number.
    """
    if path == "-":
        text = (stdin or sys.stdin).read()
    else:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise UsageError(f"{path} is not UTF-8 text") from None
    try:
        values, w = parse_csv(text, path)
    except FitError as exc:
        raise UsageError(str(exc) if path in str(exc) else f"{path}: {exc}") from None
    return (values[:, 0] if values.shape[1] == 1 else values), w


def parse_k(text: str) -> int | list[int] | dict[str, int]:
    """``3`` -> 3, ``1-5`` -> ``{"min": 1, "max": 5}``, ``1,2,4`` -> ``[1, 2, 4]``."""
    try:
        if "-" in text:
            low, high = text.split("-", 1)
            return {"min": int(low), "max": int(high)}
        if "," in text:
            return [int(part) for part in text.split(",")]
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give K as 3, a range 1-5 or a list 1,2,4"
        ) from None


def parse_init(text: str) -> str | list[str] | dict[str, Any]:
    """A method, a comma-separated list of methods, or start values as JSON."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"--init: not valid JSON ({exc})") from None
    methods = [m.strip() for m in text.split(",")]
    unknown = [m for m in methods if m not in INIT_METHODS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown init {unknown[0]!r}: use {', '.join(INIT_METHODS)} or start values as JSON"
        )
    return methods[0] if len(methods) == 1 else methods


# -- output ------------------------------------------------------------------------------------


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def k_table(result: FitResult) -> str:
    """The per-K table: k, loglik, n_params, BIC, AIC, ICL, converged, and the selection."""
    lines = [
        f"{'k':>3} {'loglik':>12} {'n_params':>8} {'BIC':>12} {'AIC':>12} {'ICL':>12}"
        f"  {'converged':<9}  iter"
    ]
    for r in result.results:
        if r.status != "ok":
            lines.append(f"{r.k:>3}  failed: {r.message}")
            continue
        mark = f"  <- selected ({result.criterion.upper()})" if r.k == result.k_selected else ""
        lines.append(
            f"{r.k:>3} {_f(r.loglik):>12} {r.n_params:>8} {_f(r.bic):>12} {_f(r.aic):>12}"
            f" {_f(r.icl):>12}  {'yes' if r.converged else 'no':<9} {r.n_iter:>5}{mark}"
        )
        if r.message:  # an ok K with a word to say: K-1's fit with a component copied
            lines.append(f"{'':>3}  note: {r.message}")
    return "\n".join(lines)


def _vector(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


def params_table(model: Model) -> str:
    """The chosen parameters, one component a line (numbered from 1): the weight and the
    family's columns (``Family.columns``); vectors and matrices below their component."""
    from mixfit.scoring import model_family

    columns = model_family(model).columns(model.params)
    scalar = {n: v for n, v in columns.items() if np.asarray(v, dtype=float).ndim == 1}
    nested = {n: v for n, v in columns.items() if n not in scalar}
    lines = [f"{'component':>9} {'weight':>10}" + "".join(f" {n:>12}" for n in scalar)]
    for j, w in enumerate(model.params.weights):
        lines.append(f"{j + 1:>9} {w:>10.4f}" + "".join(f" {v[j]:>12.5g}" for v in scalar.values()))
        for name, values in nested.items():
            value = np.asarray(values[j], dtype=float)
            rows = [value] if value.ndim == 1 else list(value)
            lines += [f"    {name} {_vector(row)}" for row in rows]
    return "\n".join(lines)


def describe(result: FitResult, where: str) -> str:
    """What ``mixfit fit`` prints: a header line, the K table and the chosen parameters."""
    head = f"{result.family} mixture, n = {result.n}, d = {result.d}, seed {result.seed} ({where})"
    selected = f"selected k = {result.k_selected} by {result.criterion.upper()}:"
    return "\n".join([head, "", k_table(result), "", selected, params_table(result.model)])


def score_table(points: np.ndarray, scores: ScoreResult) -> str:
    """Per point: the point, log-density, component (from 1), p-value, anomaly flag."""
    lines = [f"{'point':>14} {'log_density':>14} {'component':>9} {'p_value':>9}  anomaly"]
    for x, ld, c, p, bad in zip(
        points.tolist(),
        scores.log_density,
        scores.component,
        scores.p_value,
        scores.is_anomaly,
        strict=True,
    ):
        shown = f"{x:.6g}" if isinstance(x, float) else _vector(x)
        lines.append(f"{shown:>14} {ld:>14.6g} {c + 1:>9} {p:>9.4g}  {'ANOMALY' if bad else 'no'}")
    lines.append(f"{scores.n_anomalies} of {len(scores.p_value)} anomalous at alpha {scores.alpha}")
    return "\n".join(lines)


# -- plotting ----------------------------------------------------------------------------------


def plot(result: FitResult, X: np.ndarray, w: np.ndarray | None, path: str) -> None:
    """Draw ``mixfit.display.figure`` (data with the fitted mixture and its components; for
    d-dimensional data the first two coordinates coloured by component; every start's trace of
    the selected K; the criteria against K) into one image.

    Raises
    ------
    UsageError
        When matplotlib is not installed.
    """
    from mixfit.display import figure

    try:
        fig = figure(result, X, w, pairs=True)
    except ImportError:
        raise UsageError(
            "--plot needs matplotlib: pip install 'mixfit[plot]' (or pip install matplotlib)"
        ) from None
    fig.savefig(path, dpi=110)


# -- commands ----------------------------------------------------------------------------------


def _server(args: argparse.Namespace) -> str | None:
    """The server URL, or None to work in this process."""
    if getattr(args, "local", False):
        return None
    return args.url or os.environ.get("MIXFIT_API") or None


def _fit_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"family": args.family, "criterion": args.criterion}
    own = {option for options in family_options().values() for option in options}
    for name in ("k", "seed", "init", "tol", "tol_type", "max_iter", *sorted(own)):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    if args.starts is not None:
        options["n_starts"] = args.starts
    return options


class _LocalProgress:
    """The core's per-iteration progress callback, drawn with the client's progress bar."""

    def __init__(self, k_values: list[int], stream: TextIO) -> None:
        from .client import ProgressBar

        self.bar = ProgressBar("local", stream)
        self.k_values = k_values
        self.latest: dict[int, dict[str, Any]] = {}
        self.shown = 0.0

    def __call__(self, info: dict[str, Any]) -> None:
        self.latest[info["k"]] = info
        now = time.monotonic()
        if now - self.shown >= 0.2:
            self.shown = now
            self.show("started")

    def show(self, status: str) -> None:
        current = max(self.latest) if self.latest else None
        per_k = [
            {
                "k": k,
                "state": "running" if k == current else "done",
                "starts_done": info["starts_done"] if k == current else info["n_starts"],
                "n_starts": info["n_starts"],
                "iteration": info["iteration"],
                "best_loglik": info["best_loglik"],
            }
            for k, info in sorted(self.latest.items())
        ]
        progress = {"k_values": self.k_values, "per_k": per_k}
        self.bar.update({"status": status, "progress": progress})


def cmd_fit(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    X, w = read_csv(args.data)
    options = _fit_options(args)
    url = _server(args)
    progress = not (args.quiet or args.json)
    if url:
        from .client import Client

        client = Client(url, api_key=args.api_key)
        result = client.fit(X, progress=err if progress else False, weights=w, **options)
        where = f"server {url}, fit {result.fit_id}, model {result.model_id}"
        if args.json:
            print(f"model {result.model_id}", file=err)
    else:
        from mixfit.fit import parse_request, run

        request = parse_request(options)
        reporter = _LocalProgress(request.k_values(), err) if progress else None
        result = run(request, X, w, progress=reporter)
        if reporter is not None:
            reporter.show("finished")
        where = "local"
    if args.plot:
        plot(result, np.asarray(X), w, args.plot)
    if args.json:
        out.write(result.model_dump_json(indent=2) + "\n")
    else:
        out.write(describe(result, where) + "\n")
        if args.plot:
            out.write(f"\nplot written to {args.plot}\n")
    return 0


def _remote(args: argparse.Namespace, err: TextIO) -> tuple[Any, str, bool | TextIO] | None:
    """On a server (``--url`` or ``MIXFIT_API``): its client, the URL and where the progress bar
    goes; None to work in this process."""
    url = _server(args)
    if not url:
        return None
    from .client import Client

    quiet = args.quiet or args.json
    return Client(url, api_key=args.api_key), url, False if quiet else err


def cmd_lrt(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``mixfit lrt``: the bootstrap LRT for K, in this process (``mixfit.bootstrap_lrt``) or on
    a server (a fit at K = ``--k-min`` there, then the LRT of its model)."""
    X, w = read_csv(args.data)
    settings = {
        "k_min": args.k_min,
        "nboot": args.nboot,
        "level": args.level,
        "seed": args.seed,
        "replicate_starts": args.replicate_starts,
    }
    remote = _remote(args, err)
    if remote is not None:
        if args.max_k is None:
            raise UsageError(
                "on a server, mixfit lrt needs --max-k: the server tests every K from --k-min "
                "up to it (in this process, without --max-k, the tests stop at the first K that "
                "is not significant)"
            )
        client, url, progress = remote
        fit = client.fit(
            X, progress=False, weights=w, family=args.family, k=args.k_min, seed=args.seed
        )
        result = client.lrt(fit.model_id, progress=progress, max_k=args.max_k, **settings)
        where = f"server {url}, model {fit.model_id}"
    else:
        from mixfit.lrt import bootstrap_lrt

        result = bootstrap_lrt(X, w, max_k=args.max_k, family=args.family, **settings)
        where = "local"
    if args.json:
        out.write(result.model_dump_json(indent=2) + "\n")
        return 0
    lines = [
        f"bootstrap LRT, {args.family}, {result.nboot} replicates a step, seed {result.seed}, "
        f"{result.replicate_starts} replicate starts ({where})"
    ]
    lines.append(f"{'test':>9} {'LRTS':>12} {'p-value':>9}")
    for s in result.steps:
        lines.append(f"{s.k:>3} vs {s.k + 1:<3} {s.statistic:>12.4f} {s.p_value:>9.4g}")
    lines.append(f"selected k = {result.k_selected} at level {result.level}")
    out.write("\n".join(lines) + "\n")
    return 0


def cmd_bootstrap(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``mixfit bootstrap``: fit K, then the parameters' standard errors and intervals, in this
    process or on a server (the fit there, then the bootstrap of its model)."""
    X, w = read_csv(args.data)
    remote = _remote(args, err)
    if remote is not None:
        client, url, progress = remote
        fit = client.fit(X, progress=False, weights=w, family=args.family, k=args.k, seed=args.seed)
        options: dict[str, Any] = {"method": args.method, "seed": args.seed}
        if args.method != "observed_information":
            options["nboot"] = args.nboot
        spread = client.bootstrap(fit.model_id, progress=progress, **options)
        where = f"server {url}, model {fit.model_id}"
    else:
        from mixfit.fit import parse_request, run
        from mixfit.inference import bootstrap, observed_information

        result = run(parse_request({"family": args.family, "k": args.k, "seed": args.seed}), X, w)
        if args.method == "observed_information":
            spread = observed_information(result, X, w)
        else:
            spread = bootstrap(result, X, w, nboot=args.nboot, method=args.method, seed=args.seed)
        where = "local"
    if args.json:
        out.write(spread.model_dump_json(indent=2) + "\n")
        return 0
    lines = [f"{spread.method} standard errors, {args.family}, k = {args.k} ({where})"]
    lines.append(f"{'parameter':>12} {'component':>9} {'estimate':>12} {'se':>12} {'interval':>26}")
    for name, p in spread.parameters.items():
        for j, (e, se, lo, hi) in enumerate(zip(p.estimate, p.se, p.lower, p.upper, strict=True)):
            if isinstance(e, list):
                e, se, lo, hi = e[0], se[0], lo[0], hi[0]  # a vector's first coordinate
                if isinstance(e, list):
                    continue  # matrices: see --json
            lines.append(f"{name:>12} {j + 1:>9} {e:>12.5g} {se:>12.4g} [{lo:>11.5g}, {hi:>11.5g}]")
    out.write("\n".join(lines) + "\n")
    return 0


def _load_model(path: Path) -> Model:
    """A model from a JSON file: a FitResult (``mixfit fit --json``), a model document
    (``GET /v1/models/{id}``) or a bare Model."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read a model from {path}: {exc}") from None
    if isinstance(doc, dict) and "results" in doc:
        return FitResult.model_validate(doc).model
    if isinstance(doc, dict) and "model" in doc and "id" in doc:
        return Model.model_validate(doc["model"])
    return Model.model_validate(doc)


def cmd_score(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    points, w = read_csv(args.points)
    if w is not None:
        raise UsageError(f"{args.points}: points to score take no weight column")
    source = Path(args.model)
    if source.is_file():
        from mixfit.scoring import score

        scores = score(_load_model(source), points, alpha=args.alpha)
    else:
        url = _server(args)
        if not url:
            raise UsageError(
                f"{args.model!r} is not a file; to score against a model id on a server, give "
                "--url URL (or set MIXFIT_API)"
            )
        from .client import Client

        scores = Client(url, api_key=args.api_key).score(args.model, points, alpha=args.alpha)
    if args.json:
        out.write(scores.model_dump_json(indent=2) + "\n")
    else:
        out.write(score_table(np.asarray(points), scores) + "\n")
    return 0


def cmd_serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Replace this process with ``python -m devstack`` (what ``make run`` runs).

    The dev stack is run, never imported: this package imports no service code.
    """
    if importlib.util.find_spec("devstack") is None:
        raise UsageError(
            "mixfit serve needs the devstack package: install mixfit from a checkout with "
            "pip install -e '.[local]'"
        )
    env = dict(os.environ)
    if args.bind:
        env["MIXFIT_BIND"] = args.bind
    out.flush()
    err.flush()
    os.execve(sys.executable, [sys.executable, "-m", "devstack"], env)
    return 1  # pragma: no cover - execve does not return


def _server_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--url", help="a mixfit server, e.g. http://127.0.0.1:8000 (default: $MIXFIT_API)"
    )
    where.add_argument(
        "--local", action="store_true", help="work in this process, no server (the default)"
    )
    parser.add_argument("--api-key", help="sent as a Bearer token to the server")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _where(loc: tuple) -> str:
    """An option's name from a validation error's location, without the union's tags."""
    parts = [str(p) for i, p in enumerate(loc) if not (i == 0 and p in FAMILIES)]
    return ".".join(p for p in parts if "[" not in p) or "options"


def _family_flags() -> dict[str, tuple[list[str], list[str]]]:
    """Every family's own choice options (``mixfit.schema.family_options``): option -> (the
    values any family accepts, the families that have it)."""
    flags: dict[str, tuple[list[str], list[str]]] = {}
    for family, options in family_options().items():
        for option, values in options.items():
            known, owners = flags.setdefault(option, ([], []))
            known += [v for v in values if v not in known]
            owners.append(family)
    return flags


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mixfit``."""
    parser = argparse.ArgumentParser(
        prog="mixfit",
        description="Fit finite mixtures to a CSV, score points against a fitted model, or run "
        "the service.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fit = commands.add_parser("fit", help="fit a mixture to the data of a CSV file")
    fit.add_argument("data", help="CSV file (one column: 1-D; several: d-dim); - reads stdin")
    fit.add_argument("--family", choices=tuple(FAMILIES), default="gaussian")
    fit.add_argument("--k", type=parse_k, help="K to fit: 3, a range 1-5 or a list 1,2,4")
    fit.add_argument("--starts", type=int, help="starts per K (default 10)")
    fit.add_argument("--seed", type=int, help="seed (drawn and recorded when omitted)")
    fit.add_argument("--criterion", choices=("bic", "aic", "icl"), default="bic")
    fit.add_argument(
        "--init",
        type=parse_init,
        help="kmeans++ (default), kmeans, quantile, random, moments (beta), a list a,b, or "
        'start values as JSON, e.g. \'{"weights": [0.5, 0.5], "means": [0, 4], "sds": [1, 1]}\'',
    )
    fit.add_argument("--max-iter", type=int, dest="max_iter")
    fit.add_argument("--tol", type=float)
    fit.add_argument("--tol-type", dest="tol_type", choices=("relative", "absolute", "per_sample"))
    for option, (values, owners) in _family_flags().items():
        fit.add_argument(
            "--" + option.replace("_", "-"),
            dest=option,
            choices=values,
            help=f"{', '.join(owners)} only",
        )
    fit.add_argument("--plot", metavar="PNG", help="draw data, density and traces (matplotlib)")
    fit.add_argument("-q", "--quiet", action="store_true", help="no progress bar on stderr")
    _server_options(fit)
    fit.set_defaults(run=cmd_fit)

    score = commands.add_parser("score", help="score points against a fitted model")
    score.add_argument(
        "model",
        metavar="MODEL_ID_OR_FILE",
        help="a model id on the server, or a JSON file: mixfit fit --json output or a model",
    )
    score.add_argument("points", help="CSV file of points; - reads stdin")
    score.add_argument("--alpha", type=float, default=0.01, help="anomaly when p-value < alpha")
    _server_options(score)
    score.set_defaults(run=cmd_score)

    lrt = commands.add_parser("lrt", help="bootstrap likelihood-ratio test of K vs K+1")
    lrt.add_argument("data", help="CSV file; - reads stdin")
    lrt.add_argument("--family", choices=tuple(FAMILIES), default="gaussian")
    lrt.add_argument("--k-min", dest="k_min", type=int, default=1)
    lrt.add_argument("--max-k", dest="max_k", type=int, help="test every K up to it")
    lrt.add_argument("--nboot", type=int, default=999)
    lrt.add_argument("--level", type=float, default=0.05)
    lrt.add_argument("--seed", type=int, default=0)
    lrt.add_argument(
        "--replicate-starts",
        dest="replicate_starts",
        choices=("search", "warm"),
        default="search",
        help="search: replicates searched as the data were (calibrated); warm: warm starts "
        "only (about mclust's cost)",
    )
    lrt.add_argument("-q", "--quiet", action="store_true", help="no progress bar on stderr")
    _server_options(lrt)
    lrt.set_defaults(run=cmd_lrt)

    boot = commands.add_parser("bootstrap", help="standard errors and intervals of the parameters")
    boot.add_argument("data", help="CSV file; - reads stdin")
    boot.add_argument("--family", choices=tuple(FAMILIES), default="gaussian")
    boot.add_argument("--k", type=int, required=True)
    boot.add_argument(
        "--method",
        choices=("nonparametric", "weighted", "observed_information"),
        default="nonparametric",
    )
    boot.add_argument("--nboot", type=int, default=999)
    boot.add_argument("--seed", type=int, default=0)
    boot.add_argument("-q", "--quiet", action="store_true", help="no progress bar on stderr")
    _server_options(boot)
    boot.set_defaults(run=cmd_bootstrap)

    serve = commands.add_parser(
        "serve", help="run Redis, a worker and the API locally (like make run)"
    )
    serve.add_argument("--bind", help="where the API listens (default 127.0.0.1:8000)")
    serve.set_defaults(run=cmd_serve)
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run ``mixfit``; returns the exit status (0 done, 1 the fit or server failed, 2 usage).

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default ``sys.argv[1:]``).
    out, err : file, optional
        Where results and messages go (default stdout and stderr).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        return args.run(args, out, err)
    except UsageError as exc:
        print(f"mixfit: error: {exc}", file=err)
        return 2
    except FitError as exc:
        print(f"mixfit: the fit failed: {exc}", file=err)
        return 1
    except Exception as exc:
        from pydantic import ValidationError

        from .client import ApiError

        if isinstance(exc, ValidationError):
            problems = exc.errors(include_url=False, include_input=False)
            # A union reports every member's complaint; the type mismatches are rarely the point.
            telling = [e for e in problems if not e["type"].endswith("_type")]
            problems = telling or problems
            lines = [f"  {_where(e['loc'])}: {e['msg']}" for e in problems]
            print("mixfit: invalid options:\n" + "\n".join(lines[:10]), file=err)
            return 2
        if isinstance(exc, ApiError):
            said = f"the server answered {exc.status}: " if exc.status else ""
            print(f"mixfit: {said}{exc.message}", file=err)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
