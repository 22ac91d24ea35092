"""Figure builders as plain functions: hover carries numerator, denominator and interval; suppressed
cells are drawn as suppressed, never as zero; colours come from the Okabe-Ito palette."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import charts as figures
from pipelines.stats import funnel_curve, xmr

OKABE_ITO = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}


def monthly(values: list[float | None], suppressed: list[bool] | None = None) -> pd.DataFrame:
    n = len(values)
    suppressed = suppressed or [False] * n
    rows = []
    for i, (v, s) in enumerate(zip(values, suppressed, strict=True)):
        den = None if s else 100
        rows.append(
            {
                "period": f"2025-{i + 1:02d}" if i < 12 else f"2026-{i - 11:02d}",
                "numerator": None if s else round(v * 100),
                "denominator": den,
                "value": None if s else v,
                "ci_low": None if s else v - 0.05,
                "ci_high": None if s else v + 0.05,
                "suppressed": s,
            }
        )
    columns = ["period", "numerator", "denominator", "value", "ci_low", "ci_high", "suppressed"]
    return pd.DataFrame(rows, columns=columns).astype({"value": float, "ci_low": float, "ci_high": float})


def test_the_figure_builders_import_neither_dash_nor_a_presenter() -> None:
    for module in sorted(Path(figures.__file__).parent.glob("*.py")):
        tree = ast.parse(module.read_text())
        imported = {
            a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
        }
        imported |= {
            n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
        }
        assert not imported & {"dash", "dash_bootstrap_components", "dashboard"}, module.name


def test_palette_is_okabe_ito() -> None:
    assert set(figures.CATEGORICAL) == OKABE_ITO
    assert {figures.IMPROVEMENT, figures.CONCERN, figures.NEITHER} <= OKABE_ITO


def test_format_value() -> None:
    assert figures.format_value(0.1234, "proportion") == "12.3%"
    assert figures.format_value(1234, "count") == "1,234"
    assert figures.format_value(3.25, "continuous", "days") == "3.2 days"
    assert figures.format_value(None, "proportion") == "suppressed"
    assert figures.format_value(float("nan"), "count") == "suppressed"


def test_hover_has_numerator_denominator_and_interval() -> None:
    text = figures.hover_lines(
        {
            "value": 0.5,
            "numerator": 50,
            "denominator": 100,
            "ci_low": 0.4,
            "ci_high": 0.6,
            "suppressed": False,
        },
        "proportion",
        "Leeds",
    )
    assert "50.0%" in text and "50 / 100" in text and "40.0% to 60.0%" in text
    hidden = figures.hover_lines({"value": None, "suppressed": True}, "proportion", "Leeds")
    assert "suppressed" in hidden and "0" not in hidden.replace("Leeds", "")


def _suppressed_trace(fig: go.Figure) -> go.Scatter:
    traces = [t for t in fig.data if str(t.name).startswith("suppressed")]
    assert len(traces) == 1
    return traces[0]


def test_spc_chart_marks_special_causes_and_draws_suppressed_months_as_suppressed() -> None:
    values = [0.5] * 8 + [0.9] + [0.5] * 5 + [0.3]
    suppressed = [False] * 15
    suppressed[3] = True
    series = monthly([None if s else v for v, s in zip(values, suppressed, strict=True)], suppressed)
    chart = xmr(series["value"], improvement="up")
    fig = figures.spc_figure(series, chart, "retention", "proportion", "up")
    main = next(t for t in fig.data if t.name == "monthly value")
    # The suppressed month has no value on the metric's axis (a gap, not a zero).
    assert np.isnan(main.y[3]) and 0 not in list(main.y)
    marks = _suppressed_trace(fig)
    assert list(marks.x) == [series["period"][3]]
    assert marks.yaxis == "y9" and marks.marker.symbol == "circle-open"
    names = {t.name for t in fig.data}
    assert {"mean", "process limits"} <= names
    assert "improvement" in names or "concern" in names
    for trace in fig.data:
        if trace.name == "improvement":
            assert trace.marker.color == figures.IMPROVEMENT
        if trace.name == "concern":
            assert trace.marker.color == figures.CONCERN


def test_spc_chart_with_no_rows_says_so() -> None:
    fig = figures.spc_figure(monthly([])[:0], xmr([]), "x")
    assert "No data" in fig.layout.annotations[0].text


def test_month_with_no_cohort_is_a_gap_not_suppressed() -> None:
    series = monthly([0.5, 0.6, 0.55])
    series.loc[2, ["value", "numerator", "denominator", "ci_low", "ci_high"]] = [np.nan, 0, 0, np.nan, np.nan]
    fig = figures.spc_figure(series, xmr(series["value"]), "x")
    assert not [t for t in fig.data if str(t.name).startswith("suppressed")]


def test_the_suppression_legend_says_why_each_month_is_hidden() -> None:
    """A month hidden for too few records (a mean) is not called a small count: one legend entry per
    reason, each at its own months."""
    series = monthly([0.5, None, 0.55, None, 0.6, None], [False, True, False, True, False, True])
    series["suppressed_reason"] = [None, "small count", None, "fewer than 10 records", None, "small count"]
    fig = figures.spc_figure(series, xmr(series["value"]), "retention", "proportion", "up")
    marks = {t.name: list(t.x) for t in fig.data if str(t.name).startswith("suppressed")}
    months = list(series["period"])
    assert marks == {
        "suppressed: a small count": [months[1], months[5]],
        "suppressed: fewer than 10 records": [months[3]],
    }
    # Without reasons (an older table) the one generic entry remains.
    fig = figures.spc_figure(series.drop(columns="suppressed_reason"), xmr(series["value"]), "x")
    assert {t.name for t in fig.data if str(t.name).startswith("suppressed")} == {figures.SUPPRESSED_NOTE}


def km_table(groups: dict[str, int]) -> pd.DataFrame:
    rows = []
    for g, n in groups.items():
        s = 1.0
        for t in range(1, 30, 3):
            s *= 0.95
            rows.append(
                {
                    "setting": g,
                    "t": t,
                    "n_at_risk": n - t,
                    "events": 1,
                    "censored": 0,
                    "survival": s,
                    "ci_low": s - 0.05,
                    "ci_high": min(1.0, s + 0.05),
                    "suppressed": False,
                }
            )
    return pd.DataFrame(rows)


def test_km_curves_are_steps_from_one_with_bands() -> None:
    fig = figures.km_figure(km_table({"community": 100, "prison": 60}), "setting", "")
    lines = [t for t in fig.data if t.mode == "lines" and t.showlegend is not False]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert [t.name for t in lines] == ["community", "prison"]
    assert len(bands) == 2
    assert all(t.line.shape == "hv" and t.y[0] == 1.0 and t.x[0] == 0 for t in lines)
    assert "at risk" in lines[0].hovertext[1]


def test_km_keeps_the_largest_groups() -> None:
    table = km_table({f"g{i}": 50 + i for i in range(10)})
    fig = figures.km_figure(table, "setting", "t", max_groups=3)
    assert len([t for t in fig.data if t.fill != "toself"]) == 3
    assert "7 more" in fig.layout.title.text


def funnel_units() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "programme": ["A", "B", "C", "D"],
            "label": ["Alpha", "Beta", "Gamma", "Delta"],
            "numerator": [90, 50, 30, None],
            "denominator": [100, 100, 100, None],
            "value": [0.9, 0.5, 0.3, None],
            "ci_low": [0.8, 0.4, 0.2, None],
            "ci_high": [0.95, 0.6, 0.4, None],
            "suppressed": [False, False, False, True],
            "significance": ["high_99.8", "not_significant", "low_99.8", None],
        }
    )


@pytest.mark.parametrize(
    ("direction", "high", "low"),
    [
        ("up", figures.IMPROVEMENT, figures.CONCERN),
        ("down", figures.CONCERN, figures.IMPROVEMENT),
        (None, figures.NEITHER, figures.NEITHER),
    ],
)
def test_funnel_colours_say_better_or_worse_only_with_a_direction(direction, high, low) -> None:
    fig = figures.funnel_figure(funnel_units(), funnel_curve(0.5, 50, 150), 0.5, "", direction=direction)
    points = next(t for t in fig.data if t.name == "programmes")
    assert list(points.customdata) == ["A", "B", "C"]  # the suppressed programme is not drawn
    assert list(points.marker.color) == [high, figures.COMMON, low]
    assert {"99.8% limits", "95% limits"} <= {t.name for t in fig.data}
    assert "suppressed" in fig.layout.annotations[0].text


def test_bars_label_suppressed_categories_and_never_draw_zero() -> None:
    table = pd.DataFrame(
        {
            "setting": ["community", "prison"],
            "numerator": [40, None],
            "denominator": [100, None],
            "value": [0.4, None],
            "ci_low": [0.3, None],
            "ci_high": [0.5, None],
            "suppressed": [False, True],
        }
    )
    fig = figures.proportion_bar_figure(table, "setting", "", system_value=0.41)
    bar = fig.data[0]
    assert bar.x[0] == 0.4 and np.isnan(bar.x[1])
    assert any(a.text == "suppressed" for a in fig.layout.annotations)
    assert "suppressed" in bar.hovertext[1]


def test_mix_with_totals_hatches_the_suppressed_share() -> None:
    table = pd.DataFrame(
        {
            "programme": ["A"] * 3 + ["B"] * 3,
            "outcome": ["successful", "incomplete", "died"] * 2,
            "count": [50, 30, np.nan, 40, np.nan, np.nan],
            "total": [82, 82, 82, 47, 47, 47],
            "suppressed": [False, False, True, False, True, True],
        }
    )
    fig = figures.mix_figure(table, "programme", "outcome", "", total="total")
    hatched = next(t for t in fig.data if t.name == "suppressed")
    assert hatched.x[0] == pytest.approx(2 / 82) and hatched.x[1] == pytest.approx(7 / 47)
    successful = next(t for t in fig.data if t.name == "successful")
    assert successful.x[0] == pytest.approx(50 / 82)


def test_mix_without_totals_labels_fully_hidden_categories() -> None:
    table = pd.DataFrame(
        {
            "period": ["2025-01", "2025-01", "2025-02", "2025-02"],
            "delivered_by": ["professional", "peer"] * 2,
            "contacts": [10, 5, np.nan, np.nan],
            "suppressed": [False, False, True, True],
        }
    )
    fig = figures.mix_figure(
        table, "period", "delivered_by", "", value="contacts", horizontal=False, percent=False
    )
    assert [a.text for a in fig.layout.annotations] == ["suppressed"]


def test_trend_lines_with_bands_and_suppressed_marks() -> None:
    series = monthly([0.3, None, 0.35], [False, True, False])
    fig = figures.trend_lines_figure(series, "period", None, "")
    assert _suppressed_trace(fig).x == ("2025-02",)


def test_comparison_names_suppressed_groups() -> None:
    table = pd.DataFrame(
        {
            "indicator": ["Retention", "Retention"],
            "group": ["Alpha", "whole system"],
            "numerator": [None, 80],
            "denominator": [None, 100],
            "value": [None, 0.8],
            "ci_low": [None, 0.7],
            "ci_high": [None, 0.9],
            "suppressed": [True, False],
        }
    )
    fig = figures.comparison_figure(table.astype({"value": float, "ci_low": float, "ci_high": float}), "")
    assert any("Alpha: suppressed" == a.text for a in fig.layout.annotations)


def test_sparkline_is_small_and_axis_free() -> None:
    series = monthly([0.5, 0.6, 0.55, 0.7])
    fig = figures.sparkline_figure(series, xmr(series["value"], "up"), "proportion", "up")
    assert fig.layout.height == 70 and fig.layout.xaxis.visible is False
