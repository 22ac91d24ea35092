"""Bar and line charts of proportions and mixes: a proportion by category, a mix of categories per unit,
trend lines, a programme against the system, and grouped bars (with and without peer support)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from charts.style import (
    OKABE_ITO,
    SUPPRESSED,
    SUPPRESSED_NOTE,
    caption_banner,
    categorical_colour,
    empty_figure,
    format_value,
    hover_lines,
    is_missing,
    rgba,
    style,
    suppressed_flags,
    suppressed_marks,
)


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
    if system_value is not None and not is_missing(system_value):
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
    part_labels: Mapping[str, str] | None = None,
    show_n: bool = True,
) -> go.Figure:
    """Stacked bars of the mix of ``part`` within each ``category`` (as shares when ``percent``).

    ``table`` is long: ``category, part, value`` and optionally ``suppressed`` and a ``total`` column
    (the category's published total). With a total, shares are of it and the suppressed part of each
    bar is drawn as a grey "suppressed" segment, so no hidden share looks like zero and the shown
    shares are not inflated, and (with ``show_n``) each bar's label carries its n. Without one, a
    category with hidden cells is marked with "*" and its hidden cells are named on hover; a category
    with every cell hidden is labelled "suppressed". Legend entries are ``part_labels`` of the part's
    codes, listed in the order the segments are stacked (left to right, or bottom to top).
    """
    if table.empty:
        return empty_figure("No data for this period and filters")
    t = table.copy()
    t["suppressed"] = suppressed_flags(t)
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
    if total and show_n:
        labels = [
            f"{lab} (n suppressed)" if is_missing(n) else f"{lab} (n={n:,.0f})"
            for lab, n in zip(labels, totals, strict=True)
        ]
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
            elif is_missing(cnt):
                hover.append(f"<b>{c}</b><br>{p}: none")
            else:
                pct = f" ({share:.1%})" if percent and not is_missing(share) else ""
                hover.append(f"<b>{c}</b><br>{p}: {cnt:,.0f}{pct}")
        colour = (colours or {}).get(p, categorical_colour(i))
        # A hidden cell is drawn with no width (NaN would break Plotly's stacking); its hover and the
        # hatched "suppressed" segment or the "*" say it is hidden.
        fig.add_trace(
            go.Bar(
                name=(part_labels or {}).get(str(p), str(p)),
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
    # Plotly lists stacked bars' legend in reverse (to match a vertical stack read from the top); a
    # horizontal stack is read left to right, so its legend runs in the same order, across the top.
    legend = (
        {"traceorder": "normal", "orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0}
        if horizontal
        else {"traceorder": "reversed"}
    )
    fig.update_layout(barmode="stack", bargap=0.25, legend=legend)
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
    suppressed_why: list = []
    for i, g in enumerate(groups):
        part = table if g is None else table[table[group] == g]
        xs = part[x].astype(str)
        sup = suppressed_flags(part)
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
                    fillcolor=rgba(colour, 0.15),
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
        why = part["suppressed_reason"] if "suppressed_reason" in part else pd.Series(None, index=part.index)
        suppressed_why.extend(why.to_numpy()[sup.to_numpy()])
    suppressed_marks(fig, suppressed_x, suppressed_why)
    style(fig, title, kind=kind)
    fig.update_xaxes(type="category", tickangle=-45, nticks=13)
    if group is None:
        fig.update_layout(showlegend=bool(suppressed_x))
    return fig


def comparison_figure(table: pd.DataFrame, title: str) -> go.Figure:
    """Dot-and-whisker comparison of several proportions for two groups (e.g. programme against the
    whole system): ``indicator, group, value, ci_low, ci_high, numerator, denominator, suppressed``.
    A row without a value is not drawn and labelled "suppressed" (hidden by disclosure control) or
    "no value" (nothing to show, e.g. no case-mix model)."""
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
        hidden = part["suppressed"].fillna(False).astype(bool)
        for ind, is_hidden in zip(part.loc[sup, "indicator"], hidden[sup], strict=True):
            fig.add_annotation(
                y=ind,
                x=1.0,
                xref="paper",
                xanchor="right",
                text=f"{g}: {'suppressed' if is_hidden else 'no value'}",
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
        hidden = suppressed_flags(part).to_numpy()
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
    caption_banner(fig, caption)
    fig.update_layout(barmode="group", bargap=0.3, bargroupgap=0.05)
    fig.update_xaxes(tickformat=".0%", range=[0, 1])
    fig.update_yaxes(autorange="reversed", automargin=True, type="category")
    return fig
