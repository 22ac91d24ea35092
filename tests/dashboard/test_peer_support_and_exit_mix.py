"""The Support mix page's peer-support comparison and the Retention page's exit-reason mix, both from the
metric layer (the ``peer_support`` dimension, ``compute_mix``), and the figure that draws the former."""

from __future__ import annotations

import numpy as np
import pandas as pd

import charts as figures
from dashboard.filters import FilterState
from dashboard.pages import retention, support_mix
from dashboard.queries import DashboardData
from pipelines.metrics import compute_metric, compute_mix


def test_peer_outcomes_come_from_the_metric_layer(data: DashboardData, state: FilterState) -> None:
    table = support_mix.peer_outcomes_table(data, state, {})
    assert list(dict.fromkeys(table["metric"])) == [m for m, _ in support_mix.PEER_OUTCOMES]
    assert set(table["group"]) == {"with peer support", "without peer support"}
    for metric, days in support_mix.PEER_OUTCOMES:
        rows = table[table["metric"] == metric]
        start, end = date_pair(rows)
        assert end + pd.Timedelta(days=days).to_pytimedelta() <= data.as_of() or end == state.end
        expected = compute_metric(data.warehouse, metric, start, end, by="peer_support")
        assert rows["numerator"].tolist() == expected["numerator"].tolist()
        assert rows["suppressed"].tolist() == expected["suppressed"].tolist()
    shown = table.loc[~table["suppressed"], ["numerator", "denominator"]].to_numpy(dtype=float)
    assert not ((shown >= 1) & (shown <= 4)).any()


def date_pair(rows: pd.DataFrame):
    from datetime import date

    return date.fromisoformat(rows["cohort_from"].iloc[0]), date.fromisoformat(rows["cohort_to"].iloc[0])


def test_peer_outcomes_chart_says_observational(data: DashboardData, state: FilterState) -> None:
    chart = support_mix.CHARTS["peer_support_outcomes"]
    assert "observational" in chart.title.lower() and "not causation" in chart.title
    assert "confounding" in chart.note and "28 days" in chart.note
    figure = chart.render(data, state, {})
    texts = " ".join(a.text for a in figure.layout.annotations)
    assert "association, not causation" in texts
    assert {t.name for t in figure.data} == {"with peer support", "without peer support"}


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
