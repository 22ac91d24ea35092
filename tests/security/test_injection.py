"""No injection: hostile values sent through the real callback endpoint reach DuckDB only as parameters.

Every filter field, the URL query string and path, the filter store every chart reads, the page controls
(breakdown dimension, indicator, programme) and the CSV download are fed SQL fragments, unicode, NUL bytes,
100 kB strings and values of the wrong type. Each answer must be a 200 (a message, or an empty or
filtered result) or a 4xx: never a 500, never a traceback or a DuckDB error text, never a record-level id.
The warehouse must be byte-for-byte unchanged afterwards, and a recording cursor shows that the hostile
strings travel as query parameters, never inside the SQL text. A static check keeps every f-string that
builds SQL in `pipelines/` and `dashboard/` on a reviewed list of interpolations (names from whitelists).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dashboard import ids
from dashboard.app import create_app
from dashboard.callback_requests import callback_body, find_callback
from dashboard.filters import FILTER_DIMENSIONS, FilterState, default_state
from dashboard.layout import FILTER_IDS
from pipelines.metrics import available_metrics, compute_metric
from pipelines.metrics.api import metric_sql
from pipelines.metrics.labels import dimension_labels
from pipelines.metrics.query import validate_breakdown, validate_filters
from pipelines.metrics.registry import DIMENSIONS, STATIC_DIMENSIONS, TIME_DIMENSIONS, get_metric

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "/_dash-update-component"

#: SQL fragments and awkward text; the COPY payload's target path is filled in per test.
HOSTILE_STRINGS: tuple[str, ...] = (
    "'; DROP TABLE episodes; --",
    "x' OR '1'='1",
    '"); SELECT * FROM people; --',
    "' UNION SELECT person_id FROM people --",
    "PG01'); DELETE FROM episodes WHERE ('1'='1",
    "2024-01-01'; --",
    "$filter_area",
    "?",
    "') OR TRUE; ATTACH ':memory:' AS evil; --",
    "Ωmega 漢字 🚑 \u202eevil\u202c",
    "nul\x00byte",
    "\x00",
    "%27%3B%20DROP%20TABLE%20episodes%3B--",
    "A" * 100_000,
)

#: Values of the wrong shape for a field that takes a list of strings (or a date string).
HOSTILE_SHAPES: tuple[Any, ...] = (
    "'; DROP TABLE episodes; --",  # a scalar where a list is expected
    7,
    -1.5e308,
    True,
    {"nested": {"deeper": ["'; DROP TABLE episodes; --"]}},
    [["'; DROP TABLE episodes; --"]],
    [None],
    [{"$ne": 1}],
    [1, 2.5, False],
    [f"value {i}' OR '1'='1" for i in range(300)],
)

#: Response text that would mean internals leaked: a traceback, an exception name, DuckDB's own words.
LEAK = re.compile(
    r"Traceback \(most recent call last\)|File \"/|\b[A-Z]\w*(?:Error|Exception)\b|_duckdb|"
    r"site-packages|(?:Binder|Parser|Catalog|Conversion) Error"
)
TOKEN = re.compile(r"[A-Za-z0-9]+")


def hostile_values(copy_target: Path) -> list[Any]:
    """Every hostile value, as the one-element lists a multi-select sends, then the wrong shapes."""
    copy = f"'); COPY (SELECT * FROM people) TO '{copy_target}'; --"
    return [[s] for s in (*HOSTILE_STRINGS, copy)] + list(HOSTILE_SHAPES)


def value_id(value: Any) -> str:
    return re.sub(r"\W+", "_", repr(value)[:24])


@pytest.fixture(scope="module")
def app(warehouse_path: Path) -> Iterator[Any]:
    dash_app = create_app(warehouse_path)
    yield dash_app
    dash_app.dashboard_data.close()


@pytest.fixture()
def client(app: Any) -> Any:
    return app.server.test_client()


@pytest.fixture(scope="module")
def state(app: Any) -> FilterState:
    return default_state(app.dashboard_data.as_of())


def snapshot(app: Any) -> dict[str, int]:
    """Every table and view of the warehouse with its row count."""
    warehouse = app.dashboard_data.warehouse
    tables = warehouse.sql(
        "SELECT table_name AS name FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views() "
        "WHERE NOT internal ORDER BY 1"
    )["name"]
    return {name: int(warehouse.sql(f'SELECT count(*) AS n FROM "{name}"')["n"].iloc[0]) for name in tables}


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def baseline(app: Any, warehouse_path: Path) -> tuple[dict[str, int], str]:
    return snapshot(app), file_digest(warehouse_path)


@pytest.fixture(scope="module")
def record_ids(app: Any) -> frozenset[str]:
    """Every person, episode, contact and assessment id in the warehouse (record-level identifiers)."""
    warehouse = app.dashboard_data.warehouse
    found: set[str] = set()
    for table, column in (
        ("people", "person_id"),
        ("episodes", "episode_id"),
        ("contacts", "contact_id"),
        ("assessments", "assessment_id"),
    ):
        present = warehouse.sql(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = $t AND column_name = $c",
            {"t": table, "c": column},
        )
        if not present.empty:
            found.update(str(v) for v in warehouse.sql(f"SELECT DISTINCT {column} AS v FROM {table}")["v"])
    assert len(found) > 1000
    return frozenset(found)


@pytest.fixture()
def unchanged(app: Any, warehouse_path: Path, baseline: tuple[dict[str, int], str]) -> Iterator[None]:
    """After the test: the warehouse holds the same tables and row counts, and the file the same bytes."""
    yield
    tables, digest = baseline
    assert snapshot(app) == tables
    assert file_digest(warehouse_path) == digest


def answer(response: Any, record_ids: frozenset[str]) -> str:
    """The response text after checking: 200 or 4xx, nothing internal, no record-level id."""
    text = response.get_data(as_text=True)
    assert response.status_code == 200 or 400 <= response.status_code < 500, (
        response.status_code,
        text[:300],
    )
    leaked = LEAK.search(text)
    assert leaked is None, text[max(0, leaked.start() - 200) : leaked.end() + 200]
    records = set(TOKEN.findall(text)) & record_ids
    assert not records, sorted(records)[:5]
    return text


def post(client: Any, body: Any, record_ids: frozenset[str]) -> str:
    return answer(client.post(ENDPOINT, json=body), record_ids)


def sync_key(app: Any) -> str:
    return find_callback(app, f"{ids.URL}.search")


# -- filter fields and the URL -------------------------------------------------------------------------

FILTER_FIELDS = (
    f"{ids.PERIOD_PRESET}.value",
    *[f"{FILTER_IDS[d]}.value" for d in FILTER_DIMENSIONS],
)


@pytest.mark.parametrize("field", FILTER_FIELDS)
def test_hostile_values_in_every_filter_field(
    app: Any,
    client: Any,
    state: FilterState,
    record_ids: frozenset[str],
    field: str,
    tmp_path: Path,
    unchanged,
) -> None:
    copy_target = tmp_path / "leak.csv"
    key = sync_key(app)
    for value in hostile_values(copy_target):
        values = {
            f"{ids.URL}.search": "?",
            f"{ids.PERIOD_PRESET}.value": "fy2025",
            field: value,
        }
        text = post(client, callback_body(app, key, values, changed=[field]), record_ids)
        reply = json.loads(text)
        store = reply.get("response", {}).get(ids.FILTER_STATE, {}).get("data")
        if store is None:  # refused: the banner says so
            assert "Something went wrong" in text, value_id(value)
            continue
        # The state the charts will read is a well-formed filter state (the value kept as text or dropped)
        # and every chart answers it without leaking anything.
        FilterState.from_store(store)
        for chart in ("retention_12wk_spc", "exit_mix", "time_in_treatment_km"):
            chart_key = find_callback(app, f'{{"chart":"{chart}","type":"chart-graph"}}.figure')
            post(client, callback_body(app, chart_key, {f"{ids.FILTER_STATE}.data": store}), record_ids)
    assert not copy_target.exists()


def test_hostile_query_strings_and_paths(
    app: Any, client: Any, record_ids: frozenset[str], tmp_path: Path, unchanged
) -> None:
    copy_target = tmp_path / "leak.csv"
    strings = [*HOSTILE_STRINGS[:-1], "A" * 2_000, f"'); COPY people TO '{copy_target}'; --"]
    searches = ["?from=2024-01-01'; --&to=2025-01-01\"); --", "?" + "&".join(f"{d}=x" for d in "?&=#")]
    for s in strings:
        searches += [f"?{d}={s}" for d in ("area", "provider", "programme", "sex", "from", "to", s[:40])]
    searches.append("?" + "&".join(f"area={i}'--" for i in range(1_000)))
    sync, router = sync_key(app), find_callback(app, f"{ids.PAGE}.children")
    # The navigation runs in the browser (tests/dashboard/test_clientside_nav.py): nothing to post.
    for search in searches:
        body = callback_body(app, sync, {f"{ids.URL}.search": search}, changed=[f"{ids.URL}.search"])
        reply = json.loads(post(client, body, record_ids))
        store = reply["response"][ids.FILTER_STATE]["data"]
        # Hand-edited links are cut down to size: no value over 100 characters, at most 200 per dimension.
        for d in FILTER_DIMENSIONS:
            assert len(store[d]) <= 200 and all(len(v) <= 100 for v in store[d])
        for path in ("/", "/programmes", "/programmes/" + search[1:60], "/retention"):
            values = {f"{ids.URL}.pathname": path, f"{ids.URL}.search": search}
            post(client, callback_body(app, router, values, changed=[f"{ids.URL}.pathname"]), record_ids)
        answer(client.get("/programmes" + search[:4000]), record_ids)
    for s in strings:
        for path in ("/programmes/" + s, "/" + s):
            values = {f"{ids.URL}.pathname": path, f"{ids.URL}.search": "?area=" + s}
            post(client, callback_body(app, router, values, changed=[f"{ids.URL}.pathname"]), record_ids)
    assert not copy_target.exists()


# -- the filter store and the page controls, as every chart callback reads them ------------------------


def chart_keys(app: Any) -> list[str]:
    """Every server callback that draws something from the filter state or a page control."""
    return [
        k
        for k in app.callback_map
        if "MATCH" not in k
        and "chart-png" not in k
        and not k.startswith(("page-content", "..nav-"))
        and k != sync_key(app)
    ]


def hostile_controls(marker: str) -> dict[str, Any]:
    return {
        f"{ids.PROGRAMME_ID}.data": f"PG01{marker}",
        f"{ids.RETENTION_KM_BY}.value": "person_id",  # a bogus dimension
        f"{ids.RELAPSE_KM_BY}.value": f"setting{marker}",
        f"{ids.PROGRAMMES_INDICATOR}.value": f"retention_12wk{marker}",  # a bogus metric id
        f"{ids.PROGRAMME_TREND_METRIC}.value": "__class__",
        f"{ids.PROGRAMMES_SORT}.value": marker,
        f"{ids.URL}.search": f"?area={marker}",
        f"{ids.chart(ids.CHART_GRAPH, 'programme_funnel')}.clickData": {"points": [{"customdata": marker}]},
    }


def test_hostile_filter_store_and_controls_in_every_chart_callback(
    app: Any, client: Any, state: FilterState, record_ids: frozenset[str], tmp_path: Path, unchanged
) -> None:
    copy_target = tmp_path / "leak.csv"
    keys = chart_keys(app)
    assert len(keys) >= 25
    for value in [*hostile_values(copy_target)[:4], [HOSTILE_STRINGS[-1]], ["nul\x00byte"]]:
        # the same hostile value in every dimension at once, and in the page controls
        marker = value[0] if isinstance(value, list) else str(value)
        store = {**state.to_store(), **{d: value for d in FILTER_DIMENSIONS}}
        controls = {
            k: v
            for k, v in hostile_controls(marker[:200]).items()
            if not k.startswith(f"{ids.URL}.") or len(marker) < 1_000
        }
        for key in keys:
            post(client, callback_body(app, key, {f"{ids.FILTER_STATE}.data": store, **controls}), record_ids)
    assert not copy_target.exists()


@pytest.mark.parametrize(
    "store",
    [
        "'; DROP TABLE episodes; --",
        [1, 2],
        42,
        {"start": "2024-01-01'; --", "end": "2025-01-01"},
        {"start": "2025-01-01", "end": "2024-01-01"},
        {"start": {"$gt": ""}, "end": ["2025"]},
        {"start": "2024-01-01", "end": "2025-01-01", "area": 5},
        {"start": "2024-01-01", "end": "2025-01-01", "area": "'; DROP TABLE episodes; --"},
        {"start": "2024-01-01", "end": "2025-01-01", "area": {"x": {"y": 1}}},
        {"start": "2024-01-01", "end": "2025-01-01", "person_id": ["P1"], "'; DROP TABLE x; --": ["1"]},
        {"start": "0001-01-01", "end": "9999-12-31"},
    ],
    ids=value_id,
)
def test_malformed_filter_store(
    app: Any, client: Any, record_ids: frozenset[str], store: Any, unchanged
) -> None:
    for chart in ("retention_12wk_spc", "exit_mix", "time_in_treatment_km", "contacts_by_programme"):
        key = find_callback(app, f'{{"chart":"{chart}","type":"chart-graph"}}.figure')
        post(client, callback_body(app, key, {f"{ids.FILTER_STATE}.data": store}), record_ids)
    tile = find_callback(app, '{"metric":"retention_12wk","type":"tile"}.children')
    post(client, callback_body(app, tile, {f"{ids.FILTER_STATE}.data": store}), record_ids)


def test_hostile_csv_downloads(
    app: Any, client: Any, state: FilterState, record_ids: frozenset[str], unchanged
) -> None:
    def cid(kind: str, chart: str) -> dict[str, str]:
        return {"chart": chart, "type": kind}

    def text(ident: dict[str, str]) -> str:
        return json.dumps(ident, sort_keys=True, separators=(",", ":"))

    hostile = HOSTILE_STRINGS[0]
    cases = [
        ("exit_mix", {hostile: hostile}),
        ("retention_km", {ids.RETENTION_KM_BY: "person_id"}),
        ("programme_funnel", {ids.PROGRAMMES_INDICATOR: hostile}),
        ("programme_trend", {ids.PROGRAMME_ID: hostile, ids.PROGRAMME_TREND_METRIC: hostile}),
        (f"exit_mix{hostile}", {}),
        ("__init__", []),
    ]
    for chart, spec in cases:
        body = {
            "output": find_callback(app, "chart-download"),
            "outputs": [
                {"id": cid("chart-download", chart), "property": "data"},
                {"id": cid("chart-message", chart), "property": "children"},
            ],
            "inputs": [{"id": cid("chart-csv", chart), "property": "n_clicks", "value": 1}],
            "state": [
                {
                    "id": ids.FILTER_STATE,
                    "property": "data",
                    "value": {**state.to_store(), "area": [hostile], "sex": [HOSTILE_STRINGS[1]]},
                },
                {"id": cid("chart-spec", chart), "property": "data", "value": spec},
            ],
            "changedPropIds": [f"{text(cid('chart-csv', chart))}.n_clicks"],
        }
        post(client, body, record_ids)


def test_a_huge_list_of_filter_values_is_capped_like_a_link(
    app: Any, client: Any, state: FilterState, record_ids: frozenset[str], unchanged
) -> None:
    """100,000 values for one filter, through the filter control and through the store: the filter
    control keeps only values that are options (none of these), the store at most 200 values of at most
    100 characters (the limits of a link), so the answer is small and quick and the query cache never
    holds a huge key."""
    many = [f"E{i:08d}" for i in range(100_000)]
    changed = f"{FILTER_IDS['area']}.value"
    values = {
        f"{ids.URL}.search": "?",
        f"{ids.PERIOD_PRESET}.value": "fy2025",
        changed: many,
    }
    started = time.perf_counter()
    text = post(client, callback_body(app, sync_key(app), values, changed=[changed]), record_ids)
    assert len(text) < 50_000 and time.perf_counter() - started < 1.0
    reply = json.loads(text)["response"]
    store = reply[ids.FILTER_STATE]["data"]
    # None of them is an area of the warehouse: all left out, and the notice says so in one short line.
    assert store["area"] == [] and FilterState.from_store(store).area == ()
    assert "and 99997 more are not among the options" in json.dumps(reply[ids.FILTER_NOTICE])

    # Through the store: 200 areas are kept by the cleaning, and then refused, since the dashboard
    # answers one value of a dimension or all (issue 16), before anything is computed or cached.
    big_store = {**state.to_store(), "area": many, "sex": ["A" * 101, "female"]}
    chart = find_callback(app, '"chart":"retention_12wk_spc"')
    cached = set(app.dashboard_data._cache._items)
    started = time.perf_counter()
    text = post(client, callback_body(app, chart, {f"{ids.FILTER_STATE}.data": big_store}), record_ids)
    assert len(text) < 100_000 and time.perf_counter() - started < 2.0  # was 5 s and 2.9 MB
    assert "Something went wrong" in text
    assert not any("E00000001" in repr(k) for k in set(app.dashboard_data._cache._items) - cached)
    # One over-long value is dropped and one 100-character value answered, with a small cache key.
    long_store = {**state.to_store(), "area": ["E" * 100], "sex": ["A" * 101, "female"]}
    text = post(client, callback_body(app, chart, {f"{ids.FILTER_STATE}.data": long_store}), record_ids)
    assert "Something went wrong" not in text
    keys = list(app.dashboard_data._cache._items)
    assert keys and max(len(repr(k)) for k in keys) < 20_000


def test_malformed_request_envelopes_leak_nothing(
    app: Any, client: Any, record_ids: frozenset[str], unchanged
) -> None:
    """Bodies no browser sends: a 400 (never a bare 500), with a generic body, and nothing internal or
    record-level leaks."""
    good = callback_body(app, sync_key(app), {f"{ids.URL}.search": "?"})
    bodies: list[Any] = [
        {"output": "people.person_id", "outputs": {"id": "people", "property": "person_id"}, "inputs": []},
        {"output": good["output"]},
        {**good, "inputs": []},
        {**good, "inputs": [{"id": "'; DROP TABLE episodes; --", "property": "x", "value": 1}]},
        {**good, "output": 5},
        [1, 2, 3],
        "'; DROP TABLE episodes; --",
        None,
    ]
    for body in bodies:
        response = client.post(ENDPOINT, json=body)
        text = response.get_data(as_text=True)
        assert 400 <= response.status_code < 500, (body, response.status_code, text[:300])
        assert LEAK.search(text) is None, text[:300]
        assert not set(TOKEN.findall(text)) & record_ids
    for raw in ("{{{not json", "\x00\x01", '{"output": "\ud800"}'):
        data = raw.encode("utf-8", "surrogatepass")
        response = client.post(ENDPOINT, data=data, content_type="application/json")
        assert 400 <= response.status_code < 500 or response.status_code == 500
        assert LEAK.search(response.get_data(as_text=True)) is None


# -- hostile values travel as parameters -----------------------------------------------------------------


class RecordingCursor:
    """Wraps a DuckDB cursor and records every (query, parameters) it is asked to run."""

    def __init__(self, real: Any, calls: list[tuple[str, Any]]) -> None:
        self._real = real
        self._calls = calls

    def execute(self, query: str, parameters: Any = None) -> RecordingCursor:
        self._calls.append((query, parameters))
        self._real.execute(query, parameters if parameters is not None else [])
        return self

    def cursor(self) -> RecordingCursor:  # `pipelines.metrics.api._cursor` asks a source for its cursor
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def parameter_strings(parameters: Any) -> Iterator[str]:
    if isinstance(parameters, dict):
        parameters = list(parameters.values())
    if isinstance(parameters, (list, tuple)):
        for p in parameters:
            yield from parameter_strings(p)
    elif parameters is not None:
        yield str(parameters)


def assert_parameters_only(calls: list[tuple[str, Any]], markers: list[str]) -> None:
    assert calls, "no query was run"
    for query, _ in calls:
        for marker in markers:
            assert marker not in query, f"a filter value is in the SQL text: {query[:300]}"
    sent = {s for _, params in calls for s in parameter_strings(params)}
    for marker in markers:
        assert marker in sent, f"{marker!r} never reached DuckDB (as a parameter or otherwise)"


def test_endpoint_sends_filter_values_to_duckdb_as_parameters(
    app: Any, client: Any, state: FilterState, record_ids: frozenset[str], monkeypatch, unchanged
) -> None:
    warehouse = app.dashboard_data.warehouse
    real_cursor = warehouse.cursor
    calls: list[tuple[str, Any]] = []
    monkeypatch.setattr(warehouse, "cursor", lambda: RecordingCursor(real_cursor(), calls))
    tag = uuid.uuid4().hex[:8]
    markers = {d: f"{d}-{tag}'; DROP TABLE episodes; --" for d in FILTER_DIMENSIONS}
    store = {**state.to_store(), **{d: [m] for d, m in markers.items()}}
    programme = f"PG-{tag}') OR ('1'='1"
    controls = {
        f"{ids.PROGRAMME_ID}.data": programme,
        f"{ids.RETENTION_KM_BY}.value": "programme",
        f"{ids.RELAPSE_KM_BY}.value": "setting",
        f"{ids.PROGRAMMES_INDICATOR}.value": "peer_reach",
        f"{ids.PROGRAMME_TREND_METRIC}.value": "retention_12wk",
        f"{ids.PROGRAMMES_SORT}.value": "name",
    }
    for key in chart_keys(app):
        text = post(
            client, callback_body(app, key, {f"{ids.FILTER_STATE}.data": store, **controls}), record_ids
        )
        assert "Something went wrong" not in text, key  # hostile values are just values that match nothing
    assert_parameters_only(calls, [*markers.values(), programme])

    # The programme page looks its programme up by a parameter too.
    calls.clear()
    router = find_callback(app, f"{ids.PAGE}.children")
    values = {f"{ids.URL}.pathname": f"/programmes/{programme}", f"{ids.URL}.search": "?"}
    post(client, callback_body(app, router, values, changed=[f"{ids.URL}.pathname"]), record_ids)
    assert_parameters_only(calls, [programme])


def test_compute_metric_passes_filter_values_as_parameters(warehouse_path: Path, app: Any) -> None:
    """Every metric, every filter dimension (time dimensions too): the values are parameters."""
    as_of = app.dashboard_data.as_of()
    start, end = as_of - timedelta(days=3 * 365), as_of - timedelta(days=400)
    real = app.dashboard_data.warehouse.cursor()
    tag = uuid.uuid4().hex[:8]
    for name in available_metrics():
        # every dimension this metric can be filtered on (unit dimensions only where its units carry them)
        own = set(getattr(get_metric(name), "unit_dimensions", ()))
        dims = [d for d in DIMENSIONS if d in STATIC_DIMENSIONS or d in TIME_DIMENSIONS or d in own]
        markers = {d: f"{d}-{tag}' OR '1'='1" for d in dims}
        filters = {d: [m, "x\x00y", "'); DROP TABLE people; --"] for d, m in markers.items()}
        calls: list[tuple[str, Any]] = []
        result = compute_metric(RecordingCursor(real, calls), name, start, end, filters=filters)
        assert_parameters_only(calls, list(markers.values()))
        assert result.attrs["filters"] == filters
        count_columns = [c for c in ("numerator", "denominator", "n_at_risk") if c in result]
        assert all(result[c].fillna(0).sum() == 0 for c in count_columns), name  # nothing matches
        if get_metric(name).kind != "survival":  # and metric_series goes the same way
            from pipelines.metrics import metric_series

            calls.clear()
            metric_series(RecordingCursor(real, calls), name, end - timedelta(days=60), end, filters=filters)
            assert_parameters_only(calls, list(markers.values()))


@pytest.mark.parametrize(
    "dimension", ["person_id", "area; DROP TABLE episodes", "area) OR (1=1", "", "AREA", "__class__"]
)
def test_unknown_dimension_names_are_refused(app: Any, state: FilterState, dimension: str) -> None:
    """Dimension names reach the SQL text, so they must come from the whitelist; anything else is refused
    before a query is built."""
    with pytest.raises(ValueError):
        validate_filters({dimension: ["x"]})
    with pytest.raises(ValueError):
        validate_breakdown([dimension])
    with pytest.raises(ValueError):
        metric_sql("retention_12wk", by=[dimension])
    with pytest.raises(ValueError):
        metric_sql("retention_12wk", filters={dimension: "x"})
    with pytest.raises(ValueError):
        dimension_labels(app.dashboard_data.warehouse, dimension)
    with pytest.raises(ValueError):
        app.dashboard_data.exit_mix(state, by=dimension)
    with pytest.raises(KeyError):
        get_metric(dimension or "''")
    # The filter state never carries an unknown dimension to the metric layer.
    store = {**state.to_store(), dimension: ["x"]}
    assert set(FilterState.from_store(store).metric_filters()) <= set(FILTER_DIMENSIONS)


# -- static check: every f-string that builds SQL interpolates only reviewed, whitelisted names ----------

SQL_WORDS = re.compile(
    r"\b(SELECT|INSERT|DELETE|UPDATE|DROP|CREATE|ALTER|ATTACH|COPY|WHERE|FROM|JOIN|GROUP BY|ORDER BY|"
    r"unnest)\b|\bIN \("
)

#: "file::function" -> the interpolated expressions reviewed there, and why each is not user input.
REVIEWED: dict[str, dict[str, str]] = {
    "dashboard/queries.py::DashboardData._where": {
        "date_column": "a literal column name passed by the caller (exit_mix: 'discharge_date')",
        "dimension": "checked against FILTER_DIMENSIONS just above; the values go in $f_<dimension>",
    },
    "dashboard/queries.py::DashboardData.exit_mix.compute": {
        "by": "checked against ('programme', 'setting', 'substance_group') on entry",
        "label": "'programme_name' or the checked `by`",
        "where": "built by _where: whitelisted names and $parameters",
    },
    "dashboard/queries.py::DashboardData.load_history.compute": {
        "columns": "names from the literal `wanted` tuple that the table has",
    },
    "dashboard/queries.py::DashboardData.rejected_by_rule.compute": {"column": "a literal expression"},
    "dashboard/queries.py::DashboardData.completeness.compute": {
        "', ' + selects if selects else ''": "column names from the contract (pipelines.contract.TABLES)",
        "name": "table names from the contract (TABLE_ORDER)",
    },
    "pipelines/metrics/api.py::category_universe": {
        "_PROGRAMME_COLUMNS[d]": "column names from the literal _PROGRAMME_COLUMNS map",
        "d": "one of the literal STRUCTURAL_DIMENSIONS (the values go in $<dimension>)",
    },
    "pipelines/contract.py::create_table_sql": {
        "name or table.name": "contract table names",
        "cols": "contract column definitions",
        "key": "contract primary key",
    },
    "pipelines/derived.py::build_derived_tables": {
        "existing[name]": "'TABLE' or 'VIEW' from duckdb's catalogue",
        "name": "model names from the packaged SQL layers",
        "kind": "'TABLE' or 'VIEW'",
        "model_sql(layer, name)": "packaged SQL files rendered with contract placeholders",
        "WAREHOUSE_INFO_TABLE": "a constant",
    },
    "pipelines/warehouse.py::check_derived_models": {"WAREHOUSE_INFO_TABLE": "a constant"},
    "pipelines/load.py::<module>": {
        "QUARANTINE_TABLE": "a constant",
        "LOAD_HISTORY_TABLE": "a constant",
    },
    "pipelines/load.py::_previous_load": {"LOAD_HISTORY_TABLE": "a constant"},
    "pipelines/checks.py::_merge": {"key": "contract primary key"},
    "pipelines/checks.py::_attach_warehouse": {"table": "contract table name (TABLE_ORDER)"},
    "pipelines/checks.py::_validate_tables": {
        "spec.key": "contract primary key",
        "table": "contract table name (TABLE_ORDER)",
    },
    "pipelines/schemas.py::KeyLookup._table": {
        "name": "made here: '_keys_' and a count",
    },
    "pipelines/schemas.py::KeyLookup.among": {
        "table": "a name KeyLookup._table made ('_keys_<n>'); the values are a registered Arrow table",
    },
    "pipelines/schemas.py::KeyLookup.same_owner": {
        "table": "a name KeyLookup._table made ('_keys_<n>'); the values are a registered Arrow table",
    },
    "pipelines/load.py::_upsert": {
        "table": "contract table name",
        "key": "contract primary key",
        "key_expression(key)": "the record-key expression of a contract primary key (record_keys)",
        "KEY_COLUMN": "a constant",
    },
    "pipelines/metrics/query.py::_key_sum": {"condition": "a fixed predicate written in this module"},
    "pipelines/record_keys.py::ensure_salt": {"SALT_TABLE": "a constant"},
    "pipelines/record_keys.py::read_salt": {"SALT_TABLE": "a constant"},
    "pipelines/record_keys.py::ensure_key_columns": {
        "table": "a keyed contract table (KEYED_TABLES)",
        "KEY_COLUMN": "a constant",
        "key_expression(key)": "the record-key expression of a contract primary key",
    },
    "pipelines/load.py::_ensure_tables": {
        "QUARANTINE_TABLE": "a constant",
        "column": "a constant (QUARANTINE_ADDED)",
        "kind": "a constant (QUARANTINE_ADDED)",
    },
    "pipelines/load.py::load_extracts": {
        "LOAD_HISTORY_TABLE": "a constant",
        "QUARANTINE_TABLE": "a constant",
    },
    "pipelines/metrics/api.py::extract_dates": {"LOAD_HISTORY_TABLE": "a constant"},
    "pipelines/metrics/api.py::warehouse_contents": {
        "table": "contract table name (TABLE_ORDER)",
        "selects": "counts of the contract tables (TABLE_ORDER)",
    },
    "pipelines/metrics/query.py::_filter_clause": {
        "dimension": "validated against DIMENSIONS by every caller; the values go in $filter_<dimension>",
    },
    "pipelines/metrics/query.py::_build_metric_query": {
        "_filter_clause(outer_filters)": "validated dimension names and $parameters",
        "table": "a key of the constant SERIES_SCOPES",
        "scope": "a value of the constant SERIES_SCOPES (its bounds are $parameters)",
        "time_columns": "TIME_LABELS of validated time dimensions",
        "_filter_clause(time_filters)": "validated dimension names and $parameters",
        "', '.join(by)": "validated breakdown dimensions",
        "', '.join([*by, 't'])": "validated breakdown dimensions",
        "group_select": "validated breakdown dimensions",
        "sums": "the registry's sum columns",
        "_key_sum('value IS NOT NULL')": "a fixed predicate",
        "_key_sum('event')": "a fixed predicate",
        "_key_sum('NOT event')": "a fixed predicate",
        "source": "a literal subquery over validated time dimensions",
        "where": "validated dimension names and $parameters",
        "group_by": "validated breakdown dimensions",
        "order_by": "validated breakdown dimensions",
    },
}


class SqlFormatFinder(ast.NodeVisitor):
    """Collects (site, kind, line, interpolated expression) for string formatting that looks like SQL."""

    def __init__(self, relative: str) -> None:
        self.relative = relative
        self.stack: list[str] = []
        self.found: list[tuple[str, str, int, str]] = []

    def site(self) -> str:
        return f"{self.relative}::{'.'.join(self.stack) or '<module>'}"

    def visit_scope(self, node: Any) -> None:
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_scope  # noqa: N815

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:  # noqa: N802
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        if SQL_WORDS.search(text):
            for v in node.values:
                if isinstance(v, ast.FormattedValue):
                    self.found.append((self.site(), "f-string", node.lineno, ast.unparse(v.value)))

    def visit_BinOp(self, node: ast.BinOp) -> None:  # noqa: N802
        left = node.left
        if (
            isinstance(node.op, ast.Mod)
            and isinstance(left, ast.Constant)
            and isinstance(left.value, str)
            and SQL_WORDS.search(left.value)
        ):
            self.found.append((self.site(), "%-format", node.lineno, ast.unparse(node)))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("format", "format_map")
            and isinstance(func.value, ast.Constant)
            and SQL_WORDS.search(str(func.value.value))
        ):
            self.found.append((self.site(), ".format", node.lineno, ast.unparse(node)))
        self.generic_visit(node)


def sql_building_strings() -> Iterator[tuple[str, str, int, str]]:
    """(site, kind, line, interpolated expression) for every string formatting that looks like SQL in
    pipelines/ and dashboard/."""
    for path in sorted([*ROOT.glob("pipelines/**/*.py"), *ROOT.glob("dashboard/**/*.py")]):
        relative = path.relative_to(ROOT).as_posix()
        finder = SqlFormatFinder(relative)
        finder.visit(ast.parse(path.read_text(encoding="utf-8"), filename=relative))
        yield from finder.found


def test_sql_is_only_formatted_with_reviewed_whitelisted_names() -> None:
    """A new f-string (or % / .format) building SQL fails here until someone checks that what it
    interpolates cannot come from a user and adds it to REVIEWED with the reason."""
    sites = list(sql_building_strings())
    assert len(sites) > 20  # the scan sees the SQL it should
    unreviewed = [
        f"{site}:{line} {kind} {{{expr}}}"
        for site, kind, line, expr in sites
        if kind != "f-string" or expr not in REVIEWED.get(site, {})
    ]
    assert not unreviewed, "SQL built with unreviewed interpolations:\n" + "\n".join(unreviewed)
