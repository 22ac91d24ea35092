"""Fixtures of the browser tests: the dashboard served on a loopback port, and headless Chromium.

Uses Debian's chromium and chromedriver (tests/install_browser.sh installs them). The server is the
app's own Flask server in a thread, on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import shutil
import socket
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # urllib3[secure] via selenium 4.2, at import
    import dash  # noqa: F401
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

from werkzeug.serving import make_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WINDOW = (1366, 768)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def warehouse_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.generate import generate_extract
    from pipelines.load import load_extracts

    root = tmp_path_factory.mktemp("browser-warehouse")
    generate_extract(root / "extract", people=800, seed=4)
    db = root / "rosc.duckdb"
    load_extracts([root / "extract"], db, quiet=True)
    return db


def _serve(db: Path) -> Iterator[str]:
    """The dashboard over `db` on a free loopback port, in a thread, until the generator is closed."""
    from dashboard.app import create_app

    app = create_app(db)
    port = _free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)
    app.dashboard_data.close()


@pytest.fixture(scope="session")
def server_url(warehouse_path: Path) -> Iterator[str]:
    yield from _serve(warehouse_path)


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("Chromium and chromedriver are needed: run tests/install_browser.sh")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(*WINDOW)
    driver.set_page_load_timeout(60)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def empty_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard over a warehouse loaded from an extract of header rows only (no records at all)."""
    from pipelines.contract import REQUIRED_TABLES
    from pipelines.load import load_extracts

    root = tmp_path_factory.mktemp("browser-empty")
    sample = ROOT / "data" / "sample"
    (root / "extract").mkdir()
    (root / "extract" / "extract.json").write_bytes((sample / "extract.json").read_bytes())
    for table in REQUIRED_TABLES:
        header = (sample / f"{table}.csv").read_text().splitlines()[0]
        (root / "extract" / f"{table}.csv").write_text(header + "\n")
    load_extracts([root / "extract"], root / "empty.duckdb", max_rejected=0)
    yield from _serve(root / "empty.duckdb")
