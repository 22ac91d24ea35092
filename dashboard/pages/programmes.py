"""Programmes: every programme on a funnel plot for a chosen indicator, crude (the proportion against
the pooled value) or case-mix-adjusted (observed against expected, for the binary indicators of
`pipelines.metrics.ADJUSTABLE_METRICS`), and a sortable table with numerators, denominators,
intervals and significance; a programme opens its own page."""

from __future__ import annotations

import textwrap
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
from pipelines.metrics import ADJUSTABLE_METRICS
from pipelines.stats import funnel_curve, funnel_significance, ratio_funnel_curve

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
#: The funnel's two comparisons: the crude proportion, or observed against expected for the case mix.
COMPARISONS = [
    {"label": "Crude", "value": "crude"},
    {"label": "Adjusted for case mix", "value": "adjusted"},
]
CASE_MIX_WORDS = (
    "substance group, age band, sex, injecting status, referral source, setting and an earlier episode"
)


def comparison_of(params: dict[str, Any]) -> str:
    """``adjusted`` when the switch says so and the indicator can be adjusted, else ``crude``."""
    metric = params.get(ids.PROGRAMMES_INDICATOR) or DEFAULT_METRIC
    wanted = params.get(ids.PROGRAMMES_COMPARISON) or "crude"
    return "adjusted" if wanted == "adjusted" and metric in ADJUSTABLE_METRICS else "crude"


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
    adjusted = comparison_of(params) == "adjusted"
    with auth.purpose(auth.FUNNEL):  # a service lead sees other programmes here, anonymised
        t = data.metric_for(metric, state, by=["programme"], adjust=adjusted)
    names = data.labels()["programme"]
    t.insert(1, "programme_name", t["programme"].map(lambda v: names.get(str(v), v) or auth.OTHER_PROGRAMME))
    shown = ~t["suppressed"] & (t["denominator"].fillna(0) > 0)
    if adjusted:  # significance is the ratio's against its Poisson limits (the metric layer's)
        t["target"] = np.nan
        if shown.any():
            t["target"] = float(
                t.loc[shown, "numerator"].astype(float).sum()
                / t.loc[shown, "denominator"].astype(float).sum()
            )
        t["target_label"] = "pooled value of the programmes shown (adjusted value = ratio × this)"
        t.insert(0, "comparison", "adjusted")
        t.insert(0, "indicator", metric)
        return t
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
    t.insert(0, "comparison", "crude")
    t.insert(0, "indicator", metric)
    return t


def funnel_figure(
    data: DashboardData, t: pd.DataFrame, state: FilterState, params: dict[str, Any]
) -> go.Figure:
    metric = params.get(ids.PROGRAMMES_INDICATOR) or DEFAULT_METRIC
    info = data.metric_info(metric)
    if len(t) and t["comparison"].iloc[0] == "adjusted":
        return adjusted_funnel_figure(t, info.direction)
    shown = t[~t["suppressed"] & (t["denominator"].fillna(0) > 0)]
    if shown.empty:
        return figures.empty_figure("No programme has a value to show (all suppressed or empty)")
    target = float(t["target"].dropna().iloc[0])
    label = str(t["target_label"].dropna().iloc[0])
    n = shown["denominator"].astype(float)
    curve = funnel_curve(target, max(1.0, n.min() * 0.8), n.max() * 1.2)
    figure = figures.funnel_figure(
        t,
        curve,
        target,
        "",
        direction=info.direction,
        label_col="programme_name",
        id_col="programme",
        reference=england_reference(data, metric, state),
        target_label=label,
    )
    if (params.get(ids.PROGRAMMES_COMPARISON) == "adjusted") and metric not in ADJUSTABLE_METRICS:
        figures.corner_note(
            figure,
            "Crude: case-mix adjustment is offered for retention, early exit, completion and "
            "re-presentation only",
        )
    return figure


def england_reference(data: DashboardData, metric: str, state: FilterState) -> tuple[float, str, str] | None:
    """England's published value as the crude funnel's reference line: (value, "England 46% (2024-25)",
    hover with how the definition compares and the source), or None (`DashboardData.benchmark`)."""
    from pipelines.benchmarks import period_text, value_text

    row = data.benchmark(metric, state)
    if row is None:
        return None
    label = f"England {value_text(row)} ({period_text(row)})"
    hover = f"<b>{label}</b><br>{row['definition_note']}<br>{row['source']}"
    return float(row["value"]), label, "<br>".join(textwrap.wrap(hover, 90, break_on_hyphens=False))


def adjustment_warning(t: pd.DataFrame) -> str:
    """Why an adjusted table has no ratios at all (the model could not be fitted), or ""."""
    if t["ratio"].notna().any():
        return ""
    notes = [str(n) for n in t.get("adjustment_note", pd.Series(dtype=object)).dropna() if str(n)]
    warnings = [str(w) for w in t.attrs.get("warnings", [])]
    return (warnings or notes or ["no programme has an adjusted ratio"])[0]


def adjusted_funnel_figure(t: pd.DataFrame, direction: str | None) -> go.Figure:
    """The ratio funnel of an adjusted table: observed / expected against expected, Poisson limits."""
    warning = adjustment_warning(t)
    if warning:
        return figures.empty_figure(f"No adjusted comparison: {warning[:160]}")
    expected = t.loc[t["ratio"].notna(), "expected"].astype(float)
    curve = ratio_funnel_curve(max(0.5, expected.min() * 0.8), expected.max() * 1.2)
    return figures.ratio_funnel_figure(
        t, curve, "", direction=direction, label_col="programme_name", id_col="programme"
    )


CHARTS: dict[str, Chart] = {
    "programme_funnel": Chart(
        "programme_funnel",
        "Programmes compared: funnel plot",
        funnel_table,
        funnel_figure,
        controls=((ids.PROGRAMMES_INDICATOR, "value"), (ids.PROGRAMMES_COMPARISON, "value")),
        metric=DEFAULT_METRIC,
        metric_control=ids.PROGRAMMES_INDICATOR,
        note="Each point is a programme. Crude: its proportion against its denominator; the lines are "
        "the 95% and 99.8% control limits (inverted Wilson) around the system value, the Overview's "
        "figure for the same period and filters (the pooled value of the programmes shown only where "
        "that is suppressed, as the legend then says). Adjusted for case mix (retention, early exit, "
        "completion, re-presentation): its observed count over the count expected from its clients' "
        f"{CASE_MIX_WORDS} (a logistic model over all the programmes shown), against the expected "
        "count, with exact Poisson limits around 1; expected counts are model sums shown to one "
        "decimal. Where the model cannot be fitted the chart says why instead of drawing it. Points "
        "outside are coloured blue when better, orange when worse. Click a point to open the "
        "programme.",
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
    if column == "value" and "ratio" in table:  # adjusted: the ratio is the value compared
        column = "ratio"
    order = table.assign(_hidden=table["suppressed"].astype(bool))
    return order.sort_values(
        ["_hidden", column, "programme_name"],
        ascending=[True, ascending, True],
        na_position="last",
        kind="stable",
    ).drop(columns="_hidden")


def _ratio_cells(r: pd.Series) -> list:
    """An adjusted row's cells after the link: observed, denominator, expected, ratio with its
    interval, adjusted value, funnel position; or why there is no ratio."""
    if bool(r["suppressed"]) or pd.isna(r["value"]):
        return ["", "", "", html.Em("suppressed", className="text-muted"), "", ""]
    observed, denominator = f"{int(r['numerator']):,}", f"{int(r['denominator']):,}"
    if pd.isna(r["ratio"]):
        note = str(r.get("adjustment_note") or "no expected count")
        return [observed, denominator, "", html.Em(note, className="text-muted"), "", ""]
    return [
        observed,
        denominator,
        f"{r['expected']:.1f}",
        f"{r['ratio']:.2f} ({r['ratio_ci_low']:.2f} to {r['ratio_ci_high']:.2f})",
        figures.format_value(r["adjusted_value"], "proportion"),
        figures.SIGNIFICANCE_TEXT.get(r["significance"], "n/a"),
    ]


def table_component(table: pd.DataFrame, search: str = "") -> dbc.Table:
    """One row per programme: a link to its page, numerator, denominator, value, interval, funnel
    position; for an adjusted table, observed, denominator, expected, ratio (95% interval), adjusted
    value and the ratio's funnel position."""
    adjusted = "ratio" in table
    if adjusted:
        headers: tuple[str, ...] = (
            "Programme",
            "Observed",
            "Denominator",
            "Expected for the case mix",
            "Observed / expected (95% interval)",
            "Adjusted value",
            "Against the funnel limits",
        )
    else:
        headers = (
            "Programme",
            "Numerator",
            "Denominator",
            "Value",
            "95% interval",
            "Against the funnel limits",
        )
    head = html.Thead(html.Tr([html.Th(h) for h in headers]))
    rows = []
    for _, r in table.iterrows():
        link = dcc.Link(str(r["programme_name"]), href=f"/programmes/{r['programme']}{search}")
        if not r["programme"]:  # another programme, anonymised for a service lead: no drill-down
            link = str(r["programme_name"])
        if adjusted:
            rows.append(html.Tr([html.Td(c) for c in [link, *_ratio_cells(r)]]))
            continue
        sup = bool(r["suppressed"]) or pd.isna(r["value"])
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
    switch = html.Div(
        [
            html.Span("Compare: ", className="small ms-3 me-2"),
            dbc.RadioItems(
                id=ids.PROGRAMMES_COMPARISON,
                options=COMPARISONS,
                value="crude",
                inline=True,
                className="small",
            ),
        ],
        className="d-flex align-items-center",
    )
    control = html.Div([control, switch], className="d-flex align-items-center flex-wrap")
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
        Input(ids.PROGRAMMES_COMPARISON, "value"),
        State(ids.URL, "search"),
    )
    @guarded(lambda alert: (None, alert), where="programmes table")
    def update_table(
        state_data: dict | None,
        metric: str | None,
        sort: str | None,
        comparison: str | None,
        search: str | None,
    ) -> tuple:
        if not state_data:
            raise PreventUpdate
        state = FilterState.from_store(state_data)
        params = {ids.PROGRAMMES_INDICATOR: metric, ids.PROGRAMMES_COMPARISON: comparison}
        t = funnel_table(data, state, params)
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
