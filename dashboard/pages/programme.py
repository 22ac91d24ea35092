"""One programme: its indicators against the whole system, crude and adjusted for case mix, its trends
and its support mix.

Reached at ``/programmes/<programme id>`` from the Programmes page. The system comparison uses the
same global filters, so "system" means everyone the filters select.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Dash, dcc, html

import charts as figures
from dashboard import auth, ids
from dashboard.components import Chart, chart_card
from dashboard.filters import FilterState
from dashboard.pages.common import spc_from_table, spc_table, with_xmr
from dashboard.pages.programmes import CASE_MIX_WORDS, FUNNEL_METRICS
from dashboard.pages.support_mix import contacts_monthly_figure, split_by_delivery
from dashboard.periods import financial_quarter, month_end
from dashboard.queries import DashboardData
from pipelines.metrics import ADJUSTABLE_METRICS

PATH = "/programmes/"  # followed by the programme id
NAME = "Programme"
#: The tables this page needs, and what on it is empty without them (a notice says so).
NEEDS: dict[str, str] = {"episodes": "every chart but the contact mix", "contacts": "the contact mix"}

TREND_DEFAULT = "retention_12wk"


def _programme(params: dict[str, Any]) -> str:
    programme = params.get(ids.PROGRAMME_ID)
    if not programme:
        raise ValueError("no programme chosen")
    return str(programme)


def comparison_table(data: DashboardData, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
    """Each indicator for the programme and for the whole system (under the same filters)."""
    programme = _programme(params)
    name = data.labels()["programme"].get(programme, programme)
    metrics = data.metrics()
    rows = []
    for metric in FUNNEL_METRICS:
        info = metrics[metric]
        for group, extra in ((name, {"programme": [programme]}), ("whole system", None)):
            with auth.purpose(None if extra else auth.SYSTEM_TOTAL):  # "whole system" for everyone
                r = data.metric_for(metric, state, extra_filters=extra).iloc[0]
            rows.append(
                {
                    "indicator": info.label,
                    "metric": metric,
                    "group": group,
                    **{
                        k: r[k]
                        for k in ("numerator", "denominator", "value", "ci_low", "ci_high", "suppressed")
                    },
                }
            )
    return pd.DataFrame(rows)


def comparison_figure(
    data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]
) -> go.Figure:
    return figures.comparison_figure(t, "")


def case_mix_table(data: DashboardData, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
    """For each adjustable indicator, the programme's crude value (95% Wilson interval) and its value
    adjusted for case mix: ratio × the pooled value of the programmes compared, with the ratio's 95%
    Poisson interval scaled the same way (the expected count held fixed), plus observed, expected,
    ratio, its funnel position and, where there is no ratio, why (from the Programmes funnel's table:
    the same model over every programme under the same filters)."""
    programme = _programme(params)
    metrics = data.metrics()
    rows = []
    for metric in ADJUSTABLE_METRICS:
        with auth.purpose(auth.FUNNEL):  # the model is fitted over every programme, as on the funnel
            table = data.metric_for(metric, state, by=["programme"], adjust=True)
        mine = table[table["programme"].astype(str) == programme]
        if mine.empty:
            continue
        r = mine.iloc[0]
        shown = table[~table["suppressed"].astype(bool) & (table["denominator"].fillna(0) > 0)]
        pooled = (
            float(shown["numerator"].astype(float).sum() / shown["denominator"].astype(float).sum())
            if len(shown)
            else float("nan")
        )
        common = {
            "indicator": metrics[metric].label,
            "metric": metric,
            "numerator": r["numerator"],
            "denominator": r["denominator"],
            "suppressed": bool(r["suppressed"]),
        }
        rows.append(
            {**common, "group": "crude", **{k: r[k] for k in ("value", "ci_low", "ci_high")}, "reason": None}
        )
        has_ratio = not pd.isna(r["ratio"])
        rows.append(
            {
                **common,
                "group": "adjusted for case mix",
                "value": r["adjusted_value"] if has_ratio else float("nan"),
                "ci_low": r["ratio_ci_low"] * pooled if has_ratio else float("nan"),
                "ci_high": r["ratio_ci_high"] * pooled if has_ratio else float("nan"),
                "expected": r["expected"],
                "ratio": r["ratio"],
                "ratio_ci_low": r["ratio_ci_low"],
                "ratio_ci_high": r["ratio_ci_high"],
                "significance": r["significance"],
                "reason": None if has_ratio else (r.get("adjustment_note") or "no expected count"),
            }
        )
    return pd.DataFrame(rows)


def case_mix_figure(
    data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]
) -> go.Figure:
    figure = figures.comparison_figure(t, "")
    if t.empty:
        return figure
    missing = t[(t["group"] == "adjusted for case mix") & t["reason"].notna() & ~t["suppressed"]]
    if len(missing):
        lines = [
            f"{i}: {str(why)[:120]}" for i, why in zip(missing["indicator"], missing["reason"], strict=True)
        ]
        figure.add_annotation(
            text="No adjusted value:<br>" + "<br>".join(lines),
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.0,
            y=-0.12,
            xanchor="left",
            yanchor="top",
            align="left",
            font={"size": 10, "color": figures.SUPPRESSED},
        )
        figure.update_layout(
            margin={"b": 60 + 16 * len(missing)}, height=figure.layout.height + 16 * len(missing)
        )
    return figure


#: The grains a programme's trend may use, finest first. A rolling quarter is not offered: it is a free
#: run of three months, a view the disclosure control refuses (overlapping windows would give many
#: noisy copies of one month), so the next grain after the month is the financial-year quarter.
GRAINS = ("month", "quarter")


def shown_share(series: pd.DataFrame, as_of: date, follow_up_days: int) -> tuple[int, int]:
    """(points with a value shown, points that could have one): a point is shown when it is not
    suppressed and has a value; a point whose cohort cannot be followed up by as_of yet (its period
    ends less than ``follow_up_days`` before as_of) is left out of both, as it is empty by definition."""
    ends = [_period_end(str(p)) for p in series["period"]]
    eligible = [end + timedelta(days=follow_up_days) <= as_of for end in ends]
    shown = ~series["suppressed"].astype(bool).to_numpy() & series["value"].notna().to_numpy()
    return int((shown & eligible).sum()), int(sum(eligible))


def _period_end(label: str) -> date:
    if " Q" in label:  # '2025-26 Q3'
        year, quarter = int(label[:4]), int(label[-1])
        return financial_quarter(year, quarter).end
    return month_end(date.fromisoformat(label + "-01"))


def choose_grain(data: DashboardData, metric: str, state: FilterState, programme: str) -> pd.DataFrame:
    """The programme's trend at the finest grain at which most points can be shown (issue 12): by
    month when at least half the months that could have a value show one, else by financial-year
    quarter when at least half the quarters do, else whichever grain shows the larger share (the
    quarter on a tie). The table carries ``grain`` and ``grain_note`` (what was chosen and why), and the
    XmR columns."""
    from pipelines.metrics import describe_metric

    cut = describe_metric(metric).get("cohort_follow_up") or [None, 0]
    follow_up = int(cut[1])
    as_of = data.as_of()
    extra = {"programme": [programme]}
    monthly = spc_table(data, metric, state, extra)
    months_shown, months = shown_share(monthly, as_of, follow_up)
    if months and months_shown * 2 >= months:
        note = f"By month: {months_shown} of {months} months show a value."
        return monthly.assign(grain="month", grain_note=note)
    quarterly = with_xmr(data, metric, data.quarterly(metric, state, extra_filters=extra))
    quarters_shown, quarters = shown_share(quarterly, as_of, follow_up)
    month_part = f"{months_shown} of {months} months" if months else "no month"
    if quarters and (quarters_shown * 2 >= quarters or quarters_shown * months >= months_shown * quarters):
        if quarters_shown * 2 >= quarters:
            most = "most quarters show one"
        elif quarters_shown * months > months_shown * quarters:
            most = "a larger share than by month"
        else:
            most = "as large a share as by month"
        note = (
            f"By financial-year quarter: only {month_part} show a value, too few for a monthly chart; "
            f"{quarters_shown} of {quarters} quarters do ({most})."
        )
        return quarterly.assign(grain="quarter", grain_note=note)
    note = (
        f"By month: {month_part} show a value, and quarters do no better ({quarters_shown} of "
        f"{quarters}); most points are suppressed or empty."
    )
    return monthly.assign(grain="month", grain_note=note)


def trend_table(data: DashboardData, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
    metric = params.get(ids.PROGRAMME_TREND_METRIC) or TREND_DEFAULT
    if metric not in FUNNEL_METRICS:
        raise ValueError(f"{metric!r} is not offered here")
    return choose_grain(data, metric, state, _programme(params))


def trend_figure(
    data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]
) -> go.Figure:
    info = data.metric_info(params.get(ids.PROGRAMME_TREND_METRIC) or TREND_DEFAULT)
    series, chart = spc_from_table(t.drop(columns=["grain", "grain_note"], errors="ignore"))
    title = str(t["grain_note"].iloc[0]) if "grain_note" in t and len(t) else ""
    quarterly = "grain" in t and len(t) and t["grain"].iloc[0] == "quarter"
    points = "quarterly value" if quarterly else "monthly value"
    return figures.spc_figure(series, chart, title, info.kind, info.direction, points=points)


def support_table(data: DashboardData, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
    series = data.monthly("peer_contact_share", state, extra_filters={"programme": [_programme(params)]})
    return split_by_delivery(series, "period")


CHARTS: dict[str, Chart] = {
    c.name: c
    for c in (
        Chart(
            "programme_vs_system",
            "Indicators: this programme against the whole system",
            comparison_table,
            comparison_figure,
            controls=((ids.PROGRAMME_ID, "data"),),
            note="Values with 95% intervals, for the period and filters chosen.",
        ),
        Chart(
            "programme_case_mix",
            "Crude and adjusted for case mix",
            case_mix_table,
            case_mix_figure,
            controls=((ids.PROGRAMME_ID, "data"),),
            note="Crude: the programme's own proportion (95% interval). Adjusted: observed over the count "
            f"expected from its clients' {CASE_MIX_WORDS} (a logistic model over every programme under "
            "the same filters, as on the Programmes funnel), times the pooled value; its interval is the "
            "ratio's exact/Byar Poisson interval scaled the same way. Where the model cannot be fitted, "
            "or the programme is too small to have an expected count, the chart says so.",
        ),
        Chart(
            "programme_trend",
            "Trend (XmR chart, last 24 months, by month or by quarter)",
            trend_table,
            trend_figure,
            controls=((ids.PROGRAMME_ID, "data"), (ids.PROGRAMME_TREND_METRIC, "value")),
        ),
        Chart(
            "programme_support",
            "Attended contacts by who delivered them, by month",
            support_table,
            contacts_monthly_figure,
            controls=((ids.PROGRAMME_ID, "data"),),
        ),
    )
}


def layout(data: DashboardData, programme_id: str = "", search: str = "", **_: Any) -> Any:
    programme = data.programme(programme_id) if programme_id else None
    if programme is None:
        return html.Div(
            [
                html.H1("Programme not found", className="h4"),
                html.P(
                    [
                        "There is no programme with the id ",
                        html.Code(programme_id or "(none)"),
                        ". ",
                        dcc.Link("See all programmes", href="/programmes" + search),
                        ".",
                    ]
                ),
            ]
        )
    metrics = data.metrics()
    trend_control = html.Div(
        [
            html.Label("Indicator", htmlFor=ids.PROGRAMME_TREND_METRIC, className="small me-2"),
            dcc.Dropdown(
                id=ids.PROGRAMME_TREND_METRIC,
                value=TREND_DEFAULT,
                clearable=False,
                options=[{"label": metrics[m].label, "value": m} for m in FUNNEL_METRICS],
                style={"minWidth": "300px"},
            ),
        ],
        className="d-flex align-items-center",
    )
    return html.Div(
        [
            dcc.Store(id=ids.PROGRAMME_ID, data=programme["programme_id"]),
            html.Div(
                dcc.Link("← All programmes", href="/programmes" + search, className="small"),
                className="no-print",
            ),
            html.H1(programme["programme_name"], className="h4 mt-1"),
            html.P(
                f"{programme['setting'].replace('_', ' ').capitalize()} · {programme['provider_name']} · "
                f"{programme['area_name']}",
                className="text-muted",
            ),
            dbc.Row(
                [
                    chart_card(CHARTS["programme_vs_system"], width=6),
                    chart_card(CHARTS["programme_trend"], controls=trend_control, width=6),
                ]
            ),
            dbc.Row(
                [
                    chart_card(CHARTS["programme_case_mix"], width=6),
                    chart_card(CHARTS["programme_support"], width=6),
                ]
            ),
        ]
    )


def register(app: Dash, data: DashboardData) -> None:
    """All this page's callbacks are chart callbacks (registered from CHARTS)."""
