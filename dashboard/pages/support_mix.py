"""Support mix: professional (by training) and peer-led (by experience) support, over time and by
programme, how many people peers reach, and peer support and outcomes on landmark cohorts, crude and
case-mix-adjusted, with dose and timing (observational: `pipelines.metrics.compare_peer_support`
through `DashboardData.peer_comparison`)."""

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
from pipelines.metrics import COMPARISON_COLUMNS
from pipelines.metrics.labels import CODE_LABELS

PATH = "/support-mix"
NAME = "Support mix"
#: The tables this page needs, and what on it is empty without them (a notice says so).
NEEDS: dict[str, str] = {
    "contacts": "every chart on this page",
    "episodes": "the peer-support comparisons",
}

DELIVERY_COLOURS = {"professional": figures.PROFESSIONAL, "peer": figures.PEER}

#: The landmark comparisons (docs/metrics.md v2, "peer support and outcomes"): (metric, days of follow-up
#: its cohort needs after the cohort date). Both come from `pipelines.metrics.compare_peer_support`.
LANDMARK_OUTCOMES: tuple[tuple[str, int], ...] = (("retention_12wk", 84), ("representation_6m", 182))
LANDMARK_LABELS = {
    "retention_12wk": "Retained at 12 weeks",
    "representation_6m": "Re-presented within 6 months of a successful discharge",
}
DOSE_LABELS = {"0": "no peer contact", "1-2": "1–2 peer contacts", "3+": "3 or more peer contacts"}
DOSE_COLOURS = {
    "no peer contact": figures.COMMON,
    "1–2 peer contacts": figures.OKABE_ITO["sky_blue"],
    "3 or more peer contacts": figures.PEER,
}
#: What the adjusted estimate adjusts for, in words (`pipelines.stats.CASE_MIX_COVARIATES`).
COVARIATE_WORDS = {
    "substance_group": "substance group",
    "age_band": "age band",
    "sex": "sex",
    "injecting_status": "injecting status",
    "referral_source": "referral source",
    "setting": "setting",
    "earlier_episode": "an earlier episode",
}
OBSERVATIONAL = "Observational — an association, not causation"
OBSERVATIONAL_WHY = (
    "Nobody was assigned peer support at random. Landmark comparison: for 12-week retention, episodes "
    "still in treatment on day 28, with and without an attended peer contact on days 0–27; for "
    "re-presentation, people discharged successfully and not re-presented within 28 days, with and "
    "without a peer contact in those 28 days. Both groups have stayed the same 28 days, so nobody is "
    "credited with time they had to stay to meet a peer (immortal time). The adjusted difference "
    "(logistic regression and marginal standardisation) allows for substance group, age band, sex, "
    "injecting status, referral source, setting and an earlier episode; what those do not measure "
    "(motivation, severity, support at home) it cannot."
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


def _landmark_period(data: DashboardData, state: FilterState, days: int) -> tuple[date, date] | None:
    return followed_up_period(state, DataSpan.of(*data.dates()), days)


def _cohort_note(start: date, end: date, state: FilterState) -> str:
    return "" if end == state.end else f" ({start:%b %Y}–{end:%b %Y}: follow-up)"


def landmark_table(data: DashboardData, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
    """The crude and adjusted difference of each landmark outcome (`DashboardData.peer_comparison`),
    with the cohort period each was computed for (the latest with its follow-up) and a ``label``."""
    parts = []
    for metric, days in LANDMARK_OUTCOMES:
        followed = _landmark_period(data, state, days)
        if followed is None:
            parts.append(
                pd.DataFrame(
                    {
                        "label": LANDMARK_LABELS[metric],
                        "metric": metric,
                        **{c: np.nan for c in COMPARISON_COLUMNS},
                        "estimate": ["crude", "adjusted"],
                        "suppressed": False,
                        "reason": f"no cohort has {days} days of follow-up yet",
                        "cohort_from": "",
                        "cohort_to": "",
                    }
                )
            )
            continue
        start, end = followed
        table = data.peer_comparison(metric, start, end, state.metric_filters())["comparison"]
        table.insert(0, "label", LANDMARK_LABELS[metric] + _cohort_note(start, end, state))
        table.insert(1, "metric", metric)
        table["reason"] = table["reason"].astype(object).where(table["reason"].notna(), None)
        table["cohort_from"], table["cohort_to"] = start.isoformat(), end.isoformat()
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


def landmark_figure(
    data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]
) -> go.Figure:
    return figures.difference_figure(t, "", caption=f"⚠ {OBSERVATIONAL}")


def dose_table(data: DashboardData, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
    """Each landmark outcome's share by the number of peer contacts in the landmark window (crude)."""
    parts = []
    for metric, days in LANDMARK_OUTCOMES:
        followed = _landmark_period(data, state, days)
        if followed is None:
            continue
        start, end = followed
        table = data.peer_comparison(metric, start, end, state.metric_filters())["dose"]
        table.insert(0, "outcome", LANDMARK_LABELS[metric] + _cohort_note(start, end, state))
        table.insert(1, "metric", metric)
        table.insert(3, "dose_label", table["dose"].map(DOSE_LABELS))
        table["cohort_from"], table["cohort_to"] = start.isoformat(), end.isoformat()
        parts.append(table)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def dose_figure(
    data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]
) -> go.Figure:
    if t.empty:
        return figures.empty_figure("No cohort has its follow-up yet")
    return figures.grouped_bar_figure(
        t,
        "outcome",
        "dose_label",
        "",
        group_order=tuple(DOSE_LABELS.values()),
        colours=DOSE_COLOURS,
        caption=f"⚠ {OBSERVATIONAL} (crude shares, not adjusted)",
    )


def timing_table(data: DashboardData, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
    """Re-presentation by when the peer contact was: during treatment, after discharge, both, neither."""
    followed = _landmark_period(data, state, 182)
    if followed is None:
        return pd.DataFrame()
    start, end = followed
    table = data.peer_comparison("representation_6m", start, end, state.metric_filters())["timing"]
    table.insert(0, "outcome", LANDMARK_LABELS["representation_6m"] + _cohort_note(start, end, state))
    table["cohort_from"], table["cohort_to"] = start.isoformat(), end.isoformat()
    return table


def timing_figure(
    data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]
) -> go.Figure:
    if t.empty:
        return figures.empty_figure("No cohort has 182 days of follow-up yet")
    return figures.grouped_bar_figure(
        t,
        "timing_label",
        "outcome",
        "",
        colours={str(o): figures.PEER for o in t["outcome"].unique()},
        caption=f"⚠ {OBSERVATIONAL} (crude shares, not adjusted)",
    )


CHARTS: dict[str, Chart] = {
    c.name: c
    for c in (
        Chart(
            "contacts_by_month",
            "Attended contacts by who delivered them, by month",
            contacts_monthly_table,
            contacts_monthly_figure,
            metric="peer_contact_share",
            note="Professionals by training (keyworkers, clinicians) and by experience (peers), "
            "last 24 months.",
        ),
        Chart(
            "peer_minutes_trend",
            "Share of contact minutes delivered by peers, by month",
            minutes_trend_table,
            minutes_trend_figure,
            metric="peer_minutes_share",
            note="With 95% interval; contacts with a recorded duration.",
        ),
        Chart(
            "contacts_by_programme",
            "Mix of professional and peer-led contacts, by programme",
            contacts_by_programme_table,
            contacts_by_programme_figure,
            metric="peer_contact_share",
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
            "peer_support_landmark",
            f"Peer support and outcomes: landmark comparison, crude and adjusted ({OBSERVATIONAL.lower()})",
            landmark_table,
            landmark_figure,
            note=f"{OBSERVATIONAL}. {OBSERVATIONAL_WHY} Differences in percentage points (with − without "
            "peer support) with 95% intervals: crude (Newcombe) and adjusted (delta method, clustered "
            "by person). An estimate is not shown when a group is small (disclosure control) or the "
            "model cannot be fitted (too few events for its parameters, separation); the chart says "
            "which. Outcomes that need follow-up use the latest period of the same length that has it.",
        ),
        Chart(
            "peer_support_dose",
            f"Outcomes by number of peer contacts in the landmark window ({OBSERVATIONAL.lower()})",
            dose_table,
            dose_figure,
            note="Attended peer contacts on days 0–27 of the episode (retention) or in the 28 days after "
            "a successful discharge (re-presentation), in the landmark cohorts above. Crude shares "
            "with 95% intervals, not adjusted for case mix.",
        ),
        Chart(
            "peer_support_timing",
            f"Re-presentation by when peer support came ({OBSERVATIONAL.lower()})",
            timing_table,
            timing_figure,
            note="People discharged successfully and not re-presented within 28 days, by peer contact "
            "during the episode that ended, in the 28 days after discharge, both or neither. Crude "
            "shares with 95% intervals, not adjusted for case mix.",
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
            dbc.Row([chart_card(CHARTS["peer_support_landmark"])]),
            dbc.Row(
                [
                    chart_card(CHARTS["peer_support_dose"], width=6),
                    chart_card(CHARTS["peer_support_timing"], width=6),
                ]
            ),
        ]
    )


def register(app: Dash, data: DashboardData) -> None:
    """All this page's callbacks are chart callbacks (registered from CHARTS)."""
