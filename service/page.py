"""The EM simulator page at ``/``: simulate or load data, fit, watch, replay, score.

The page is plain HTML, CSS and JavaScript in ``service/static/`` and draws its four plots as
hand-written SVG. Its script is the files of ``service/static/page/`` in the order of
``SCRIPT``, one part of the page each (its family table, the API calls, each plot, the
intervals and the LRT, ...), joined into one script that shares one closure. Why no plotting
library: nothing may come from a CDN (the page must work on a host without internet access and
send nothing elsewhere), and a vendored library from npm would be hundreds of kilobytes of
minified code nobody reviews, plus a build step, for a histogram, a few polylines and some
circles. Why no build step: a checkout serves the page as it is.

``GET /`` answers one self-contained HTML document: the two ``<link>``/``<script>`` tags of
``index.html`` are replaced by the stylesheet and the joined script inline (``/docs`` does the
same). So the contract keeps one route instead of a ``/static/{filename}`` path, and the
Content-Security-Policy can allow exactly this script (by its SHA-256) and no other source:
the browser itself refuses anything from elsewhere.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from pathlib import Path

from flask import Blueprint, Response

bp = Blueprint("page", __name__)
STATIC = Path(__file__).resolve().parent / "static"
# index.html's placeholders for the stylesheet and the joined script (``script``)
CSS_TAG = '<link rel="stylesheet" href="page.css">'
JS_TAG = '<script src="page.js"></script>'
# The parts of the page's script, in the order they are joined (``script``).
SCRIPT = (
    "setup.js",
    "numbers.js",
    "families.js",
    "api.js",
    "data.js",
    "settings.js",
    "status.js",
    "svg.js",
    "histogram.js",
    "traces.js",
    "criteria.js",
    "tables.js",
    "slider.js",
    "scoring.js",
    "inference.js",
    "wiring.js",
)
ASSETS = ("index.html", "page.css", *(f"page/{name}" for name in SCRIPT))


def script() -> str:
    """The page's script: the parts of ``SCRIPT`` joined in order."""
    return "".join((STATIC / "page" / name).read_text(encoding="utf-8") for name in SCRIPT)


@functools.cache
def _render(mtimes: tuple[float, ...]) -> tuple[str, str]:
    """The page with its assets inline, and its Content-Security-Policy (cached per mtimes)."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    css = (STATIC / "page.css").read_text(encoding="utf-8")
    js = script()
    for tag, name, text, end in (
        (CSS_TAG, "page.css", css, "</style"),
        (JS_TAG, "page/*.js", js, "</script"),
    ):
        if html.count(tag) != 1:
            raise RuntimeError(f"service/static/index.html must hold {tag!r} exactly once")
        if end in text.lower():
            raise RuntimeError(f"service/static/{name} must not contain {end!r} (it is inlined)")
    inline = f"<script>\n{js}</script>"
    page = html.replace(CSS_TAG, f"<style>\n{css}</style>").replace(JS_TAG, inline)
    digest = base64.b64encode(hashlib.sha256(f"\n{js}".encode()).digest()).decode()
    csp = (
        "default-src 'none'; "
        f"script-src 'sha256-{digest}'; "
        "style-src 'unsafe-inline'; "
        "connect-src 'self'; "
        "img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return page, csp


@bp.get("/")
def index() -> Response:
    """The EM simulator page: one HTML document, its script and style inline, no external assets.

    Returns
    -------
    Response
        ``text/html`` with a Content-Security-Policy that allows only the inline script and
        requests to this origin.
    """
    page, csp = _render(tuple((STATIC / name).stat().st_mtime for name in ASSETS))
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = csp
    response.headers["Cache-Control"] = "no-cache"
    return response
