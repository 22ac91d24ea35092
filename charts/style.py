"""The charts' shared look: the Okabe–Ito palette, fonts, value formats, hover text, the common layout and
the marks for suppressed cells. Every chart family (`charts.spc`, `charts.funnel`, `charts.survival`,
`charts.bars`) draws with these, so the dashboard and the board pack look the same."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}


#: Order for categorical series (yellow last: weakest on white).
CATEGORICAL: tuple[str, ...] = (
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["black"],
    OKABE_ITO["yellow"],
)


IMPROVEMENT = OKABE_ITO["blue"]


CONCERN = OKABE_ITO["orange"]


NEITHER = OKABE_ITO["reddish_purple"]


COMMON = "#7F7F7F"


SUPPRESSED = "#9A9A9A"


LIMIT = "#555555"


PROFESSIONAL = OKABE_ITO["blue"]


PEER = OKABE_ITO["orange"]


FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


SUPPRESSED_NOTE = "suppressed (disclosure control)"


def categorical_colour(i: int) -> str:
    return CATEGORICAL[i % len(CATEGORICAL)]


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def format_value(value: object, kind: str, unit: str = "") -> str:
    """A value as the page shows it: proportions as percentages, counts with thousands separators."""
    if is_missing(value):
        return "suppressed"
    v = float(value)  # type: ignore[arg-type]
    if kind == "proportion":
        return f"{v:.1%}"
    if kind == "count":
        return f"{v:,.0f}"
    text = f"{v:,.1f}"
    return f"{text} {unit}".strip()


def format_count(value: object) -> str:
    return "suppressed" if is_missing(value) else f"{float(value):,.0f}"  # type: ignore[arg-type]


def hover_lines(row: pd.Series | dict, kind: str, label: str = "", unit: str = "") -> str:
    """Hover text for one metric cell: value, interval, numerator and denominator."""
    get = row.get
    if bool(get("suppressed", False)) or is_missing(get("value")):
        head = f"<b>{label}</b><br>" if label else ""
        reason = get("suppressed_reason")
        if bool(get("suppressed", False)) and isinstance(reason, str) and reason:
            return head + f"suppressed: {reason}"
        return head + (SUPPRESSED_NOTE if bool(get("suppressed", False)) else "no value (nothing to count)")
    parts = [f"<b>{label}</b>"] if label else []
    parts.append(f"value: {format_value(get('value'), kind, unit)}")
    lo, hi = get("ci_low"), get("ci_high")
    if not is_missing(lo) and not is_missing(hi):
        parts.append(f"95% interval: {format_value(lo, kind, unit)} to {format_value(hi, kind, unit)}")
    num, den = get("numerator"), get("denominator")
    if kind == "proportion":
        parts.append(f"numerator / denominator: {format_count(num)} / {format_count(den)}")
    elif not is_missing(den):
        parts.append(f"n: {format_count(den)}")
    return "<br>".join(parts)


def style(fig: go.Figure, title: str = "", *, height: int = 340, kind: str = "") -> go.Figure:
    """The house layout: plain white, readable at laptop width, printable in black and white."""
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 15}} if title else None,
        template="plotly_white",
        font={"family": FONT, "size": 12, "color": "#222"},
        height=height,
        margin={"l": 56, "r": 16, "t": 64 if title else 36, "b": 44},
        legend={
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.02,
            "xanchor": "left",
            "x": 0.0,
            "font": {"size": 11},
        },
        hoverlabel={"font": {"family": FONT, "size": 12}, "bgcolor": "white"},
        separators=".,",
    )
    if kind == "proportion":
        # Whole percents, and up to two decimals where the ticks are closer (a death rate of 0.5%).
        fig.update_yaxes(tickformat=".2~%", rangemode="tozero")
    return fig


def empty_figure(message: str, height: int = 340) -> go.Figure:
    """A blank chart carrying a message (no data, all suppressed, or an error)."""
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        font={"size": 14, "color": "#555"},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style(fig, height=height)


def suppressed_flags(table: pd.DataFrame) -> pd.Series:
    """The rows hidden by disclosure control (a missing value alone means "nothing to show", e.g. a
    month with no cohort, and is drawn as a gap, not as suppressed)."""
    if "suppressed" not in table:
        return pd.Series(False, index=table.index)
    return table["suppressed"].astype("boolean").fillna(False).astype(bool)


SUPPRESSION_LEGEND = {
    "small count": "suppressed: a small count",
    "fewer than 10 records": "suppressed: fewer than 10 records",
    "tail of the curve": "suppressed: too few at risk",
}


def suppressed_marks(fig: go.Figure, x: Iterable, reasons: Iterable[object] | None = None) -> None:
    """Hollow grey markers along the foot of the plot at each suppressed x, on an overlay axis so they
    sit at no value of the metric's own axis. ``reasons`` (the rows' ``suppressed_reason``, x for x)
    gives one legend entry per reason, so a month hidden to protect another cell is not taken for a
    small count; an x hidden for several reasons (several lines on one chart) is drawn once, under
    the first."""
    xs = list(x)
    if not xs:
        return
    why = [
        r if isinstance(r, str) and r else "" for r in (reasons if reasons is not None else [""] * len(xs))
    ]
    if len(why) != len(xs):
        raise ValueError("suppressed_marks: one reason per x")
    first: dict[object, str] = {}
    for xv, reason in zip(xs, why, strict=True):
        first.setdefault(xv, reason)
    groups: dict[str, list[object]] = {}
    for xv, reason in first.items():
        groups.setdefault(reason, []).append(xv)
    for reason, points in groups.items():
        name = SUPPRESSION_LEGEND.get(reason, f"suppressed: {reason}" if reason else SUPPRESSED_NOTE)
        fig.add_trace(
            go.Scatter(
                x=points,
                y=[0.03] * len(points),
                yaxis="y9",
                mode="markers+text",
                name=name,
                marker={"symbol": "circle-open", "size": 9, "color": SUPPRESSED, "line": {"width": 1.5}},
                text=["s"] * len(points),
                textposition="top center",
                textfont={"size": 9, "color": SUPPRESSED},
                hovertemplate="%{x}<br>" + name + " (disclosure control)<extra></extra>",
            )
        )
    fig.update_layout(yaxis9={"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True})


def corner_note(fig: go.Figure, text: str, *, right: bool = False) -> None:
    """A short grey note just above the plot's top left (or right) corner: what the chart leaves out or
    how it is drawn."""
    fig.add_annotation(
        text=text,
        showarrow=False,
        xref="paper",
        yref="paper",
        x=1.0 if right else 0.0,
        y=1.02,
        xanchor="right" if right else "left",
        yanchor="bottom",
        font={"size": 11, "color": SUPPRESSED},
    )


def caption_banner(fig: go.Figure, caption: str) -> None:
    """A caption that must be read with the chart (e.g. "observational"), as a boxed line above the plot,
    the top margin widened to hold it; nothing when ``caption`` is empty."""
    if not caption:
        return
    fig.add_annotation(
        text=caption,
        x=0,
        y=1.0,
        xref="paper",
        yref="paper",
        xanchor="left",
        yanchor="bottom",
        yshift=32,
        showarrow=False,
        font={"size": 12, "color": "#222"},
        bgcolor="#FFF3CD",
        bordercolor="#B38600",
        borderwidth=1,
        borderpad=3,
    )
    fig.update_layout(margin={"t": 96})


def percent_text(v: object) -> str:
    return "n/a" if is_missing(v) else f"{float(v):.1%}"  # type: ignore[arg-type]


def rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"
