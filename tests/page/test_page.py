"""``GET /`` without a browser: one self-contained HTML document whose Content-Security-Policy
allows exactly its inline script and nothing from elsewhere; public even when keys are set."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
import yaml

from service import create_app
from service.page import SCRIPT, STATIC, script

ROOT = Path(__file__).resolve().parents[2]
NO_REDIS = {"REDIS_URL": "redis://127.0.0.1:1/0"}  # never contacted by these routes


@pytest.fixture()
def page() -> tuple[str, dict[str, str]]:
    response = create_app(NO_REDIS).test_client().get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    return response.get_data(as_text=True), dict(response.headers)


def test_assets_are_inline_and_nothing_comes_from_elsewhere(page) -> None:
    html, _ = page
    assert re.findall(r"<script\b[^>]*>", html) == ["<script>"]  # one script, inline
    assert "<style>" in html and 'rel="stylesheet"' not in html
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?(?:[a-z]+:)?//""", html, flags=re.I)
    assert not re.search(r"""url\(\s*["']?(?:https?:)?//""", html)
    assert script() in html


def test_the_script_is_every_part_of_the_page_once() -> None:
    """Every file of service/static/page/ is a part of the script, listed once; the first
    opens the closure the others share and the last closes it."""
    assert sorted(SCRIPT) == sorted(p.name for p in (STATIC / "page").glob("*.js"))
    assert len(set(SCRIPT)) == len(SCRIPT)
    opening = re.compile(r"^\(\(\) => \{$", flags=re.M)  # the closure, at the left margin
    assert len(opening.findall(script())) == 1 and script().rstrip().endswith("})();")
    assert opening.search((STATIC / "page" / SCRIPT[0]).read_text())
    assert (STATIC / "page" / SCRIPT[-1]).read_text().rstrip().endswith("})();")


def test_csp_allows_exactly_the_inline_script(page) -> None:
    html, headers = page
    csp = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    script = re.search(r"<script>(.*?)</script>", html, flags=re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert csp["script-src"] == f"'sha256-{digest}'"
    assert csp["default-src"] == "'none'" and csp["connect-src"] == "'self'"


def test_the_page_is_public_when_api_keys_are_set() -> None:
    client = create_app({**NO_REDIS, "API_KEYS": "k" * 32}).test_client()
    assert client.get("/").status_code == 200
    assert client.get("/v1/models/" + "0" * 32).status_code == 401


def test_the_contract_documents_the_page() -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    assert "text/html" in spec["paths"]["/"]["get"]["responses"]["200"]["content"]
    rules = {r.rule: r.endpoint for r in create_app(NO_REDIS).url_map.iter_rules()}
    assert rules["/"] == "page.index"


def test_the_page_calls_only_documented_paths() -> None:
    """Every API path the page's script builds (fits, models, bootstraps, LRTs, ...) is in
    openapi.yaml."""
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    documented = {re.sub(r"\{[^}]+\}", "{}", path) for path in spec["paths"]}
    called = {
        re.sub(r"\$\{[^}]+\}", "{}", path) for path in re.findall(r"[`\"](/v1/[^`\"?]*)", script())
    }
    assert {"/v1/models/{}/bootstrap", "/v1/bootstraps/{}", "/v1/models/{}/lrt"} <= called
    assert called <= documented, called - documented
