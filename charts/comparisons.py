"""Observational comparisons drawn honestly: a difference between two groups with its 95% interval
(the peer-support landmark comparison, crude and case-mix-adjusted) as a dot-and-whisker chart around
zero, each row that has no number labelled with the reason."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from charts.style import (
    OKABE_ITO,
    SUPPRESSED,
    caption_banner,
    empty_figure,
    format_count,
    is_missing,
    style,
)

#: Marker and colour of each estimate (crude hollow, adjusted filled: readable in black and white).
ESTIMATE_MARKS = {
    "crude": {"symbol": "circle-open", "color": OKABE_ITO["black"]},
    "adjusted": {"symbol": "diamond", "color": OKABE_ITO["blue"]},
}


def _points(value: object) -> str:
    return "n/a" if is_missing(value) else f"{100 * float(value):+.1f} pts"  # type: ignore[arg-type]


def _share(value: object) -> str:
    return "n/a" if is_missing(value) else f"{float(value):.1%}"  # type: ignore[arg-type]


def difference_figure(table: pd.DataFrame, title: str = "", caption: str = "") -> go.Figure:
    """Differences exposed − unexposed, in percentage points, with 95% intervals, one row per
    ``label`` and ``estimate`` (crude, adjusted), around a line at 0 (no difference).

    ``table`` has ``label, estimate, exposed_n, unexposed_n, exposed_value, unexposed_value,
    difference, ci_low, ci_high`` and ``reason`` (why a row has no number: suppressed, not estimable,
    not yet followed up). A row without a difference is not drawn; its place says why. ``caption`` is
    boxed above the plot (e.g. "observational")."""
    if table.empty:
        return empty_figure("No comparison for this period and filters")
    rows = [
        f"{label} · {estimate}" for label, estimate in zip(table["label"], table["estimate"], strict=True)
    ]
    fig = go.Figure()
    for estimate, marks in ESTIMATE_MARKS.items():
        mine = table["estimate"] == estimate
        part = table[mine]
        if part.empty:
            continue
        shown = part["difference"].notna()
        y = [r for r, m in zip(rows, mine, strict=True) if m]
        values = (100 * part["difference"].astype(float)).where(shown)
        hover = [
            "<br>".join(
                [
                    f"<b>{r['label']}, {estimate}</b>",
                    f"difference: {_points(r['difference'])}",
                    f"95% interval: {_points(r['ci_low'])} to {_points(r['ci_high'])}",
                    f"with peer support: {_share(r['exposed_value'])} of {format_count(r['exposed_n'])}",
                    f"without: {_share(r['unexposed_value'])} of {format_count(r['unexposed_n'])}",
                ]
            )
            for _, r in part.iterrows()
        ]
        fig.add_trace(
            go.Scatter(
                y=y,
                x=values,
                mode="markers",
                name=estimate,
                marker={"size": 12, "symbol": marks["symbol"], "color": marks["color"], "line": {"width": 2}},
                error_x={
                    "type": "data",
                    "array": 100 * part["ci_high"].astype(float) - values,
                    "arrayminus": values - 100 * part["ci_low"].astype(float),
                    "color": marks["color"],
                    "thickness": 1.5,
                },
                hovertext=hover,
                hoverinfo="text",
            )
        )
        for row_label, (_, r) in zip(y, part.iterrows(), strict=True):
            if is_missing(r["difference"]):
                reason = str(r.get("reason") or "no estimate")
                fig.add_annotation(
                    y=row_label,
                    x=0,
                    text=f"no number: {reason[:110]}{'…' if len(reason) > 110 else ''}",
                    showarrow=False,
                    xanchor="left",
                    font={"size": 10, "color": SUPPRESSED},
                )
    fig.add_vline(x=0, line={"color": "#222", "width": 1})
    style(fig, title, height=max(260, 110 + 44 * len(rows)))
    caption_banner(fig, caption)
    fig.update_xaxes(title="difference, with − without peer support (percentage points)", zeroline=False)
    fig.update_yaxes(autorange="reversed", automargin=True, type="category", categoryarray=rows)
    return fig
