"""The Support mix page's peer-support comparisons (landmark crude and adjusted, dose, timing) and the
Retention page's exit-reason mix, both from the metric layer (`compare_peer_support` through
`DashboardData.peer_comparison`, ``compute_mix``), and the figures that draw them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import charts as figures
from dashboard.filters import FilterState
from dashboard.pages import retention, support_mix
from dashboard.queries import DashboardData, ViewRefused
from pipelines.metrics import (
    compare_peer_support,
    compute_mix,
    peer_support_dose,
    peer_support_timing,
)


def test_the_landmark_comparison_comes_from_the_metric_layer(data: DashboardData, state: FilterState) -> None:
    table = support_mix.landmark_table(data, state, {})
    assert list(dict.fromkeys(table["metric"])) == [m for m, _ in support_mix.LANDMARK_OUTCOMES]
    for metric, days in support_mix.LANDMARK_OUTCOMES:
        rows = table[table["metric"] == metric].reset_index(drop=True)
        assert rows["estimate"].tolist() == ["crude", "adjusted"]
        start, end = date_pair(rows)
        assert end + pd.Timedelta(days=days).to_pytimedelta() <= data.as_of()
        expected = compare_peer_support(data.warehouse, metric, start, end, threshold=5)
        for column in ("exposed_n", "unexposed_n", "difference", "ci_low", "ci_high", "suppressed"):
            assert rows[column].astype(object).equals(expected[column].astype(object)), (metric, column)
        assert rows.loc[1, "adjusted_for"].split(";")[:2] == ["substance_group", "age_band"]
        no_number = rows["difference"].isna()
        assert rows.loc[no_number, "reason"].map(bool).all()  # a missing number always says why
    shown = table[["exposed_n", "unexposed_n"]].dropna().to_numpy(dtype=float)
    assert not ((shown >= 1) & (shown <= 4)).any()


def test_dose_and_timing_come_from_the_metric_layer(data: DashboardData, state: FilterState) -> None:
    dose = support_mix.dose_table(data, state, {})
    timing = support_mix.timing_table(data, state, {})
    for metric, _ in support_mix.LANDMARK_OUTCOMES:
        rows = dose[dose["metric"] == metric].reset_index(drop=True)
        start, end = date_pair(rows)
        expected = peer_support_dose(data.warehouse, metric, start, end, threshold=5)
        assert rows["dose"].tolist() == ["0", "1-2", "3+"]
        assert rows["numerator"].astype(object).equals(expected["numerator"].astype(object))
        assert rows["denominator"].astype(object).equals(expected["denominator"].astype(object))
    start, end = date_pair(timing)
    expected = peer_support_timing(data.warehouse, "representation_6m", start, end, threshold=5)
    assert timing["timing"].tolist() == expected["timing"].tolist()
    assert timing["numerator"].astype(object).equals(expected["numerator"].astype(object))
    for table in (dose, timing):
        shown = table.loc[~table["suppressed"], ["numerator", "denominator"]].to_numpy(dtype=float)
        assert not ((shown >= 1) & (shown <= 4)).any()


def test_peer_comparison_answers_only_views_the_dashboard_answers(
    data: DashboardData, state: FilterState
) -> None:
    from datetime import date

    programmes = [o["value"] for o in data.filter_options()["programme"][:2]]
    with pytest.raises(ViewRefused):
        data.peer_comparison("retention_12wk", state.start, state.end, {"programme": programmes})
    with pytest.raises(ViewRefused):
        data.peer_comparison("retention_12wk", date(2024, 4, 1), date(2024, 5, 15))
    first = data.peer_comparison("retention_12wk", date(2024, 4, 1), date(2025, 3, 31))
    first["comparison"].loc[0, "exposed_n"] = -1  # a caller's change never reaches the cache
    again = data.peer_comparison("retention_12wk", date(2024, 4, 1), date(2025, 3, 31))
    assert again["comparison"].loc[0, "exposed_n"] != -1
    assert again["comparison"].attrs["observational"] is True


def date_pair(rows: pd.DataFrame):
    from datetime import date

    return date.fromisoformat(rows["cohort_from"].iloc[0]), date.fromisoformat(rows["cohort_to"].iloc[0])


def test_the_landmark_chart_says_observational_and_what_was_adjusted_for(
    data: DashboardData, state: FilterState
) -> None:
    chart = support_mix.CHARTS["peer_support_landmark"]
    assert "observational" in chart.title.lower() and "not causation" in chart.title
    for words in ("landmark", "day 28", "immortal time", "substance group", "referral source", "injecting"):
        assert words in chart.note.lower(), words
    assert "peer_support_outcomes" not in support_mix.CHARTS  # the whole-episode comparison is gone
    figure = chart.render(data, state, {})
    texts = " ".join(a.text for a in figure.layout.annotations)
    assert "association, not causation" in texts
    assert {t.name for t in figure.data} <= {"crude", "adjusted"} and "crude" in {t.name for t in figure.data}


def test_the_difference_figure_draws_intervals_and_says_why_a_number_is_missing() -> None:
    table = pd.DataFrame(
        {
            "label": ["Retained at 12 weeks", "Retained at 12 weeks"],
            "estimate": ["crude", "adjusted"],
            "exposed_n": [120, 120],
            "unexposed_n": [200, 200],
            "exposed_value": [0.9, np.nan],
            "unexposed_value": [0.8, np.nan],
            "difference": [0.1, np.nan],
            "ci_low": [0.02, np.nan],
            "ci_high": [0.17, np.nan],
            "reason": [None, "not estimable: separation"],
        }
    )
    fig = figures.difference_figure(table, caption="observational")
    crude = next(t for t in fig.data if t.name == "crude")
    assert crude.x[0] == pytest.approx(10.0)  # percentage points
    assert crude.error_x.array[0] == pytest.approx(7.0) and crude.error_x.arrayminus[0] == pytest.approx(8.0)
    assert "+10.0 pts" in crude.hovertext[0] and "90.0% of 120" in crude.hovertext[0]
    adjusted = next(t for t in fig.data if t.name == "adjusted")
    assert np.isnan(adjusted.x[0])  # not drawn, never 0
    texts = [a.text for a in fig.layout.annotations]
    assert "no number: not estimable: separation" in texts and "observational" in texts


def test_grouped_bars_draw_suppressed_as_suppressed() -> None:
    table = pd.DataFrame(
        {
            "outcome": ["retained", "retained", "re-presented", "re-presented"],
            "group": ["with", "without", "with", "without"],
            "numerator": [30, 40, pd.NA, 12],
            "denominator": [50, 90, pd.NA, 60],
            "value": [0.6, 40 / 90, np.nan, 0.2],
            "ci_low": [0.46, 0.34, np.nan, 0.12],
            "ci_high": [0.72, 0.55, np.nan, 0.32],
            "suppressed": [False, False, True, False],
        }
    )
    fig = figures.grouped_bar_figure(table, "outcome", "group", "", caption="observational")
    with_bars = next(t for t in fig.data if t.name == "with")
    assert np.isnan(with_bars.x[1]) and with_bars.x[0] == 0.6  # hidden, never 0
    assert "suppressed" in with_bars.hovertext[1]
    assert "30 / 50" in with_bars.hovertext[0]
    assert any(a.text == "with: suppressed" for a in fig.layout.annotations)
    assert any(a.text == "observational" for a in fig.layout.annotations)


def test_exit_mix_is_the_metric_layers_mix(data: DashboardData, state: FilterState) -> None:
    mix = retention.exit_mix_table(data, state, {})
    expected = compute_mix(
        data.warehouse, "exit_reason_mix", state.start, state.end, part="outcome_group", by="programme"
    )
    merged = mix.merge(expected, on=["programme", "outcome_group"], suffixes=("", "_layer"))
    assert len(merged) == len(mix) == len(expected)
    for column in ("count", "total", "suppressed"):
        assert merged[column].astype(object).equals(merged[f"{column}_layer"].astype(object)), column
    assert mix["programme_name"].notna().all()
