"""Chart recipes several pages share: an SPC chart of a metric, Kaplan-Meier curves by a dimension,
a metric by a category as bars. Each returns a `Chart` whose table is the CSV behind it."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import html

import charts as figures
from dashboard.components import Chart
from dashboard.filters import DIMENSION_LABELS, FilterState
from dashboard.queries import DashboardData
from pipelines.stats import xmr

SPC_COLUMNS = ["mean", "upper", "lower", "special_cause", "rule", "variation"]


def missing_notice(data: DashboardData, needs: dict[str, str]) -> dbc.Alert | None:
    """A notice naming each table this page needs that the warehouse holds no rows of, and what on the
    page it leaves empty (`needs`: table → what needs it), or None when nothing is missing."""
    rows = data.table_rows()
    missing = [(table, what) for table, what in needs.items() if rows.get(table, 0) == 0]
    if not missing:
        return None
    sentences = [
        f"This warehouse holds no {table.replace('_', ' ')}, so {what} has nothing to show."
        for table, what in missing
    ]
    return dbc.Alert(
        [
            html.Strong("Missing data. "),
            " ".join(sentences),
            " The ",
            html.A("Data page", href="/data"),
            " shows what each load loaded and rejected.",
        ],
        color="warning",
        className="small py-2 missing-data",
    )


def spc_table(
    data: DashboardData, metric: str, state: FilterState, extra_filters: dict[str, list[str]] | None = None
) -> pd.DataFrame:
    """The monthly series of ``metric`` with its XmR columns (mean, limits, special cause)."""
    return with_xmr(data, metric, data.monthly(metric, state, extra_filters=extra_filters))


def with_xmr(data: DashboardData, metric: str, series: pd.DataFrame) -> pd.DataFrame:
    """``series`` (a month or quarter a row) with the XmR columns of its values, in ``metric``'s
    direction of improvement."""
    chart = xmr(series["value"].astype(float).to_numpy(), improvement=data.metric_info(metric).direction)
    for column in SPC_COLUMNS:
        series[column] = chart[column].to_numpy()
    return series


def spc_from_table(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return table.drop(columns=SPC_COLUMNS), table[SPC_COLUMNS].reset_index(drop=True)


def metric_spc_figure(
    data: DashboardData, metric: str, series: pd.DataFrame, chart: pd.DataFrame
) -> go.Figure:
    """The XmR chart of ``metric``'s series, drawn with its kind, direction and unit (pages and the pack)."""
    info = data.metric_info(metric)
    unit = info.unit if info.kind == "continuous" else ""
    return figures.spc_figure(series, chart.reset_index(drop=True), "", info.kind, info.direction, unit)


def spc_chart(
    name: str, metric: str, title: str, note: str = "", programme_control: str | None = None
) -> Chart:
    """An XmR chart of a metric's last 24 months (optionally for the programme held in a page store)."""
    controls = ((programme_control, "data"),) if programme_control else ()

    def extra(params: dict[str, Any]) -> dict[str, list[str]] | None:
        if programme_control and params.get(programme_control):
            return {"programme": [params[programme_control]]}
        return None

    def table(data: DashboardData, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
        return spc_table(data, metric, state, extra(params))

    def figure(data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]) -> go.Figure:
        return metric_spc_figure(data, metric, *spc_from_table(t))

    return Chart(
        name=name,
        title=title,
        table=table,
        figure=figure,
        metric=metric,
        controls=controls,
        note=note
        or "XmR chart, last 24 months: mean and process limits (mean ± 2.66 × mean moving "
        "range); coloured points are special cause.",
    )


def km_split_control(control_id: str, choices: list[dict[str, str]], value: str) -> Any:
    """The "Split by" radio buttons that choose a Kaplan–Meier chart's breakdown."""
    return html.Div(
        [
            html.Span("Split by: ", className="small me-2"),
            dbc.RadioItems(id=control_id, options=choices, value=value, inline=True, className="small"),
        ],
        className="d-flex align-items-center",
    )


def km_chart(name: str, metric: str, title: str, by_control: str, survival_label: str) -> Chart:
    """Kaplan-Meier curves of a survival metric, split by the dimension chosen in ``by_control``."""

    def by(params: dict[str, Any]) -> list[str]:
        choice = params.get(by_control)
        return [choice] if choice and choice != "all" else []

    def table(data: DashboardData, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
        return data.named(data.metric_for(metric, state, by=by(params)))

    def figure(data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]) -> go.Figure:
        dims = by(params)
        group = None
        if dims:
            group = f"{dims[0]}_name" if f"{dims[0]}_name" in t else dims[0]
        shown = t[~t["suppressed"]]
        return figures.km_figure(shown, group, "", survival_label=survival_label)

    return Chart(
        name=name,
        title=title,
        table=table,
        figure=figure,
        metric=metric,
        controls=((by_control, "value"),),
        note="Kaplan–Meier estimate with 95% band, in 28-day steps from perturbed numbers at risk and "
        "events; the tail from the first step with fewer than 10 at risk is cut, and groups with fewer "
        "than 20 at the start are not drawn.",
    )


def by_category_chart(
    name: str, metric: str, title: str, category: str, note: str = "", extra_control: str | None = None
) -> Chart:
    """A metric by one breakdown dimension as bars with intervals, with the system value marked."""

    def extra(params: dict[str, Any]) -> dict[str, list[str]] | None:
        if extra_control and params.get(extra_control):
            return {"programme": [params[extra_control]]}
        return None

    def table(data: DashboardData, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
        return data.named(data.metric_for(metric, state, by=[category], extra_filters=extra(params)))

    def figure(data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]) -> go.Figure:
        info = data.metric_info(metric)
        system = data.metric_for(metric, state, extra_filters=extra(params)).iloc[0]
        label_col = f"{category}_name" if f"{category}_name" in t else category
        return figures.proportion_bar_figure(
            t,
            category,
            "",
            kind=info.kind,
            unit=info.unit if info.kind == "continuous" else "",
            system_value=None if bool(system["suppressed"]) else system["value"],
            label_col=label_col,
        )

    controls = ((extra_control, "data"),) if extra_control else ()
    return Chart(
        name=name,
        title=title,
        table=table,
        figure=figure,
        metric=metric,
        controls=controls,
        note=note
        or f"By {DIMENSION_LABELS.get(category, category).lower()}, with 95% intervals; "
        "the dashed line is the value for everyone shown.",
    )
