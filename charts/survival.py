"""Kaplan–Meier curves with their 95% bands, one per group, from the metric layer's shared tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from charts.style import (
    categorical_colour,
    empty_figure,
    format_count,
    is_missing,
    percent_text,
    rgba,
    style,
)


def km_figure(
    table: pd.DataFrame,
    group: str | None,
    title: str,
    time_label: str = "days",
    max_groups: int = 8,
    survival_label: str = "still in treatment",
) -> go.Figure:
    """Kaplan-Meier curves as steps, each with its 95% band (Greenwood, log-log), one per group.

    ``table`` has the breakdown column ``group`` (or none), then ``t, n_at_risk, events, censored,
    survival, ci_low, ci_high``. Groups beyond ``max_groups`` (by size) are left out and named in
    the title so the chart stays readable.
    """
    if table is None or table.empty:
        return empty_figure("No episodes for this period and filters")
    if "suppressed" in table:
        # A group suppressed from its first row (too small to draw) is left out without a name, as an
        # empty group would be: naming it would say it holds someone.
        drawn = (
            table.groupby(group, dropna=False)["suppressed"].transform("all")
            if group
            else table["suppressed"]
        )
        table = table[~drawn.astype(bool)] if group else table
        if table.empty or not group and bool(drawn.all()):
            return empty_figure("Too few people for a curve for this period and filters")
    fig = go.Figure()
    if group:
        sizes = table.groupby(group, dropna=False)["n_at_risk"].max().sort_values(ascending=False)
        groups = list(sizes.index[:max_groups])
        dropped = len(sizes) - len(groups)
    else:
        groups, dropped = [None], 0
    for i, g in enumerate(groups):
        part = table if g is None else table[table[group] == g]
        part = part.sort_values("t")
        name = "all" if g is None else str(g)
        colour = categorical_colour(i)
        # Start every curve at S(0) = 1 and draw steps that hold until the next event time.
        t = np.concatenate([[0.0], part["t"].to_numpy(dtype=float)])
        s = np.concatenate([[1.0], part["survival"].to_numpy(dtype=float)])
        lo = np.concatenate([[1.0], part["ci_low"].to_numpy(dtype=float)])
        hi = np.concatenate([[1.0], part["ci_high"].to_numpy(dtype=float)])
        band_x = np.concatenate([t, t[::-1]])
        band_y = np.concatenate([hi, lo[::-1]])
        fig.add_trace(
            go.Scatter(
                x=band_x,
                y=band_y,
                fill="toself",
                mode="lines",
                line={"width": 0, "shape": "hv"},
                fillcolor=rgba(colour, 0.15),
                hoverinfo="skip",
                showlegend=False,
                legendgroup=name,
                connectgaps=True,
            )
        )
        hover = [
            f"<b>{name}</b><br>day {int(r.t)}<br>{survival_label}: {percent_text(r.survival)} "
            f"(95% interval {percent_text(r.ci_low)} to {percent_text(r.ci_high)})"
            f"<br>at risk {format_count(r.n_at_risk)}"
            + (
                ""
                if is_missing(r.events)
                else f", events {format_count(r.events)}, censored {format_count(r.censored)}"
            )
            for r in part.itertuples()
        ]
        fig.add_trace(
            go.Scatter(
                x=t,
                y=s,
                mode="lines",
                name=name,
                legendgroup=name,
                line={"color": colour, "width": 2, "shape": "hv"},
                hovertext=["start"] + hover,
                hoverinfo="text",
            )
        )
    if dropped:
        title = f"{title} (largest {len(groups)} groups; {dropped} more in the CSV)"
    style(fig, title, height=380)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02], title=survival_label)
    fig.update_xaxes(title=time_label, rangemode="tozero")
    for d in (84, 182, 365):
        if table["t"].max() >= d:
            fig.add_vline(
                x=d,
                line={"color": "#CCC", "width": 1, "dash": "dot"},
                annotation_text=f"{d} days",
                annotation_font_size=10,
                annotation_font_color="#777",
            )
    return fig
