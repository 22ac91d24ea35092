"""Every page's charts, tiles and tables computed as plain functions on a small synthetic warehouse."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import ids
from dashboard.components import chart_csv
from dashboard.filters import FilterState
from dashboard.pages import ALL_PAGES, overview, programme, programmes, retention
from dashboard.pages import data as data_page
from dashboard.periods import DataSpan
from dashboard.queries import DashboardData, month_range
from pipelines.stats import possible_true_counts

ALL_CHARTS = {name: chart for page in ALL_PAGES for name, chart in page.CHARTS.items()}
#: Columns that would identify a person, an episode or a contact: never in anything the app sends.
RECORD_COLUMNS = {
    "person_id",
    "episode_id",
    "contact_id",
    "assessment_id",
    "birth_year",
    "referral_date",
    "start_date",
    "discharge_date",
    "contact_date",
    "value_raw",
    "line",
    "message",
}


def params_for(data: DashboardData, chart_name: str) -> dict:
    first_programme = data.filter_options()["programme"][0]["value"]
    defaults = {
        ids.PROGRAMME_ID: first_programme,
        ids.RETENTION_KM_BY: "setting",
        ids.RELAPSE_KM_BY: "all",
        ids.RELAPSE_TESTS_KM_BY: "programme",
        ids.PROGRAMMES_INDICATOR: "retention_12wk",
        ids.PROGRAMMES_COMPARISON: "adjusted",
        ids.PROGRAMME_TREND_METRIC: "retention_12wk",
    }
    return {cid: defaults[cid] for cid, _ in ALL_CHARTS[chart_name].controls}


def test_dates_options_and_labels(data: DashboardData) -> None:
    first, as_of = data.dates()
    assert first < as_of == date(2026, 3, 31)
    options = data.filter_options()
    assert set(options) == {"area", "provider", "programme", "setting", "substance_group", "sex", "age_band"}
    assert all(o["value"] and o["label"] for opts in options.values() for o in opts)
    assert data.labels()["programme"][options["programme"][0]["value"]] == options["programme"][0]["label"]


def test_month_range() -> None:
    assert month_range(date(2026, 2, 28), 3) == ["2025-12", "2026-01", "2026-02"]


def test_metric_results_are_cached_per_query(data: DashboardData, state: FilterState) -> None:
    first = data.metric_for("retention_12wk", state)
    first.loc[0, "value"] = -1.0  # callers get copies: a change cannot leak into the cache
    again = data.metric_for("retention_12wk", state)
    assert again.loc[0, "value"] != -1.0
    narrowed = data.metric_for("retention_12wk", state.with_values(setting=["community"]))
    assert int(narrowed.loc[0, "denominator"]) < int(again.loc[0, "denominator"])


@pytest.mark.parametrize("chart_name", sorted(ALL_CHARTS))
def test_every_chart_draws_from_aggregates_only(
    data: DashboardData, state: FilterState, chart_name: str
) -> None:
    chart = ALL_CHARTS[chart_name]
    params = params_for(data, chart_name)
    table = chart.table(data, state, params)
    assert isinstance(table, pd.DataFrame)
    assert not RECORD_COLUMNS & set(table.columns)
    # A cell of 1-4 is never shown: every visible count is 0 or at least 5.
    # (Kaplan-Meier rows are suppressed on the number at risk, as the metric layer's conventions say.)
    for column in ("numerator", "denominator", "count", "contacts", "n_at_risk"):
        if column in table:
            shown = pd.to_numeric(table[column], errors="coerce").dropna()
            assert not ((shown >= 1) & (shown <= 4)).any(), column
    figure = chart.figure(data, table, state, params)
    assert isinstance(figure, go.Figure)
    figure.to_json()  # serialisable as the browser gets it


@pytest.mark.parametrize(
    "chart_name", ["retention_12wk_spc", "exit_mix", "programme_funnel", "contacts_by_month"]
)
def test_charts_follow_the_filters(data: DashboardData, state: FilterState, chart_name: str) -> None:
    chart = ALL_CHARTS[chart_name]
    params = params_for(data, chart_name)
    everyone = chart.table(data, state, params)
    community = chart.table(data, state.with_values(setting=["community"]), params)
    assert not everyone.equals(community)


def test_csv_download_is_the_chart_table_with_its_context(data: DashboardData, state: FilterState) -> None:
    text = chart_csv(data, ALL_CHARTS["retention_12wk_spc"], state.with_values(setting=["prison"]), {})
    header, first = text.splitlines()[:2]
    assert header.startswith("data_as_at,period_start,period_end,filters,period,month,numerator,denominator")
    # The default view is financial year 2025-26; its SPC chart shows the 24 months ending March 2026.
    assert first.startswith("2026-03-31,2025-04-01,2026-03-31,setting=prison,2024-04,")


def test_overview_tiles(data: DashboardData, state: FilterState) -> None:
    for metric in overview.HEADLINE_METRICS:
        summary, series, chart = overview.tile_summary(data, metric, state)
        assert summary.label and summary.value
        assert summary.signal in ("improving", "concerning", "special_cause", "common_cause")
        assert len(series) == len(chart)
        if data.metric_info(metric).kind == "proportion" and summary.value != "suppressed":
            assert summary.interval.startswith("95% CI") and " of " in summary.counts
        overview.render_tile(summary, go.Figure())


def test_tile_for_a_metric_needing_follow_up_moves_its_period_back(
    data: DashboardData, state: FilterState
) -> None:
    span = DataSpan.of(*data.dates())
    shown, note = overview.tile_period("completion_no_representation", state, span)
    # Financial year 2025-26 ends on 31 Mar 2026, the data's as_of: the latest financial year with 182
    # days of follow-up is 2024-25 (a year for a year, so the tile shows a period the dashboard answers).
    assert (shown.start, shown.end) == (date(2024, 4, 1), date(2025, 3, 31))
    assert note == "financial year 2024-25: needs 182 days of follow-up"
    quarter = FilterState(date(2026, 1, 1), date(2026, 3, 31))
    shown, note = overview.tile_period("completion_no_representation", quarter, span)
    assert (shown.start, shown.end) == (date(2025, 7, 1), date(2025, 9, 30))
    same, none = overview.tile_period("retention_12wk", state, span)
    assert same == state and none == ""


def test_a_tile_with_no_followed_up_period_in_the_data_says_so(data: DashboardData) -> None:
    """A warehouse too young for any financial year to have its follow-up: no value, and why."""
    short = DataSpan.of(date(2025, 4, 1), date(2026, 3, 31))
    state = FilterState(date(2025, 4, 1), date(2026, 3, 31))
    shown, note = overview.tile_period("completion_no_representation", state, short)
    assert shown is None and note == "needs 182 days of follow-up: no period in the data has it yet"


def test_tile_change_is_suppressed_not_zero_when_either_period_is_suppressed(data: DashboardData) -> None:
    tiny = FilterState(start=date(2025, 3, 1), end=date(2025, 3, 31), age_band=("65+",), setting=("prison",))
    summary, _, _ = overview.tile_summary(data, "retention_12wk", tiny)
    if summary.value == "suppressed":
        assert "0.0%" not in summary.value and summary.change in (
            "change not shown (suppressed)",
            "no previous period in the data",
        )


def test_funnel_table_labels_significance_against_the_system_value(
    data: DashboardData, state: FilterState
) -> None:
    table = programmes.funnel_table(data, state, {ids.PROGRAMMES_INDICATOR: "successful_completion"})
    shown = table[~table["suppressed"]]
    system = data.metric_for("successful_completion", state).iloc[0]
    assert table["target"].iloc[0] == pytest.approx(system["numerator"] / system["denominator"])
    with_a_rate = shown[shown["denominator"] > 0]  # a perturbed 0 of 0 has no proportion and no label
    assert set(with_a_rate["significance"]) <= {
        "high_99.8",
        "high_95",
        "low_95",
        "low_99.8",
        "not_significant",
    }
    assert shown.loc[shown["denominator"] == 0, "significance"].isna().all()
    assert table.loc[table["suppressed"], "significance"].isna().all()
    ordered = programmes.sort_programmes(table, "value_asc")
    values = ordered.loc[~ordered["suppressed"], "value"].tolist()
    assert values == sorted(values) and ordered["suppressed"].tolist()[-1]
    by_name = programmes.sort_programmes(table, "name")
    assert by_name.loc[~by_name["suppressed"], "programme_name"].is_monotonic_increasing
    html_text = str(programmes.table_component(ordered, "?from=2025-03"))
    assert "/programmes/" in html_text and "?from=2025-03" in html_text and "suppressed" in html_text
    with pytest.raises(ValueError):
        programmes.funnel_table(data, state, {ids.PROGRAMMES_INDICATOR: "in_treatment; drop table"})


def test_programme_page(data: DashboardData, state: FilterState) -> None:
    pid = data.filter_options()["programme"][0]["value"]
    table = programme.comparison_table(data, state, {ids.PROGRAMME_ID: pid})
    assert set(table["group"]) == {data.labels()["programme"][pid], "whole system"}
    assert len(table) == 2 * len(programmes.FUNNEL_METRICS)
    assert "Programme not found" in str(programme.layout(data, programme_id="nope"))
    assert data.labels()["programme"][pid] in str(programme.layout(data, programme_id=pid))


def test_exit_mix_shares_are_of_published_totals(data: DashboardData, state: FilterState) -> None:
    mix = retention.exit_mix_table(data, state, {})
    assert set(mix["outcome_group"]) == {"successful", "incomplete", "transferred", "died"}
    exact = data.warehouse.sql(
        "SELECT programme, outcome_group, count(*) AS n FROM episode_facts "
        "WHERE discharge_date BETWEEN $s AND $e GROUP BY ALL",
        {"s": state.start, "e": state.end},
    ).set_index(["programme", "outcome_group"])["n"]
    for programme_id, rows in mix.groupby("programme"):
        # Every category shows (or is suppressed: the rest of its total is 1-4), and each perturbed count
        # stands for a range its true count is in.
        assert len(rows) == 4 and not rows["count"].between(1, 4).any()
        total = rows["total"].iloc[0]
        for row in rows.itertuples():
            if row.suppressed:
                assert pd.isna(row.count) and pd.isna(row.share)
                continue
            low, high = possible_true_counts(int(row.count))
            assert low <= exact.get((programme_id, row.outcome_group), 0) <= high, row
            if total > 0:
                assert row.share == pytest.approx(row.count / total)


def test_data_page_counts_rejections_without_rows(data: DashboardData) -> None:
    rejected = data.rejected_by_rule()
    assert list(rejected.columns) == ["table", "column", "rule", "rows"]
    history = data.load_history()
    assert "source_dirs" not in history and "files" not in history and len(history) >= 1
    completeness = data.completeness()
    assert set(completeness["table"]) == {
        "providers",
        "programmes",
        "people",
        "episodes",
        "contacts",
        "assessments",
    }
    assert completeness["share"].between(0, 1).all()
    assert len(data_page.definitions_table(data)) == len(data.metrics())
    data_page.layout(data)


def test_every_page_lays_out(data: DashboardData) -> None:
    for page in ALL_PAGES:
        page.layout(data, search="?from=2025-03&to=2026-02", programme_id="x")


def test_a_new_load_is_never_served_from_the_old_cache(
    data: DashboardData, state: FilterState, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = data.cached(("probe",), lambda: "old")
    # As after an atomic swap: another file (inode, size, mtime) stands at the warehouse's path.
    monkeypatch.setattr("dashboard.queries.file_identity", lambda path: ("another file",))
    assert data.cached(("probe",), lambda: "new") == "new" != before


def test_state_is_hashable_for_the_cache(state: FilterState) -> None:
    assert hash(replace(state, setting=("prison",))) != hash(state)


def test_shared_survival_curves_show_nothing_beyond_their_perturbed_counts(
    data: DashboardData, state: FilterState
) -> None:
    # The exact curve's first step 1 − d/n would give the counts away. Shared curves are on the 28-day
    # grid with perturbed counts, and their survival is the Kaplan–Meier product of exactly those counts.
    exact = data.warehouse.metric("time_in_treatment", state.start, state.end, suppress=False)
    for by in ([], ["sex"]):
        km = data.metric_for("time_in_treatment", state, by=by)
        shown = km[~km["suppressed"]]
        assert len(shown) >= 5 and (shown["t"] % 28 == 0).all()
        assert (shown["n_at_risk"] >= 10).all()  # the tail is cut from the first row under 10 at risk
        # A step's events would be a difference of perturbed counts: not shown; the curve is monotone.
        assert shown["events"].isna().all() and shown["censored"].isna().all()
        for _, curve in shown.groupby(by) if by else [(None, shown)]:
            assert (np.diff(curve["survival"].to_numpy()) <= 1e-12).all()
    # The whole system's perturbed curve stays near the exact one at each grid time: within 0.05 while
    # 100 or more are at risk (each perturbed running total is off by at most 3, so a step's hazard by
    # at most 6 in 100), and inside its own 95% band everywhere.
    system = data.metric_for("time_in_treatment", state)
    system = system[~system["suppressed"]]
    steps = exact["t"].to_numpy()
    for r in system.itertuples():
        before = exact["survival"].to_numpy()[steps <= r.t]
        truth = before[-1] if len(before) else 1.0
        assert r.ci_low <= truth <= r.ci_high, r
        if r.n_at_risk >= 100:
            assert abs(r.survival - truth) < 0.05, r
