"""Support mix: professional (by training) and peer-led (by experience) support, over time and by
programme, and how many people peers reach."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Dash, html

from dashboard import figures
from dashboard.components import Chart, chart_card
from dashboard.filters import FilterState
from dashboard.pages.common import by_category_chart
from dashboard.queries import DashboardData

PATH = "/support-mix"
NAME = "Support mix"

DELIVERY_COLOURS = {"professional": figures.PROFESSIONAL, "peer": figures.PEER}


def split_by_delivery(table: pd.DataFrame, category: str, unit: str = "contacts") -> pd.DataFrame:
    """Long table of peer and professional amounts per category from a peer-share metric table
    (numerator = peer, denominator = all); a suppressed row hides both parts."""
    rows = []
    for _, r in table.iterrows():
        sup = bool(r["suppressed"])
        num = np.nan if sup or pd.isna(r["numerator"]) else float(r["numerator"])
        den = np.nan if sup or pd.isna(r["denominator"]) else float(r["denominator"])
        rows.append(
            {category: r[category], "delivered_by": "professional", unit: den - num, "suppressed": sup}
        )
        rows.append({category: r[category], "delivered_by": "peer", unit: num, "suppressed": sup})
    return pd.DataFrame(rows, columns=[category, "delivered_by", unit, "suppressed"])


def contacts_monthly_table(data: DashboardData, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
    series = data.monthly("peer_contact_share", state)
    return split_by_delivery(series, "period")


def contacts_monthly_figure(
    data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]
) -> go.Figure:
    return figures.mix_figure(
        t,
        "period",
        "delivered_by",
        "",
        value="contacts",
        order=("professional", "peer"),
        colours=DELIVERY_COLOURS,
        horizontal=False,
        percent=False,
    )


def minutes_trend_table(data: DashboardData, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
    return data.monthly("peer_minutes_share", state)


def minutes_trend_figure(
    data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]
) -> go.Figure:
    return figures.trend_lines_figure(
        t, "period", None, "", kind="proportion", colours={"None": figures.PEER}
    )


def contacts_by_programme_table(
    data: DashboardData, state: FilterState, params: dict[str, Any]
) -> pd.DataFrame:
    t = data.metric_for("peer_contact_share", state, by=["programme"])
    names = data.labels()["programme"]
    long = split_by_delivery(t, "programme")
    long.insert(1, "programme_name", long["programme"].map(lambda v: names.get(str(v), v)))
    return long.sort_values(["programme_name", "delivered_by"], kind="stable").reset_index(drop=True)


def contacts_by_programme_figure(
    data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]
) -> go.Figure:
    return figures.mix_figure(
        t,
        "programme_name",
        "delivered_by",
        "",
        value="contacts",
        order=("professional", "peer"),
        colours=DELIVERY_COLOURS,
    )


CHARTS: dict[str, Chart] = {
    c.name: c
    for c in (
        Chart(
            "contacts_by_month",
            "Attended contacts by who delivered them, by month",
            contacts_monthly_table,
            contacts_monthly_figure,
            note="Professionals by training (keyworkers, clinicians) and by experience (peers), "
            "last 24 months.",
        ),
        Chart(
            "peer_minutes_trend",
            "Share of contact minutes delivered by peers, by month",
            minutes_trend_table,
            minutes_trend_figure,
            note="With 95% interval; contacts with a recorded duration.",
        ),
        Chart(
            "contacts_by_programme",
            "Mix of professional and peer-led contacts, by programme",
            contacts_by_programme_table,
            contacts_by_programme_figure,
        ),
        by_category_chart(
            "peer_contact_share_by_setting",
            "peer_contact_share",
            "Share of contacts delivered by peers, by setting",
            "setting",
        ),
        by_category_chart(
            "peer_reach_by_setting",
            "peer_reach",
            "People reached by peer support, by setting",
            "setting",
            note="People with an attended contact who had at least one attended peer contact.",
        ),
    )
}


def layout(data: DashboardData, **_: Any) -> Any:
    return html.Div(
        [
            html.H1("Support mix", className="h4"),
            dbc.Row(
                [
                    chart_card(CHARTS["contacts_by_month"], width=6),
                    chart_card(CHARTS["peer_minutes_trend"], width=6),
                ]
            ),
            dbc.Row([chart_card(CHARTS["contacts_by_programme"])]),
            dbc.Row(
                [
                    chart_card(CHARTS["peer_contact_share_by_setting"], width=6),
                    chart_card(CHARTS["peer_reach_by_setting"], width=6),
                ]
            ),
        ]
    )


def register(app: Dash, data: DashboardData) -> None:
    """All this page's callbacks are chart callbacks (registered from CHARTS)."""
