"""Sign-in in a real (headless) Chromium under the app's content security policy: the sign-in page, a
signed-in service lead's pages drawing with no console errors, the policy actually enforced (a control:
an inline script and eval are refused, and the console shows it), and an ended session sending the
browser back to the sign-in page on its next data request."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.by import By
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from tests.browser.conftest import SCREENSHOTS, _free_port
from tests.browser.test_dashboard_in_chromium import (
    PERIOD,
    choose,
    error_alerts,
    severe_console_errors,
    wait_ready,
    wait_until,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
]

PASSWORD = "a-long-test-password-1"


@pytest.fixture(scope="module")
def signed_in_server(
    warehouse_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    from dashboard.app import create_app

    folder = tmp_path_factory.mktemp("browser-sign-in")
    users = folder / "users.toml"
    users.write_text(
        f'[[users]]\nusername = "ana"\npassword_hash = "{generate_password_hash(PASSWORD)}"\n'
        'role = "commissioner"\n',
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ROSC_SECRET_KEY", secrets.token_hex(32))
        env.setenv("ROSC_SESSION_STORE", str(folder / "sessions.sqlite3"))
        env.delenv("ROSC_USERS", raising=False)
        env.delenv("ROSC_OIDC", raising=False)
        app = create_app(warehouse_path, users_file=users)
    port = _free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{port}", "app": app}
    server.shutdown()
    thread.join(timeout=10)
    app.dashboard_data.close()


def sign_in_through_the_form(browser: Any, url: str) -> None:
    wait_until(lambda: browser.find_elements(By.ID, "username"), 15, "the sign-in form")
    browser.find_element(By.ID, "username").send_keys("ana")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def test_sign_in_then_the_dashboard_draws_under_the_policy(browser: Any, signed_in_server: dict) -> None:
    url = signed_in_server["url"]
    browser.delete_all_cookies()
    browser.get_log("browser")
    browser.get(url + "/retention" + PERIOD)
    assert urlparse(browser.current_url).path == "/login"
    browser.save_screenshot(str(SCREENSHOTS / "sign_in.png"))
    assert severe_console_errors(browser) == []
    sign_in_through_the_form(browser, url)
    wait_until(lambda: urlparse(browser.current_url).path == "/retention", 15, "the return to the page")
    assert parse_qs(urlparse(browser.current_url).query) == parse_qs(PERIOD[1:])
    wait_ready(browser, "retention, signed in")
    assert error_alerts(browser) == []
    browser.find_element(By.ID, "nav-programmes").click()
    wait_until(lambda: urlparse(browser.current_url).path == "/programmes", 15, "navigation")
    wait_ready(browser, "programmes, signed in")
    assert error_alerts(browser) == []
    assert severe_console_errors(browser) == []


def test_the_policy_is_enforced_and_the_console_would_show_a_breach(
    browser: Any, signed_in_server: dict
) -> None:
    """A control for the tests above: what the policy forbids does not run, and says so in the console."""
    url = signed_in_server["url"]
    browser.get(url + "/" + PERIOD)
    if urlparse(browser.current_url).path == "/login":
        sign_in_through_the_form(browser, url)
    wait_ready(browser, "overview")
    browser.get_log("browser")
    # (Selenium's own scripts run through the DevTools protocol, which the policy does not cover; what
    # they add to the page is the page's, and is covered.)
    browser.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.__injected = true;';"
        "document.body.appendChild(s);"
        "const d = document.createElement('div');"
        'd.innerHTML = \'<img src="/assets/none.png" onerror="window.__handler = true">\';'
        "document.body.appendChild(d);"
    )
    time.sleep(1.0)  # let the image fail and its handler be refused
    assert browser.execute_script("return [window.__injected, window.__handler]") == [None, None]
    breaches = severe_console_errors(browser)
    assert any("Content Security Policy" in message for message in breaches), breaches


def test_an_ended_session_sends_the_browser_to_sign_in_and_back(browser: Any, signed_in_server: dict) -> None:
    url, app = signed_in_server["url"], signed_in_server["app"]
    browser.get(url + "/relapse" + PERIOD)
    if urlparse(browser.current_url).path == "/login":
        sign_in_through_the_form(browser, url)
    wait_ready(browser, "relapse")
    assert app.server.extensions["rosc_sessions"].revoke("ana") >= 1  # as `python -m dashboard.auth revoke`
    choose(browser, "filter-sex", "female")  # the next data request answers 401
    wait_until(lambda: urlparse(browser.current_url).path == "/login", 15, "the sign-in page")
    assert "Your session has ended" in browser.find_element(By.TAG_NAME, "main").text
    browser.get_log("browser")  # the refused requests' 401s are expected here
    sign_in_through_the_form(browser, url)
    wait_until(lambda: urlparse(browser.current_url).path == "/relapse", 15, "the way back")
    wait_ready(browser, "relapse after signing in again")
    assert error_alerts(browser) == []
    assert severe_console_errors(browser) == []
