"""Building blocks the pages share: the chart card (graph, CSV and PNG buttons, message slot) and the
wiring that fills a chart from the filter state and downloads the table behind it.

A `Chart` pairs a table function (the aggregated DataFrame behind the chart, which is also its CSV)
with a figure function. The same table function serves the chart and its download, so the CSV is
exactly what the chart shows.

Downloads leave the app labelled (`charts.export`): the PNG and SVG buttons draw the chart in the
browser with the export labels the server put in the figure's ``layout.meta`` (title and one-line
definition, period, filters, data as at, disclosure note, product), named ``<chart>_<period>``; the
CSV button downloads the table with counts as whole numbers and rates to 4 decimals, and beside it its
CSV-on-the-Web metadata (``<file>.csv-metadata.json``) with the same labels and each column. The
modebar has no image button of its own, so no image leaves unlabelled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import MATCH, ClientsideFunction, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

import charts as figures
from charts.export import ExportLabels, export_filename, export_layout, filter_labels
from dashboard import ids
from dashboard.errors import guarded
from dashboard.filters import DIMENSION_LABELS, FilterState
from dashboard.periods import DataSpan, period_label, period_slug
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
    #: The metric the chart shows (its definition labels exports); ``metric_control`` names the page
    #: control whose value is the metric when the page lets people choose it.
    metric: str = ""
    metric_control: str = ""

    def render(self, data: DashboardData, state: FilterState, params: dict[str, Any]) -> go.Figure:
        table = self.table(data, state, params)
        return self.figure(data, table, state, params)

    def metric_of(self, params: dict[str, Any]) -> str:
        chosen = params.get(self.metric_control) if self.metric_control else None
        return str(chosen) if chosen else self.metric

    def export_name(self, params: dict[str, Any]) -> str:
        """The chart's name in file names, with the chosen indicator when the page offers a choice."""
        return f"{self.name}_{self.metric_of(params)}" if self.metric_control else self.name


def export_labels(
    data: DashboardData, chart: Chart, state: FilterState, params: dict[str, Any]
) -> ExportLabels:
    """What a download of ``chart`` for the view ``state`` says about itself (`charts.export`)."""
    metric = chart.metric_of(params)
    metrics = data.metrics()
    title = chart.title
    if chart.metric_control and metric in metrics:
        title = f"{chart.title}: {metrics[metric].label}"
    definition = metrics[metric].definition if metric in metrics else (chart.note or chart.title)
    return view_labels(data, state, title, definition)


def view_filters(data: DashboardData, state: FilterState) -> tuple[str, ...]:
    """The view's active filters as a reader says them ("Setting: Community")."""
    return filter_labels(state.metric_filters(), data.labels(), DIMENSION_LABELS)


def view_labels(
    data: DashboardData, state: FilterState, title: str, definition: str, notes: tuple[str, ...] = ()
) -> ExportLabels:
    """The export labels of anything drawn for the view ``state`` (a dashboard download, a board-pack
    figure): title, definition, the period as the filter line says it, data as at, the filters."""
    return ExportLabels(
        title=title,
        definition=definition,
        period=period_label(state.period, DataSpan.of(*data.dates())),
        as_at=data.as_of(),
        filters=view_filters(data, state),
        notes=notes,
    )


def export_basename(data: DashboardData, chart: Chart, state: FilterState, params: dict[str, Any]) -> str:
    """``<chart>_<period>`` (no extension), e.g. ``retention_12wk_spc_fy2025-26``."""
    slug = period_slug(state.period, DataSpan.of(*data.dates()))
    return export_filename(chart.export_name(params), slug, "x")[:-2]


def with_export_meta(
    figure: go.Figure, data: DashboardData, chart: Chart, state: FilterState, params: dict[str, Any]
) -> go.Figure:
    """``figure`` carrying, in ``layout.meta.export``, the layout its PNG and SVG downloads are drawn
    with (`charts.export.export_layout`) and their file name."""
    labels = export_labels(data, chart, state, params)
    layout = export_layout(figure, labels)
    figure.update_layout(
        meta={
            "export": {
                "layout": layout,
                "filename": export_basename(data, chart, state, params),
                "width": layout.get("width"),
                "height": layout.get("height"),
            }
        }
    )
    return figure


def graph_config(filename: str) -> dict[str, Any]:
    """Plotly modebar: no logo, no editing tools, and no image button (the card's PNG and SVG buttons
    download the chart with its export labels)."""
    return {
        "displaylogo": False,
        "responsive": True,
        "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d", "toImage"],
    }


def chart_card(chart: Chart, controls: Any = None, width: int = 12) -> dbc.Col:
    """A card with the chart's title, its download buttons, optional controls, the graph and a
    message slot."""
    header = html.Div(
        [
            html.H2(chart.title, className="h6 mb-0 me-auto"),
            *(
                dbc.Button(
                    label,
                    id=ids.chart(kind, chart.name),
                    size="sm",
                    color="secondary",
                    outline=True,
                    className=f"{margin} no-print",
                    title=title,
                )
                for label, kind, margin, title in (
                    ("CSV", ids.CHART_CSV, "ms-2", "Download the table behind this chart"),
                    ("PNG", ids.CHART_PNG, "ms-1", "Download this chart as an image, labelled"),
                    ("SVG", ids.CHART_SVG, "ms-1", "Download this chart as a vector image, labelled"),
                )
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
        dcc.Download(id=ids.chart(ids.CHART_SIDECAR, chart.name)),
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
        figure = with_export_meta(chart.render(data, state, params), data, chart, state, params)
        return figure, graph_style(figure), None, params


def csv_filename(data: DashboardData, chart: Chart, state: FilterState, params: dict[str, Any]) -> str:
    """``<chart>_<period>.csv``, e.g. ``exit_mix_fy2025-26.csv``."""
    return export_basename(data, chart, state, params) + ".csv"


def csv_table(data: DashboardData, chart: Chart, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
    """The aggregated table behind a chart as its CSV holds it: the data-as-at date, the period and the
    filters as columns (so a file read later still says what it shows), then the table with counts as
    whole numbers and rates to 4 decimals (`charts.export.rounded_for_csv`)."""
    table = figures.rounded_for_csv(chart.table(data, state, params))
    table.insert(0, "data_as_at", data.as_of().isoformat())
    table.insert(1, "period_start", state.start.isoformat())
    table.insert(2, "period_end", state.end.isoformat())
    filters = "; ".join(f"{k}={'|'.join(v)}" for k, v in state.metric_filters().items())
    table.insert(3, "filters", filters or "none")
    return table


def chart_csv(data: DashboardData, chart: Chart, state: FilterState, params: dict[str, Any]) -> str:
    """The CSV text of `csv_table`."""
    return csv_table(data, chart, state, params).to_csv(index=False)


CSV_COLUMNS = {
    "data_as_at": "the extract date of the data",
    "period_start": "first day of the period",
    "period_end": "last day of the period",
    "filters": "the filters of the view, as codes (dimension=value; 'none' for all)",
    "numerator": "perturbed count meeting the indicator",
    "denominator": "perturbed count in the cohort",
    "value": "the rate, from the perturbed counts",
    "ci_low": "lower bound of the 95% Wilson interval",
    "ci_high": "upper bound of the 95% Wilson interval",
    "suppressed": "true when the cell is hidden by disclosure control (its numbers are then blank)",
    "suppressed_reason": "why the cell is hidden",
}


def chart_csv_metadata(data: DashboardData, chart: Chart, state: FilterState, params: dict[str, Any]) -> str:
    """The CSV's sidecar (`charts.export.csv_metadata`) as JSON text."""
    import json

    table = csv_table(data, chart, state, params)
    labels = export_labels(data, chart, state, params)
    name = csv_filename(data, chart, state, params)
    return json.dumps(figures.csv_metadata(name, table, labels, CSV_COLUMNS), indent=2, ensure_ascii=False)


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
        return dcc.send_string(content, csv_filename(data, chart, state, params), type="text/csv"), None

    @app.callback(
        Output(ids.chart(ids.CHART_SIDECAR, MATCH), "data"),
        Input(ids.chart(ids.CHART_CSV, MATCH), "n_clicks"),
        State(ids.FILTER_STATE, "data"),
        State(ids.chart(ids.CHART_SPEC, MATCH), "data"),
        prevent_initial_call=True,
    )
    @guarded(lambda alert: no_update, where="csv metadata download")
    def download_metadata(n_clicks: int | None, state_data: dict | None, spec: dict | None) -> Any:
        """The CSV's metadata sidecar, downloaded with it by the same click."""
        if not n_clicks or not state_data:
            raise PreventUpdate
        chart = charts[ctx.triggered_id["chart"]]
        params = {cid: (spec or {}).get(cid) for cid, _ in chart.controls}
        state = FilterState.from_store(state_data)
        name = csv_filename(data, chart, state, params) + "-metadata.json"
        content = chart_csv_metadata(data, chart, state, params)
        return dcc.send_string(content, name, type="application/json")

    # Drawn in the browser from the chart on screen and the labels in its layout.meta
    # (dashboard/assets/export.js), so an image costs the server nothing.
    for kind, function in ((ids.CHART_PNG, "download_png"), (ids.CHART_SVG, "download_svg")):
        app.clientside_callback(
            ClientsideFunction(namespace="rosc", function_name=function),
            Output(ids.chart(kind, MATCH), "n_clicks"),
            Input(ids.chart(kind, MATCH), "n_clicks"),
            State(ids.chart(kind, MATCH), "id"),
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
