"""Idle and absolute session timeouts, over HTTP against gunicorn (one worker, loopback), with
timeouts short enough to wait for: a session unused for longer than ``ROSC_SESSION_IDLE`` ends; a
session in use all along still ends ``ROSC_SESSION_MAX`` after sign-in; the next page then asks the
person to sign in again, saying why, and brings them back where they were."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.security.conftest import PASSWORDS, SECRET, _users_file
from tests.security.servers import client, gunicorn, sign_in

pytestmark = pytest.mark.slow

IDLE, ABSOLUTE = 2.0, 5.0


def test_idle_and_absolute_timeouts(warehouse_path: Path, tmp_path: Path) -> None:
    settings = {
        "ROSC_DB": str(warehouse_path),
        "ROSC_USERS": str(_users_file(tmp_path / "users.toml", "PG01")),
        "ROSC_SECRET_KEY": SECRET,
        "ROSC_SESSION_STORE": str(tmp_path / "sessions.sqlite3"),
        "ROSC_SESSION_IDLE": f"{IDLE:g}s",
        "ROSC_SESSION_MAX": f"{ABSOLUTE:g}s",
    }
    with gunicorn(settings, tmp_path / "gunicorn", workers=1) as server:
        idle, busy = client("127.0.5.1"), client("127.0.5.2")
        assert sign_in(idle, server.url, "ana", PASSWORDS["ana"]).status_code == 302
        assert sign_in(busy, server.url, "sam", PASSWORDS["sam"]).status_code == 302
        signed_in_at = time.monotonic()
        cookie = busy.cookies.get("rosc_session")
        assert idle.get(server.url + "/_dash-layout", timeout=30).status_code == 200
        # busy makes a request every 0.5 s; idle makes none for longer than IDLE.
        while time.monotonic() - signed_in_at < IDLE + 0.8:
            assert busy.get(server.url + "/_dash-layout", timeout=30).status_code == 200
            time.sleep(0.5)
        page = idle.get(server.url + "/retention?sex=female", allow_redirects=False, timeout=30)
        assert page.status_code == 302
        assert page.headers["Location"] == "/login?next=/retention?sex%3Dfemale&expired=1"
        assert "Your session has ended" in idle.get(server.url + page.headers["Location"], timeout=30).text
        assert idle.get(server.url + "/_dash-layout", timeout=30).status_code == 401
        # busy was never idle, yet its session ends ABSOLUTE after sign-in.
        while time.monotonic() - signed_in_at < ABSOLUTE - 0.5:
            assert busy.get(server.url + "/_dash-layout", timeout=30).status_code == 200
            time.sleep(0.5)
        time.sleep(max(0.0, ABSOLUTE + 0.5 - (time.monotonic() - signed_in_at)))
        assert busy.get(server.url + "/_dash-layout", timeout=30).status_code == 401  # the browser dropped it
        # The cookie's expiry is only a courtesy: sent again anyway (copied), the server refuses it.
        copied = client("127.0.5.3").get(
            server.url + "/_dash-layout", headers={"Cookie": f"rosc_session={cookie}"}, timeout=30
        )
        assert copied.status_code == 401
        assert server.wait_for_log(
            r"refused 401 to anonymous from 127\.0\.5\.3: GET /_dash-layout not signed in \(session ended\)"
        )
