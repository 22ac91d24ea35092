"""Relapse: re-presentation after a successful completion, how soon it happens, abstinence at review,
and change in quality of life and recovery capital."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import Dash, html

from dashboard import ids
from dashboard.components import Chart, chart_card
from dashboard.pages.common import by_category_chart, km_chart, km_split_control, spc_chart
from dashboard.queries import DashboardData

PATH = "/relapse"
NAME = "Relapse"
#: The tables this page needs, and what on it is empty without them (a notice says so).
NEEDS: dict[str, str] = {
    "episodes": "every chart on this page",
    "assessments": "abstinence at review and the change in quality of life and recovery capital",
}

KM_CHOICES = [
    {"label": "All", "value": "all"},
    {"label": "Setting", "value": "setting"},
    {"label": "Substance group", "value": "substance_group"},
]

CHARTS: dict[str, Chart] = {
    c.name: c
    for c in (
        spc_chart(
            "representation_6m_spc",
            "representation_6m",
            "Re-presentation within 6 months of a successful completion, by month of completion",
            note="A relapse proxy: people whose latest successful discharge in the month was followed by "
            "a new referral within 182 days. Only months with 182 days of follow-up have a value.",
        ),
        km_chart(
            "time_to_representation_km",
            "time_to_representation",
            "Time from a successful completion to re-presentation",
            ids.RELAPSE_KM_BY,
            survival_label="not re-presented",
        ),
        by_category_chart(
            "abstinence_by_substance",
            "abstinence_at_review",
            "Abstinent from the primary substance at review, by substance group",
            "substance_group",
        ),
        by_category_chart(
            "qol_change_by_setting",
            "qol_change",
            "Change in quality of life (TOP, 0–20) from start to review, by setting",
            "setting",
            note="Mean change with 95% interval over episodes with both scores; above 0 is better.",
        ),
        by_category_chart(
            "recovery_capital_change_by_setting",
            "recovery_capital_change",
            "Change in recovery capital (BARC-10) from start to review, by setting",
            "setting",
            note="Mean change with 95% interval over episodes with both scores; above 0 is better.",
        ),
    )
}


def layout(data: DashboardData, **_: Any) -> Any:
    km_control = km_split_control(ids.RELAPSE_KM_BY, KM_CHOICES, "all")
    return html.Div(
        [
            html.H1("Relapse", className="h4"),
            dbc.Row(
                [
                    chart_card(CHARTS["representation_6m_spc"], width=6),
                    chart_card(CHARTS["time_to_representation_km"], controls=km_control, width=6),
                ]
            ),
            dbc.Row([chart_card(CHARTS["abstinence_by_substance"], width=12)]),
            dbc.Row(
                [
                    chart_card(CHARTS["qol_change_by_setting"], width=6),
                    chart_card(CHARTS["recovery_capital_change_by_setting"], width=6),
                ]
            ),
        ]
    )


def register(app: Dash, data: DashboardData) -> None:
    """All this page's callbacks are chart callbacks (registered from CHARTS)."""
