"""Relapse, as two definitions side by side: from drug tests (the trial definition of docs/metrics.md v2,
`relapse_tests` and `time_to_relapse`) and re-presentation after a successful completion (the English
proxy); then abstinence at review and the change in quality of life and recovery capital.

The drug-test section is shown only when the warehouse holds drug tests (an optional table of the
contract); without them the page says so (`NEEDS`) and shows the re-presentation charts alone."""

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
    "drug_tests": "relapse from drug tests (the trial definition)",
}

KM_CHOICES = [
    {"label": "All", "value": "all"},
    {"label": "Setting", "value": "setting"},
    {"label": "Substance group", "value": "substance_group"},
]
TESTS_KM_CHOICES = [
    {"label": "All", "value": "all"},
    {"label": "Programme", "value": "programme"},
    {"label": "Setting", "value": "setting"},
]

#: What each definition counts, as the page labels it.
TESTS_DEFINITION = (
    "Relapse from drug tests (trial definition, as in the X:BOT trial): episodes referred in the period, "
    "followed for 24 weeks from referral whether or not treatment started. A week counts as use when it "
    "has an opioid-positive test (opiates or fentanyl) or no valid opioid test; a relapse is 4 use weeks "
    "in a row within weeks 4–24 (weeks 1–3 are an induction grace period). A methadone or buprenorphine "
    "positive is not opioid use."
)
REPRESENTATION_DEFINITION = (
    "Re-presentation (the English relapse proxy): people whose latest successful completion was followed "
    "by a new referral within 182 days. It sees only those who come back to treatment here."
)

CHARTS: dict[str, Chart] = {
    c.name: c
    for c in (
        by_category_chart(
            "relapse_tests_by_programme",
            "relapse_tests",
            "Relapse by week 24 from drug tests, by programme",
            "programme",
            note="Episodes referred in the period with 24 weeks of follow-up by the data date, with 95% "
            "intervals; the dashed line is everyone shown. Lower is better.",
        ),
        km_chart(
            "time_to_relapse_km",
            "time_to_relapse",
            "Time from referral to relapse (drug tests)",
            ids.RELAPSE_TESTS_KM_BY,
            survival_label="not relapsed",
        ),
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


def _definition(title: str, text: str) -> html.Div:
    return html.Div([html.H2(title, className="h6 mb-1"), html.P(text, className="small mb-2")])


def has_drug_tests(data: DashboardData) -> bool:
    """Whether the warehouse holds any drug test (a count of the whole table, nothing record-level)."""
    return data.table_rows().get("drug_tests", 0) > 0


def layout(data: DashboardData, **_: Any) -> Any:
    km_control = km_split_control(ids.RELAPSE_KM_BY, KM_CHOICES, "all")
    representation = [
        chart_card(CHARTS["representation_6m_spc"], width=6),
        chart_card(CHARTS["time_to_representation_km"], controls=km_control, width=6),
    ]
    if has_drug_tests(data):
        tests_control = km_split_control(ids.RELAPSE_TESTS_KM_BY, TESTS_KM_CHOICES, "all")
        relapse = [
            dbc.Row(
                [
                    dbc.Col(_definition("From drug tests", TESTS_DEFINITION), lg=6),
                    dbc.Col(_definition("Re-presentation after completion", REPRESENTATION_DEFINITION), lg=6),
                ],
                className="relapse-definitions",
            ),
            dbc.Row([chart_card(CHARTS["relapse_tests_by_programme"], width=6), representation[0]]),
            dbc.Row(
                [
                    chart_card(CHARTS["time_to_relapse_km"], controls=tests_control, width=6),
                    representation[1],
                ]
            ),
        ]
    else:
        relapse = [
            _definition("Re-presentation after completion", REPRESENTATION_DEFINITION),
            dbc.Row(representation),
        ]
    return html.Div(
        [
            html.H1("Relapse", className="h4"),
            *relapse,
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
