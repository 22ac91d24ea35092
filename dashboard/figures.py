"""Figure builders: each takes aggregated DataFrames from the metric layer and returns a Plotly figure.

No Dash here (the pages own layout and callbacks). The conventions every builder keeps:

- Hover shows the value with its numerator, denominator and 95% interval (or, for survival, the
  numbers at risk, events and censored).
- A suppressed cell (hidden by disclosure control; the hover says why) is drawn as suppressed: a hollow
  grey marker or a "suppressed" label, never as a zero and never joined into a line.
- Colours come from the Okabe-Ito palette, which stays distinct under the common colour-vision
  deficiencies; blue and orange say improvement and concern (as in NHS "Making Data Count"), and only
  for a metric with a direction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
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


# --- number formatting --------------------------------------------------------------------------------


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def format_value(value: object, kind: str, unit: str = "") -> str:
    """A value as the page shows it: proportions as percentages, counts with thousands separators."""
    if _missing(value):
        return "suppressed"
    v = float(value)  # type: ignore[arg-type]
    if kind == "proportion":
        return f"{v:.1%}"
    if kind == "count":
        return f"{v:,.0f}"
    text = f"{v:,.1f}"
    return f"{text} {unit}".strip()


def format_count(value: object) -> str:
    return "suppressed" if _missing(value) else f"{float(value):,.0f}"  # type: ignore[arg-type]


def hover_lines(row: pd.Series | dict, kind: str, label: str = "", unit: str = "") -> str:
    """Hover text for one metric cell: value, interval, numerator and denominator."""
    get = row.get
    if bool(get("suppressed", False)) or _missing(get("value")):
        head = f"<b>{label}</b><br>" if label else ""
        reason = get("suppressed_reason")
        if bool(get("suppressed", False)) and isinstance(reason, str) and reason:
            return head + f"suppressed: {reason}"
        return head + (SUPPRESSED_NOTE if bool(get("suppressed", False)) else "no value (nothing to count)")
    parts = [f"<b>{label}</b>"] if label else []
    parts.append(f"value: {format_value(get('value'), kind, unit)}")
    lo, hi = get("ci_low"), get("ci_high")
    if not _missing(lo) and not _missing(hi):
        parts.append(f"95% interval: {format_value(lo, kind, unit)} to {format_value(hi, kind, unit)}")
    num, den = get("numerator"), get("denominator")
    if kind == "proportion":
        parts.append(f"numerator / denominator: {format_count(num)} / {format_count(den)}")
    elif not _missing(den):
        parts.append(f"n: {format_count(den)}")
    return "<br>".join(parts)


# --- layout ------------------------------------------------------------------------------------------


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
        fig.update_yaxes(tickformat=".0%", rangemode="tozero")
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


def _suppressed_flags(table: pd.DataFrame) -> pd.Series:
    """The rows hidden by disclosure control (a missing value alone means "nothing to show", e.g. a
    month with no cohort, and is drawn as a gap, not as suppressed)."""
    if "suppressed" not in table:
        return pd.Series(False, index=table.index)
    return table["suppressed"].astype("boolean").fillna(False).astype(bool)


def _suppressed_marks(
    fig: go.Figure, x: Iterable, name: str = SUPPRESSED_NOTE, showlegend: bool = True
) -> None:
    """Hollow grey markers along the foot of the plot at each suppressed x, on an overlay axis so they
    sit at no value of the metric's own axis."""
    xs = list(x)
    if not xs:
        return
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[0.03] * len(xs),
            yaxis="y9",
            mode="markers+text",
            name=name,
            showlegend=showlegend,
            marker={"symbol": "circle-open", "size": 9, "color": SUPPRESSED, "line": {"width": 1.5}},
            text=["s"] * len(xs),
            textposition="top center",
            textfont={"size": 9, "color": SUPPRESSED},
            hovertemplate="%{x}<br>" + SUPPRESSED_NOTE + "<extra></extra>",
        )
    )
    fig.update_layout(yaxis9={"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True})


# --- tiles -------------------------------------------------------------------------------------------


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


# --- SPC ---------------------------------------------------------------------------------------------


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
) -> go.Figure:
    """An XmR chart: the monthly values, the mean and the process limits, special-cause points
    coloured for improvement or concern (or purple when the metric has no direction), suppressed
    months as hollow markers at the foot.

    ``series`` has columns ``period`` and the metric columns (``value``, ``numerator``, ...);
    ``spc`` is `pipelines.stats.xmr` of its values, row for row.
    """
    if series.empty:
        return empty_figure("No data for this period and filters")
    x = series["period"].astype(str).tolist()
    values = series["value"].astype(float)
    suppressed = _suppressed_flags(series)
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
            name="monthly value",
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
    _suppressed_marks(fig, np.asarray(x)[suppressed.to_numpy()])
    style(fig, title, kind=kind)
    fig.update_xaxes(type="category", tickangle=-45, nticks=13)
    if values.isna().all() and kind == "proportion":
        fig.update_yaxes(range=[0, 1])  # nothing to show: keep a sensible axis, not Plotly's default
    return fig


# --- Kaplan-Meier ------------------------------------------------------------------------------------


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
                fillcolor=_rgba(colour, 0.15),
                hoverinfo="skip",
                showlegend=False,
                legendgroup=name,
                connectgaps=True,
            )
        )
        hover = [
            f"<b>{name}</b><br>day {int(r.t)}<br>{survival_label}: {_pct(r.survival)} "
            f"(95% interval {_pct(r.ci_low)} to {_pct(r.ci_high)})<br>at risk {format_count(r.n_at_risk)}"
            + (
                ""
                if _missing(r.events)
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


def _pct(v: object) -> str:
    return "n/a" if _missing(v) else f"{float(v):.1%}"  # type: ignore[arg-type]


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


# --- funnel plot ------------------------------------------------------------------------------------


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


def funnel_figure(
    units: pd.DataFrame,
    curve: pd.DataFrame,
    target: float,
    title: str,
    direction: str | None = None,
    label_col: str = "label",
    id_col: str = "programme",
) -> go.Figure:
    """A funnel plot: each unit's proportion against its denominator, with the pooled target and the
    95% and 99.8% control limits (inverted Wilson). Units outside a limit are coloured better/worse
    when the metric has a direction. ``customdata`` carries the unit id, for click-through.

    ``units`` has ``id_col``, ``label_col``, ``numerator, denominator, value, ci_low, ci_high,
    suppressed, significance``; ``curve`` is `pipelines.stats.funnel_curve` output.
    """
    shown = units[~units["suppressed"].fillna(False).astype(bool) & units["value"].notna()]
    if shown.empty:
        return empty_figure("No unit has a value to show (all suppressed or empty)")
    fig = go.Figure()
    n = curve["denominator"]
    for level, dash, name in (("99_8", "dash", "99.8% limits"), ("95", "dot", "95% limits")):
        fig.add_trace(
            go.Scatter(
                x=n,
                y=curve[f"high_{level}"],
                mode="lines",
                name=name,
                legendgroup=level,
                line={"color": LIMIT, "dash": dash, "width": 1},
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=n,
                y=curve[f"low_{level}"],
                mode="lines",
                name=name,
                legendgroup=level,
                showlegend=False,
                line={"color": LIMIT, "dash": dash, "width": 1},
                hoverinfo="skip",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[n.min(), n.max()],
            y=[target, target],
            mode="lines",
            name=f"system value {target:.1%}",
            line={"color": "#222", "width": 1.2},
            hoverinfo="skip",
        )
    )
    colours = [significance_colour(s, direction) for s in shown["significance"]]
    hover = [
        hover_lines(r, "proportion", str(r[label_col]))
        + "<br>"
        + SIGNIFICANCE_TEXT.get(r["significance"], "")
        + "<br><i>click to open this programme</i>"
        for _, r in shown.iterrows()
    ]
    fig.add_trace(
        go.Scatter(
            x=shown["denominator"],
            y=shown["value"],
            mode="markers",
            name="programmes",
            marker={"size": 11, "color": colours, "line": {"color": "white", "width": 1}},
            customdata=shown[id_col],
            hovertext=hover,
            hoverinfo="text",
        )
    )
    hidden = len(units) - len(shown)
    style(fig, title, kind="proportion", height=420)
    if hidden:
        fig.add_annotation(
            text=f"{hidden} suppressed (not drawn; listed in the table)",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=1.0,
            y=1.02,
            xanchor="right",
            yanchor="bottom",
            font={"size": 11, "color": SUPPRESSED},
        )
    lo, hi = float(shown["denominator"].min()), float(shown["denominator"].max())
    ticks = [
        v
        for v in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000)
        if lo / 2 <= v <= hi * 2
    ]
    fig.update_xaxes(title="denominator (log scale)", type="log", tickvals=ticks or None)
    fig.update_yaxes(title="", rangemode="normal")
    return fig


# --- bars and mixes ---------------------------------------------------------------------------------


def proportion_bar_figure(
    table: pd.DataFrame,
    category: str,
    title: str,
    kind: str = "proportion",
    unit: str = "",
    system_value: float | None = None,
    colour: str = OKABE_ITO["blue"],
    label_col: str | None = None,
    colour_col: str | None = None,
) -> go.Figure:
    """Horizontal bars of one metric by a category, with 95% interval whiskers. A suppressed category
    gets no bar and the word "suppressed" where its bar would be."""
    if table.empty:
        return empty_figure("No data for this period and filters")
    labels = table[label_col or category].astype(str)
    suppressed = table["suppressed"].fillna(False).astype(bool) | table["value"].isna()
    values = table["value"].astype(float).where(~suppressed)
    err_plus = (table.get("ci_high", values) - values).where(~suppressed)
    err_minus = (values - table.get("ci_low", values)).where(~suppressed)
    hover = [
        hover_lines(r, kind, str(lab), unit) for lab, (_, r) in zip(labels, table.iterrows(), strict=True)
    ]
    colours = colour
    if colour_col:
        levels = list(dict.fromkeys(table[colour_col].astype(str)))
        colours = [categorical_colour(levels.index(v)) for v in table[colour_col].astype(str)]
    fig = go.Figure(
        go.Bar(
            y=labels,
            x=values,
            orientation="h",
            marker={"color": colours},
            error_x={
                "type": "data",
                "array": err_plus,
                "arrayminus": err_minus,
                "color": "#333",
                "thickness": 1.2,
            },
            hovertext=hover,
            hoverinfo="text",
            name="",
            text=np.where(suppressed, "suppressed", ""),
            textposition="outside",
            textfont={"color": SUPPRESSED},
        )
    )
    if suppressed.any():
        # Bars with no value draw nothing, so write the label at the axis instead.
        for lab in labels[suppressed]:
            fig.add_annotation(
                y=lab,
                x=0,
                xref="x",
                text="suppressed",
                showarrow=False,
                xanchor="left",
                font={"color": SUPPRESSED, "size": 11},
            )
    if system_value is not None and not _missing(system_value):
        fig.add_vline(
            x=system_value,
            line={"color": "#222", "width": 1, "dash": "dash"},
            annotation_text=f"system {format_value(system_value, kind, unit)}",
            annotation_font_size=10,
        )
    style(fig, title, height=max(240, 60 + 26 * len(table)))
    fig.update_layout(showlegend=False)
    fig.update_yaxes(autorange="reversed", automargin=True)
    if kind == "proportion":
        fig.update_xaxes(tickformat=".0%", rangemode="tozero")
    return fig


def mix_figure(
    table: pd.DataFrame,
    category: str,
    part: str,
    title: str,
    value: str = "count",
    order: Sequence[str] | None = None,
    colours: dict[str, str] | None = None,
    horizontal: bool = True,
    percent: bool = True,
    total: str | None = None,
) -> go.Figure:
    """Stacked bars of the mix of ``part`` within each ``category`` (as shares when ``percent``).

    ``table`` is long: ``category, part, value`` and optionally ``suppressed`` and a ``total`` column
    (the category's published total). With a total, shares are of it and the suppressed part of each
    bar is drawn as a grey "suppressed" segment, so no hidden share looks like zero and the shown
    shares are not inflated. Without one, a category with hidden cells is marked with "*" and its
    hidden cells are named on hover; a category with every cell hidden is labelled "suppressed".
    """
    if table.empty:
        return empty_figure("No data for this period and filters")
    t = table.copy()
    t["suppressed"] = _suppressed_flags(t)
    t.loc[t["suppressed"], value] = np.nan
    shown_sum = t.groupby(category, sort=False)[value].sum(min_count=1)
    cats = list(shown_sum.index)
    if total:
        totals = t.groupby(category, sort=False)[total].max().reindex(cats).astype(float)
    else:
        totals = shown_sum.astype(float)
    has_hidden = t.groupby(category, sort=False)["suppressed"].any().reindex(cats)
    all_hidden = t.groupby(category, sort=False)["suppressed"].all().reindex(cats)
    starred = has_hidden & ~all_hidden if not total else pd.Series(False, index=cats)
    labels = [f"{c} *" if starred.get(c, False) else str(c) for c in cats]
    parts = list(order) if order else list(dict.fromkeys(t[part]))
    fig = go.Figure()
    placement = (
        (lambda xs: {"y": labels, "x": xs, "orientation": "h"})
        if horizontal
        else (lambda xs: {"x": labels, "y": xs})
    )
    for i, p in enumerate(parts):
        rows = t[t[part] == p].set_index(category).reindex(cats)
        counts = rows[value].astype(float)
        amount = counts / totals.replace(0, np.nan) if percent else counts
        hover = []
        for c, cnt, share, sup in zip(cats, counts, amount, rows["suppressed"].fillna(False), strict=True):
            if bool(sup):
                hover.append(f"<b>{c}</b><br>{p}: {SUPPRESSED_NOTE}")
            elif _missing(cnt):
                hover.append(f"<b>{c}</b><br>{p}: none")
            else:
                pct = f" ({share:.1%})" if percent and not _missing(share) else ""
                hover.append(f"<b>{c}</b><br>{p}: {cnt:,.0f}{pct}")
        colour = (colours or {}).get(p, categorical_colour(i))
        # A hidden cell is drawn with no width (NaN would break Plotly's stacking); its hover and the
        # hatched "suppressed" segment or the "*" say it is hidden.
        fig.add_trace(
            go.Bar(
                name=str(p),
                marker={"color": colour},
                hovertext=hover,
                hoverinfo="text",
                **placement(amount.fillna(0.0)),
            )
        )
    if total and percent:
        remainder = ((totals - shown_sum.reindex(cats).fillna(0)) / totals.replace(0, np.nan)).where(
            has_hidden
        )
        remainder = remainder.where(~totals.isna(), 1.0).where(has_hidden)
        if remainder.notna().any():
            fig.add_trace(
                go.Bar(
                    name="suppressed",
                    marker={
                        "color": "rgba(0,0,0,0)",
                        "pattern": {"shape": "/", "fgcolor": SUPPRESSED},
                        "line": {"color": SUPPRESSED, "width": 0.5},
                    },
                    hovertext=[f"<b>{c}</b><br>{SUPPRESSED_NOTE}" for c in cats],
                    hoverinfo="text",
                    **placement(remainder),
                )
            )
    elif all_hidden.any():
        for lab, hidden in zip(labels, all_hidden, strict=True):
            if hidden:
                fig.add_annotation(
                    text="suppressed",
                    showarrow=False,
                    font={"size": 10, "color": SUPPRESSED},
                    **(
                        {"y": lab, "x": 0, "xanchor": "left"}
                        if horizontal
                        else {"x": lab, "y": 0, "yanchor": "bottom", "textangle": -90}
                    ),
                )
    if starred.any():
        title = f"{title} (* includes suppressed cells)".strip()
    style(fig, title, height=max(300, 90 + 22 * len(cats)) if horizontal else 340)
    fig.update_layout(barmode="stack", bargap=0.25)
    axis = fig.update_xaxes if horizontal else fig.update_yaxes
    if percent:
        axis(tickformat=".0%", range=[0, 1])
    if horizontal:
        fig.update_yaxes(autorange="reversed", automargin=True, type="category")
    else:
        fig.update_xaxes(type="category", tickangle=-45)
    return fig


def trend_lines_figure(
    table: pd.DataFrame,
    x: str,
    group: str | None,
    title: str,
    kind: str = "proportion",
    unit: str = "",
    band: bool = True,
    colours: dict[str, str] | None = None,
) -> go.Figure:
    """Lines over time for one metric (optionally one line per group), each with its 95% band;
    suppressed points are hollow markers at the foot."""
    if table.empty:
        return empty_figure("No data for this period and filters")
    fig = go.Figure()
    groups = [None] if not group else list(dict.fromkeys(table[group]))
    suppressed_x: list = []
    for i, g in enumerate(groups):
        part = table if g is None else table[table[group] == g]
        xs = part[x].astype(str)
        sup = _suppressed_flags(part)
        colour = (colours or {}).get(str(g), categorical_colour(i))
        name = "all" if g is None else str(g)
        if band and "ci_low" in part:
            lo, hi = part["ci_low"].where(~sup), part["ci_high"].where(~sup)
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=hi,
                    mode="lines",
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=name,
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=lo,
                    mode="lines",
                    line={"width": 0},
                    fill="tonexty",
                    fillcolor=_rgba(colour, 0.15),
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=name,
                )
            )
        hover = [
            hover_lines(r, kind, f"{name}, {xv}", unit)
            for xv, (_, r) in zip(xs, part.iterrows(), strict=True)
        ]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=part["value"].where(~sup),
                mode="lines+markers",
                name=name,
                legendgroup=name,
                line={"color": colour, "width": 2},
                marker={"size": 5, "color": colour},
                hovertext=hover,
                hoverinfo="text",
                connectgaps=False,
            )
        )
        suppressed_x.extend(xs[sup.to_numpy()])
    _suppressed_marks(fig, list(dict.fromkeys(suppressed_x)))
    style(fig, title, kind=kind)
    fig.update_xaxes(type="category", tickangle=-45, nticks=13)
    if group is None:
        fig.update_layout(showlegend=bool(suppressed_x))
    return fig


def comparison_figure(table: pd.DataFrame, title: str) -> go.Figure:
    """Dot-and-whisker comparison of several proportions for two groups (e.g. programme against the
    whole system): ``indicator, group, value, ci_low, ci_high, numerator, denominator, suppressed``."""
    if table.empty:
        return empty_figure("No data for this period and filters")
    fig = go.Figure()
    groups = list(dict.fromkeys(table["group"]))
    for i, g in enumerate(groups):
        part = table[table["group"] == g]
        sup = part["suppressed"].fillna(False).astype(bool) | part["value"].isna()
        values = part["value"].where(~sup)
        colour = categorical_colour(i)
        hover = [hover_lines(r, "proportion", f"{r['indicator']}, {g}") for _, r in part.iterrows()]
        fig.add_trace(
            go.Scatter(
                y=part["indicator"],
                x=values,
                mode="markers",
                name=str(g),
                marker={"size": 11, "color": colour, "symbol": "circle" if i == 0 else "diamond"},
                error_x={
                    "type": "data",
                    "array": (part["ci_high"] - values),
                    "arrayminus": (values - part["ci_low"]),
                    "color": colour,
                    "thickness": 1.5,
                },
                hovertext=hover,
                hoverinfo="text",
            )
        )
        for ind in part.loc[sup, "indicator"]:
            fig.add_annotation(
                y=ind,
                x=1.0,
                xref="paper",
                xanchor="right",
                text=f"{g}: suppressed",
                showarrow=False,
                font={"size": 10, "color": SUPPRESSED},
                yshift=8 if i == 0 else -8,
            )
    style(fig, title, height=max(280, 80 + 40 * table["indicator"].nunique()))
    fig.update_xaxes(tickformat=".0%", range=[0, 1])
    fig.update_yaxes(autorange="reversed", automargin=True, type="category")
    return fig


def grouped_bar_figure(
    table: pd.DataFrame,
    category: str,
    group: str,
    title: str,
    *,
    group_order: Sequence[str] | None = None,
    colours: dict[str, str] | None = None,
    caption: str = "",
) -> go.Figure:
    """Horizontal bars of a proportion for each ``group`` within each ``category`` (e.g. with and without
    peer support, per outcome), with 95% interval whiskers. ``table`` is long: ``category, group, value,
    ci_low, ci_high, numerator, denominator, suppressed``. A suppressed bar is not drawn and its place is
    labelled "suppressed" (an empty one "no data"); ``caption`` is boxed above the plot."""
    if table.empty:
        return empty_figure("No data for this period and filters")
    categories = list(dict.fromkeys(table[category].astype(str)))
    groups = list(group_order) if group_order else list(dict.fromkeys(table[group].astype(str)))
    fig = go.Figure()
    for i, g in enumerate(groups):
        rows = table[table[group].astype(str) == g]
        part = rows.assign(_category=rows[category].astype(str)).drop_duplicates("_category")
        part = part.set_index("_category").reindex(categories)
        hidden = _suppressed_flags(part).to_numpy()
        empty = part["value"].isna().to_numpy() & ~hidden
        values = part["value"].astype(float).where(~hidden)
        colour = (colours or {}).get(g, categorical_colour(i))
        fig.add_trace(
            go.Bar(
                y=categories,
                x=values,
                orientation="h",
                name=g,
                marker={"color": colour},
                error_x={
                    "type": "data",
                    "array": part["ci_high"].astype(float) - values,
                    "arrayminus": values - part["ci_low"].astype(float),
                    "color": "#333",
                    "thickness": 1.2,
                },
                hovertext=[
                    hover_lines(row, "proportion", f"{c}, {g}")
                    for c, (_, row) in zip(categories, part.iterrows(), strict=True)
                ],
                hoverinfo="text",
            )
        )
        for c, is_hidden, is_empty in zip(categories, hidden, empty, strict=True):
            if is_hidden or is_empty:  # a bar with no value draws nothing: say why where it would be
                fig.add_annotation(
                    y=c,
                    x=0,
                    text=f"{g}: {'suppressed' if is_hidden else 'no data'}",
                    showarrow=False,
                    xanchor="left",
                    yshift=(len(groups) / 2 - i - 0.5) * -14,
                    font={"color": SUPPRESSED, "size": 10},
                )
    style(fig, title, height=max(260, 120 + 32 * len(categories) * len(groups)))
    if caption:
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
    fig.update_layout(barmode="group", bargap=0.3, bargroupgap=0.05)
    fig.update_xaxes(tickformat=".0%", range=[0, 1])
    fig.update_yaxes(autorange="reversed", automargin=True, type="category")
    return fig
