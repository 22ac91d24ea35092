"""The navigation runs in the browser (`dashboard.app.nav_script`, a clientside callback): it must give
exactly what the server's rules give (`dashboard.app.nav_links`, by `resolve_page`) for every kind of
path, which Node.js runs here (skipped, saying so, where Node is not installed); and the server no
longer answers it, so it cannot queue behind metric callbacks."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dashboard.app import PAGE_ALIASES, create_app, nav_links, nav_script
from dashboard.pages import NAV_PAGES

PATHS = [
    None,
    "",
    "/",
    "//",
    "/retention",
    "/Retention/",
    "/RELAPSE",
    "/support_mix",
    "/support-mix//",
    "/programmes",
    "/programmes/",
    "/programmes/PG01",
    "/Programmes/pg_01/",
    "/programme",
    "/nowhere",
    "/data",
    "/retention/extra",
    "/%2e%2e/data",
    *PAGE_ALIASES,
    *[alias.upper().replace("-", "_") for alias in PAGE_ALIASES],
    *[page.PATH for page in NAV_PAGES],
]
SEARCHES = [None, "", "?from=2025-04&to=2026-03", "?area=E08000025&sex=female"]


@pytest.mark.skipif(shutil.which("node") is None, reason="no Node.js here to run the clientside code")
def test_the_browser_navigation_matches_the_server_rules() -> None:
    cases = [(path, search) for path in PATHS for search in SEARCHES]
    program = (
        f"const nav = {nav_script()};\n"
        f"const cases = {json.dumps(cases)};\n"
        "console.log(JSON.stringify(cases.map(([p, s]) => nav(p, s))));\n"
    )
    done = subprocess.run(["node", "-e", program], capture_output=True, text=True, timeout=60, check=True)
    in_browser = json.loads(done.stdout)
    expected = [nav_links(path, search) for path, search in cases]
    for case, got, want in zip(cases, in_browser, expected, strict=True):
        assert got == want, case
    # The cases reach every page, and paths that are none.
    actives = {tuple(links[len(NAV_PAGES) :]) for links in expected}
    assert len(actives) == len(NAV_PAGES) + 1


def test_the_server_does_not_answer_the_navigation(warehouse_path: Path) -> None:
    app = create_app(warehouse_path)
    client = app.server.test_client()
    keys = [k for k in app.callback_map if "nav-overview.href" in k]
    assert len(keys) == 1 and "callback" not in app.callback_map[keys[0]]  # clientside: no Python function
    body = {
        "output": keys[0],
        "outputs": [],
        "inputs": [{"id": "url", "property": "pathname", "value": "/"}],
        "changedPropIds": [],
    }
    reply = client.post("/_dash-update-component", json=body)
    assert reply.status_code == 400
    app.dashboard_data.close()
