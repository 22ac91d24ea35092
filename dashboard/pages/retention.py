"""Retention: how long people stay in treatment, 12-week retention and early unplanned exits over time,
continuity of care after prison release, and how episodes end, by programme."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Dash, html

import charts as figures
from dashboard import ids
from dashboard.components import Chart, chart_card
from dashboard.filters import FilterState
from dashboard.pages.common import km_chart, km_split_control, spc_chart
from dashboard.queries import DashboardData
from pipelines.metrics.labels import CODE_LABELS

PATH = "/retention"
NAME = "Retention"
#: The tables this page needs, and what on it is empty without them (a notice says so).
NEEDS: dict[str, str] = {"episodes": "every chart on this page"}

KM_CHOICES = [
    {"label": "All", "value": "all"},
    {"label": "Setting", "value": "setting"},
    {"label": "Programme", "value": "programme"},
    {"label": "Substance group", "value": "substance_group"},
]

OUTCOME_ORDER = ("successful", "incomplete", "transferred", "died")
OUTCOME_COLOURS = {
    "successful": figures.OKABE_ITO["blue"],
    "incomplete": figures.OKABE_ITO["orange"],
    "transferred": figures.OKABE_ITO["sky_blue"],
    "died": figures.OKABE_ITO["black"],
}


def exit_mix_table(data: DashboardData, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
    return data.exit_mix(state, by="programme").rename(
        columns={"unit": "programme", "label": "programme_name"}
    )


def exit_mix_figure(
    data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]
) -> go.Figure:
    return figures.mix_figure(
        t,
        "programme_name",
        "outcome_group",
        "",
        value="count",
        order=OUTCOME_ORDER,
        total="total",
        colours=OUTCOME_COLOURS,
        part_labels=CODE_LABELS["outcome_group"],
    )


CHARTS: dict[str, Chart] = {
    c.name: c
    for c in (
        km_chart(
            "time_in_treatment_km",
            "time_in_treatment",
            "Time in treatment until an unplanned exit",
            ids.RETENTION_KM_BY,
            survival_label="no unplanned exit yet",
        ),
        spc_chart(
            "retention_12wk_spc", "retention_12wk", "Retained in treatment at 12 weeks, by month of start"
        ),
        spc_chart(
            "early_unplanned_exit_spc",
            "early_unplanned_exit",
            "Unplanned exit before 12 weeks, by month of start",
        ),
        spc_chart(
            "continuity_of_care_spc",
            "continuity_of_care",
            "Continuity of care after prison release, by month of release",
            note="Releases from a prison programme referred on to community treatment, and the share whose "
            "person started a non-prison episode within 21 days (days 0–21). XmR chart, last 24 months: "
            "mean and process limits (mean ± 2.66 × mean moving range); coloured points are special "
            "cause. A month of release shows once it has its 21 days of follow-up.",
        ),
        Chart(
            "exit_mix",
            "How episodes ended, by programme (discharges in the period)",
            exit_mix_table,
            exit_mix_figure,
            metric="exit_reason_mix",
            note="Share of discharges in each outcome group, every group shown (empty ones as 0). "
            "Counts are perturbed (a shown 0 stands for 0 to 7); shares are of the perturbed totals.",
        ),
    )
}


def layout(data: DashboardData, **_: Any) -> Any:
    km_control = km_split_control(ids.RETENTION_KM_BY, KM_CHOICES, "setting")
    return html.Div(
        [
            html.H1("Retention", className="h4"),
            dbc.Row([chart_card(CHARTS["time_in_treatment_km"], controls=km_control)]),
            dbc.Row(
                [
                    chart_card(CHARTS["retention_12wk_spc"], width=6),
                    chart_card(CHARTS["early_unplanned_exit_spc"], width=6),
                ]
            ),
            dbc.Row([chart_card(CHARTS["continuity_of_care_spc"])]),
            dbc.Row([chart_card(CHARTS["exit_mix"])]),
        ]
    )


def register(app: Dash, data: DashboardData) -> None:
    """All this page's callbacks are chart callbacks (registered from CHARTS)."""
