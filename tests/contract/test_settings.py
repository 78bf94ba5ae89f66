"""The settings the API, the worker and the sweeper share (``fitqueue.settings``): today's
variables and defaults, bad values named, and every process taking its defaults from them."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from fitqueue import keys
from fitqueue.settings import ENVIRONMENT, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
EVERY = {
    "MIXFIT_REDIS_URL": "redis://example.invalid:6380/3",
    "MIXFIT_QUEUE_NAME": "fits-elsewhere",
    "MIXFIT_LOG_FORMAT": "text",
    "MIXFIT_LOG_LEVEL": "warning",
    "MIXFIT_WORKER_LOG_LEVEL": "debug",
    "MIXFIT_WORKER_INLINE": "1",
    "MIXFIT_INLINE_MAX_WORK": "5000",
}


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No shared ``MIXFIT_*`` variable set, whatever the runner's environment holds."""
    for name in ENVIRONMENT.values():
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture()
def root_logger() -> Iterator[None]:
    """``create_app`` configures the root logger: put its handlers and level back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_defaults_are_todays() -> None:
    assert Settings.from_env({}) == Settings(
        redis_url="redis://127.0.0.1:6379/0",
        queue_name="mixfit",
        log_format="json",
        log_level="INFO",
        worker_log_level=None,
        worker_inline=False,
        inline_max_work=50_000,
        worker_stale_seconds=10.0,
    )
    assert Settings().worker_stale_seconds == keys.WORKER_STALE_SECONDS  # /readyz's threshold
    assert Settings().worker_level == "INFO"


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(EVERY)
    assert settings == Settings(
        redis_url="redis://example.invalid:6380/3",
        queue_name="fits-elsewhere",
        log_format="text",
        log_level="WARNING",
        worker_log_level="DEBUG",
        worker_inline=True,
        inline_max_work=5000,
    )
    assert settings.worker_level == "DEBUG"
    assert Settings.from_env({"MIXFIT_LOG_LEVEL": "error"}).worker_level == "ERROR"
    assert set(EVERY) == set(ENVIRONMENT.values())  # this test covers every variable


def test_from_env_reads_the_live_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MIXFIT_QUEUE_NAME", "patched")
    clean_env.setenv("MIXFIT_INLINE_MAX_WORK", "")  # empty: unset, the default
    settings = Settings.from_env()
    assert settings.queue_name == "patched" and settings.inline_max_work == 50_000


@pytest.mark.parametrize(
    ("value", "inline"),
    [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False), ("false", False),
     ("off", False), ("", False)],
)  # fmt: skip
def test_worker_inline_takes_the_usual_spellings(value: str, inline: bool) -> None:
    assert Settings.from_env({"MIXFIT_WORKER_INLINE": value}).worker_inline is inline


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("MIXFIT_INLINE_MAX_WORK", "abc", "valid integer"),
        ("MIXFIT_INLINE_MAX_WORK", "-1", "greater than or equal to 0"),
        ("MIXFIT_WORKER_INLINE", "maybe", "valid boolean"),
        ("MIXFIT_LOG_FORMAT", "yaml", "must be one of json, text"),
        ("MIXFIT_LOG_LEVEL", "loud", "must be a level name"),
        ("MIXFIT_WORKER_LOG_LEVEL", "chatty", "must be a level name"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}='{value}': .*{says}") as caught:
        Settings.from_env({name: value})
    assert isinstance(caught.value, ValueError)


def test_settings_are_frozen_and_closed() -> None:
    with pytest.raises(ValidationError):
        Settings().queue_name = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        Settings(queue_nmae="typo")  # type: ignore[call-arg]


def test_the_service_takes_its_defaults_from_settings(
    clean_env: pytest.MonkeyPatch, root_logger: None
) -> None:
    import service
    from service import DEFAULTS, create_app

    assert {k: DEFAULTS[k] for k in ("REDIS_URL", "QUEUE_NAME", "LOG_FORMAT", "LOG_LEVEL")} == (
        service.shared_config(Settings())
    )
    clean_env.setenv("MIXFIT_QUEUE_NAME", "from-env")
    clean_env.setenv("MIXFIT_LOG_LEVEL", "WARNING")
    app = create_app()
    assert app.config["QUEUE_NAME"] == "from-env" and app.config["LOG_LEVEL"] == "WARNING"
    assert create_app({"QUEUE_NAME": "from-test"}).config["QUEUE_NAME"] == "from-test"
    # The settings' reading, not Flask's alone, is what the app starts from.
    clean_env.delenv("MIXFIT_QUEUE_NAME")
    clean_env.setattr(Settings, "from_env", classmethod(lambda cls: cls(queue_name="seam")))
    assert create_app().config["QUEUE_NAME"] == "seam"


def test_the_service_refuses_a_bad_shared_variable(
    clean_env: pytest.MonkeyPatch, root_logger: None
) -> None:
    from service import create_app

    clean_env.setenv("MIXFIT_INLINE_MAX_WORK", "abc")
    with pytest.raises(SettingsError, match="MIXFIT_INLINE_MAX_WORK"):
        create_app()


def test_the_worker_takes_its_defaults_from_settings(clean_env: pytest.MonkeyPatch) -> None:
    from worker import __main__ as worker_main

    args = worker_main.parser(Settings.from_env(EVERY)).parse_args([])
    assert (args.url, args.queue, args.inline, args.log_level) == (
        EVERY["MIXFIT_REDIS_URL"],
        EVERY["MIXFIT_QUEUE_NAME"],
        True,
        "DEBUG",
    )
    args = worker_main.parser(Settings()).parse_args(["--queue", "q", "--log-level", "error"])
    assert (args.url, args.queue, args.inline, args.log_level) == (
        "redis://127.0.0.1:6379/0",
        "q",
        False,
        "ERROR",
    )
    assert worker_main.INLINE_MAX_WORK == Settings.from_env().inline_max_work


def test_the_worker_reads_inline_max_work_from_settings_at_import() -> None:
    def imported(value: str) -> subprocess.CompletedProcess:
        code = "import worker.__main__ as w; print(w.INLINE_MAX_WORK)"
        env = {"PATH": "/usr/bin:/bin", "MIXFIT_INLINE_MAX_WORK": value}
        return subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
        )

    assert imported("1234").stdout.strip() == "1234"
    bad = imported("abc")
    assert bad.returncode != 0 and "MIXFIT_INLINE_MAX_WORK='abc'" in bad.stderr


def test_the_sweeper_takes_its_defaults_from_settings() -> None:
    from worker import sweeper

    args = sweeper.parser(Settings.from_env(EVERY)).parse_args([])
    assert (args.url, args.queue, args.stale_after) == (
        EVERY["MIXFIT_REDIS_URL"],
        EVERY["MIXFIT_QUEUE_NAME"],
        keys.WORKER_STALE_SECONDS,
    )
    args = sweeper.parser(Settings(worker_stale_seconds=3.0)).parse_args(["--url", "unix:///r"])
    assert (args.url, args.queue, args.stale_after) == ("unix:///r", "mixfit", 3.0)
    assert sweeper.DEFAULT_STALE_AFTER == Settings().worker_stale_seconds
