"""Every page printed on A4 landscape in the suite's Chromium: in print media (Chrome DevTools
`Emulation.setEmulatedMedia`) and at the printed page's width, no chart or sparkline reaches outside its
card (`getBoundingClientRect`), and `Page.printToPDF` gives each page its number of sheets, the
Overview's eight tiles all on the first."""

from __future__ import annotations

import base64
import io
import re

import pypdf
import pytest

from dashboard.headlines import HEADLINE_METRICS
from pipelines.metrics import describe_metric
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_dashboard_in_chromium import PAGES, PERIOD, wait_ready

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
]

#: The printed width: A4 landscape (297 mm) less the 10 mm margins of app.css.
PRINTED_WIDTH = "277mm"

#: Sheets each page prints on, for the 800-person test warehouse's financial year 2025-26, as a person
#: checked them (tests/screenshots/print_<page>.pdf): a card that fits on a sheet is never split, so a
#: card that does not fit on what is left of one starts the next.
SHEETS = {
    "overview": 1,  # the header and the nine tiles; the disclosure note below them
    "retention": 3,  # time in treatment; the two SPC charts; the exit mix of 28 programmes
    "relapse": 2,  # the re-presentation SPC chart and its Kaplan-Meier; abstinence, TOP and BARC-10 changes
    "support_mix": 4,  # contacts, minutes by month; by programme; by setting, reach; landmark, dose, timing
    "programmes": 3,  # the funnel plot; the programmes table, over two sheets (its header repeated)
    "data": 6,  # the load tables; completeness, over two sheets; metric definitions (25 now), over three
}

OVERFLOW_JS = """
document.documentElement.style.width = arguments[0];   // the printed page's width, laid out now
window.dispatchEvent(new Event('beforeprint'));
const out = [];
let charts = 0;
document.querySelectorAll('.page .card').forEach(function (card) {
  const box = card.getBoundingClientRect();
  card.querySelectorAll('.js-plotly-plot .main-svg').forEach(function (svg) {
    charts += 1;
    const r = svg.getBoundingClientRect();
    const outside = r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
      || r.bottom > box.bottom + 1;
    if (outside) {
      out.push([card.innerText.split('\\n')[0], Math.round(r.width), Math.round(box.width)]);
    }
  });
});
document.documentElement.style.width = '';
return [charts, out];
"""


@pytest.mark.parametrize(("name", "path"), PAGES)
def test_every_page_prints_on_a4_landscape_with_every_chart_inside_its_card(
    browser, server_url: str, name: str, path: str
) -> None:
    browser.get(server_url + path + PERIOD)
    wait_ready(browser, name)
    try:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        charts, overflowing = browser.execute_script(OVERFLOW_JS, PRINTED_WIDTH)
        if name != "data":
            assert charts > 0
        assert overflowing == [], overflowing
        pdf = browser.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True})
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        browser.execute_script("window.dispatchEvent(new Event('afterprint'));")
    printed = base64.b64decode(pdf["data"])
    (SCREENSHOTS / f"print_{name}.pdf").write_bytes(printed)  # for a person to look at
    reader = pypdf.PdfReader(io.BytesIO(printed))
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert width > height and round(width / 72 * 25.4) == 297 and round(height / 72 * 25.4) == 210
    if name == "overview":  # every tile on the first sheet, each by its label
        # A narrow tile wraps its label, at a hyphen too ("re-" / "presentation"): join those back.
        first = re.sub(r"-\s+", "-", " ".join(reader.pages[0].extract_text().split()))
        for metric in HEADLINE_METRICS:
            assert str(describe_metric(metric)["label"]) in first, metric
    last = " ".join(reader.pages[-1].extract_text().split())
    assert "Every count is perturbed (cell-key perturbation)" in last  # the disclosure note is printed
    assert len(reader.pages) == SHEETS[name], (name, len(reader.pages))
