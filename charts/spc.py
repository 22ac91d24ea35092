"""Statistical-process-control charts: the XmR chart of a monthly series and the tile sparkline (NHS
"Making Data Count" colours: blue improvement, orange concern)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from charts.style import (
    COMMON,
    CONCERN,
    IMPROVEMENT,
    LIMIT,
    NEITHER,
    empty_figure,
    hover_lines,
    style,
    suppressed_flags,
    suppressed_marks,
)


def sparkline_figure(
    series: pd.DataFrame,
    spc: pd.DataFrame | None = None,
    kind: str = "proportion",
    direction: str | None = None,
) -> go.Figure:
    """A small monthly trend for a tile: grey line, special-cause points coloured, limits faint."""
    fig = go.Figure()
    x = series["period"].astype(str)
    values = series["value"].astype(float)
    if spc is not None and len(spc) and not spc["upper"].isna().all():
        for col in ("upper", "lower"):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=spc[col],
                    mode="lines",
                    hoverinfo="skip",
                    line={"color": "#BBB", "width": 1, "dash": "dot"},
                )
            )
    hover = [hover_lines(r, kind, str(p)) for p, (_, r) in zip(x, series.iterrows(), strict=True)]
    fig.add_trace(
        go.Scatter(
            x=x,
            y=values,
            mode="lines+markers",
            hovertext=hover,
            hoverinfo="text",
            line={"color": COMMON, "width": 1.5},
            marker={"size": 4, "color": COMMON},
            connectgaps=False,
        )
    )
    if spc is not None and len(spc):
        colours = _variation_colours(spc["variation"], direction)
        special = spc["special_cause"].to_numpy(dtype=bool)
        if special.any():
            fig.add_trace(
                go.Scatter(
                    x=x[special],
                    y=values[special],
                    mode="markers",
                    hoverinfo="skip",
                    marker={"size": 6, "color": np.asarray(colours)[special]},
                )
            )
    fig.update_layout(
        showlegend=False,
        height=70,
        margin={"l": 2, "r": 2, "t": 4, "b": 4},
        template="plotly_white",
        plot_bgcolor="rgba(0,0,0,0)",
        paper_bgcolor="rgba(0,0,0,0)",
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _variation_colours(variation: pd.Series, direction: str | None) -> list[str]:
    colours = []
    for v in variation:
        if v == "improvement":
            colours.append(IMPROVEMENT)
        elif v == "concern":
            colours.append(CONCERN)
        elif v == "neither":
            colours.append(NEITHER)
        else:
            colours.append(COMMON)
    return colours


def spc_figure(
    series: pd.DataFrame,
    spc: pd.DataFrame,
    title: str,
    kind: str = "proportion",
    direction: str | None = None,
    unit: str = "",
    points: str = "monthly value",
) -> go.Figure:
    """An XmR chart: the monthly (or, named by ``points``, quarterly) values, the mean and the process
    limits, special-cause points coloured for improvement or concern (or purple when the metric has no
    direction), suppressed points as hollow markers at the foot.

    ``series`` has columns ``period`` and the metric columns (``value``, ``numerator``, ...);
    ``spc`` is `pipelines.stats.xmr` of its values, row for row.
    """
    if series.empty:
        return empty_figure("No data for this period and filters")
    x = series["period"].astype(str).tolist()
    values = series["value"].astype(float)
    suppressed = suppressed_flags(series)
    fig = go.Figure()
    if not spc["mean"].isna().all():
        fig.add_trace(
            go.Scatter(
                x=x,
                y=spc["mean"],
                mode="lines",
                name="mean",
                line={"color": LIMIT, "width": 1.2},
                hoverinfo="skip",
            )
        )
    if not spc["upper"].isna().all():
        fig.add_trace(
            go.Scatter(
                x=x,
                y=spc["upper"],
                mode="lines",
                name="process limits",
                line={"color": LIMIT, "width": 1, "dash": "dash"},
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=spc["lower"],
                mode="lines",
                name="lower limit",
                showlegend=False,
                line={"color": LIMIT, "width": 1, "dash": "dash"},
                hoverinfo="skip",
            )
        )
    hover = []
    for period, (_, row), (_, sp) in zip(x, series.iterrows(), spc.iterrows(), strict=True):
        text = hover_lines(row, kind, period, unit)
        if bool(sp.get("special_cause", False)):
            text += f"<br>special cause: {sp['variation']} ({sp['rule'].replace(',', ', ')})"
        hover.append(text)
    fig.add_trace(
        go.Scatter(
            x=x,
            y=values.where(~suppressed),
            mode="lines+markers",
            name=points,
            line={"color": COMMON, "width": 1.5},
            marker={"size": 6, "color": COMMON},
            hovertext=hover,
            hoverinfo="text",
            connectgaps=False,
        )
    )
    special = spc["special_cause"].to_numpy(dtype=bool) & ~suppressed.to_numpy()
    if special.any():
        colours = np.asarray(_variation_colours(spc["variation"], direction))
        names = {IMPROVEMENT: "improvement", CONCERN: "concern", NEITHER: "special cause"}
        for colour, name in names.items():
            pick = special & (colours == colour)
            if pick.any():
                fig.add_trace(
                    go.Scatter(
                        x=np.asarray(x)[pick],
                        y=values[pick],
                        mode="markers",
                        name=name,
                        marker={
                            "size": 10,
                            "color": colour,
                            "line": {"color": "white", "width": 1},
                            "symbol": "circle" if colour != CONCERN else "diamond",
                        },
                        hovertext=np.asarray(hover)[pick],
                        hoverinfo="text",
                    )
                )
    hidden = suppressed.to_numpy()
    reasons = (
        series["suppressed_reason"] if "suppressed_reason" in series else pd.Series(None, index=series.index)
    )
    suppressed_marks(fig, np.asarray(x)[hidden], reasons.to_numpy()[hidden])
    style(fig, title, kind=kind)
    fig.update_xaxes(type="category", tickangle=-45, nticks=13)
    if values.isna().all() and kind == "proportion":
        fig.update_yaxes(range=[0, 1])  # nothing to show: keep a sensible axis, not Plotly's default
    return fig
