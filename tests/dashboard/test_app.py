"""The app through Flask's test client: pages load, callbacks answer as the browser would call them,
errors become messages, and nothing record-level goes out."""

from __future__ import annotations

import json
from datetime import date
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
from dashboard.periods import DataSpan, Period, is_whole_months
from dashboard.queries import _LRU
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
        ("/Programmes/pg01", programme, {"programme_id": "pg01"}),  # the id as written
        ("/nowhere", None, {}),
        # Aliases and spellings people type (issue 12: /support was "Page not found").
        ("/support", support_mix, {}),
        ("/Support_Mix/", support_mix, {}),
        ("/overview", overview, {}),
        ("/funnel", programmes, {}),
        ("/data-quality", data_page, {}),
        ("/RETENTION", retention, {}),
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
        {f"{ids.URL}.search": "?from=2025-01&to=2025-03&setting=prison"},
        changed=[f"{ids.URL}.search"],
    )
    out = post(client, body)["response"]
    assert out[ids.PERIOD_PRESET] == {"value": "fy2024q4"}
    assert out[ids.SETTING]["value"] == "prison"  # one value or all: the dropdown holds one
    store = out[ids.FILTER_STATE]["data"]
    assert FilterState.from_store(store).setting == ("prison",)
    assert (store["start"], store["end"]) == ("2025-01-01", "2025-03-31")
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
    assert out[ids.ACTIVE_FILTERS]["children"] == "Showing Q4 2024-25 (Jan-Mar 2025) · Setting: Prison"
    assert out[ids.FILTER_NOTICE]["children"] is None  # everything in the link was used


def test_the_default_view_is_the_latest_complete_financial_year(app, client) -> None:
    key = find_callback(app, f"{ids.URL}.search")
    out = post(client, callback_body(app, key, {f"{ids.URL}.search": ""}, changed=[]))["response"]
    assert out[ids.PERIOD_PRESET] == {"value": "fy2025"}
    assert out[ids.ACTIVE_FILTERS]["children"] == "Showing financial year 2025-26 · all people and programmes"


def test_changing_a_filter_rewrites_the_url(app, client) -> None:
    key = find_callback(app, f"{ids.URL}.search")
    body = callback_body(
        app,
        key,
        {
            f"{ids.URL}.search": "?from=2025-07&to=2025-09",
            f"{ids.PERIOD_PRESET}.value": "fy2025q2",
            f"{ids.SEX}.value": "female",
        },
        changed=[f"{ids.SEX}.value"],
    )
    out = post(client, body)["response"]
    assert out[ids.URL]["search"] == "?from=2025-07&to=2025-09&sex=female"
    assert FilterState.from_store(out[ids.FILTER_STATE]["data"]).sex == ("female",)


@pytest.mark.parametrize(
    ("preset", "first", "last", "label"),
    [
        ("fy2025q2", "2025-07", "2025-09", "Q2 2025-26 (Jul-Sep 2025)"),
        ("fy2025q4", "2026-01", "2026-03", "Q4 2025-26 (Jan-Mar 2026)"),
        ("fy2025", "2025-04", "2026-03", "financial year 2025-26"),
        ("rolling12", "2025-04", "2026-03", "financial year 2025-26"),  # at 31 March the same months
        ("fy2023", "2023-04", "2024-03", "financial year 2023-24"),
        ("m2024-02", "2024-02", "2024-02", "Feb 2024"),
    ],
)
def test_choosing_a_period_sets_the_url(app, client, preset, first, last, label) -> None:
    key = find_callback(app, f"{ids.URL}.search")
    body = callback_body(
        app,
        key,
        {f"{ids.URL}.search": "?from=2025-01&to=2025-03", f"{ids.PERIOD_PRESET}.value": preset},
        changed=[f"{ids.PERIOD_PRESET}.value"],
    )
    out = post(client, body)["response"]
    assert out[ids.PERIOD_PRESET]["value"] == preset  # the choice made stays chosen
    assert out[ids.URL]["search"] == f"?from={first}&to={last}"
    assert out[ids.ACTIVE_FILTERS]["children"] == f"Showing {label} · all people and programmes"


def notice_items(out: dict) -> list[str]:
    """The items of the notice under the filter line, from a sync callback's response."""
    notice = out[ids.FILTER_NOTICE]["children"]
    if notice is None:
        return []
    items = notice["props"]["children"][1]["props"]["children"]
    return [item["props"]["children"] for item in items]


def test_an_invalid_link_opens_with_a_notice_naming_each_problem(app, client) -> None:
    key = find_callback(app, f"{ids.URL}.search")
    search = "?from=garbage&to=2026-02&colour=red&setting=moon&setting=prison&setting=community"
    out = post(client, callback_body(app, key, {f"{ids.URL}.search": search}, changed=[f"{ids.URL}.search"]))
    out = out["response"]
    assert notice_items(out) == [
        "'colour' in the link is not a filter and was ignored.",
        "from='garbage' is not a month (write it YYYY-MM, such as 2025-04): starting in Apr 2025, the "
        "default, instead.",
        "The dashboard shows a month, a financial-year quarter, a financial year or the latest 12 months, "
        "not any run of months: Apr 2025 to Feb 2026 is shown as financial year 2025-26 (1 Apr 2025 to 31 "
        "Mar 2026), the shortest of these holding it.",
        "Setting: 'moon' is not one of the options, so it was left out.",
        "Setting: the dashboard shows one setting at a time or all of them, so 'prison' is shown and "
        "'community' was left out.",
    ]
    assert out[ids.FILTER_NOTICE]["children"]["props"]["color"] == "warning"
    assert out[ids.ACTIVE_FILTERS]["children"] == "Showing financial year 2025-26 · Setting: Prison"
    assert ids.URL not in out  # the address bar keeps the link as given, so the notice stays true of it


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
        f"{ids.RELAPSE_TESTS_KM_BY}.value": "programme",
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

    monkeypatch.setattr(app.dashboard_data, "dates", broken)  # the filter callback reads the span first
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
    assert download["filename"] == "exit_mix_fy2025-26.csv"
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


# -- whole months only, on the server ----------------------------------------------------------------


#: The filters of each call `computed_periods` records, in the same order.
FILTERS_SEEN: list[dict] = []


@pytest.fixture()
def computed_periods(app, monkeypatch) -> list[tuple[str, str, date, date]]:
    """Every period the app asks the metric layer for, recorded at the metric layer's door (its
    `compute_metric`, `metric_series` and `compute_mix`), with the app's cache emptied first so that
    every chart is computed afresh."""
    import pipelines.metrics as metrics

    seen: list[tuple[str, str, date, date]] = []
    FILTERS_SEEN.clear()
    for name in ("compute_metric", "metric_series", "compute_mix"):
        original = getattr(metrics, name)

        def spy(warehouse, metric, start, end, *args, _original=original, _name=name, **kwargs):
            seen.append((_name, metric, start, end))
            FILTERS_SEEN.append(kwargs.get("filters") or {})
            return _original(warehouse, metric, start, end, *args, **kwargs)

        monkeypatch.setattr(metrics, name, spy)
    monkeypatch.setattr(app.dashboard_data, "_cache", _LRU())
    return seen


def page_callback_bodies(app, data, store: dict) -> list[tuple[str, dict]]:
    """A request for every chart, tile and table callback of every page, reading ``store``."""
    controls = {
        f"{ids.PROGRAMME_ID}.data": data.filter_options()["programme"][0]["value"],
        f"{ids.RETENTION_KM_BY}.value": "programme",
        f"{ids.RELAPSE_KM_BY}.value": "setting",
        f"{ids.RELAPSE_TESTS_KM_BY}.value": "programme",
        f"{ids.PROGRAMMES_INDICATOR}.value": "retention_12wk",
        f"{ids.PROGRAMME_TREND_METRIC}.value": "successful_completion",
        f"{ids.PROGRAMMES_SORT}.value": "name",
    }
    keys = [
        k
        for k in app.callback_map
        if "chart-graph" in k or ".children" in k and "tile" in k or ids.PROGRAMMES_TABLE in k
    ]
    return [(k, callback_body(app, k, {f"{ids.FILTER_STATE}.data": store, **controls})) for k in keys]


def csv_body(app, chart: str, store: dict) -> dict:
    def cid(kind: str) -> dict:
        return {"chart": chart, "type": kind}

    return {
        "output": find_callback(app, "chart-download"),
        "outputs": [
            {"id": cid("chart-download"), "property": "data"},
            {"id": cid("chart-message"), "property": "children"},
        ],
        "inputs": [{"id": cid("chart-csv"), "property": "n_clicks", "value": 1}],
        "state": [
            {"id": ids.FILTER_STATE, "property": "data", "value": store},
            {"id": cid("chart-spec"), "property": "data", "value": {}},
        ],
        "changedPropIds": [f"{json.dumps(cid('chart-csv'), sort_keys=True, separators=(',', ':'))}.n_clicks"],
    }


def test_a_period_the_bar_does_not_offer_is_named_and_a_day_level_link_widened(
    app, client, computed_periods
) -> None:
    key = find_callback(app, f"{ids.URL}.search")
    body = callback_body(
        app,
        key,
        {
            f"{ids.URL}.search": "?from=2025-06&to=2025-06",
            f"{ids.PERIOD_PRESET}.value": "2025-06-03",  # what the period dropdown never sends
        },
        changed=[f"{ids.PERIOD_PRESET}.value"],
    )
    out = post(client, body)["response"]
    store = out[ids.FILTER_STATE]["data"]
    assert (store["start"], store["end"]) == ("2025-06-01", "2025-06-30")
    assert out[ids.PERIOD_PRESET]["value"] == "m2025-06"
    assert notice_items(out) == ["The period '2025-06-03' is not one of the choices: it stays Jun 2025."]
    # A hand-edited link with days is widened to whole months.
    body = callback_body(app, key, {f"{ids.URL}.search": "?from=2025-06-03&to=2025-06-23"}, changed=[])
    out = post(client, body)["response"]
    assert (out[ids.FILTER_STATE]["data"]["start"], out[ids.FILTER_STATE]["data"]["end"]) == (
        "2025-06-01",
        "2025-06-30",
    )
    assert len(notice_items(out)) == 1 and "widened to Jun 2025" in notice_items(out)[0]


def test_a_crafted_day_level_filter_store_is_computed_as_whole_months(
    app, client, data, state, computed_periods
) -> None:
    """The store every chart reads is sent back by the browser, so a request can hold any days: the
    attack of issue 16 asked for 231 periods inside 3-23 June 2025. Each chart, tile, table and CSV
    download must answer exactly as for June as a whole, and the metric layer must never be asked for
    a period that is not whole months."""
    june = FilterState(date(2025, 6, 1), date(2025, 6, 30)).to_store()
    crafted = {**june, "start": "2025-06-03", "end": "2025-06-23"}
    whole_answers = {k: post(client, body) for k, body in page_callback_bodies(app, data, june)}
    asked_for_june = len(computed_periods)
    assert asked_for_june > 20
    for k, body in page_callback_bodies(app, data, crafted):
        assert post(client, body) == whole_answers[k], k
    for metric in ("exit_mix", "retention_12wk_spc"):
        download = post(client, csv_body(app, metric, crafted))["response"]
        data_text = next(v["data"] for v in download.values() if v.get("data"))
        assert data_text["filename"] == f"{metric}_2025-06.csv"
        first_row = data_text["content"].splitlines()[1].split(",")
        assert first_row[1:3] == ["2025-06-01", "2025-06-30"]  # period_start, period_end
    # The default view too, where tiles and peer outcomes move their period back for follow-up and
    # the tiles compare with the previous period.
    for _, body in page_callback_bodies(app, data, state.to_store()):
        post(client, body)
    periods = {(start, end) for _, _, start, end in computed_periods}
    assert all(is_whole_months(start, end) for start, end in periods), sorted(periods)
    assert (date(2025, 6, 1), date(2025, 6, 30)) in periods
    # The previous financial year, and completion without re-presentation moved back to the latest
    # financial year with 182 days of follow-up: the same year.
    assert (date(2024, 4, 1), date(2025, 3, 31)) in periods
    assert not any(date(2025, 6, 3) in (s, e) or date(2025, 6, 23) in (s, e) for s, e in periods)
    # Every period but the monthly series' windows (which are asked for month by month) is one the
    # dashboard answers.
    span = DataSpan.of(*data.dates())
    shaped = {(s, e) for door, _, s, e in computed_periods if door != "metric_series"}
    assert all(span.allows(Period.of_days(s, e)) for s, e in shaped), sorted(shaped)


@pytest.mark.parametrize(
    "changes",
    [
        {"programme": ["PG01", "PG02"]},  # a union of two programmes
        {"sex": ["female", "male"], "setting": ["community"]},
        {"start": "2025-01-01", "end": "2025-12-31"},  # a calendar year
        {"start": "2025-05-01", "end": "2025-06-30"},  # two months
        {"start": "2025-04-01", "end": "2026-02-28"},  # eleven months of the year
    ],
)
def test_a_crafted_store_for_a_view_the_dashboard_does_not_answer_is_refused_not_computed(
    app, client, data, state, computed_periods, changes
) -> None:
    """The filter bar and links only ever make one value or all of each dimension and a month, quarter,
    financial year or rolling 12 months (issue 16); a crafted store asking for another view gets a
    generic message from every chart, tile, table and download, and the metric layer computes nothing
    for it."""
    crafted = {**state.to_store(), **changes}
    for k, body in page_callback_bodies(app, data, crafted):
        text = json.dumps(post(client, body))
        assert "figure" in text or "children" in text, k
        assert "not a month" not in text and "one value" not in text  # nothing internal
    assert "content" not in json.dumps(post(client, csv_body(app, "exit_mix", crafted)))
    # A monthly series is answered month by month, so only its filters can be refused.
    spc_csv = json.dumps(post(client, csv_body(app, "retention_12wk_spc", crafted)))
    assert ("content" in spc_csv) == ("start" in changes)
    # What was computed is a view the dashboard answers: one value of each dimension (the programme
    # page filters to its own programme whatever the store says), and a period of an answered shape.
    assert all(len(v) <= 1 for f in FILTERS_SEEN for v in f.values()), FILTERS_SEEN
    span = DataSpan.of(*data.dates())
    shaped = {(s, e) for door, _, s, e in computed_periods if door != "metric_series"}
    assert all(span.allows(Period.of_days(s, e)) for s, e in shaped), sorted(shaped)


def test_a_crafted_store_with_a_reversed_period_is_refused_not_computed(
    app, client, computed_periods
) -> None:
    crafted = {**FilterState(date(2025, 6, 1), date(2025, 6, 30)).to_store(), "start": "2025-06-23"}
    crafted["end"] = "2025-06-03"
    key = find_callback(app, '{"chart":"retention_12wk_spc","type":"chart-graph"}.figure')
    text = json.dumps(post(client, callback_body(app, key, {f"{ids.FILTER_STATE}.data": crafted})))
    assert "Something went wrong" in text and "starts" not in text  # a generic message, nothing internal
    assert computed_periods == []
