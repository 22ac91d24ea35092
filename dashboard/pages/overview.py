"""Overview: the headline indicators as tiles, each with its interval, its change on the previous
period and the SPC signal of its monthly series."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, dcc, html
from dash.exceptions import PreventUpdate

import charts as figures
from dashboard import auth, ids
from dashboard.errors import guarded
from dashboard.filters import FilterState
from dashboard.headlines import (  # the tile logic, shared with the board pack (re-exported here)
    FOLLOW_UP_DAYS,  # noqa: F401
    HEADLINE_METRICS,
    SIGNAL_TEXT,
    TileSummary,
    tile_period,  # noqa: F401
    tile_summary,
)
from dashboard.queries import DashboardData

PATH = "/"
NAME = "Overview"
#: The tables this page needs, and what on it is empty without them (a notice says so).
NEEDS: dict[str, str] = {
    "episodes": "every tile but peer contact share",
    "contacts": "the peer contact share tile",
}


def warm(data: DashboardData, state: FilterState) -> None:
    """Compute every tile of a view into the cache (the app does this for the default view at start-up,
    so the first visit does not wait for the people-based monthly series)."""
    for metric in HEADLINE_METRICS:
        tile_summary(data, metric, state)


def render_tile(summary: TileSummary, sparkline: Any) -> list:
    signal_text, signal_class = SIGNAL_TEXT.get(summary.signal, SIGNAL_TEXT["common_cause"])
    return [
        html.Div(summary.label, className="tile-label", title=summary.definition),
        html.Div(
            summary.value, className="tile-value" + (" suppressed" if summary.value == "suppressed" else "")
        ),
        html.Div(summary.interval, className="tile-interval"),
        html.Div(summary.counts, className="tile-counts"),
        html.Div(summary.benchmark, className="tile-benchmark small", title=summary.benchmark_note)
        if summary.benchmark
        else None,
        html.Div(summary.change, className=f"tile-change tone-{summary.change_tone}"),
        dcc.Graph(
            figure=sparkline,
            config={"displayModeBar": False, "staticPlot": False},
            className="tile-spark",
            style={"height": "70px"},
        ),
        html.Span(signal_text, className=f"tile-signal {signal_class}"),
        html.Div(summary.period_note, className="tile-note") if summary.period_note else None,
        html.Div(summary.cohort_note, className="tile-note") if summary.cohort_note else None,
    ]


def layout(data: DashboardData, **_: Any) -> Any:
    tiles = [
        dbc.Col(
            dbc.Card(
                dbc.CardBody(
                    dcc.Loading(html.Div(id=ids.tile(m), className="tile-body"), type="dot", delay_show=300)
                ),
                className="tile h-100",
            ),
            xs=12,
            sm=6,
            lg=4,
            className="mb-3 tile-col",
        )
        for m in HEADLINE_METRICS
    ]
    return html.Div(
        [
            html.H1("Overview", className="h4"),
            html.P(
                "Headline indicators for the chosen period and filters. "
                "Each tile compares the period with the "
                "one before it; the line shows the last 24 months with special-cause points coloured "
                "(blue improving, orange concerning).",
                className="text-muted small",
            ),
            dbc.Row(tiles, id=ids.OVERVIEW_TILES),
        ]
    )


def register(app: Dash, data: DashboardData) -> None:
    for metric in HEADLINE_METRICS:
        _register_tile(app, data, metric)


def _register_tile(app: Dash, data: DashboardData, metric: str) -> None:
    @app.callback(Output(ids.tile(metric), "children"), Input(ids.FILTER_STATE, "data"))
    @guarded(
        lambda alert: [html.Div(data.metric_info(metric).label, className="tile-label"), alert],
        where=f"tile {metric}",
    )
    def update(state_data: dict | None) -> list:
        if not state_data:
            raise PreventUpdate
        state = FilterState.from_store(state_data)
        with auth.purpose(auth.SYSTEM_TOTAL):  # headline totals: a service lead sees them too
            summary, series, chart = tile_summary(data, metric, state)
        info = data.metric_info(metric)
        spark = figures.sparkline_figure(series, chart, info.kind, info.direction)
        return render_tile(summary, spark)


CHARTS: dict = {}
