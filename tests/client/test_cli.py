"""The ``mixfit`` command: ``fit`` in-process and through the live stack, ``score``, ``--plot``,
``--json``, CSV reading, errors, the console script and ``serve``."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import mixfit
from fitclient import cli

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture()
def data_csv(tmp_path: Path) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(4)
    x = np.round(np.concatenate([rng.normal(0, 1, 90), rng.normal(5, 1.5, 60)]), 5)
    path = tmp_path / "data.csv"
    path.write_text("# two bumps\nx\n" + "\n".join(map(str, x)) + "\n")
    return path, x


def table(out: str) -> list[list[str]]:
    """The rows of the K table: lines that start with a K."""
    block = out.split("\n\n")[1]
    return [line.split() for line in block.splitlines()[1:]]


def test_fit_local_prints_the_k_table_and_the_parameters(data_csv) -> None:
    path, x = data_csv
    code, out, err = run("fit", str(path), "--k", "1-3", "--starts", "5", "--seed", "9", "-q")
    assert code == 0, err
    assert err == ""
    expected = mixfit.fit(x, k={"min": 1, "max": 3}, n_starts=5, seed=9)
    rows = table(out)
    assert [int(r[0]) for r in rows] == [1, 2, 3]
    for row, r in zip(rows, expected.results, strict=True):
        loglik, n_params, bic, aic, icl = row[1:6]
        assert float(loglik) == round(r.loglik, 2) and int(n_params) == r.n_params
        assert (float(bic), float(aic), float(icl)) == (
            round(r.bic, 2),
            round(r.aic, 2),
            round(r.icl, 2),
        )
        assert row[6] == ("yes" if r.converged else "no") and int(row[7]) == r.n_iter
        assert ("<-" in row) == (r.k == expected.k_selected)
    assert f"selected k = {expected.k_selected} by BIC:" in out
    params = out.split("by BIC:\n", 1)[1].splitlines()
    assert params[0].split() == ["component", "weight", "mean", "sd"]
    got = np.array([[float(v) for v in line.split()[1:]] for line in params[1:]])
    p = expected.model.params
    want = np.column_stack([p.weights, p.means, p.sds])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=5e-5)  # as printed
    assert out.splitlines()[0] == "gaussian mixture, n = 150, d = 1, seed 9 (local)"


def test_fit_through_the_server_prints_what_local_prints(live_api: str, data_csv) -> None:
    path, _ = data_csv
    args = ("fit", str(path), "--k", "1-3", "--starts", "4", "--seed", "3")
    code, remote, err = run(*args, "--url", live_api)
    assert code == 0, err
    assert re.search(r"fit [0-9a-f]{8} \[#+\] finished", err)  # the progress bar
    code, local, _ = run(*args, "--local", "-q")
    assert code == 0
    header = re.compile(r"\(.*\)$", flags=re.M)
    assert header.sub("", remote) == header.sub("", local)
    assert re.search(f"server {live_api}, fit [0-9a-f]{{32}}, model [0-9a-f]{{32}}", remote)


def test_local_overrides_mixfit_api(monkeypatch, data_csv) -> None:
    monkeypatch.setenv("MIXFIT_API", "http://127.0.0.1:9")  # nothing listens there
    code, out, err = run("fit", str(data_csv[0]), "--k", "2", "--seed", "1", "--local", "-q")
    assert code == 0, err
    code, out, err = run("fit", str(data_csv[0]), "--k", "2", "--seed", "1", "-q")
    assert code == 1 and "could not reach the mixfit server at http://127.0.0.1:9" in err


def test_json_then_score_from_the_file_and_by_model_id(live_api: str, data_csv, tmp_path) -> None:
    path, _ = data_csv
    code, out, err = run("fit", str(path), "--k", "2", "--seed", "1", "--json", "--url", live_api)
    assert code == 0, err
    result = mixfit.FitResult.model_validate_json(out)
    model_id = re.search(r"^model ([0-9a-f]{32})$", err, flags=re.M).group(1)
    fit_file = tmp_path / "fit.json"
    fit_file.write_text(out)
    points = tmp_path / "points.csv"
    points.write_text("0.1\n5\n40\n")

    code, from_file, err = run("score", str(fit_file), str(points))
    assert code == 0, err
    code, by_id, err = run("score", model_id, str(points), "--url", live_api)
    assert code == 0, err
    assert from_file == by_id
    expected = mixfit.score(result.model, [0.1, 5.0, 40.0])
    rows = [line.split() for line in from_file.splitlines()[1:4]]
    assert [float(r[1]) for r in rows] == pytest.approx(expected.log_density, rel=1e-5)
    assert [int(r[2]) - 1 for r in rows] == expected.component  # shown from 1
    assert [r[4] == "ANOMALY" for r in rows] == expected.is_anomaly == [False, False, True]
    assert from_file.splitlines()[-1] == "1 of 3 anomalous at alpha 0.01"

    code, out, err = run("score", str(fit_file), str(points), "--json", "--alpha", "0.5")
    assert code == 0
    assert mixfit.ScoreResult.model_validate_json(out) == mixfit.score(
        result.model, [0.1, 5.0, 40.0], alpha=0.5
    )


def test_beta_family_and_weights(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    y = np.round(np.concatenate([rng.beta(2, 8, 80), rng.beta(9, 3, 70)]), 6)
    w = np.where(np.arange(150) % 2 == 0, 2.0, 1.0)
    path = tmp_path / "props.csv"
    path.write_text("value,weight\n" + "\n".join(f"{a},{b}" for a, b in zip(y, w, strict=True)))
    code, out, err = run("fit", str(path), "--family", "beta", "--k", "1-2", "--seed", "1", "-q")
    assert code == 0, err
    expected = mixfit.fit(y, weights=w, family="beta", k={"min": 1, "max": 2}, seed=1)
    assert out.splitlines()[0].startswith("beta mixture, n = 150, d = 1")
    params = out.split("by BIC:\n", 1)[1].splitlines()
    assert params[0].split() == ["component", "weight", "alpha", "beta", "mean"]
    got = np.array([[float(v) for v in line.split()[1:4]] for line in params[1:]])
    p = expected.model.params
    want = np.column_stack([p.weights, p.alphas, p.betas])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=5e-5)


def test_csv_reading(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("1.5\n\n# a comment\n2.5\n-3e2\n")
    x, w = cli.read_csv(str(path))
    assert x.tolist() == [1.5, 2.5, -300.0] and w is None
    path.write_text("a,b,Weights\n1,2,3\n4,5,6\n")
    x, w = cli.read_csv(str(path))
    assert x.tolist() == [[1.0, 2.0], [4.0, 5.0]] and w.tolist() == [3.0, 6.0]
    x, _ = cli.read_csv("-", stdin=io.StringIO("x\n7\n8\n"))
    assert x.tolist() == [7.0, 8.0]
    for text, message in [
        ("1,2\n3\n", "line 2 has 1 values; expected 2"),
        ("x\n1\nabc\n", "line 3, column 1: 'abc' is not a number"),
        ("a;b\n1;2\n3;4\n", "'1;2' is not a number (values separated by semicolons?"),
        ("a\tb\n1\t2\n", "(values separated by tabs? the CSV must be comma-separated)"),
        ('x\n"1,5"\n', "'1,5' is not a number (a decimal comma? write decimal points)"),
        ("# nothing\n", "has no data rows"),
        ("x\n", "has a header but no data rows"),
        ("weight\n1\n", "only a weight column"),
    ]:
        path.write_text(text)
        code, out, err = run("fit", str(path))
        assert code == 2 and out == "" and message in err, err
    code, _, err = run("fit", str(tmp_path / "missing.csv"))
    assert code == 2 and "cannot read" in err


def test_bad_options_say_what_to_change(data_csv) -> None:
    code, _, err = run("fit", str(data_csv[0]), "--k", "0-3")
    assert (
        code == 2
        and err == "mixfit: invalid options:\n  k.min: Input should be greater than or equal to 1\n"
    )
    code, _, err = run("fit", str(data_csv[0]), "--family", "beta", "-q")
    assert code == 1 and "the beta family's support is (0, 1)" in err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["fit", str(data_csv[0]), "--k", "two"], io.StringIO(), io.StringIO())
    assert exit_.value.code == 2
    code, _, err = run("score", "0" * 32, str(data_csv[0]), "--local")
    assert code == 2 and "is not a file" in err


def test_explicit_start_values(data_csv) -> None:
    start = '{"weights": [0.5, 0.5], "means": [-1, 6], "sds": [1, 1]}'
    code, out, err = run("fit", str(data_csv[0]), "--init", start, "--json")
    assert code == 0, err
    result = mixfit.FitResult.model_validate_json(out)
    assert [r.k for r in result.results] == [2]
    assert result.results[0].starts[0].init == "explicit"


def test_plot(data_csv, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "fit.png"
    code, out, err = run("fit", str(data_csv[0]), "--k", "1-3", "--seed", "2", "--plot", str(png))
    assert code == 0, err
    assert out.endswith(f"plot written to {png}\n")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib import image

    pixels = image.imread(png)
    assert pixels.shape[1] > 1000 and pixels.std() > 0.05  # an image, not a blank canvas


def test_plot_without_matplotlib_says_how_to_install(monkeypatch, data_csv, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, out, err = run("fit", str(data_csv[0]), "--k", "2", "--plot", str(tmp_path / "p.png"))
    assert code == 2 and out == ""
    assert "--plot needs matplotlib: pip install 'mixfit[plot]'" in err


def test_console_script_runs(data_csv) -> None:
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"mixfit": "fitclient.cli:main"}
    done = subprocess.run(
        [sys.executable, "-m", "fitclient", "fit", "-", "--k", "2", "--seed", "1", "-q"],
        input=data_csv[0].read_text(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "selected k = 2 by BIC:" in done.stdout


def test_serve_runs_the_stack(redis_url: str) -> None:
    """``mixfit serve`` is ``python -m devstack``: on an existing Redis it starts a
    worker and gunicorn, answers /readyz, and stops cleanly on Ctrl-C."""
    import devstack

    bind = f"127.0.0.1:{devstack.free_port()}"
    env = dict(os.environ, MIXFIT_REDIS_URL=redis_url, MIXFIT_QUEUE_NAME="mixfit-serve-test")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fitclient", "serve", "--bind", bind],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = []
    try:
        # Ready once the stack prints its banner (its own /healthz wait comes first: /readyz can
        # answer before the banner is out, and a Ctrl-C then would cut it).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if not line or line.startswith("Press Ctrl-C to stop."):
                break
        devstack.wait_http(f"http://{bind}/readyz", proc, timeout=60)
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        rest, _ = proc.communicate(timeout=60)
    out = "".join(seen) + rest
    assert proc.returncode == 0, out
    assert f"API    http://{bind}/v1" in out and "stopped." in out


NEW_FAMILY_DATA = {
    "poisson": (lambda rng: np.concatenate([rng.poisson(2, 80), rng.poisson(12, 70)]), "lambdas"),
    "gamma": (
        lambda rng: np.concatenate([rng.gamma(3, 0.5, 80), rng.gamma(60, 0.2, 70)]),
        "shapes",
    ),
    "lognormal": (
        lambda rng: np.exp(np.concatenate([rng.normal(0, 0.3, 80), rng.normal(2, 0.3, 70)])),
        "meanlogs",
    ),
    "student_t": (
        lambda rng: np.concatenate([rng.standard_t(3, 80), 9 + rng.standard_t(3, 70)]),
        "means",
    ),
}


@pytest.mark.parametrize("family", sorted(NEW_FAMILY_DATA))
def test_every_new_family_fits_tables_and_plots(family: str, tmp_path: Path) -> None:
    """Fit, the family's own parameter table (its first column as the core has it) and a plot."""
    make, key = NEW_FAMILY_DATA[family]
    x = np.round(make(np.random.default_rng(5)), 6)
    path = tmp_path / "x.csv"
    path.write_text("x\n" + "\n".join(map(str, x)) + "\n")
    png = tmp_path / "fit.png"
    argv = ["fit", str(path), "--family", family, "--k", "2", "--seed", "3", "--starts", "4"]
    code, out, err = run(*argv, "-q", *(["--plot", str(png)] if _has_matplotlib() else []))
    assert code == 0, err
    expected = mixfit.fit(x, family=family, k=2, seed=3, n_starts=4).model.params
    params = out.split("by BIC:\n", 1)[1].splitlines()
    assert params[0].split()[:2] == ["component", "weight"]
    got = [float(line.split()[2]) for line in params[1:3]]
    np.testing.assert_allclose(got, getattr(expected, key), rtol=1e-4)
    if _has_matplotlib():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _has_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def test_lrt_and_bootstrap_commands_print_what_the_core_computes(data_csv) -> None:
    path, x = data_csv
    code, out, err = run("lrt", str(path), "--max-k", "1", "--nboot", "4", "--seed", "3")
    assert code == 0, err
    expected = mixfit.bootstrap_lrt(x, max_k=1, nboot=4, seed=3)
    row = out.splitlines()[2].split()
    assert row[:3] == ["1", "vs", "2"]
    assert float(row[3]) == pytest.approx(expected.steps[0].statistic, abs=1e-4)
    assert float(row[4]) == pytest.approx(expected.steps[0].p_value)
    code, out, err = run("bootstrap", str(path), "--k", "2", "--nboot", "5", "--json")
    assert code == 0, err
    fitted = mixfit.fit(x, k=2, seed=0)
    assert mixfit.BootstrapResult.model_validate_json(out) == mixfit.bootstrap(
        fitted, x, nboot=5, seed=0
    )


def test_lrt_and_bootstrap_through_the_server_print_what_local_prints(
    live_api: str, data_csv
) -> None:
    """On a server the commands fit the data there, then queue the LRT or bootstrap of that
    model: the LRT is the local one exactly, the intervals to the fits' agreement."""
    path, _ = data_csv
    args = ("lrt", str(path), "--max-k", "2", "--nboot", "4", "--seed", "3", "--json")
    args = (*args[:-1], "--replicate-starts", "warm", "--json")
    code, remote, err = run(*args, "--url", live_api)
    assert code == 0, err
    code, local, _ = run(*args)
    assert code == 0
    remote_lrt = mixfit.LRTResult.model_validate_json(remote)
    assert remote_lrt == mixfit.LRTResult.model_validate_json(local)  # exactly
    assert remote_lrt.replicate_starts == "warm"
    assert [s.k for s in remote_lrt.steps] == [1, 2]
    code, table, err = run(*args[:-1], "--url", live_api)
    assert code == 0, err
    assert re.search(f"\\(server {live_api}, model [0-9a-f]{{32}}\\)$", table.splitlines()[0])
    assert re.search(r"lrt [0-9a-f]{8} \[#+\] finished", err)  # the progress bar

    args = ("bootstrap", str(path), "--k", "2", "--nboot", "6", "--seed", "1", "--json")
    code, remote, err = run(*args, "--url", live_api, "-q")
    assert code == 0, err
    assert err == ""
    code, local, _ = run(*args)
    a = mixfit.BootstrapResult.model_validate_json(remote)
    b = mixfit.BootstrapResult.model_validate_json(local)
    assert (a.method, a.nboot, a.failed, a.seed) == (b.method, b.nboot, b.failed, b.seed)
    for name, spread in b.parameters.items():
        for field in ("estimate", "se", "lower", "upper"):
            got = getattr(a.parameters[name], field)
            assert got == pytest.approx(getattr(spread, field), rel=1e-6, abs=1e-9)

    code, _, err = run("lrt", str(path), "--url", live_api)
    assert code == 2 and "needs --max-k" in err
    code, _, err = run(
        "bootstrap",
        str(path),
        "--k",
        "2",
        "--family",
        "student_t",
        "--method",
        "observed_information",
        "--url",
        live_api,
        "-q",
    )
    assert code == 1 and "1-D Gaussian family only" in err


def readme_session(readme: str, command: str) -> str:
    """What the README's CLI section shows ``command`` printing: the lines after ``$ command``
    in its ```text blocks, up to the next ``$`` line or the block's end."""
    section = readme.split("\n## The page, the Python client and the CLI\n", 1)[1].split(
        "\n## ", 1
    )[0]
    for block in re.findall(r"```text\n(.*?)```", section, flags=re.S):
        lines = block.splitlines()
        if f"$ {command}" in lines:
            rest = lines[lines.index(f"$ {command}") + 1 :]
            end = next((i for i, line in enumerate(rest) if line.startswith("$ ")), len(rest))
            return "\n".join(rest[:end])
    raise AssertionError(f"the README shows no `$ {command}`")


def test_the_readmes_cli_session_is_what_the_cli_prints(monkeypatch, tmp_path: Path) -> None:
    """The README's in-process ``mixfit fit`` table and ``mixfit score`` table, on the REST
    walkthrough's ``data.csv`` (made by the walkthrough's own Python), are what the CLI prints."""
    monkeypatch.delenv("MIXFIT_API", raising=False)  # the README's commands run in-process
    readme = (ROOT / "README.md").read_text()
    make_data = re.search(r"python3 -c '\n(import random\n.*?)' > data\.csv", readme, flags=re.S)
    data = tmp_path / "data.csv"
    data.write_text(
        subprocess.run(
            [sys.executable, "-c", make_data.group(1)], capture_output=True, text=True, check=True
        ).stdout
    )
    code, out, err = run("fit", str(data), "--k", "1-5", "--seed", "1")
    assert code == 0, err
    assert out.strip() == readme_session(readme, "mixfit fit data.csv --k 1-5 --seed 1").strip()

    code, out, err = run("fit", str(data), "--k", "1-5", "--seed", "1", "--json", "-q")
    assert code == 0, err
    (tmp_path / "fit.json").write_text(out)
    points = tmp_path / "points.csv"
    points.write_text("0.1\n5.0\n25.0\n")
    code, out, err = run("score", str(tmp_path / "fit.json"), str(points))
    assert code == 0, err
    assert out.strip() == readme_session(readme, "mixfit score fit.json points.csv").strip()
