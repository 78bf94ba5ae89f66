"""openapi.yaml is the contract: valid OpenAPI, the same routes as Flask, the same schemas as the
pydantic models. And the house's import arrows hold."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from service import create_app, openapi_gen

ROOT = Path(__file__).resolve().parents[2]

METHODS = {"get", "post", "put", "patch", "delete"}


def test_openapi_is_valid() -> None:
    spec, _ = read_from_filename(str(ROOT / "openapi.yaml"))
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_paths_equal_flask_url_map(contract) -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    documented = {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }
    app = create_app({"REDIS_URL": "redis://127.0.0.1:1/0"})
    routed = {
        (contract.openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        for method in rule.methods
        if method.lower() in METHODS
    }
    assert documented == routed


def test_path_parameters_are_declared() -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    params = spec["components"]["parameters"]
    for path, item in spec["paths"].items():
        declared = {params[p["$ref"].split("/")[-1]]["name"] for p in item.get("parameters", [])}
        assert set(re.findall(r"{(\w+)}", path)) == declared, path


def test_component_schemas_equal_pydantic_models() -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    assert spec["components"]["schemas"] == openapi_gen.component_schemas()
    assert spec["components"] == openapi_gen.components()


def test_generator_check_reports_fresh_and_stale(tmp_path: Path) -> None:
    assert openapi_gen.main(["--check"]) == 0
    stale = tmp_path / "openapi.yaml"
    stale.write_text((ROOT / "openapi.yaml").read_text().replace("title: ScoreResult", "title: X"))
    assert openapi_gen.main(["--check", str(stale)]) == 1
    assert openapi_gen.main([str(stale)]) == 0
    assert stale.read_text() == (ROOT / "openapi.yaml").read_text()


def test_every_operation_documents_its_errors() -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            codes = set(op["responses"])
            if path.startswith("/v1/") and path != "/v1/families":
                assert "503" in codes, (method, path)
            if "{" in path:
                assert {"404", "410"} <= codes, (method, path)
            if "requestBody" in op:
                assert {"400", "413", "415", "422"} <= codes, (method, path)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        # The dev stack (devstack/) starts service, worker and Redis as processes: the top of
        # the arrows, imported by none of them.
        ("service", {"worker", "devstack"}),
        ("worker", {"service", "devstack", "flask"}),
        ("fitqueue", {"service", "worker", "devstack", "flask", "rq"}),
        ("mixfit", {"service", "worker", "fitqueue", "fitclient", "devstack"}),
        # The dev stack is exec'd by `mixfit serve`, never imported.
        ("fitclient", {"service", "worker", "fitqueue", "devstack", "flask", "redis", "rq"}),
    ],
)
def test_import_arrows(package: str, forbidden: set[str]) -> None:
    for path in (ROOT / package).rglob("*.py"):
        assert not (_imports(path) & forbidden), f"{path} imports {_imports(path) & forbidden}"


def test_keys_and_codec_stay_small() -> None:
    stdlib = set(sys.stdlib_module_names)
    assert _imports(ROOT / "fitqueue" / "keys.py") <= stdlib
    assert _imports(ROOT / "fitqueue" / "codec.py") <= stdlib | {"numpy"}


def test_the_core_imports_numpy_scipy_pydantic_only() -> None:
    """mixfit's maths needs numpy, scipy and pydantic; threadpoolctl is optional at import
    (guarded), matplotlib only for ``FitResult.plot()`` (and the CLI's ``--plot``) and
    scikit-learn only for ``mixfit.estimators`` (optional extras)."""
    allowed = set(sys.stdlib_module_names) | {"mixfit", "numpy", "scipy", "pydantic"}
    optional = {
        "estep.py": {"threadpoolctl"},
        "display.py": {"matplotlib"},  # FitResult.plot(), imported when called
        "estimators.py": {"sklearn"},  # the sklearn extra; `import mixfit` does not load it
    }
    for path in (ROOT / "mixfit").rglob("*.py"):
        extra = _imports(path) - allowed - optional.get(path.name, set())
        assert not extra, f"{path} imports {extra}"


def test_the_core_installs_alone_and_the_faces_are_extras() -> None:
    """``pip install mixfit`` brings the maths only; the service and the worker are extras."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=\[ ]", dep, maxsplit=1)[0] for dep in project["dependencies"]}
    assert names == {"numpy", "scipy", "pydantic", "threadpoolctl"}
    extras = project["optional-dependencies"]
    assert {"flask", "gunicorn"} <= {
        re.split(r"[<>=\[ ]", d, maxsplit=1)[0] for d in extras["service"]
    }
    worker = {re.split(r"[<>=\[ ]", d, maxsplit=1)[0] for d in extras["worker"]}
    assert worker == {"redis", "hiredis", "rq"}  # hiredis: redis-py's C parser (issue 10)


CORE_ONLY = """
import importlib.abc, sys
EXTRAS = {"flask", "werkzeug", "gunicorn", "redis", "rq", "flask_limiter", "prometheus_client",
          "sklearn", "matplotlib", "selenium", "fitqueue", "service", "worker", "fitclient"}
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in EXTRAS:
            raise ImportError(f"{name} is not part of a core-only install")
sys.meta_path.insert(0, Refuse())
import numpy as np, mixfit
rng = np.random.default_rng(0)
for family, x in [("gaussian", rng.normal(0, 1, 60)), ("poisson", rng.poisson(3, 60) * 1.0),
                  ("student_t", rng.standard_t(3, 60))]:
    result = mixfit.fit(x, family=family, k=[1, 2], n_starts=2, seed=0)
    scores = mixfit.score(result.model, x[:3])
    points, labels = mixfit.sample(result.model, 5, seed=1)
    assert len(scores.log_density) == 3 and points.shape == (5,)
print("ok")
"""


def test_the_core_fits_scores_and_samples_without_any_extra() -> None:
    """What a core-only install (numpy, scipy, pydantic) can do: every face's packages and
    every extra refused at import, mixfit fits, scores and samples."""
    out = subprocess.run(
        [sys.executable, "-c", CORE_ONLY], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
