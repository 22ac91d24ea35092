"""The period control in a real (headless) Chromium: one searchable dropdown of the periods the
dashboard answers (the latest complete financial year, the rolling 12 months, each quarter, earlier
years, each month) sets the URL, the filter line and the charts; a link that cannot be used as given
opens with a notice naming each problem. The test warehouse's data date is 31 March 2026, so the latest
complete financial year is 2025-26."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_dashboard_in_chromium import (
    choose,
    error_alerts,
    figure_signature,
    severe_console_errors,
    wait_ready,
    wait_until,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
]


def query(driver) -> dict[str, list[str]]:
    return parse_qs(urlparse(driver.current_url).query)


def shown_value(driver, control_id: str) -> str:
    """The text a single-value dropdown shows."""
    return driver.find_element(By.ID, f"{control_id}-value").text


def filter_line(driver) -> str:
    return driver.find_element(By.ID, "active-filters").text


def notice_items(driver) -> list[str]:
    return [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#filter-notice li")]


def period_shown(driver) -> str:
    return shown_value(driver, "filter-period-preset")


def choose_by_typing(driver, dropdown_id: str, text: str) -> None:
    """Type into a searchable dropdown and take the option it offers, as a person would with a long
    list (Dash 4 opens the list in a popover with its own search box)."""
    driver.find_element(By.ID, dropdown_id).click()
    search = "[data-radix-popper-content-wrapper] input.dash-dropdown-search"
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, search), 10, "the search box")
    driver.find_element(By.CSS_SELECTOR, search).send_keys(text)
    options = "[data-radix-popper-content-wrapper] [role=option]"
    wait_until(
        lambda: [o.text for o in driver.find_elements(By.CSS_SELECTOR, options)] == [text],
        10,
        f"the list to offer {text} alone",
    )
    driver.find_element(By.CSS_SELECTOR, options).click()


def test_the_period_choices_set_the_url_the_filter_line_and_the_charts(browser, server_url: str) -> None:
    browser.get_log("browser")
    browser.get(server_url + "/retention")
    wait_ready(browser, "retention, default view")
    assert period_shown(browser) == "Financial year 2025-26"
    assert filter_line(browser) == "Showing financial year 2025-26 · all people and programmes"
    assert notice_items(browser) == []

    before = figure_signature(browser, "retention_12wk_spc")
    choose(browser, "filter-period-preset", "fy2025q2")
    wait_until(lambda: query(browser).get("from") == ["2025-07"], 15, "the URL to name Q2")
    assert query(browser) == {"from": ["2025-07"], "to": ["2025-09"]}
    assert period_shown(browser) == "Q2 2025-26 (Jul-Sep 2025)"
    assert filter_line(browser) == "Showing Q2 2025-26 (Jul-Sep 2025) · all people and programmes"
    # The SPC chart shows the 24 months ending with the period's last month: September, not March.
    wait_until(
        lambda: figure_signature(browser, "retention_12wk_spc") not in ("", before), 30, "the chart to redraw"
    )
    wait_ready(browser, "retention, Q2")
    browser.save_screenshot(str(SCREENSHOTS / "period_q2.png"))

    # A month far down the list, found by typing its name.
    choose_by_typing(browser, "filter-period-preset", "May 2024")
    wait_until(lambda: query(browser).get("from") == ["2024-05"], 15, "the URL to take May 2024")
    assert query(browser) == {"from": ["2024-05"], "to": ["2024-05"]}
    wait_until(lambda: period_shown(browser) == "May 2024", 10, "the dropdown to show the month")
    assert filter_line(browser) == "Showing May 2024 · all people and programmes"

    choose(browser, "filter-period-preset", "rolling12")
    wait_until(lambda: query(browser).get("from") == ["2025-04"], 15, "the URL to take the rolling year")
    assert query(browser) == {"from": ["2025-04"], "to": ["2026-03"]}
    # At 31 March the rolling 12 months are the financial year: the choice made stays chosen, and the
    # filter line names the months as people say them.
    assert period_shown(browser) == "12 months to Mar 2026"
    assert filter_line(browser) == "Showing financial year 2025-26 · all people and programmes"
    wait_ready(browser, "retention, rolling 12 months")
    assert error_alerts(browser) == [] and notice_items(browser) == []
    assert severe_console_errors(browser) == []


def test_a_link_that_cannot_be_used_as_given_opens_with_a_notice(browser, server_url: str) -> None:
    browser.get_log("browser")
    browser.get(server_url + "/?from=2025-06-03&to=2025-06-23&colour=red&setting=moon&sex=female&sex=male")
    wait_ready(browser, "overview from a hand-edited link")
    wait_until(lambda: notice_items(browser), 10, "the notice")
    assert notice_items(browser) == [
        "'colour' in the link is not a filter and was ignored.",
        "The dashboard shows whole months only: the period 3 Jun 2025 to 23 Jun 2025 was widened to "
        "Jun 2025, 1 Jun 2025 to 30 Jun 2025.",
        "Setting: 'moon' is not one of the options, so it was left out; showing every setting.",
        "Sex: the dashboard shows one sex at a time or all of them, so 'female' is shown and 'male' was "
        "left out.",
    ]
    assert filter_line(browser) == "Showing Jun 2025 · Sex: Female"
    assert period_shown(browser) == "Jun 2025"
    assert browser.find_element(By.ID, "filter-sex").text == "Female"  # the label, not the code
    assert error_alerts(browser) == []  # a notice, not an error
    browser.save_screenshot(str(SCREENSHOTS / "period_notice.png"))

    # The next change writes a clean link, and the notice, which was about the old one, goes.
    choose(browser, "filter-setting", "community")
    wait_until(lambda: "setting=community" in browser.current_url, 15, "the URL to change")
    assert query(browser) == {
        "from": ["2025-06"],
        "to": ["2025-06"],
        "setting": ["community"],
        "sex": ["female"],
    }
    wait_until(lambda: notice_items(browser) == [], 10, "the notice to go")
    assert filter_line(browser) == "Showing Jun 2025 · Setting: Community · Sex: Female"
    # Choosing another setting replaces it: one value or all.
    choose(browser, "filter-setting", "prison")
    wait_until(lambda: "setting=prison" in browser.current_url, 15, "the URL to change")
    assert query(browser)["setting"] == ["prison"]

    # Reset filters: the default view, the latest complete financial year.
    browser.find_element(By.ID, "reset-filters").click()
    wait_until(lambda: query(browser) == {"from": ["2025-04"], "to": ["2026-03"]}, 15, "the reset")
    wait_until(lambda: period_shown(browser) == "Financial year 2025-26", 10, "the period to reset")
    assert filter_line(browser) == "Showing financial year 2025-26 · all people and programmes"
    assert severe_console_errors(browser) == []


def test_a_period_outside_the_data_a_reversed_one_and_a_free_run_of_months_are_named(
    browser, server_url: str
) -> None:
    browser.get_log("browser")
    browser.get(server_url + "/support-mix?from=2026-01&to=2025-01")
    wait_ready(browser, "support mix, a reversed period")
    wait_until(lambda: notice_items(browser), 10, "the notice")
    assert notice_items(browser) == [
        "In the link, from='2026-01' is after to='2025-01': showing the default period, financial year "
        "2025-26, instead."
    ]
    browser.get(server_url + "/support-mix?from=2025-05&to=2025-06")
    wait_ready(browser, "support mix, two months")
    wait_until(lambda: notice_items(browser), 10, "the notice")
    assert notice_items(browser) == [
        "The dashboard shows a month, a financial-year quarter, a financial year or the latest 12 months, "
        "not any run of months: May 2025 to Jun 2025 is shown as Q1 2025-26 (Apr-Jun 2025) (1 Apr 2025 to "
        "30 Jun 2025), the shortest of these holding it."
    ]
    assert filter_line(browser) == "Showing Q1 2025-26 (Apr-Jun 2025) · all people and programmes"
    browser.get(server_url + "/support-mix?from=2026-01&to=2026-09")
    wait_ready(browser, "support mix, a period past the data")
    wait_until(lambda: notice_items(browser), 10, "the notice")
    assert notice_items(browser)[0].startswith("Sep 2026 is after Mar 2026, the last complete month")
    assert filter_line(browser) == "Showing Q4 2025-26 (Jan-Mar 2026) · all people and programmes"
    assert error_alerts(browser) == [] and severe_console_errors(browser) == []
