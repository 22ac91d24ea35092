"""The PNG and SVG a chart's buttons download, drawn in the suite's Chromium as the buttons draw them
(`assets/export.js`, Plotly's toImage with the export labels of `charts.export`): the SVG's text holds
the chart's title and definition, the period, the filters, the data-as-at date, the disclosure note and
the product's name; the PNG is a PNG of the labelled size; both are named <chart>_<period>."""

from __future__ import annotations

import base64
import html
import re
from urllib.parse import unquote

import pytest

from charts.export import DISCLOSURE_NOTE, PRODUCT_NAME
from tests.browser.test_dashboard_in_chromium import PERIOD, wait_ready

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
]

IMAGE_JS = """
const done = arguments[arguments.length - 1];
window.roscExport.image(arguments[0], arguments[1]).then(
  function (picture) { done([picture.filename, picture.url]); },
  function (error) { done(['error', String(error)]); });
"""


def svg_text(url: str) -> str:
    """The text of an SVG data URL, its tags dropped and its lines joined."""
    head, body = url.split(",", 1)
    svg = base64.b64decode(body).decode() if head.endswith(";base64") else unquote(body)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", svg)).split())


def test_the_downloaded_svg_and_png_carry_the_export_labels(browser, server_url: str) -> None:
    browser.get(server_url + "/retention" + PERIOD + "&setting=community")
    wait_ready(browser, "retention")
    browser.set_script_timeout(30)
    name, url = browser.execute_async_script(IMAGE_JS, "retention_12wk_spc", "svg")
    assert name == "retention_12wk_spc_fy2025-26.svg", (name, url[:200])
    text = svg_text(url)
    for label in (
        "Retained in treatment at 12 weeks, by month of start",
        "Financial year 2025-26 · Setting: Community · data as at",
        " ".join(DISCLOSURE_NOTE.split())[:60],
        PRODUCT_NAME,
    ):
        assert label in text, (label, text[-600:])
    name, url = browser.execute_async_script(IMAGE_JS, "retention_12wk_spc", "png")
    assert name == "retention_12wk_spc_fy2025-26.png"
    png = base64.b64decode(url.split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    assert width == 2 * 1100  # the export width, at scale 2
