"""Building blocks the pages share: the chart card (graph, CSV and PNG buttons, message slot) and the
wiring that fills a chart from the filter state and downloads the table behind it.

A `Chart` pairs a table function (the aggregated DataFrame behind the chart, which is also its CSV)
with a figure function. The same table function serves the chart and its download, so the CSV is
exactly what the chart shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import MATCH, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

import charts as figures
from dashboard import ids
from dashboard.errors import guarded
from dashboard.filters import FilterState
from dashboard.queries import DashboardData

TableFn = Callable[[DashboardData, FilterState, dict[str, Any]], pd.DataFrame]
FigureFn = Callable[[DashboardData, pd.DataFrame, FilterState, dict[str, Any]], go.Figure]


@dataclass(frozen=True)
class Chart:
    """One chart: its name (unique in the app), title, table and figure functions, and the page
    controls it reads, as (component id, property) pairs whose values reach both functions as
    ``params[component id]``."""

    name: str
    title: str
    table: TableFn
    figure: FigureFn
    controls: tuple[tuple[str, str], ...] = field(default=())
    note: str = ""

    def render(self, data: DashboardData, state: FilterState, params: dict[str, Any]) -> go.Figure:
        table = self.table(data, state, params)
        return self.figure(data, table, state, params)


def graph_config(filename: str) -> dict[str, Any]:
    """Plotly modebar: PNG download named after the chart, no logo, no editing tools."""
    return {
        "displaylogo": False,
        "responsive": True,
        "toImageButtonOptions": {
            "format": "png",
            "filename": filename,
            "scale": 2,
            "width": 1100,
            "height": 520,
        },
        "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
    }


def chart_card(chart: Chart, controls: Any = None, width: int = 12) -> dbc.Col:
    """A card with the chart's title, its download buttons, optional controls, the graph and a
    message slot."""
    header = html.Div(
        [
            html.H2(chart.title, className="h6 mb-0 me-auto"),
            dbc.Button(
                "CSV",
                id=ids.chart(ids.CHART_CSV, chart.name),
                size="sm",
                color="secondary",
                outline=True,
                className="ms-2 no-print",
                title="Download the table behind this chart",
            ),
            dbc.Button(
                "PNG",
                id=ids.chart(ids.CHART_PNG, chart.name),
                size="sm",
                color="secondary",
                outline=True,
                className="ms-1 no-print",
                title="Download this chart as an image",
            ),
        ],
        className="d-flex align-items-center",
    )
    body = [
        html.Div(controls, className="mb-2 no-print") if controls is not None else None,
        html.Div(id=ids.chart(ids.CHART_MESSAGE, chart.name)),
        dcc.Loading(
            dcc.Graph(
                id=ids.chart(ids.CHART_GRAPH, chart.name),
                config=graph_config(chart.name),
                figure=figures.empty_figure("Loading…"),
                className="chart-graph",
                responsive=True,
                style=graph_style(None),
            ),
            type="dot",
            delay_show=300,
        ),
        html.P(chart.note, className="text-muted small mb-0") if chart.note else None,
        dcc.Download(id=ids.chart(ids.CHART_DOWNLOAD, chart.name)),
        # The chart's control values as last drawn (choices, never records), for its CSV download.
        dcc.Store(id=ids.chart(ids.CHART_SPEC, chart.name), data={}),
    ]
    return dbc.Col(
        dbc.Card(
            [dbc.CardHeader(header), dbc.CardBody([b for b in body if b is not None])],
            className="chart-card h-100",
        ),
        lg=width,
        className="mb-3",
    )


def graph_style(figure: go.Figure | None) -> dict[str, str]:
    """The graph's box takes the figure's height (the graph itself is responsive in width)."""
    height = figure.layout.height if figure is not None and figure.layout.height else 340
    return {"height": f"{int(height)}px"}


def _params(chart: Chart, values: Sequence[Any]) -> dict[str, Any]:
    return {cid: v for (cid, _), v in zip(chart.controls, values, strict=True)}


def register_chart(app: Dash, data: DashboardData, chart: Chart) -> None:
    """Fill the chart whenever the filters or its controls change."""

    def fallback(alert: dbc.Alert) -> tuple:
        return figures.empty_figure("This chart could not be drawn"), graph_style(None), alert, no_update

    @app.callback(
        Output(ids.chart(ids.CHART_GRAPH, chart.name), "figure"),
        Output(ids.chart(ids.CHART_GRAPH, chart.name), "style"),
        Output(ids.chart(ids.CHART_MESSAGE, chart.name), "children"),
        Output(ids.chart(ids.CHART_SPEC, chart.name), "data"),
        Input(ids.FILTER_STATE, "data"),
        *[Input(cid, prop) for cid, prop in chart.controls],
    )
    @guarded(fallback, where=f"chart {chart.name}")
    def update(state_data: dict | None, *control_values: Any) -> tuple:
        if not state_data:
            raise PreventUpdate
        state = FilterState.from_store(state_data)
        params = _params(chart, control_values)
        figure = chart.render(data, state, params)
        return figure, graph_style(figure), None, params


def csv_filename(name: str, state: FilterState) -> str:
    return f"{name}_{state.start.isoformat()}_{state.end.isoformat()}.csv"


def chart_csv(data: DashboardData, chart: Chart, state: FilterState, params: dict[str, Any]) -> str:
    """The CSV of the aggregated table behind a chart, with the data-as-at date and filters as columns
    so a file read later still says what it shows."""
    table = chart.table(data, state, params).copy()
    table.insert(0, "data_as_at", data.as_of().isoformat())
    table.insert(1, "period_start", state.start.isoformat())
    table.insert(2, "period_end", state.end.isoformat())
    filters = "; ".join(f"{k}={'|'.join(v)}" for k, v in state.metric_filters().items())
    table.insert(3, "filters", filters or "none")
    return table.to_csv(index=False)


def register_downloads(app: Dash, data: DashboardData, charts: dict[str, Chart]) -> None:
    """One pattern-matching callback serves every chart's CSV button; PNG is drawn in the browser
    from the chart itself (Plotly's downloadImage), so it costs the server nothing."""

    def fallback(alert: dbc.Alert) -> tuple:
        return no_update, alert

    @app.callback(
        Output(ids.chart(ids.CHART_DOWNLOAD, MATCH), "data"),
        Output(ids.chart(ids.CHART_MESSAGE, MATCH), "children", allow_duplicate=True),
        Input(ids.chart(ids.CHART_CSV, MATCH), "n_clicks"),
        State(ids.FILTER_STATE, "data"),
        State(ids.chart(ids.CHART_SPEC, MATCH), "data"),
        prevent_initial_call=True,
    )
    @guarded(fallback, where="csv download")
    def download(n_clicks: int | None, state_data: dict | None, spec: dict | None) -> tuple:
        if not n_clicks or not state_data:
            raise PreventUpdate
        chart = charts[ctx.triggered_id["chart"]]
        params = {cid: (spec or {}).get(cid) for cid, _ in chart.controls}
        state = FilterState.from_store(state_data)
        content = chart_csv(data, chart, state, params)
        return dcc.send_string(content, csv_filename(chart.name, state), type="text/csv"), None

    app.clientside_callback(
        """
        function(n, id) {
            if (!n) { return window.dash_clientside.no_update; }
            // Dash writes a dict id as JSON with sorted keys.
            const graph = document.getElementById(JSON.stringify({chart: id.chart, type: 'chart-graph'}));
            const plot = graph ? graph.querySelector('.js-plotly-plot') : null;
            if (plot && window.Plotly) {
                window.Plotly.downloadImage(plot, {format: 'png', filename: id.chart, scale: 2,
                                                   width: 1100, height: 520});
            }
            return window.dash_clientside.no_update;
        }
        """,
        Output(ids.chart(ids.CHART_PNG, MATCH), "n_clicks"),
        Input(ids.chart(ids.CHART_PNG, MATCH), "n_clicks"),
        State(ids.chart(ids.CHART_PNG, MATCH), "id"),
        prevent_initial_call=True,
    )


def html_table(
    frame: pd.DataFrame,
    table_id: str | None = None,
    formats: dict[str, Callable] | None = None,
    max_rows: int = 200,
) -> dbc.Table:
    """A compact, printable HTML table of a small aggregated frame (no record-level data)."""
    formats = formats or {}

    def cell(column: str, value: Any) -> Any:
        if column in formats:
            return formats[column](value)
        if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
            return ""
        if isinstance(value, float):
            return f"{value:,.1f}"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return str(value)

    head = html.Thead(html.Tr([html.Th(str(c).replace("_", " ")) for c in frame.columns]))
    rows = [
        html.Tr([html.Td(cell(c, v)) for c, v in zip(frame.columns, record, strict=True)])
        for record in frame.head(max_rows).itertuples(index=False, name=None)
    ]
    kwargs = {"id": table_id} if table_id else {}
    return dbc.Table(
        [head, html.Tbody(rows)],
        bordered=False,
        hover=True,
        striped=True,
        size="sm",
        responsive=True,
        className="data-table mb-0",
        **kwargs,
    )
