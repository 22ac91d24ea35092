"""The app through Flask's test client: pages load, callbacks answer as the browser would call them,
errors become messages, and nothing record-level goes out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboard import ids
from dashboard.app import create_app, resolve_page
from dashboard.callback_requests import callback_body, find_callback
from dashboard.filters import FilterState, encode_query
from dashboard.pages import (
    data as data_page,
)
from dashboard.pages import (
    overview,
    programme,
    programmes,
    relapse,
    retention,
    support_mix,
)
from pipelines.warehouse import WarehouseNotFound


@pytest.fixture(scope="module")
def app(warehouse_path: Path):
    dash_app = create_app(warehouse_path)
    yield dash_app
    dash_app.dashboard_data.close()


@pytest.fixture()
def client(app):
    return app.server.test_client()


def post(client, body: dict) -> dict:
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()


def test_missing_warehouse_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WarehouseNotFound):
        create_app(tmp_path / "nothing.duckdb")


def test_two_apps_live_in_one_process(warehouse_path: Path, app) -> None:
    other = create_app(warehouse_path)
    try:
        assert set(other.callback_map) == set(app.callback_map)
    finally:
        other.dashboard_data.close()


@pytest.mark.parametrize(
    ("path", "page", "params"),
    [
        ("/", overview, {}),
        ("/retention", retention, {}),
        ("/relapse/", relapse, {}),
        ("/support-mix", support_mix, {}),
        ("/programmes", programmes, {}),
        ("/data", data_page, {}),
        ("/programmes/PG01", programme, {"programme_id": "PG01"}),
        ("/nowhere", None, {}),
    ],
)
def test_routes(path: str, page, params) -> None:
    assert resolve_page(path) == (page, params)


def test_pages_and_assets_are_served_locally(client) -> None:
    index = client.get("/retention?setting=community")
    assert index.status_code == 200
    html = index.get_data(as_text=True)
    assert "00-bootstrap.min.css" in html and "app.css" in html
    assert "cdn." not in html and "unpkg" not in html  # no network at run time
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200 and "Data as at" in layout.get_data(as_text=True)
    with client.get("/assets/00-bootstrap.min.css") as css:  # a file response: close it
        assert css.status_code == 200


def test_opening_a_link_sets_the_filters_and_the_store(app, client, data) -> None:
    key = find_callback(app, f"{ids.URL}.search")
    body = callback_body(
        app,
        key,
        {f"{ids.URL}.search": "?from=2025-01-01&to=2025-12-31&setting=prison"},
        changed=[f"{ids.URL}.search"],
    )
    out = post(client, body)["response"]
    assert out[ids.PERIOD] == {"start_date": "2025-01-01", "end_date": "2025-12-31"}
    assert out[ids.SETTING]["value"] == ["prison"]
    store = out[ids.FILTER_STATE]["data"]
    assert FilterState.from_store(store).setting == ("prison",)
    assert set(store) == {
        "start",
        "end",
        "area",
        "provider",
        "programme",
        "setting",
        "substance_group",
        "sex",
        "age_band",
    }  # the store holds filter values only
    assert "Setting: prison" in out[ids.ACTIVE_FILTERS]["children"]


def test_changing_a_filter_rewrites_the_url(app, client) -> None:
    key = find_callback(app, f"{ids.URL}.search")
    body = callback_body(
        app,
        key,
        {
            f"{ids.URL}.search": "?from=2025-03-01&to=2026-02-28",
            f"{ids.PERIOD}.start_date": "2025-03-01",
            f"{ids.PERIOD}.end_date": "2026-02-28",
            f"{ids.SEX}.value": ["female"],
        },
        changed=[f"{ids.SEX}.value"],
    )
    out = post(client, body)["response"]
    assert out[ids.URL]["search"] == "?from=2025-03-01&to=2026-02-28&sex=female"
    assert FilterState.from_store(out[ids.FILTER_STATE]["data"]).sex == ("female",)


def test_a_chart_callback_returns_a_figure(app, client, state) -> None:
    key = find_callback(app, '{"chart":"retention_12wk_spc","type":"chart-graph"}.figure')
    out = post(client, callback_body(app, key, {f"{ids.FILTER_STATE}.data": state.to_store()}))["response"]
    graph = out[json.dumps({"chart": "retention_12wk_spc", "type": "chart-graph"}, separators=(",", ":"))]
    assert graph["figure"]["data"] and graph["style"]["height"].endswith("px")


def test_every_chart_callback_answers_without_record_level_data(app, client, state, data) -> None:
    first_programme = data.filter_options()["programme"][0]["value"]
    controls = {
        f"{ids.PROGRAMME_ID}.data": first_programme,
        f"{ids.RETENTION_KM_BY}.value": "programme",
        f"{ids.RELAPSE_KM_BY}.value": "setting",
        f"{ids.PROGRAMMES_INDICATOR}.value": "peer_reach",
        f"{ids.PROGRAMME_TREND_METRIC}.value": "successful_completion",
        f"{ids.PROGRAMMES_SORT}.value": "name",
    }
    keys = [
        k
        for k in app.callback_map
        if "chart-graph" in k or ".children" in k and "tile" in k or ids.PROGRAMMES_TABLE in k
    ]
    assert len(keys) >= 20
    for key in keys:
        body = callback_body(app, key, {f"{ids.FILTER_STATE}.data": state.to_store(), **controls})
        text = json.dumps(post(client, body))
        assert "Something went wrong" not in text, key
        for secret in ("person_id", "episode_id", "contact_id", "P0000"):
            assert secret not in text, (key, secret)


def test_a_failing_chart_shows_a_message_not_a_broken_app(app, client, state, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("the warehouse fell over")

    monkeypatch.setattr(app.dashboard_data, "monthly", broken)
    key = find_callback(app, '{"chart":"early_unplanned_exit_spc","type":"chart-graph"}.figure')
    out = post(client, callback_body(app, key, {f"{ids.FILTER_STATE}.data": state.to_store()}))["response"]
    message = json.dumps(out)
    assert "Something went wrong" in message and "fell over" not in message  # no internals on the page


def test_any_other_callback_error_lands_in_the_banner(app, client, monkeypatch) -> None:
    def broken():
        raise RuntimeError("no dates")

    monkeypatch.setattr(app.dashboard_data, "as_of", broken)
    key = find_callback(app, f"{ids.URL}.search")
    body = callback_body(app, key, {f"{ids.URL}.search": "?"}, changed=[f"{ids.URL}.search"])
    text = json.dumps(post(client, body))
    assert ids.GLOBAL_ERROR in text and "Something went wrong" in text


def test_the_router_draws_each_page(app, client) -> None:
    key = find_callback(app, f"{ids.PAGE}.children")
    search = encode_query(FilterState.from_store({"start": "2025-03-01", "end": "2026-02-28"}))
    for path, expected in (
        ("/", "Overview"),
        ("/data", "Metric definitions"),
        ("/programmes/zzz", "not found"),
        ("/elsewhere", "Page not found"),
    ):
        body = callback_body(
            app,
            key,
            {f"{ids.URL}.pathname": path, f"{ids.URL}.search": search},
            changed=[f"{ids.URL}.pathname"],
        )
        assert expected in json.dumps(post(client, body)), path


def test_the_csv_button_downloads_the_chart_table(app, client, state) -> None:
    def cid(kind: str) -> dict:
        return {"chart": "exit_mix", "type": kind}

    def text(ident: dict) -> str:
        return json.dumps(ident, sort_keys=True, separators=(",", ":"))

    body = {
        "output": find_callback(app, "chart-download"),  # the wildcard form names the callback
        "outputs": [
            {"id": cid("chart-download"), "property": "data"},
            {"id": cid("chart-message"), "property": "children"},
        ],
        "inputs": [{"id": cid("chart-csv"), "property": "n_clicks", "value": 1}],
        "state": [
            {"id": ids.FILTER_STATE, "property": "data", "value": state.to_store()},
            {"id": cid("chart-spec"), "property": "data", "value": {}},
        ],
        "changedPropIds": [f"{text(cid('chart-csv'))}.n_clicks"],
    }
    out = post(client, body)["response"]
    download = out[text(cid("chart-download"))]["data"]
    assert download["filename"] == "exit_mix_2025-03-01_2026-02-28.csv"
    header = download["content"].splitlines()[0]
    assert header.split(",") == [
        "data_as_at",
        "period_start",
        "period_end",
        "filters",
        "programme",
        "programme_name",
        "outcome_group",
        "count",
        "total",
        "share",
        "suppressed",
    ]


def test_malformed_callback_requests_are_a_400_with_a_generic_body(app, client, caplog) -> None:
    """Bodies no browser sends fail inside Dash before any callback runs: a 400, logged, nothing internal."""
    sync = find_callback(app, f"{ids.URL}.search")
    good = callback_body(app, sync, {f"{ids.URL}.search": "?"})
    bodies = [
        {"output": "nope.children", "outputs": {"id": "nope", "property": "children"}, "inputs": []},
        {"output": good["output"]},  # CallbackException: Wrong length output_spec
        {**good, "inputs": []},  # CallbackException: Inputs do not match callback definition
        {**good, "output": 5},
        {**good, "inputs": [{"id": "x", "property": "y", "value": 1}]},
        [1, 2, 3],
        "a bare string",
    ]
    caplog.set_level("WARNING", logger="dashboard")
    for body in bodies:
        caplog.clear()
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code == 400, (body, response.get_data(as_text=True)[:300])
        assert response.get_json() == {"error": "malformed callback request"}
        assert "malformed callback request" in caplog.text and "Traceback" not in caplog.text
    # A well-formed request still works, and PreventUpdate keeps Dash's own answer (204, no content).
    assert post(client, good)["response"][ids.FILTER_STATE]["data"]
    chart = find_callback(app, '{"chart":"retention_12wk_spc","type":"chart-graph"}.figure')
    prevented = client.post("/_dash-update-component", json=callback_body(app, chart, {}))
    assert prevented.status_code == 204 and prevented.get_data() == b""


def test_only_the_callback_route_turns_errors_into_a_400(warehouse_path: Path) -> None:
    other = create_app(warehouse_path)
    try:

        def broken() -> str:
            raise KeyError("not a callback request")

        other.server.add_url_rule("/broken", "broken", broken)
        response = other.server.test_client().get("/broken")
        assert response.status_code == 500 and b"malformed" not in response.get_data()
    finally:
        other.dashboard_data.close()


def test_a_permission_error_in_a_callback_says_access_is_refused(app, client, state, monkeypatch) -> None:
    def refused(*args, **kwargs):
        raise PermissionError("no access to programme 'PG99'")

    monkeypatch.setattr(app.dashboard_data, "monthly", refused)
    key = find_callback(app, '{"chart":"early_unplanned_exit_spc","type":"chart-graph"}.figure')
    out = post(client, callback_body(app, key, {f"{ids.FILTER_STATE}.data": state.to_store()}))["response"]
    message = json.dumps(out)
    assert "You do not have access to this programme" in message
    assert "Something went wrong" not in message and "PG99" not in message
