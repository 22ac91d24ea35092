"""Programmes: every programme on a funnel plot for a chosen indicator, and a sortable table with
numerators, denominators, intervals and significance; a programme opens its own page."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

import charts as figures
from dashboard import auth, ids
from dashboard.components import Chart, chart_card
from dashboard.errors import guarded
from dashboard.filters import FilterState
from dashboard.queries import DashboardData
from pipelines.stats import funnel_curve, funnel_significance

PATH = "/programmes"
NAME = "Programmes"
#: The tables this page needs, and what on it is empty without them (a notice says so).
NEEDS: dict[str, str] = {"episodes": "every indicator but the peer ones", "contacts": "the peer indicators"}

#: Proportion indicators a programme can be compared on.
FUNNEL_METRICS: tuple[str, ...] = (
    "retention_12wk",
    "early_unplanned_exit",
    "successful_completion",
    "representation_6m",
    "waiting_over_3_weeks",
    "peer_contact_share",
    "peer_reach",
    "abstinence_at_review",
)
DEFAULT_METRIC = "retention_12wk"
#: What the funnel's centre line is: the view's headline (as on the Overview), or, where that is
#: suppressed, the pooled value of the programmes drawn.
SYSTEM_VALUE = "system value (as on the Overview)"
POOLED_VALUE = "pooled value of the programmes shown (the system value is suppressed)"


def funnel_table(data: DashboardData, state: FilterState, params: dict[str, Any]) -> pd.DataFrame:
    """Each programme's numerator, denominator, value and interval for the indicator, its significance
    against the system value, and that value (``target``) with what it is (``target_label``).

    One system value per indicator: the funnel is centred on the headline of the same view, the number
    the Overview's tile shows (a service lead's whole-system figure too). Only where that headline is
    suppressed is the funnel centred on the pooled value of the programmes shown, and labelled so."""
    metric = params.get(ids.PROGRAMMES_INDICATOR) or DEFAULT_METRIC
    if metric not in FUNNEL_METRICS:
        raise ValueError(f"{metric!r} is not an indicator the funnel plot offers")
    with auth.purpose(auth.FUNNEL):  # a service lead sees other programmes here, anonymised
        t = data.metric_for(metric, state, by=["programme"])
    names = data.labels()["programme"]
    t.insert(1, "programme_name", t["programme"].map(lambda v: names.get(str(v), v) or auth.OTHER_PROGRAMME))
    shown = ~t["suppressed"] & (t["denominator"].fillna(0) > 0)
    t["significance"] = None
    t["target"] = np.nan
    t["target_label"] = None
    if shown.any():
        num = t.loc[shown, "numerator"].astype(float)
        den = t.loc[shown, "denominator"].astype(float)
        with auth.purpose(auth.SYSTEM_TOTAL):
            system = data.metric_for(metric, state).iloc[0]
        if not bool(system["suppressed"]) and pd.notna(system["value"]):
            target, label = float(system["value"]), SYSTEM_VALUE
        else:
            target, label = float(num.sum() / den.sum()), POOLED_VALUE
        t.loc[shown, "significance"] = funnel_significance(num, den, target).to_numpy()
        t["target"] = target
        t["target_label"] = label
    t.insert(0, "indicator", metric)
    return t


def funnel_figure(
    data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]
) -> go.Figure:
    metric = params.get(ids.PROGRAMMES_INDICATOR) or DEFAULT_METRIC
    info = data.metric_info(metric)
    shown = t[~t["suppressed"] & (t["denominator"].fillna(0) > 0)]
    if shown.empty:
        return figures.empty_figure("No programme has a value to show (all suppressed or empty)")
    target = float(t["target"].dropna().iloc[0])
    label = str(t["target_label"].dropna().iloc[0])
    n = shown["denominator"].astype(float)
    curve = funnel_curve(target, max(1.0, n.min() * 0.8), n.max() * 1.2)
    return figures.funnel_figure(
        t,
        curve,
        target,
        "",
        direction=info.direction,
        label_col="programme_name",
        id_col="programme",
        target_label=label,
    )


CHARTS: dict[str, Chart] = {
    "programme_funnel": Chart(
        "programme_funnel",
        "Programmes compared: funnel plot",
        funnel_table,
        funnel_figure,
        controls=((ids.PROGRAMMES_INDICATOR, "value"),),
        metric=DEFAULT_METRIC,
        metric_control=ids.PROGRAMMES_INDICATOR,
        note="Each point is a programme; the lines are the 95% and 99.8% control limits "
        "(inverted Wilson) around the system value, the Overview's figure for the same period and "
        "filters (the pooled value of the programmes shown only where that is suppressed, as the "
        "legend then says). "
        "Points outside are coloured blue when better, orange when "
        "worse. Click a point to open the programme.",
    ),
}


SORTS: dict[str, tuple[str, bool]] = {
    "value_desc": ("value", False),
    "value_asc": ("value", True),
    "denominator_desc": ("denominator", False),
    "name": ("programme_name", True),
    "significance": ("significance", True),
}
SORT_OPTIONS = [
    {"label": "Value, highest first", "value": "value_desc"},
    {"label": "Value, lowest first", "value": "value_asc"},
    {"label": "Denominator, largest first", "value": "denominator_desc"},
    {"label": "Programme name", "value": "name"},
    {"label": "Funnel position", "value": "significance"},
]


def sort_programmes(table: pd.DataFrame, sort: str | None) -> pd.DataFrame:
    """The programme table in the chosen order; suppressed programmes always come last."""
    column, ascending = SORTS.get(sort or "value_desc", SORTS["value_desc"])
    order = table.assign(_hidden=table["suppressed"].astype(bool))
    return order.sort_values(
        ["_hidden", column, "programme_name"],
        ascending=[True, ascending, True],
        na_position="last",
        kind="stable",
    ).drop(columns="_hidden")


def table_component(table: pd.DataFrame, search: str = "") -> dbc.Table:
    """One row per programme: a link to its page, numerator, denominator, value, interval, funnel position."""
    head = html.Thead(
        html.Tr(
            [
                html.Th(h)
                for h in (
                    "Programme",
                    "Numerator",
                    "Denominator",
                    "Value",
                    "95% interval",
                    "Against the funnel limits",
                )
            ]
        )
    )
    rows = []
    for _, r in table.iterrows():
        sup = bool(r["suppressed"]) or pd.isna(r["value"])
        link = dcc.Link(str(r["programme_name"]), href=f"/programmes/{r['programme']}{search}")
        if not r["programme"]:  # another programme, anonymised for a service lead: no drill-down
            link = str(r["programme_name"])
        if sup:
            cells = [link, "", "", html.Em("suppressed", className="text-muted"), "", ""]
        else:
            cells = [
                link,
                f"{int(r['numerator']):,}",
                f"{int(r['denominator']):,}",
                figures.format_value(r["value"], "proportion"),
                f"{figures.format_value(r['ci_low'], 'proportion')} to "
                f"{figures.format_value(r['ci_high'], 'proportion')}",
                figures.SIGNIFICANCE_TEXT.get(r["significance"], "n/a"),
            ]
        rows.append(html.Tr([html.Td(c) for c in cells]))
    return dbc.Table(
        [head, html.Tbody(rows)],
        striped=True,
        hover=True,
        size="sm",
        responsive=True,
        className="data-table mb-0",
    )


def layout(data: DashboardData, **_: Any) -> Any:
    metrics = data.metrics()
    options = [{"label": metrics[m].label, "value": m} for m in FUNNEL_METRICS if m in metrics]
    control = html.Div(
        [
            html.Label("Indicator", htmlFor=ids.PROGRAMMES_INDICATOR, className="small me-2"),
            dcc.Dropdown(
                id=ids.PROGRAMMES_INDICATOR,
                options=options,
                value=DEFAULT_METRIC,
                clearable=False,
                style={"minWidth": "320px"},
            ),
        ],
        className="d-flex align-items-center",
    )
    sort = html.Div(
        [
            html.Label("Sort by", htmlFor=ids.PROGRAMMES_SORT, className="small me-2"),
            dcc.Dropdown(
                id=ids.PROGRAMMES_SORT,
                options=SORT_OPTIONS,
                value="value_desc",
                clearable=False,
                style={"minWidth": "240px"},
            ),
        ],
        className="d-flex align-items-center mb-2 no-print",
    )
    table = html.Div([sort, html.Div(id=ids.PROGRAMMES_TABLE)])
    return html.Div(
        [
            html.H1("Programmes", className="h4"),
            dbc.Row([chart_card(CHARTS["programme_funnel"], controls=control)]),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Card(
                            [
                                dbc.CardHeader(html.H2("Programmes table", className="h6 mb-0")),
                                dbc.CardBody(
                                    [html.Div(id=ids.chart(ids.CHART_MESSAGE, "programmes_table")), table]
                                ),
                            ]
                        ),
                        className="mb-3",
                    )
                ]
            ),
        ]
    )


def register(app: Dash, data: DashboardData) -> None:
    @app.callback(
        Output(ids.PROGRAMMES_TABLE, "children"),
        Output(ids.chart(ids.CHART_MESSAGE, "programmes_table"), "children"),
        Input(ids.FILTER_STATE, "data"),
        Input(ids.PROGRAMMES_INDICATOR, "value"),
        Input(ids.PROGRAMMES_SORT, "value"),
        State(ids.URL, "search"),
    )
    @guarded(lambda alert: (None, alert), where="programmes table")
    def update_table(
        state_data: dict | None, metric: str | None, sort: str | None, search: str | None
    ) -> tuple:
        if not state_data:
            raise PreventUpdate
        state = FilterState.from_store(state_data)
        t = funnel_table(data, state, {ids.PROGRAMMES_INDICATOR: metric})
        return table_component(sort_programmes(t, sort), search or ""), None

    @app.callback(
        Output(ids.URL, "pathname", allow_duplicate=True),
        Input(ids.chart(ids.CHART_GRAPH, "programme_funnel"), "clickData"),
        prevent_initial_call=True,
    )
    def open_programme(click: dict | None) -> Any:
        points = (click or {}).get("points") or []
        programme = next((p.get("customdata") for p in points if p.get("customdata")), None)
        if not programme:
            return no_update
        return f"/programmes/{programme}"
