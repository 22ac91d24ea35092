"""One system value per indicator (issue 12): the funnel plot is centred on the Overview's figure for the
same view, and says so; only where that figure is suppressed does it fall back to the pooled programmes,
labelled."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import ids
from dashboard.pages import programmes
from dashboard.pages.overview import tile_summary
from dashboard.queries import DashboardData
from pipelines.stats import funnel_significance


@pytest.mark.parametrize("metric", ["retention_12wk", "successful_completion", "waiting_over_3_weeks"])
def test_the_funnel_is_centred_on_the_overview_tile(data: DashboardData, state, metric: str) -> None:
    table = programmes.funnel_table(data, state, {ids.PROGRAMMES_INDICATOR: metric})
    headline = data.metric_for(metric, state).iloc[0]
    assert table["target"].iloc[0] == pytest.approx(float(headline["value"]), abs=1e-12)
    assert set(table["target_label"]) == {programmes.SYSTEM_VALUE}
    tile, _, _ = tile_summary(data, metric, state)
    assert tile.value == f"{float(headline['value']):.1%}"
    # Significance is against that value, recomputed independently from the shown rows.
    shown = table[~table["suppressed"] & (table["denominator"].fillna(0) > 0)]
    expected = funnel_significance(
        shown["numerator"].astype(float), shown["denominator"].astype(float), float(headline["value"])
    )
    assert list(shown["significance"]) == list(expected)
    figure = programmes.funnel_figure(data, table, state, {ids.PROGRAMMES_INDICATOR: metric})
    names = [t.name for t in figure.data]
    assert f"{programmes.SYSTEM_VALUE}: {float(headline['value']):.1%}" in names


def test_a_suppressed_system_value_falls_back_to_the_pooled_programmes_and_says_so(
    data: DashboardData, state, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = data.metric_for

    def headline_suppressed(name, view, by=(), extra_filters=None, *, adjust=False):  # type: ignore[no-untyped-def]
        table = real(name, view, by, extra_filters, adjust=adjust)
        if not by:
            table = table.copy()
            table["numerator"] = pd.array([pd.NA] * len(table), dtype="Int64")
            table["denominator"] = pd.array([pd.NA] * len(table), dtype="Int64")
            table["value"] = float("nan")
            table["suppressed"] = True
        return table

    monkeypatch.setattr(data, "metric_for", headline_suppressed)
    table = programmes.funnel_table(data, state, {ids.PROGRAMMES_INDICATOR: "retention_12wk"})
    shown = table[~table["suppressed"] & (table["denominator"].fillna(0) > 0)]
    pooled = shown["numerator"].astype(float).sum() / shown["denominator"].astype(float).sum()
    assert table["target"].iloc[0] == pytest.approx(pooled)
    assert set(table["target_label"]) == {programmes.POOLED_VALUE}
    figure = programmes.funnel_figure(data, table, state, {ids.PROGRAMMES_INDICATOR: "retention_12wk"})
    assert any(str(t.name).startswith(programmes.POOLED_VALUE) for t in figure.data)
