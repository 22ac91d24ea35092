"""The dashboard in a real (headless) Chromium at laptop size: every page fills its charts, a filter
change rewrites the URL and redraws the charts, shared links restore filters, and the browser console
stays free of errors. Screenshots land in tests/screenshots/ (git-ignored) for a person to look at."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlparse

import pytest
from selenium.common.exceptions import ElementClickInterceptedException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import SCREENSHOTS

pytestmark = [
    pytest.mark.browser,
    # selenium 4.2 (the version dash[testing] pins) calls a urllib3 method that urllib3 1.26 deprecates.
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
]

#: A shared link's period: twelve whole months that are not a financial year.
PERIOD = "?from=2025-04&to=2026-03"  # financial year 2025-26
PAGES = [
    ("overview", "/"),
    ("retention", "/retention"),
    ("relapse", "/relapse"),
    ("support_mix", "/support-mix"),
    ("programmes", "/programmes"),
    ("data", "/data"),
]

READY_JS = """
const graphs = Array.from(document.querySelectorAll('.page .chart-graph'));
const graphsReady = graphs.every(function (g) {
  const p = g.querySelector('.js-plotly-plot');
  if (!p || !p.layout || !p.data) { return false; }
  const notes = (p.layout.annotations || []).map(function (a) { return a.text; });
  return notes.indexOf('Loading…') < 0;
});
const tiles = Array.from(document.querySelectorAll('.page .tile-body'));
const tilesReady = tiles.every(function (t) { return t.querySelector('.tile-value, .alert'); });
const loading = document.querySelector('[data-dash-is-loading="true"]');
const page = document.querySelector('.page h1');
return Boolean(page) && graphsReady && tilesReady && !loading;
"""


def wait_until(condition, timeout: float = 45.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {message}")


def wait_ready(driver, what: str) -> None:
    wait_until(lambda: driver.execute_script(READY_JS), message=f"{what} to draw")
    time.sleep(0.3)  # let Plotly finish its last relayout before a screenshot


def severe_console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def error_alerts(driver) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".alert-danger")]


def figure_signature(driver, chart: str) -> str:
    return driver.execute_script(
        "const g = document.getElementById(arguments[0]);"
        "const p = g && g.querySelector('.js-plotly-plot');"
        "return p ? JSON.stringify(p.data.map(function (t) { return [t.name, t.x, t.y]; })) : '';",
        json.dumps({"chart": chart, "type": "chart-graph"}, separators=(",", ":")),
    )


def choose(driver, dropdown_id: str, value: str) -> None:
    """Pick one value in a Dash 4 dropdown, as a person would."""
    driver.find_element(By.ID, dropdown_id).click()
    option = f"[role=option] input[value='{value}']"
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, option), 10, f"option {value}")
    label = driver.find_element(By.CSS_SELECTOR, option).find_element(By.XPATH, "./ancestor::label")
    # A long list opens scrolled to the value chosen; bring the option out from under the search box.
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", label)
    try:
        label.click()
    except ElementClickInterceptedException:  # the list's search box still over it: click it directly
        driver.execute_script("arguments[0].click();", label)
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)


@pytest.mark.parametrize(("name", "path"), PAGES)
def test_every_page_draws_without_errors(browser, server_url: str, name: str, path: str) -> None:
    browser.get_log("browser")  # start with an empty console log
    browser.get(server_url + path + PERIOD)
    wait_ready(browser, name)
    assert error_alerts(browser) == []
    assert "Data as at" in browser.find_element(By.ID, "data-as-at").text
    assert (
        browser.find_element(By.CSS_SELECTOR, ".main-nav .nav-link.active")
        .get_attribute("href")
        .endswith(path + PERIOD)
    )
    if name == "data":
        assert len(browser.find_elements(By.CSS_SELECTOR, ".data-table")) >= 3
    else:
        assert browser.find_elements(By.CSS_SELECTOR, ".page .chart-graph, .page .tile-body")
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    assert severe_console_errors(browser) == []


def test_a_filter_change_rewrites_the_url_and_redraws_the_charts(browser, server_url: str) -> None:
    browser.get_log("browser")
    browser.get(server_url + "/retention" + PERIOD)
    wait_ready(browser, "retention")
    before = figure_signature(browser, "retention_12wk_spc")
    choose(browser, "filter-setting", "community")
    wait_until(lambda: "setting=community" in browser.current_url, 15, "the URL to change")
    wait_until(
        lambda: figure_signature(browser, "retention_12wk_spc") not in ("", before), 30, "the chart to redraw"
    )
    wait_ready(browser, "retention after the filter change")
    query = parse_qs(urlparse(browser.current_url).query)
    assert query == {"from": ["2025-04"], "to": ["2026-03"], "setting": ["community"]}
    assert "Setting: Community" in browser.find_element(By.ID, "active-filters").text
    assert error_alerts(browser) == []
    browser.save_screenshot(str(SCREENSHOTS / "retention_community.png"))
    # Navigating keeps the filters.
    browser.find_element(By.ID, "nav-support_mix").click()
    wait_until(lambda: urlparse(browser.current_url).path == "/support-mix", 15, "navigation")
    wait_ready(browser, "support mix")
    assert "setting=community" in browser.current_url
    assert "Setting: Community" in browser.find_element(By.ID, "active-filters").text
    assert severe_console_errors(browser) == []


def test_a_shared_link_restores_its_filters_and_programmes_open_their_page(browser, server_url: str) -> None:
    browser.get_log("browser")
    browser.get(server_url + "/programmes" + PERIOD + "&sex=female")
    wait_ready(browser, "programmes")
    assert "Sex: Female" in browser.find_element(By.ID, "active-filters").text
    assert browser.find_element(By.ID, "filter-sex").text == "Female"  # the label, not the code
    wait_until(
        lambda: browser.find_elements(By.CSS_SELECTOR, "#programmes-table a"), 30, "the programme table"
    )
    link = browser.find_elements(By.CSS_SELECTOR, "#programmes-table a")[0]
    name = link.text
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", link)
    time.sleep(0.3)
    link.click()
    wait_until(
        lambda: urlparse(browser.current_url).path.startswith("/programmes/"), 15, "the programme page"
    )
    wait_ready(browser, "programme page")
    assert browser.find_element(By.CSS_SELECTOR, ".page h1").text == name
    assert "sex=female" in browser.current_url
    assert error_alerts(browser) == []
    browser.save_screenshot(str(SCREENSHOTS / "programme.png"))
    assert severe_console_errors(browser) == []


def test_csv_and_png_buttons_work_without_errors(browser, server_url: str) -> None:
    browser.get_log("browser")
    browser.get(server_url + "/relapse" + PERIOD)
    wait_ready(browser, "relapse")
    for kind in ("chart-csv", "chart-png"):
        button = json.dumps({"chart": "abstinence_by_substance", "type": kind}, separators=(",", ":"))
        clicked = browser.execute_script(
            "const b = document.getElementById(arguments[0]); if (b) { b.click(); } return Boolean(b);",
            button,
        )
        assert clicked, kind
    time.sleep(1.5)
    assert error_alerts(browser) == []
    assert severe_console_errors(browser) == []
    # What the PNG button downloads: Plotly's image of the drawn chart, made in the browser.
    graph = json.dumps({"chart": "abstinence_by_substance", "type": "chart-graph"}, separators=(",", ":"))
    image = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const plot = document.getElementById(arguments[0]).querySelector('.js-plotly-plot');"
        "window.Plotly.toImage(plot, {format: 'png', width: 1100, height: 520})"
        "  .then(done, (error) => done('error: ' + error));",
        graph,
    )
    assert image.startswith("data:image/png;base64,"), image[:80]
    assert base64.b64decode(image.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("name", "path"), PAGES)
def test_every_page_of_an_empty_warehouse_says_what_is_missing(browser, empty_server_url, name, path) -> None:
    browser.get_log("browser")
    browser.get(empty_server_url + path)
    wait_ready(browser, f"{name} (empty warehouse)")
    assert error_alerts(browser) == []
    notices = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".missing-data")]
    if name == "data":
        assert notices == []
        assert "Latest load, by table" in browser.find_element(By.CSS_SELECTOR, ".page").text
    else:
        assert len(notices) == 1 and "This warehouse holds no" in notices[0], notices
    browser.save_screenshot(str(SCREENSHOTS / f"empty_{name}.png"))
    assert severe_console_errors(browser) == []
