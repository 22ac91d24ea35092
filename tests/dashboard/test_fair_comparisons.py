"""Issue 13 on the dashboard: the Programmes funnel's crude/adjusted switch (a ratio funnel with Poisson
limits), the programme page's crude and adjusted values, the Support mix page's landmark comparison and
the continuity-of-care tile and chart, each from the metric layer and through Flask's test client."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import charts as figures
from dashboard import ids
from dashboard.app import create_app
from dashboard.callback_requests import callback_body, find_callback
from dashboard.filters import FilterState
from dashboard.pages import overview, programme, programmes, retention, support_mix
from dashboard.queries import DashboardData
from pipelines.metrics import compute_metric, metric_series
from pipelines.stats import ratio_funnel_curve

ADJUSTED = {ids.PROGRAMMES_INDICATOR: "successful_completion", ids.PROGRAMMES_COMPARISON: "adjusted"}


@pytest.fixture(scope="module")
def app(warehouse_path: Path):
    dash_app = create_app(warehouse_path)
    yield dash_app
    dash_app.dashboard_data.close()


def chart_figure(app, chart: str, store: dict, controls: dict) -> dict:
    key = find_callback(app, json.dumps({"chart": chart, "type": "chart-graph"}, separators=(",", ":")))
    body = callback_body(app, key, {f"{ids.FILTER_STATE}.data": store, **controls})
    response = app.server.test_client().post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    out = response.get_json()["response"]
    return out[json.dumps({"chart": chart, "type": "chart-graph"}, separators=(",", ":"))]["figure"]


# -- the Programmes funnel ----------------------------------------------------------------------------


def test_the_adjusted_funnel_table_is_the_metric_layers(data: DashboardData, state: FilterState) -> None:
    t = programmes.funnel_table(data, state, ADJUSTED)
    expected = compute_metric(
        data.warehouse, "successful_completion", state.start, state.end, by="programme", adjust=True
    )
    assert (t["comparison"] == "adjusted").all()
    for column in ("numerator", "denominator", "expected", "ratio", "ratio_ci_low", "significance"):
        assert t[column].astype(object).equals(expected[column].astype(object)), column
    assert t["ratio"].notna().sum() >= 3  # the model fits here: a funnel with points to test
    shown = t["expected"].dropna()
    assert (shown.round(1) == shown).all()  # model sums shown to one decimal


def test_the_switch_draws_observed_over_expected_with_poisson_limits(
    data: DashboardData, state: FilterState
) -> None:
    t = programmes.funnel_table(data, state, ADJUSTED)
    fig = programmes.funnel_figure(data, t, state, ADJUSTED)
    points = next(tr for tr in fig.data if tr.name == "programmes")
    drawn = t[t["ratio"].notna() & ~t["suppressed"].astype(bool)]
    assert list(points.x) == drawn["expected"].tolist() and list(points.y) == drawn["ratio"].tolist()
    assert list(points.customdata) == drawn["programme"].tolist()
    one = next(tr for tr in fig.data if tr.name.startswith("as expected"))
    assert list(one.y) == [1.0, 1.0]
    high = next(tr for tr in fig.data if tr.name == "95% limits" and tr.showlegend)
    curve = ratio_funnel_curve(float(high.x[0]), float(high.x[-1]))
    assert np.allclose(high.y, curve["high_95"])
    crude = programmes.funnel_figure(
        data,
        programmes.funnel_table(data, state, {**ADJUSTED, ids.PROGRAMMES_COMPARISON: "crude"}),
        state,
        {},
    )
    assert any(tr.name.startswith("system value") for tr in crude.data)


def test_a_model_that_cannot_be_fitted_is_said_not_drawn(data: DashboardData, state: FilterState) -> None:
    t = programmes.funnel_table(data, state, ADJUSTED).assign(ratio=np.nan, expected=np.nan)
    t["adjustment_note"] = "no expected count: not estimable: separation"
    fig = programmes.funnel_figure(data, t, state, ADJUSTED)
    assert not fig.data
    assert (
        "No adjusted comparison: no expected count: not estimable: separation"
        in fig.layout.annotations[0].text
    )


def test_an_indicator_that_cannot_be_adjusted_stays_crude_and_says_so(
    data: DashboardData, state: FilterState
) -> None:
    params = {ids.PROGRAMMES_INDICATOR: "peer_reach", ids.PROGRAMMES_COMPARISON: "adjusted"}
    t = programmes.funnel_table(data, state, params)
    assert (t["comparison"] == "crude").all() and "ratio" not in t
    fig = programmes.funnel_figure(data, t, state, params)
    assert any("case-mix adjustment is offered for" in a.text for a in fig.layout.annotations)


def test_the_adjusted_table_lists_observed_expected_and_the_ratio(
    data: DashboardData, state: FilterState
) -> None:
    t = programmes.sort_programmes(programmes.funnel_table(data, state, ADJUSTED), "value_desc")
    shown = t[t["ratio"].notna()]
    assert shown["ratio"].is_monotonic_decreasing  # "value" sorts by the ratio when adjusted
    text = str(programmes.table_component(t))
    r = shown.iloc[0]
    assert "Expected for the case mix" in text and f"{r['expected']:.1f}" in text
    assert f"{r['ratio']:.2f} ({r['ratio_ci_low']:.2f} to {r['ratio_ci_high']:.2f})" in text


def test_the_funnel_switch_through_the_app(app, state: FilterState) -> None:
    store = state.to_store()
    adjusted = chart_figure(
        app,
        "programme_funnel",
        store,
        {f"{k}.value": v for k, v in ADJUSTED.items()},
    )
    names = [t.get("name") for t in adjusted["data"]]
    assert "as expected for the case mix (ratio 1)" in names and "programmes" in names
    assert adjusted["layout"]["yaxis"]["title"]["text"] == "observed / expected"
    crude = chart_figure(
        app, "programme_funnel", store, {f"{ids.PROGRAMMES_INDICATOR}.value": "successful_completion"}
    )
    assert any(str(n).startswith("system value") for n in (t.get("name") for t in crude["data"]))
    key = find_callback(app, ids.PROGRAMMES_TABLE)
    values = {f"{ids.FILTER_STATE}.data": store, **{f"{k}.value": v for k, v in ADJUSTED.items()}}
    response = app.server.test_client().post("/_dash-update-component", json=callback_body(app, key, values))
    assert response.status_code == 200
    assert "Observed / expected (95% interval)" in json.dumps(response.get_json(), ensure_ascii=False)


def test_the_ratio_funnel_figure_on_a_hand_built_table() -> None:
    units = pd.DataFrame(
        {
            "programme": ["A", "B", "C"],
            "label": ["Alpha", "Beta", "Gamma"],
            "numerator": [30, 12, pd.NA],
            "expected": [20.0, 12.0, np.nan],
            "ratio": [1.5, 1.0, np.nan],
            "ratio_ci_low": [1.01, 0.52, np.nan],
            "ratio_ci_high": [2.14, 1.75, np.nan],
            "adjusted_value": [0.6, 0.4, np.nan],
            "suppressed": [False, False, True],
            "significance": ["high_95", "not_significant", None],
        }
    )
    curve = ratio_funnel_curve(5.0, 30.0)
    fig = figures.ratio_funnel_figure(units, curve, "", direction="up")
    points = next(t for t in fig.data if t.name == "programmes")
    assert list(points.x) == [20.0, 12.0] and list(points.y) == [1.5, 1.0]
    assert points.marker.color[0] == figures.IMPROVEMENT and points.marker.color[1] == figures.COMMON
    assert (
        "observed 30, expected 20.0" in points.hovertext[0]
        and "1.50 (95% interval 1.01 to 2.14)" in points.hovertext[0]
    )
    assert any(a.text == "1 without a ratio (not drawn; listed in the table)" for a in fig.layout.annotations)


# -- the programme page -------------------------------------------------------------------------------


def test_the_programme_page_shows_crude_and_adjusted(data: DashboardData, state: FilterState) -> None:
    funnel = programmes.funnel_table(data, state, ADJUSTED)
    with_ratio = funnel[funnel["ratio"].notna()].iloc[0]
    params = {ids.PROGRAMME_ID: with_ratio["programme"]}
    t = programme.case_mix_table(data, state, params)
    rows = t[t["metric"] == "successful_completion"].set_index("group")
    assert rows.loc["crude", "value"] == with_ratio["value"]
    pooled = funnel.loc[~funnel["suppressed"].astype(bool), ["numerator", "denominator"]].astype(float).sum()
    target = pooled["numerator"] / pooled["denominator"]
    assert rows.loc["adjusted for case mix", "value"] == pytest.approx(with_ratio["ratio"] * target)
    assert rows.loc["adjusted for case mix", "ci_low"] == pytest.approx(with_ratio["ratio_ci_low"] * target)
    assert rows.loc["adjusted for case mix", "expected"] == with_ratio["expected"]
    fig = programme.case_mix_figure(data, t, state, params)
    assert {tr.name for tr in fig.data} == {"crude", "adjusted for case mix"}
    no_ratio = t[(t["group"] == "adjusted for case mix") & t["value"].isna() & ~t["suppressed"]]
    assert no_ratio["reason"].map(bool).all()


# -- the Support mix page and continuity of care ------------------------------------------------------


def test_the_support_mix_page_draws_the_landmark_comparison_through_the_app(app, state: FilterState) -> None:
    fig = chart_figure(app, "peer_support_landmark", state.to_store(), {})
    texts = " ".join(a["text"] for a in fig["layout"]["annotations"])
    assert "association, not causation" in texts
    assert "crude" in {t.get("name") for t in fig["data"]}
    assert fig["layout"]["xaxis"]["title"]["text"].startswith("difference, with − without peer support")
    for chart in ("peer_support_dose", "peer_support_timing"):
        assert "not adjusted" in json.dumps(chart_figure(app, chart, state.to_store(), {}))
    assert set(support_mix.CHARTS) >= {"peer_support_landmark", "peer_support_dose", "peer_support_timing"}


def test_continuity_of_care_has_a_tile_and_a_retention_chart(data: DashboardData, state: FilterState) -> None:
    assert "continuity_of_care" in overview.HEADLINE_METRICS
    summary, _, _ = overview.tile_summary(data, "continuity_of_care", state)
    assert summary.label == data.metric_info("continuity_of_care").label
    table = retention.CHARTS["continuity_of_care_spc"].table(data, state, {})
    series = metric_series(
        data.warehouse,
        "continuity_of_care",
        pd.Timestamp(table["period"].iloc[0] + "-01").date(),
        state.end,
        threshold=5,
    )
    merged = table.merge(
        series.astype({"month": str}), left_on="period", right_on="month", suffixes=("", "_layer")
    )
    assert len(merged) == len(table)
    assert merged["numerator"].astype(object).equals(merged["numerator_layer"].astype(object))
    assert merged["denominator"].astype(object).equals(merged["denominator_layer"].astype(object))
    assert table["denominator"].fillna(0).sum() > 0  # the generator's releases reach the chart


# -- England as a benchmark ---------------------------------------------------------------------------


def test_tiles_show_england_where_the_definition_is_close(data: DashboardData, state: FilterState) -> None:
    summary, _, _ = overview.tile_summary(data, "successful_completion", state)
    assert summary.benchmark == "England 46% (2024-25)"
    assert summary.benchmark_note.startswith("Close: OHID counts the 152,067 people")
    assert "https://www.gov.uk/" in summary.benchmark_note
    assert "England 46% (2024-25)" in str(overview.render_tile(summary, figures.empty_figure("")))
    continuity, _, _ = overview.tile_summary(data, "continuity_of_care", state)
    assert continuity.benchmark == "England 53% (2023-24)"
    retained, _, _ = overview.tile_summary(data, "retention_12wk", state)
    assert retained.benchmark == ""  # no England value with our definition
    from dataclasses import replace

    women = replace(state, sex=("female",))
    assert data.benchmark("successful_completion", women) is None  # England's value is for all adults


def test_a_benchmarks_file_replaces_englands_and_the_funnel_draws_it(
    warehouse_path: Path, state: FilterState, tmp_path: Path
) -> None:
    from pipelines.benchmarks import BENCHMARK_COLUMNS

    path = tmp_path / "local.csv"
    path.write_text(
        ",".join(BENCHMARK_COLUMNS)
        + "\nsuccessful_completion,all,2024-04-01..2025-03-31,0.41,,,,,matches,Our region,https://example.org/r\n"
        + "retention_12wk,all,2024-04-01..2025-03-31,0.7,,,,,differs: six months,Other,https://example.org/o\n",
        encoding="utf-8",
    )
    local = DashboardData(warehouse_path, benchmarks=path)
    try:
        params = {ids.PROGRAMMES_INDICATOR: "successful_completion"}
        fig = programmes.funnel_figure(local, programmes.funnel_table(local, state, params), state, params)
        line = next(t for t in fig.data if str(t.name).startswith("England"))
        assert line.name == "England 41% (2024-25)" and list(line.y) == [0.41, 0.41]
        assert "matches" in line.hovertext[0] and "Our region" in line.hovertext[0]
        params = {ids.PROGRAMMES_INDICATOR: "retention_12wk"}
        fig = programmes.funnel_figure(local, programmes.funnel_table(local, state, params), state, params)
        assert not any(str(t.name).startswith("England") for t in fig.data)  # its definition differs
        assert local.benchmark("deaths_in_treatment", state) is None  # the shipped file is replaced
    finally:
        local.close()


def test_rosc_serve_refuses_a_bad_benchmarks_file(warehouse_path: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pipelines.cli import main

    bad = tmp_path / "bad.csv"
    bad.write_text("indicator,population\nretention_12wk,all\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["serve", "--db", str(warehouse_path), "--benchmarks", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}, line 1" in result.output
