"""Funnel plots: each unit's proportion against its denominator, with 95% and 99.8% limits around the
target, coloured by significance only where the metric has a direction."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from charts.style import (
    COMMON,
    CONCERN,
    IMPROVEMENT,
    LIMIT,
    NEITHER,
    OKABE_ITO,
    corner_note,
    empty_figure,
    hover_lines,
    style,
)

SIGNIFICANCE_TEXT = {
    "high_99.8": "above the 99.8% limit",
    "high_95": "above the 95% limit",
    "low_95": "below the 95% limit",
    "low_99.8": "below the 99.8% limit",
    "not_significant": "within the limits",
}


def significance_colour(label: str | None, direction: str | None) -> str:
    """Blue for better, orange for worse (only when the metric has a direction), grey otherwise."""
    if not label or label == "not_significant":
        return COMMON
    high = label.startswith("high")
    if direction is None:
        return NEITHER
    better = high if direction == "up" else not high
    return IMPROVEMENT if better else CONCERN


def _limit_lines(fig: go.Figure, x: pd.Series, curve: pd.DataFrame) -> None:
    """The 99.8% and 95% limits of a funnel (``curve``'s ``high_``/``low_`` columns) along ``x``."""
    for level, dash, name in (("99_8", "dash", "99.8% limits"), ("95", "dot", "95% limits")):
        for side, legend in (("high", True), ("low", False)):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=curve[f"{side}_{level}"],
                    mode="lines",
                    name=name,
                    legendgroup=level,
                    showlegend=legend,
                    line={"color": LIMIT, "dash": dash, "width": 1},
                    hoverinfo="skip",
                )
            )


def _centre_line(fig: go.Figure, x: pd.Series, value: float, name: str) -> None:
    fig.add_trace(
        go.Scatter(
            x=[x.min(), x.max()],
            y=[value, value],
            mode="lines",
            name=name,
            line={"color": "#222", "width": 1.2},
            hoverinfo="skip",
        )
    )


def _unit_points(
    fig: go.Figure, shown: pd.DataFrame, x: str, y: str, direction: str | None, id_col: str, hover: list[str]
) -> None:
    """The units as points coloured by their place against the limits, their ids for click-through."""
    colours = [significance_colour(s, direction) for s in shown["significance"]]
    fig.add_trace(
        go.Scatter(
            x=shown[x],
            y=shown[y],
            mode="markers",
            name="programmes",
            marker={"size": 11, "color": colours, "line": {"color": "white", "width": 1}},
            customdata=shown[id_col],
            hovertext=hover,
            hoverinfo="text",
        )
    )


def _not_drawn_note(fig: go.Figure, hidden: int, why: str) -> None:
    """Say how many units are not drawn, and why, above the plot's top right corner."""
    if hidden:
        corner_note(fig, f"{hidden} {why} (not drawn; listed in the table)", right=True)


def funnel_figure(
    units: pd.DataFrame,
    curve: pd.DataFrame,
    target: float,
    title: str,
    direction: str | None = None,
    label_col: str = "label",
    id_col: str = "programme",
    target_label: str = "system value",
    reference: tuple[float, str, str] | None = None,
) -> go.Figure:
    """A funnel plot: each unit's proportion against its denominator, with the target (named in the
    legend by ``target_label``, e.g. "system value (as on the Overview)") and the
    95% and 99.8% control limits (inverted Wilson). Units outside a limit are coloured better/worse
    when the metric has a direction. ``customdata`` carries the unit id, for click-through.
    ``reference`` (value, legend label, hover text), e.g. England's published value, is drawn as a
    dash-dot line: a reference only, the limits stay around the target.

    ``units`` has ``id_col``, ``label_col``, ``numerator, denominator, value, ci_low, ci_high,
    suppressed, significance``; ``curve`` is `pipelines.stats.funnel_curve` output.
    """
    shown = units[~units["suppressed"].fillna(False).astype(bool) & units["value"].notna()]
    if shown.empty:
        return empty_figure("No unit has a value to show (all suppressed or empty)")
    fig = go.Figure()
    n = curve["denominator"]
    _limit_lines(fig, n, curve)
    _centre_line(fig, n, target, f"{target_label}: {target:.1%}")
    if reference is not None:
        value, label, note = reference
        fig.add_trace(
            go.Scatter(
                x=[n.min(), n.max()],
                y=[value, value],
                mode="lines",
                name=label,
                line={"color": OKABE_ITO["bluish_green"], "width": 1.5, "dash": "dashdot"},
                hovertext=[note, note],
                hoverinfo="text",
            )
        )
    hover = [
        hover_lines(r, "proportion", str(r[label_col]))
        + "<br>"
        + SIGNIFICANCE_TEXT.get(r["significance"], "")
        + "<br><i>click to open this programme</i>"
        for _, r in shown.iterrows()
    ]
    _unit_points(fig, shown, "denominator", "value", direction, id_col, hover)
    style(fig, title, kind="proportion", height=420)
    _not_drawn_note(fig, len(units) - len(shown), "suppressed")
    lo, hi = float(shown["denominator"].min()), float(shown["denominator"].max())
    ticks = [
        v
        for v in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000)
        if lo / 2 <= v <= hi * 2
    ]
    fig.update_xaxes(title="denominator (log scale)", type="log", tickvals=ticks or None)
    fig.update_yaxes(title="", rangemode="normal")
    return fig


def ratio_funnel_figure(
    units: pd.DataFrame,
    curve: pd.DataFrame,
    title: str,
    direction: str | None = None,
    label_col: str = "label",
    id_col: str = "programme",
) -> go.Figure:
    """A funnel plot of case-mix-adjusted ratios: each unit's observed / expected count against its
    expected count, with the line at 1 (as expected for its case mix) and the 95% and 99.8% limits of
    the exact Poisson test (`pipelines.stats.ratio_funnel_curve`). Coloured better/worse outside a
    limit when the metric has a direction; ``customdata`` carries the unit id, for click-through.

    ``units`` has ``id_col``, ``label_col``, ``numerator, expected, ratio, ratio_ci_low,
    ratio_ci_high, adjusted_value, suppressed, significance``; ``curve`` has ``expected`` and
    ``low_95, high_95, low_99_8, high_99_8``. A unit without a ratio (suppressed, or no model) is not
    drawn, and the count of them is said on the chart.
    """
    shown = units[~units["suppressed"].fillna(False).astype(bool) & units["ratio"].notna()]
    if shown.empty:
        return empty_figure("No unit has an adjusted ratio to show (suppressed, or no model could be fitted)")
    fig = go.Figure()
    e = curve["expected"]
    _limit_lines(fig, e, curve)
    _centre_line(fig, e, 1.0, "as expected for the case mix (ratio 1)")
    hover = [
        f"<b>{r[label_col]}</b><br>observed / expected: {r['ratio']:.2f} "
        f"(95% interval {r['ratio_ci_low']:.2f} to {r['ratio_ci_high']:.2f})"
        f"<br>observed {int(r['numerator']):,}, expected {r['expected']:.1f}"
        f"<br>adjusted value: {r['adjusted_value']:.1%}"
        f"<br>{SIGNIFICANCE_TEXT.get(r['significance'], '')}<br><i>click to open this programme</i>"
        for _, r in shown.iterrows()
    ]
    _unit_points(fig, shown, "expected", "ratio", direction, id_col, hover)
    style(fig, title, height=420)
    _not_drawn_note(fig, len(units) - len(shown), "without a ratio")
    fig.update_xaxes(title="expected count for the case mix (log scale)", type="log")
    fig.update_yaxes(title="observed / expected", rangemode="tozero")
    return fig
