"""Empty and partial warehouses: a warehouse with no records at all, or with people and episodes but no
contacts or assessments, is answered on every page, callback and command without a 500 or a
traceback, and each page says what is missing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard import ids
from dashboard.app import create_app
from dashboard.callback_requests import callback_body, find_callback
from dashboard.filters import default_state, encode_query
from dashboard.pages import NAV_PAGES
from pipelines.cli import main
from pipelines.contract import REQUIRED_TABLES
from pipelines.load import load_extracts
from pipelines.metrics import available_metrics, compute_metric
from pipelines.stats import possible_true_counts
from pipelines.warehouse import open_warehouse

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def _headers_only(folder: Path, keep: dict[str, int] | None = None) -> Path:
    """The sample extract with each table cut to its first `keep[table]` rows (0: the header only)."""
    folder.mkdir(parents=True)
    shutil.copyfile(SAMPLE / "extract.json", folder / "extract.json")
    for table in REQUIRED_TABLES:
        lines = (SAMPLE / f"{table}.csv").read_text().splitlines()
        rows = (keep or {}).get(table, 0)
        (folder / f"{table}.csv").write_text("\n".join(lines[: 1 + rows]) + "\n")
    return folder


@pytest.fixture(scope="module", params=["empty", "no-contacts"])
def warehouse(request, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp(request.param)
    if request.param == "empty":
        folder = _headers_only(root / "extract")
    else:  # every provider, programme, person and episode, but no contacts or assessments
        keep = {t: 10**9 for t in ("providers", "programmes", "people", "episodes")}
        folder = _headers_only(root / "extract", keep)
    db = root / "rosc.duckdb"
    load_extracts([folder], db, max_rejected=0)
    return request.param, db


@pytest.fixture(scope="module")
def app(warehouse):
    dash_app = create_app(warehouse[1])
    yield dash_app
    dash_app.dashboard_data.close()


def _post(client, body: dict) -> dict:
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    return response.get_json()


def test_the_shell_and_layout_answer(app) -> None:
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200, layout.get_data(as_text=True)[:500]


def test_every_page_says_what_is_missing(app, warehouse) -> None:
    kind, _ = warehouse
    client = app.server.test_client()
    key = find_callback(app, f"{ids.PAGE}.children")
    state = default_state(app.dashboard_data.as_of(), app.dashboard_data.dates()[0])
    for page in NAV_PAGES:
        body = callback_body(
            app,
            key,
            {f"{ids.URL}.pathname": page.PATH, f"{ids.URL}.search": encode_query(state)},
            changed=[f"{ids.URL}.pathname"],
        )
        text = json.dumps(_post(client, body))
        assert "Something went wrong" not in text, page.PATH
        if page.NEEDS == {}:
            assert "Missing data" not in text, page.PATH
        elif kind == "empty":
            assert "holds no episodes" in text, page.PATH
        elif page.PATH in ("/support-mix",):
            assert "holds no contacts" in text, page.PATH


def test_every_chart_and_tile_answers(app) -> None:
    client = app.server.test_client()
    state = default_state(app.dashboard_data.as_of(), app.dashboard_data.dates()[0])
    programmes = app.dashboard_data.filter_options()["programme"]
    keys = [k for k in app.callback_map if "chart-graph" in k or ".children" in k and "tile" in k]
    if not programmes:  # no programme page to draw
        keys = [k for k in keys if "programme_vs_system" not in k and "programme_" not in k]
    assert len(keys) >= 15
    for key in keys:
        body = callback_body(
            app,
            key,
            {
                f"{ids.FILTER_STATE}.data": state.to_store(),
                f"{ids.PROGRAMME_ID}.data": programmes[0]["value"] if programmes else None,
                f"{ids.RETENTION_KM_BY}.value": "setting",
                f"{ids.RELAPSE_KM_BY}.value": "setting",
                f"{ids.RELAPSE_TESTS_KM_BY}.value": "programme",
                f"{ids.PROGRAMMES_INDICATOR}.value": "retention_12wk",
                f"{ids.PROGRAMME_TREND_METRIC}.value": "successful_completion",
                f"{ids.PROGRAMMES_SORT}.value": "name",
            },
        )
        text = json.dumps(_post(client, body))
        assert "Something went wrong" not in text, key


def test_the_data_page_shows_what_was_loaded_and_rejected(app, warehouse) -> None:
    kind, _ = warehouse
    client = app.server.test_client()
    key = find_callback(app, f"{ids.PAGE}.children")
    body = callback_body(app, key, {f"{ids.URL}.pathname": "/data", f"{ids.URL}.search": ""})
    text = json.dumps(_post(client, body))
    assert "Load history" in text and "Rows rejected" in text and "Latest load, by table" in text
    # The counts are perturbed like every other (a shown count stands for a range of true ones).
    latest = app.dashboard_data.latest_load_by_table().set_index("table")
    low, high = possible_true_counts(int(latest.loc["episodes", "loaded"]))
    assert low <= (0 if kind == "empty" else 5613) <= high
    assert f"{int(latest.loc['episodes', 'loaded']):,}" in text


def test_rosc_metric_answers_every_metric(warehouse) -> None:
    _, db = warehouse
    warehouse_ = open_warehouse(db)
    try:
        for name in available_metrics():
            table = compute_metric(warehouse_, name, "2024-04-01", "2024-06-30", as_of="2026-03-31")
            assert table.attrs["metric"] == name
    finally:
        warehouse_.close()
    result = CliRunner().invoke(
        main, ["metric", "retention_12wk", "--db", str(db), "--from", "2025-01-01", "--to", "2025-06-30"]
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
