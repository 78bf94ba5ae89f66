"""The page in headless Chromium against the live stack: the fit it opens on, simulate, fit, read
the plots and the tables against the API's own result, replay iterations, score, screenshot.

Debian's ``chromium`` and ``chromium-driver`` drive it through selenium; nothing is downloaded.
Without them the test skips, under ``MIXFIT_STRICT=1`` (``.ci/run``) it fails. The screenshot
lands in the git-ignored ``var/page.png``; with ``MIXFIT_UPDATE_DOCS=1`` it replaces
``docs/page.png``, which the README shows (so an ordinary test run leaves the tree clean).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from tests.system import require_tool

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / ("docs" if os.environ.get("MIXFIT_UPDATE_DOCS") == "1" else "var") / "page.png"
TERMINAL = ("finished", "failed", "canceled")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Debian Chromium through chromedriver, with a fresh profile."""
    chromium = require_tool("chromium", "the page's browser test")
    chromedriver = require_tool("chromedriver", "the page's browser test (chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1440,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def post_json(url: str, body: Any) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def attr(element: Any, name: str) -> str:
    value = element.get_attribute(name)
    assert value is not None, f"{element.tag_name} has no {name}"
    return value


def close(shown: str, value: float, digits: int = 4) -> bool:
    """``shown`` is ``value`` printed with ``digits`` significant digits (or fixed decimals)."""
    return math.isclose(float(shown), value, rel_tol=10.0 ** (1 - digits), abs_tol=1e-12)


def wait_status(driver: Any, seconds: float = 60) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    def ended(d: Any) -> str | bool:
        status = d.find_element("id", "fit-status").get_attribute("data-status")
        return status if status in TERMINAL else False

    return WebDriverWait(driver, seconds).until(ended)


def set_value(driver: Any, element_id: str, value: Any) -> None:
    element = driver.find_element("id", element_id)
    element.clear()
    element.send_keys(str(value))


def curve_points(path_d: str) -> np.ndarray:
    """The (x, y) pixel points of an SVG path made of M/L commands."""
    return np.array(
        [[float(a), float(b)] for a, b in re.findall(r"[ML](-?[\d.]+),(-?[\d.]+)", path_d)]
    )


def gaussian_mixture(params: dict[str, Any], x: np.ndarray) -> np.ndarray:
    return sum(
        w * stats.norm.pdf(x, m, s)
        for w, m, s in zip(params["weights"], params["means"], params["sds"], strict=True)
    )


def assert_mixture_drawn(driver: Any, params: dict[str, Any]) -> None:
    """The histogram's mixture curve is the density of ``params``, to the pixel."""
    svg = driver.find_element("id", "hist-svg")
    box = {k: float(attr(svg, f"data-{k}")) for k in ("xmin", "xmax", "ymin", "ymax", "left")}
    box |= {k: float(attr(svg, f"data-{k}")) for k in ("top", "width", "height")}
    points = curve_points(attr(svg.find_element("css selector", "[data-curve=mixture]"), "d"))
    assert len(points) > 100
    x = box["xmin"] + (points[:, 0] - box["left"]) / box["width"] * (box["xmax"] - box["xmin"])
    y_px = box["top"] + box["height"] * (
        1 - (gaussian_mixture(params, x) - box["ymin"]) / (box["ymax"] - box["ymin"])
    )
    assert np.max(np.abs(np.clip(y_px, -1e4, 1e4) - points[:, 1])) < 1.0


def component_params(driver: Any) -> dict[str, list[float]]:
    curves = driver.find_elements("css selector", "#hist-svg [data-curve=component]")
    curves.sort(key=lambda c: int(attr(c, "data-component")))
    return {
        "weights": [float(attr(c, "data-weight")) for c in curves],
        "means": [float(attr(c, "data-mean")) for c in curves],
        "sds": [float(attr(c, "data-sd")) for c in curves],
    }


def screenshot_whole_page(driver: Any) -> None:
    """Grow the window to the page's height, then save the screenshot (``SCREENSHOT``)."""
    for _ in range(3):  # the layout may reflow once the window is taller
        chrome, height = driver.execute_script(
            "window.scrollTo(0, 0);"
            "return [window.outerHeight - window.innerHeight,"
            " document.documentElement.scrollHeight];"
        )
        if driver.execute_script("return window.innerHeight") >= height:
            break
        driver.set_window_size(1440, height + chrome)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(SCREENSHOT))


def move_slider(driver: Any, value: int) -> None:
    slider = driver.find_element("id", "iter-slider")
    driver.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        slider,
        value,
    )


def shown_fit(driver: Any, live_api: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The API's document of the fit the page shows, and the result of its selected K."""
    fit_id = attr(driver.find_element("id", "fit-status"), "data-fit-id")
    doc = get_json(f"{live_api}/v1/fits/{fit_id}")
    result = doc["result"]
    return doc, next(r for r in result["results"] if r["k"] == result["k_selected"])


def score_points(driver: Any) -> str:
    return driver.find_element("id", "score-input").get_attribute("value")


def test_the_page_opens_on_a_fit_of_the_default_simulation(browser: Any, live_api: str) -> None:
    """Without a click, the default simulation is fitted through the API and drawn."""
    driver = browser
    driver.get(live_api + "/")
    assert wait_status(driver, 30) == "finished", driver.find_element("id", "message").text
    assert driver.find_element("id", "status-text").text.startswith("finished")
    assert driver.find_element("id", "data-summary").get_attribute("data-n") == "200"
    doc, chosen = shown_fit(driver, live_api)
    result = doc["result"]
    assert result["options"]["n_starts"] == 10 and result["options"]["keep_path"] is True
    rows = driver.find_elements("css selector", "#k-table tbody tr")
    assert [int(attr(r, "data-k")) for r in rows] == [r["k"] for r in result["results"]]
    assert [r["k"] for r in result["results"]] == [1, 2, 3, 4]
    assert_mixture_drawn(driver, chosen["params"])
    assert len(driver.find_elements("css selector", "#trace-plot [data-start]")) == 10
    ring = driver.find_element("css selector", "#criteria-plot [data-selected=true]")
    assert int(attr(ring, "data-k")) == result["k_selected"]
    assert driver.find_element("id", "message").get_attribute("hidden") is not None


def test_a_click_supersedes_the_opening_fit(browser: Any, live_api: str) -> None:
    """Fit clicked while the opening fit runs: only the clicked fit's answers are shown."""
    driver = browser
    driver.get(live_api + "/")
    status_at_click = driver.execute_script(
        "for (const [id, v] of [['fit-kmin', 2], ['fit-kmax', 2], ['fit-starts', 3]])"
        "  document.getElementById(id).value = v;"
        "const status = document.getElementById('fit-status').dataset.status;"
        "document.getElementById('fit-button').click();"
        "return status;"
    )
    assert status_at_click not in (*TERMINAL, "idle")  # the opening fit was under way
    assert wait_status(driver) == "finished", driver.find_element("id", "message").text
    fit_id = attr(driver.find_element("id", "fit-status"), "data-fit-id")
    time.sleep(1.2)  # one long poll (wait=1) more: a late answer of the opening fit would be in
    assert attr(driver.find_element("id", "fit-status"), "data-fit-id") == fit_id
    doc, chosen = shown_fit(driver, live_api)
    assert [r["k"] for r in doc["result"]["results"]] == [2]
    rows = driver.find_elements("css selector", "#k-table tbody tr")
    assert [int(attr(r, "data-k")) for r in rows] == [2]
    assert_mixture_drawn(driver, chosen["params"])
    assert driver.find_element("id", "message").get_attribute("hidden") is not None


def test_new_data_supersede_the_opening_fit(browser: Any, live_api: str) -> None:
    """Simulate clicked while the opening fit is being sent: its late answers never show.

    250 ms of emulated latency on every request keeps the opening fit's upload in flight when the
    click lands, the moment a fit has no id yet for a late answer to be told apart by.
    """
    driver = browser
    driver.execute_cdp_cmd("Network.enable", {})
    slow = {"offline": False, "latency": 250, "downloadThroughput": -1, "uploadThroughput": -1}
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", slow)
    try:
        driver.get(live_api + "/")
        status_at_click = driver.execute_script(
            "document.getElementById('sim-seed').value = 7;"
            "const status = document.getElementById('fit-status').dataset.status;"
            "document.getElementById('simulate').click();"
            "return status;"
        )
        assert status_at_click == "submitting"
        time.sleep(3)  # the opening fit's upload, submission and answer: 3 requests and 1 fit
        assert driver.find_element("id", "fit-status").get_attribute("data-status") == "idle"
        assert not driver.find_elements("css selector", "#k-table tbody tr")
        assert not driver.find_elements("css selector", "#hist-svg [data-curve=mixture]")
        assert "seed 7" in driver.find_element("id", "data-summary").text
    finally:
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", slow | {"latency": 0})
        driver.execute_cdp_cmd("Network.disable", {})


def test_score_points_follow_the_family(browser: Any, live_api: str) -> None:
    """Default score points lie in the chosen family's support; typed ones are kept."""
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver = browser
    driver.get(live_api + "/")
    assert score_points(driver) == "0.1, 4, 12"
    Select(driver.find_element("id", "sim-family")).select_by_value("beta")
    driver.find_element("id", "simulate").click()  # beta data select the beta family
    family = Select(driver.find_element("id", "fit-family"))
    assert family.first_selected_option.get_attribute("value") == "beta"
    assert score_points(driver) == "0.05, 0.5, 0.97"
    family.select_by_value("gaussian")
    assert score_points(driver) == "0.1, 4, 12"
    family.select_by_value("beta")
    assert score_points(driver) == "0.05, 0.5, 0.97"

    set_value(driver, "fit-kmax", 2)
    set_value(driver, "fit-starts", 3)
    driver.find_element("id", "fit-button").click()
    assert wait_status(driver) == "finished", driver.find_element("id", "message").text
    doc, _ = shown_fit(driver, live_api)
    assert doc["result"]["family"] == "beta"
    driver.find_element("id", "score-button").click()
    WebDriverWait(driver, 30).until(
        lambda d: (
            len(d.find_elements("css selector", "#score-table tbody tr")) == 3
            or d.find_element("id", "message").text
        )
    )
    assert driver.find_element("id", "message").get_attribute("hidden") is not None
    expected = post_json(
        f"{live_api}/v1/models/{doc['model_id']}/score", {"points": [0.05, 0.5, 0.97]}
    )
    shown = driver.find_elements("css selector", "#score-table [data-field=log_density]")
    assert [float(attr(td, "data-value")) for td in shown] == expected["log_density"]

    # Points the user typed stay when the family changes.
    set_value(driver, "score-input", "0.2, 0.3")
    family.select_by_value("gaussian")
    assert score_points(driver) == "0.2, 0.3"


def test_simulate_fit_replay_score(browser: Any, live_api: str) -> None:
    driver = browser
    driver.get(live_api + "/")
    assert driver.title.startswith("mixfit")

    # Data: the simulator's defaults, mu = (0, 4), sd = (1, 1.5), pi = (0.4, 0.6), N = 200.
    assert [
        float(driver.find_element("id", f"sim-{f}-{i}").get_attribute("value"))
        for i in range(2)
        for f in ("mu", "sd", "pi")
    ] == [0, 1, 0.4, 4, 1.5, 0.6]
    set_value(driver, "sim-seed", 7)
    driver.find_element("id", "simulate").click()
    assert driver.find_element("id", "data-summary").get_attribute("data-n") == "200"
    assert driver.find_elements("css selector", "#hist-svg .hist rect")
    assert driver.find_elements("css selector", "#hist-svg [data-curve=truth]")
    beta = driver.find_element("css selector", "#fit-family option[value=beta]")
    assert not beta.is_enabled()  # normal data reach below 0

    # Fit K = 1..3, 6 starts each.
    set_value(driver, "fit-kmin", 1)
    set_value(driver, "fit-kmax", 3)
    set_value(driver, "fit-starts", 6)
    set_value(driver, "fit-seed", 11)
    driver.find_element("id", "fit-button").click()
    assert wait_status(driver) == "finished", driver.find_element("id", "message").text
    fit_id = attr(driver.find_element("id", "fit-status"), "data-fit-id")
    doc = get_json(f"{live_api}/v1/fits/{fit_id}")
    result = doc["result"]
    assert result["options"]["keep_path"] is True and result["options"]["n_starts"] == 6
    chosen = next(r for r in result["results"] if r["k"] == result["k_selected"])

    # The K table holds the API's numbers, and marks the selection.
    rows = driver.find_elements("css selector", "#k-table tbody tr")
    assert [int(attr(r, "data-k")) for r in rows] == [1, 2, 3]
    for row, kres in zip(rows, result["results"], strict=True):
        for field in ("loglik", "bic", "aic", "icl"):
            td = row.find_element("css selector", f"[data-field={field}]")
            assert float(attr(td, "data-value")) == kres[field]
            assert abs(float(td.text) - kres[field]) <= 0.005 + 1e-9
        assert (
            int(row.find_element("css selector", "[data-field=n_params]").text) == kres["n_params"]
        )
        selected = row.find_element("css selector", "[data-field=selected]").text
        assert bool(selected) == (kres["k"] == result["k_selected"])

    # The estimates table: every fitted number of the selected K, shown and exact, with truth.
    params = chosen["params"]
    names = {"weight": "weights", "mean": "means", "sd": "sds"}
    cells = driver.find_elements("css selector", "#estimates td[data-param]")
    assert len(cells) == 3 * result["k_selected"]
    for td in cells:
        value = params[names[attr(td, "data-param")]][int(attr(td, "data-component"))]
        assert float(attr(td, "data-value")) == value
        assert close(td.text, value)
    if result["k_selected"] == 2:
        truth = [float(td.text) for td in driver.find_elements("css selector", "#estimates .truth")]
        assert truth == [0.4, 0.0, 1.0, 0.6, 4.0, 1.5]

    # The histogram draws the fitted mixture and each component of the selected K.
    assert component_params(driver) == {k: params[k] for k in ("weights", "means", "sds")}
    assert_mixture_drawn(driver, params)

    # The LL trace of every start, the best one highlighted.
    traces = driver.find_elements("css selector", "#trace-plot [data-start]")
    assert len(traces) == len(chosen["starts"]) == 6
    best = [t for t in traces if attr(t, "data-best") == "true"]
    assert [int(attr(t, "data-start")) for t in best] == [chosen["best_start"]]
    best_trace = chosen["starts"][chosen["best_start"]]["trace"]
    assert int(attr(best[0], "data-points")) == len(best_trace)

    # BIC/AIC/ICL against K, the selection ringed.
    for kres in result["results"]:
        for criterion in ("bic", "aic", "icl"):
            point = driver.find_element(
                "css selector", f"#criteria-plot [data-criterion={criterion}][data-k='{kres['k']}']"
            )
            assert float(attr(point, "data-value")) == kres[criterion]
    ring = driver.find_element("css selector", "#criteria-plot [data-selected=true]")
    assert int(attr(ring, "data-k")) == result["k_selected"]

    # The slider replays the best start's path: at iteration i the curves are path[i].
    path = chosen["path"]
    slider = driver.find_element("id", "iter-slider")
    assert int(attr(slider, "max")) == len(path) - 1 and len(path) == len(best_trace)
    for i in (0, len(path) // 3):
        move_slider(driver, i)
        assert attr(driver.find_element("id", "iter-label"), "data-iteration") == str(i)
        assert component_params(driver) == {k: path[i][k] for k in ("weights", "means", "sds")}
        assert_mixture_drawn(driver, path[i])
        marker = driver.find_element("css selector", "#trace-plot [data-role=iteration-marker]")
        assert attr(marker, "data-iteration") == str(i)
    move_slider(driver, len(path) - 1)
    assert component_params(driver) == {k: params[k] for k in ("weights", "means", "sds")}

    # Scoring: the table holds the API's scores; the points are marked on the histogram.
    set_value(driver, "score-input", "0.5, 3.2, 30")
    driver.find_element("id", "score-button").click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: len(d.find_elements("css selector", "#score-table tbody tr")) == 3
    )
    expected = post_json(
        f"{live_api}/v1/models/{doc['model_id']}/score", {"points": [0.5, 3.2, 30], "alpha": 0.01}
    )
    rows = driver.find_elements("css selector", "#score-table tbody tr")
    for i, row in enumerate(rows):
        for field in ("log_density", "p_value"):
            td = row.find_element("css selector", f"[data-field={field}]")
            assert float(attr(td, "data-value")) == expected[field][i]
            assert close(td.text, expected[field][i])
        flag = row.find_element("css selector", "[data-field=is_anomaly]")
        assert attr(flag, "data-value") == str(expected["is_anomaly"][i]).lower()
    assert expected["is_anomaly"] == [False, False, True]
    marks = driver.find_elements("css selector", "#hist-svg [data-score-point]")
    assert [attr(m, "data-anomaly") for m in marks] == ["false", "false", "true"]

    # Nothing went wrong in the console (a CSP violation would be an error here).
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    assert driver.find_element("id", "message").get_attribute("hidden") is not None

    screenshot_whole_page(driver)


def test_explicit_start_values_are_sent(browser: Any, live_api: str) -> None:
    """The simulator's mu1/mu2 start values become ``init: {weights, means, sds}``: one start."""
    from selenium.webdriver.support.ui import Select

    driver = browser
    driver.get(live_api + "/")
    driver.find_element("id", "simulate").click()
    Select(driver.find_element("id", "fit-init")).select_by_value("explicit")
    assert not driver.find_element("id", "fit-kmin").is_enabled()
    set_value(driver, "init-weights", "0.3, 0.7")
    set_value(driver, "init-a", "-2, 6")
    set_value(driver, "init-b", "2, 2")
    driver.find_element("id", "fit-button").click()
    assert wait_status(driver) == "finished", driver.find_element("id", "message").text
    fit_id = attr(driver.find_element("id", "fit-status"), "data-fit-id")
    result = get_json(f"{live_api}/v1/fits/{fit_id}")["result"]
    assert result["options"]["init"] == {
        "weights": [0.3, 0.7],
        "means": [-2.0, 6.0],
        "sds": [2.0, 2.0],
        "covariances": None,
    }
    (kres,) = result["results"]
    assert len(kres["starts"]) == 1
    assert len(driver.find_elements("css selector", "#trace-plot [data-start]")) == 1
    move_slider(driver, 0)
    assert component_params(driver) == {k: kres["path"][0][k] for k in ("weights", "means", "sds")}


def test_errors_are_shown(browser: Any, live_api: str) -> None:
    """A request the API refuses shows its message instead of failing silently."""
    driver = browser
    driver.get(live_api + "/")
    driver.find_element("id", "simulate").click()
    set_value(driver, "fit-kmin", 3)
    set_value(driver, "fit-kmax", 2)
    driver.find_element("id", "fit-button").click()
    from selenium.webdriver.support.ui import WebDriverWait

    message = WebDriverWait(driver, 30).until(
        lambda d: d.find_element("id", "message").text or False
    )
    assert message.startswith("422: ") and "k.min (3) must not exceed k.max (2)" in message


def test_slider_at_iteration_zero_shows_the_start_values(browser: Any, live_api: str) -> None:
    from selenium.webdriver.support.ui import Select

    driver = browser
    driver.get(live_api + "/")
    driver.find_element("id", "simulate").click()
    Select(driver.find_element("id", "fit-init")).select_by_value("explicit")
    set_value(driver, "init-weights", "0.5, 0.5")
    set_value(driver, "init-a", "1, 2")
    set_value(driver, "init-b", "1, 1")
    driver.find_element("id", "fit-button").click()
    assert wait_status(driver) == "finished"
    move_slider(driver, 0)
    assert component_params(driver) == {
        "weights": [0.5, 0.5],
        "means": [1.0, 2.0],
        "sds": [1.0, 1.0],
    }


# The page's family table, per new family: the API's parameter arrays behind each column of the
# estimates table (``data-param``), and points inside the support the page scores by default.
NEW_FAMILIES = {
    "poisson": ({"lambda": "lambdas"}, [0.0, 5.0, 30.0]),
    "gamma": ({"shape": "shapes", "rate": "rates"}, [0.5, 5.0, 40.0]),
    "lognormal": ({"meanlog": "meanlogs", "sdlog": "sdlogs"}, [0.5, 5.0, 40.0]),
    "student_t": ({"mean": "means", "scale": "scales", "df": "dfs"}, [0.1, 4.0, 30.0]),
}


@pytest.mark.parametrize("family", sorted(NEW_FAMILIES))
def test_each_family_simulates_fits_plots_and_scores(
    browser: Any, live_api: str, family: str
) -> None:
    """Simulate from the family's defaults, fit it (selected by the simulation), read the drawn
    components and the estimates table against the API's result, score the default points."""
    from selenium.webdriver.support.ui import Select, WebDriverWait

    columns, points = NEW_FAMILIES[family]
    driver = browser
    driver.get(live_api + "/")
    Select(driver.find_element("id", "sim-family")).select_by_value(family)
    set_value(driver, "sim-seed", 3)
    driver.find_element("id", "simulate").click()
    assert driver.find_element("id", "message").get_attribute("hidden") is not None
    assert driver.find_elements("css selector", "#hist-svg [data-curve=truth]")
    chosen_family = Select(driver.find_element("id", "fit-family")).first_selected_option
    assert chosen_family.get_attribute("value") == family
    set_value(driver, "fit-kmin", 1)
    set_value(driver, "fit-kmax", 2)
    set_value(driver, "fit-starts", 3)
    driver.find_element("id", "fit-button").click()
    assert wait_status(driver) == "finished", driver.find_element("id", "message").text
    doc, chosen = shown_fit(driver, live_api)
    assert doc["result"]["family"] == family
    params = chosen["params"]
    curves = driver.find_elements("css selector", "#hist-svg [data-curve=component]")
    assert len(curves) == len(params["weights"])
    assert driver.find_elements("css selector", "#hist-svg [data-curve=mixture]")
    for column, key in columns.items():
        shown = driver.find_elements("css selector", f"#estimates [data-param={column}]")
        values = sorted(float(attr(td, "data-value")) for td in shown)
        np.testing.assert_allclose(values, sorted(params[key]), rtol=1e-12)
    assert score_points(driver) == ", ".join(f"{p:g}" for p in points)
    driver.find_element("id", "score-button").click()
    WebDriverWait(driver, 30).until(
        lambda d: (
            len(d.find_elements("css selector", "#score-table tbody tr")) == len(points)
            or d.find_element("id", "message").text
        )
    )
    expected = post_json(f"{live_api}/v1/models/{doc['model_id']}/score", {"points": points})
    shown = driver.find_elements("css selector", "#score-table [data-field=log_density]")
    assert [float(attr(td, "data-value")) for td in shown] == expected["log_density"]


def wait_job(driver: Any, kind: str, seconds: float = 120) -> str:
    """The end state of the page's ``kind`` job (``boot`` or ``lrt``): its line's data-status."""
    from selenium.webdriver.support.ui import WebDriverWait

    def ended(d: Any) -> str | bool:
        status = d.find_element("id", f"{kind}-job").get_attribute("data-status")
        return status if status in TERMINAL else False

    return WebDriverWait(driver, seconds).until(ended)


def api_job(live_api: str, post: str, body: dict[str, Any]) -> dict[str, Any]:
    """Post an LRT or a bootstrap through the API itself and poll it to its end."""
    doc = post_json(f"{live_api}{post}", body)
    while doc["status"] not in TERMINAL:
        doc = get_json(f"{live_api}{doc['links']['self']}?wait=5")
    return doc


def test_interval_bars_and_the_lrt_table(browser: Any, live_api: str) -> None:
    """After a fit, Intervals draws each estimate's interval bar with the API's own numbers (a
    bootstrap and the observed information), and the LRT button fills a table with the API's
    K, LRTS and p-value per step, each with its bootstrap histogram and observed statistic."""
    from selenium.webdriver.support.ui import Select

    driver = browser
    driver.get_log("browser")  # drained: earlier tests' entries (a 422 they provoked) stay out
    driver.get(live_api + "/")
    set_value(driver, "sim-seed", 7)
    driver.find_element("id", "simulate").click()
    for element_id, value in (("fit-kmin", 1), ("fit-kmax", 2), ("fit-starts", 3), ("fit-seed", 5)):
        set_value(driver, element_id, value)
    driver.find_element("id", "fit-button").click()
    assert wait_status(driver) == "finished", driver.find_element("id", "message").text
    doc, chosen = shown_fit(driver, live_api)
    model_id, k = doc["model_id"], chosen["k"]
    names = {"weight": "weights", "mean": "means", "sd": "sds"}

    # Interval bars: a small bootstrap, then the 1-D Gaussian's observed information.
    for method, nboot in (("nonparametric", 19), ("observed_information", None)):
        Select(driver.find_element("id", "boot-method")).select_by_value(method)
        if nboot is not None:
            set_value(driver, "boot-nboot", nboot)
        driver.find_element("id", "boot-button").click()
        message = driver.find_element("id", "message")
        assert wait_job(driver, "boot") == "finished", message.text
        job = get_json(
            f"{live_api}/v1/bootstraps/{attr(driver.find_element('id', 'boot-job'), 'data-job-id')}"
        )
        assert job["status"] == "finished" and job["model_id"] == model_id
        body = {"method": method, "seed": 0} | ({"nboot": nboot} if nboot else {})
        assert (
            api_job(live_api, f"/v1/models/{model_id}/bootstrap", body)["result"] == job["result"]
        )
        result = job["result"]
        assert result["method"] == method
        if nboot is not None:
            assert result["nboot"] == nboot and job["progress"] == {"done": nboot, "total": nboot}
        bars = driver.find_elements("css selector", "#estimates td[data-param] .ci")
        assert len(bars) == 3 * k
        for bar in bars:
            td = bar.find_element("xpath", "..")
            spread = result["parameters"][names[attr(td, "data-param")]]
            j = int(attr(td, "data-component"))
            for key in ("estimate", "se", "lower", "upper"):
                assert float(attr(bar, f"data-{key}")) == spread[key][j], (key, j)
            assert float(attr(td, "data-value")) == spread["estimate"][j]
            lower, upper = bar.find_element("css selector", ".ci-text").text.split(" – ")
            assert close(lower, spread["lower"][j], 3) and close(upper, spread["upper"][j], 3)
            assert "SE " in attr(bar, "title")
            assert bar.find_elements("css selector", "[data-role=interval]")
            assert bar.find_elements("css selector", "[data-role=estimate]")
    # The intervals are the selected model's: another K shows no bars.
    other = next((r["k"] for r in doc["result"]["results"] if r["k"] != k), None)
    if other is not None:
        Select(driver.find_element("id", "show-k")).select_by_value(str(other))
        assert not driver.find_elements("css selector", "#estimates .ci")
        Select(driver.find_element("id", "show-k")).select_by_value(str(k))
        assert len(driver.find_elements("css selector", "#estimates .ci")) == 3 * k

    # The LRT table: K = 1 .. the model's K, each against K + 1.
    set_value(driver, "lrt-nboot", 19)
    driver.find_element("id", "lrt-button").click()
    assert wait_job(driver, "lrt") == "finished", driver.find_element("id", "message").text
    job = get_json(
        f"{live_api}/v1/lrts/{attr(driver.find_element('id', 'lrt-job'), 'data-job-id')}"
    )
    assert job["status"] == "finished" and job["model_id"] == model_id
    result = job["result"]  # (posting the same request again costs 3.5 s more; seeded alike)
    assert result["nboot"] == 19 and result["seed"] == 0 and job["progress"]["done"] == 19 * k
    assert [s["k"] for s in result["steps"]] == list(range(1, k + 1))
    rows = driver.find_elements("css selector", "#lrt-table tbody tr")
    assert len(rows) == len(result["steps"])
    for row, step in zip(rows, result["steps"], strict=True):
        assert int(attr(row, "data-k")) == step["k"]
        test = row.find_element("css selector", "[data-field=k]").text
        assert test == f"{step['k']} vs {step['k'] + 1}"
        for field in ("statistic", "p_value"):
            td = row.find_element("css selector", f"[data-field={field}]")
            assert float(attr(td, "data-value")) == step[field]
            assert close(td.text, step[field])
        hist = row.find_element("css selector", "svg[data-role=lrt-histogram]")
        counts = [int(attr(r, "data-count")) for r in hist.find_elements("css selector", "rect")]
        assert sum(counts) == len(step["bootstrap"]) == 19
        marker = hist.find_element("css selector", "[data-role=observed]")
        assert float(attr(marker, "data-value")) == step["statistic"]
        top = max(step["bootstrap"])  # no LRTS is negative: the axis starts at 0
        far = top > 0 and step["statistic"] > 1.5 * top
        assert attr(marker, "data-far") == str(far).lower()
        if far:
            assert "far right" in marker.text
        else:  # the line sits at the statistic on the histogram's axis
            xmin, xmax = float(attr(hist, "data-xmin")), float(attr(hist, "data-xmax"))
            x = float(attr(marker, "x1"))
            width = float(attr(hist, "width")) - 4 - 6
            assert abs(x - (4 + (step["statistic"] - xmin) / (xmax - xmin) * width)) < 0.01
    selected = driver.find_element("id", "lrt-selected")
    assert int(attr(selected, "data-k")) == result["k_selected"]
    assert f"K = {result['k_selected']}" in selected.text

    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    assert driver.find_element("id", "message").get_attribute("hidden") is not None


def test_an_lrt_can_be_canceled(browser: Any, live_api: str) -> None:
    """Cancel stops the page's LRT: the page and the API both say canceled, no table appears."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    driver.get(live_api + "/")
    assert wait_status(driver, 30) == "finished", driver.find_element("id", "message").text
    set_value(driver, "lrt-nboot", 9999)
    driver.find_element("id", "lrt-button").click()
    cancel = WebDriverWait(driver, 30).until(
        lambda d: (
            d.find_element("id", "lrt-cancel")
            if d.find_element("id", "lrt-cancel").is_displayed()
            else False
        )
    )
    cancel.click()
    assert wait_job(driver, "lrt", 30) == "canceled", driver.find_element("id", "message").text
    lrt_id = attr(driver.find_element("id", "lrt-job"), "data-job-id")
    assert get_json(f"{live_api}/v1/lrts/{lrt_id}")["status"] == "canceled"
    assert not driver.find_element("id", "lrt-table").is_displayed()
    assert driver.find_element("id", "message").get_attribute("hidden") is not None
