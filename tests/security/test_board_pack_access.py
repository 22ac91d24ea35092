"""The app's Board pack download (`/board-pack.pdf`) goes through sign-in and the access scope like every
other read: nobody anonymous gets it, a service lead's pack covers only their own programme (every other
programme's name is absent, the headline numbers are their programme's), a link naming another
programme is refused with 403 and a view of another shape with 400, both logged."""

from __future__ import annotations

import io
import logging
from typing import Any

import pypdf
import pytest

from dashboard.filters import FilterState
from dashboard.headlines import HEADLINE_METRICS, tile_summary
from dashboard.queries import DashboardData
from tests.security.test_access import SECRET, sign_in, write_users

pytestmark = pytest.mark.slow

VIEW = "?from=2025-04&to=2026-03"  # financial year 2025-26, the default view


@pytest.fixture(scope="module")
def units(warehouse_path) -> dict[str, Any]:
    """The service lead's programme (the largest by 12-week retention's cohort), another one, and every
    programme's name (as tests/security/test_access.py chooses them)."""
    from dashboard.filters import default_state

    data = DashboardData(warehouse_path)
    try:
        state = default_state(data.as_of())
        table = data.metric_for("retention_12wk", state, by=["programme"])
        shown = table[~table["suppressed"]].sort_values("denominator", ascending=False)
        programmes = data.warehouse.sql("SELECT programme_id, programme_name FROM stg_programmes")
    finally:
        data.close()
    return {
        "own": str(shown["programme"].iloc[0]),
        "other": str(shown["programme"].iloc[1]),
        "programmes": programmes.set_index("programme_id"),
        "state": state,
    }


@pytest.fixture(scope="module")
def app(warehouse_path, units: dict, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from dashboard.app import create_app

    folder = tmp_path_factory.mktemp("board-pack-access")
    users = write_users(folder / "users.toml", units["own"])
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ROSC_SECRET_KEY", SECRET)
        env.setenv("ROSC_SESSION_STORE", str(folder / "sessions.sqlite3"))
        env.delenv("ROSC_USERS", raising=False)
        dash_app = create_app(warehouse_path, users_file=users)
    yield dash_app
    dash_app.dashboard_data.close()


@pytest.fixture(scope="module")
def service_lead(app: Any) -> Any:
    return sign_in(app, "sam")


@pytest.fixture(scope="module")
def commissioner(app: Any) -> Any:
    return sign_in(app, "ana")


def pack_text(response: Any) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="board-pack_fy2025-26.pdf"'
    reader = pypdf.PdfReader(io.BytesIO(response.get_data()))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_nobody_anonymous_gets_a_pack(app: Any) -> None:
    response = app.server.test_client().get("/board-pack.pdf" + VIEW)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_service_leads_pack_covers_only_their_programme(
    app: Any, service_lead: Any, units: dict, warehouse_path
) -> None:
    text = pack_text(service_lead.get("/board-pack.pdf" + VIEW))
    names = units["programmes"]["programme_name"]
    own = names[units["own"]]
    assert f"your programmes only ({own})" in text
    others = [name for pid, name in names.items() if pid != units["own"] and name not in own]
    assert [name for name in others if name in text] == []
    assert "other programme" in text  # the funnel tables: anonymised, as on the Programmes page
    # The headlines are their programme's: the tiles of a commissioner filtered to it.
    data = DashboardData(warehouse_path)
    try:
        state = FilterState(units["state"].start, units["state"].end, programme=(units["own"],))
        for metric in HEADLINE_METRICS:
            summary, _, _ = tile_summary(data, metric, state)
            assert summary.value in text, (metric, summary.value)
            if " of " in summary.counts:
                assert summary.counts in text, (metric, summary.counts)
    finally:
        data.close()


def test_a_commissioners_pack_names_every_programme_shown(app: Any, commissioner: Any, units: dict) -> None:
    text = pack_text(commissioner.get("/board-pack.pdf" + VIEW))
    assert "Covers every programme" in text
    names = units["programmes"]["programme_name"]
    assert names[units["own"]] in text and names[units["other"]] in text


def test_another_programme_or_another_shape_is_refused_and_logged(
    app: Any, service_lead: Any, units: dict, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dashboard.access"):
        other = service_lead.get(f"/board-pack.pdf{VIEW}&programme={units['other']}")
        five = service_lead.get("/board-pack.pdf?from=2025-04&to=2025-08")
        two = service_lead.get(f"/board-pack.pdf{VIEW}&sex=male&sex=female")
    assert other.status_code == 403
    assert five.status_code == 400 and "not a period the dashboard answers" in five.get_json()["message"]
    assert two.status_code == 400 and "one value of each filter" in two.get_json()["message"]
    refusals = [r.getMessage() for r in caplog.records if r.name == "dashboard.access"]
    assert any("refused 403" in m and "board pack outside the scope" in m for m in refusals)
    assert sum("refused 400" in m and "board pack not answered" in m for m in refusals) == 2
