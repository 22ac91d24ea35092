"""Support mix: professional (by training) and peer-led (by experience) support, over time and by
programme, how many people peers reach, and outcomes for people with and without peer support
(observational: the metric layer's ``peer_support`` dimension)."""

from __future__ import annotations

from datetime import date
from typing import Any

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Dash, html

import charts as figures
from dashboard.components import Chart, chart_card
from dashboard.filters import FilterState
from dashboard.pages.common import by_category_chart
from dashboard.periods import DataSpan
from dashboard.queries import DashboardData
from pipelines.metrics.labels import CODE_LABELS

PATH = "/support-mix"
NAME = "Support mix"
#: The tables this page needs, and what on it is empty without them (a notice says so).
NEEDS: dict[str, str] = {
    "contacts": "every chart on this page",
    "episodes": "the outcomes with and without peer support",
}

DELIVERY_COLOURS = {"professional": figures.PROFESSIONAL, "peer": figures.PEER}

#: Outcomes compared with and without peer support: (metric, days of follow-up its cohort needs after
#: the cohort date). Each is the metric layer's own indicator, grouped by its ``peer_support`` dimension.
PEER_OUTCOMES: tuple[tuple[str, int], ...] = (
    ("retention_12wk", 84),
    ("early_unplanned_exit", 84),
    ("representation_6m", 182),
)
PEER_GROUPS = {"with_peer_support": "with peer support", "without_peer_support": "without peer support"}
PEER_GROUP_COLOURS = {"with peer support": figures.PEER, "without peer support": figures.COMMON}
OBSERVATIONAL = "Observational — an association, not causation"
OBSERVATIONAL_WHY = (
    "Nobody was assigned peer support at random: people who meet a peer differ in programme, setting, "
    "substance, severity and motivation (selection and confounding), and people who stay in treatment "
    "longer have more chances to meet one. Episodes are grouped by an attended peer contact in their "
    "first 28 days (re-presentation: during the episode that ended successfully), which limits but does "
    "not remove that bias; early leavers had less time to meet a peer."
)


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
        part_labels=CODE_LABELS["delivered_by"],
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
        part_labels=CODE_LABELS["delivered_by"],
    )


def followed_up_period(state: FilterState, span: DataSpan, days: int) -> tuple[date, date] | None:
    """The chosen period, or, when its end has no ``days`` of follow-up by as_of, the latest period of
    the same shape that has (`dashboard.periods.DataSpan.followed_up`), so the cohort is complete; None
    when no period in the data has it yet."""
    period = span.followed_up(state.period, days)
    return None if period is None else (period.start, period.end)


def peer_outcomes_table(data: DashboardData, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
    """Each outcome for the two peer_support groups, with the period each was computed for."""
    parts = []
    span = DataSpan.of(*data.dates())
    for metric, days in PEER_OUTCOMES:
        followed = followed_up_period(state, span, days)
        if followed is None:  # the bars are left out and their label says why
            parts.append(_no_follow_up(data.metric_info(metric).label, metric, days))
            continue
        start, end = followed
        table = data.metric(metric, start, end, ("peer_support",), state.metric_filters())
        table.insert(0, "outcome", data.metric_info(metric).label)
        table.insert(1, "metric", metric)
        table.insert(2, "group", table["peer_support"].map(PEER_GROUPS))
        table["cohort_from"], table["cohort_to"] = start.isoformat(), end.isoformat()
        parts.append(table.drop(columns="peer_support"))
    return pd.concat(parts, ignore_index=True)


def _no_follow_up(label: str, metric: str, days: int) -> pd.DataFrame:
    """An outcome's two rows when no cohort in the data has its follow-up yet: no values."""
    outcome = f"{label}<br><sup>no cohort has {days} days of follow-up yet</sup>"
    return pd.DataFrame(
        {
            "outcome": outcome,
            "metric": metric,
            "group": list(PEER_GROUPS.values()),
            "value": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "numerator": np.nan,
            "denominator": np.nan,
            "suppressed": False,
            "cohort_from": "",
            "cohort_to": "",
        }
    )


def peer_outcomes_figure(
    data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]
) -> go.Figure:
    labels = t.copy()
    shifted = (labels["cohort_to"] != state.end.isoformat()) & (labels["cohort_to"] != "")
    labels.loc[shifted, "outcome"] = [
        f"{o}<br><sup>{date.fromisoformat(s):%b %Y}–{date.fromisoformat(e):%b %Y} (follow-up)</sup>"
        for o, s, e in labels.loc[shifted, ["outcome", "cohort_from", "cohort_to"]].itertuples(index=False)
    ]
    return figures.grouped_bar_figure(
        labels,
        "outcome",
        "group",
        "",
        group_order=tuple(PEER_GROUPS.values()),
        colours=PEER_GROUP_COLOURS,
        caption=f"⚠ {OBSERVATIONAL}",
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
        Chart(
            "peer_support_outcomes",
            f"Outcomes with and without peer support ({OBSERVATIONAL.lower()})",
            peer_outcomes_table,
            peer_outcomes_figure,
            note=f"{OBSERVATIONAL}. {OBSERVATIONAL_WHY} With 95% intervals. Outcomes that need follow-up "
            "use the latest period of the same length that has it.",
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
            dbc.Row([chart_card(CHARTS["peer_support_outcomes"])]),
        ]
    )


def register(app: Dash, data: DashboardData) -> None:
    """All this page's callbacks are chart callbacks (registered from CHARTS)."""
