"""Overview: the headline indicators as tiles, each with its interval, its change on the previous
period and the SPC signal of its monthly series."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, dcc, html
from dash.exceptions import PreventUpdate

import charts as figures
from dashboard import auth, ids
from dashboard.errors import guarded
from dashboard.filters import FilterState
from dashboard.periods import DataSpan, period_label
from dashboard.queries import DashboardData
from pipelines.stats import spc_signal

PATH = "/"
NAME = "Overview"
#: The tables this page needs, and what on it is empty without them (a notice says so).
NEEDS: dict[str, str] = {
    "episodes": "every tile but peer contact share",
    "contacts": "the peer contact share tile",
}

HEADLINE_METRICS: tuple[str, ...] = (
    "in_treatment",
    "successful_completion",
    "completion_no_representation",
    "retention_12wk",
    "early_unplanned_exit",
    "waiting_over_3_weeks",
    "peer_contact_share",
    "deaths_in_treatment",
    "continuity_of_care",
)

SIGNAL_TEXT = {
    "improving": ("special cause: improving", "signal-improving"),
    "concerning": ("special cause: concerning", "signal-concerning"),
    "special_cause": ("special cause", "signal-neither"),
    "common_cause": ("common cause variation", "signal-common"),
}

#: Follow-up days a metric needs after its period (METRICS.md); tiles shift such periods back.
FOLLOW_UP_DAYS = {"completion_no_representation": 182, "continuity_of_care": 21}


@dataclass(frozen=True)
class TileSummary:
    """Everything a tile shows, as text (plus the series for its sparkline)."""

    metric: str
    label: str
    value: str
    interval: str
    counts: str
    change: str
    change_tone: str  # better, worse, neutral
    signal: str
    period_note: str
    definition: str
    #: England's published value for the view ("England 53% (2023-24)"), or "" (`DashboardData.benchmark`)
    benchmark: str = ""
    #: How England's definition compares with ours, and the source (the benchmark's hover text).
    benchmark_note: str = ""


def tile_period(metric: str, state: FilterState, span: DataSpan) -> tuple[FilterState | None, str]:
    """The period a tile can show: the chosen one, or for a metric that needs follow-up after its
    period, the latest period of the same shape that has that follow-up by as_of
    (`dashboard.periods.DataSpan.followed_up`: a month for a month, a quarter for a quarter, a
    financial year for a financial year or the rolling 12 months). None, with the note, when no period
    in the data has it yet."""
    days = FOLLOW_UP_DAYS.get(metric, 0)
    if not days:
        return state, ""
    period = span.followed_up(state.period, days)
    if period == state.period:
        return state, ""
    if period is None:
        return None, f"needs {days} days of follow-up: no period in the data has it yet"
    shifted = replace(state, start=period.start, end=period.end)
    return shifted, f"{period_label(period, span)}: needs {days} days of follow-up"


def tile_summary(data: DashboardData, metric: str, state: FilterState) -> tuple[TileSummary, Any, Any]:
    """A tile's text, and the (series, xmr) of its sparkline."""
    info = data.metric_info(metric)
    span = DataSpan.of(*data.dates())
    followed, note = tile_period(metric, state, span)
    if followed is None:
        return _not_yet(data, metric, state, note)
    shown = followed
    current = data.metric_for(metric, shown).iloc[0]
    prev_start, prev_end = shown.previous_period()
    first_date, _ = data.dates()
    previous = None
    if prev_start >= first_date:
        previous = data.metric(metric, prev_start, prev_end, (), shown.metric_filters()).iloc[0]
    series, chart = data.spc(metric, shown)
    kind, unit = info.kind, info.unit if info.kind == "continuous" else ""

    value = figures.format_value(current["value"], kind, unit)
    interval = ""
    if kind == "proportion" and not bool(current["suppressed"]):
        interval = (
            f"95% CI {figures.format_value(current['ci_low'], kind)} to "
            f"{figures.format_value(current['ci_high'], kind)}"
        )
    if kind == "proportion":
        counts = (
            f"{figures.format_count(current['numerator'])} of {figures.format_count(current['denominator'])}"
        )
    else:
        counts = "people" if metric == "in_treatment" else ""

    change, tone = "no previous period in the data", "neutral"
    if previous is not None:
        cur, prev = current["value"], previous["value"]
        if bool(current["suppressed"]) or bool(previous["suppressed"]):
            change = "change not shown (suppressed)"
        elif prev == prev and cur == cur:  # both present
            diff = float(cur) - float(prev)
            if kind == "proportion":
                change = f"{diff * 100:+.1f} pts on previous period ({figures.format_value(prev, kind)})"
            elif prev:
                change = (
                    f"{diff / float(prev):+.1%} on previous period ({figures.format_value(prev, kind, unit)})"
                )
            if info.direction and abs(diff) > 0:
                tone = "better" if (diff > 0) == (info.direction == "up") else "worse"
    summary = TileSummary(
        metric=metric,
        label=info.label,
        value=value,
        interval=interval,
        counts=counts,
        change=change,
        change_tone=tone,
        signal=spc_signal(chart),
        period_note=note,
        definition=info.definition,
        **benchmark_text(data, metric, shown),
    )
    return summary, series, chart


def benchmark_text(data: DashboardData, metric: str, state: FilterState) -> dict[str, str]:
    """A tile's England line and its hover: the value and its period, then how the definition compares
    and the source with its address; nothing when there is no benchmark to show."""
    from pipelines.benchmarks import period_text, value_text

    row = data.benchmark(metric, state)
    if row is None:
        return {}
    return {
        "benchmark": f"England {value_text(row)} ({period_text(row)})",
        "benchmark_note": f"{row['definition_note']} Source: {row['source']} {row['url']}",
    }


def _not_yet(data: DashboardData, metric: str, state: FilterState, note: str) -> tuple[TileSummary, Any, Any]:
    """The tile of a metric no period of which has its follow-up yet: no value, the note says why."""
    info = data.metric_info(metric)
    series, chart = data.spc(metric, state)
    summary = TileSummary(
        metric=metric,
        label=info.label,
        value="not yet",
        interval="",
        counts="",
        change="no period has its follow-up yet",
        change_tone="neutral",
        signal=spc_signal(chart),
        period_note=note,
        definition=info.definition,
    )
    return summary, series, chart


def warm(data: DashboardData, state: FilterState) -> None:
    """Compute every tile of a view into the cache (the app does this for the default view at start-up,
    so the first visit does not wait for the people-based monthly series)."""
    for metric in HEADLINE_METRICS:
        tile_summary(data, metric, state)


def render_tile(summary: TileSummary, sparkline: Any) -> list:
    signal_text, signal_class = SIGNAL_TEXT.get(summary.signal, SIGNAL_TEXT["common_cause"])
    return [
        html.Div(summary.label, className="tile-label", title=summary.definition),
        html.Div(
            summary.value, className="tile-value" + (" suppressed" if summary.value == "suppressed" else "")
        ),
        html.Div(summary.interval, className="tile-interval"),
        html.Div(summary.counts, className="tile-counts"),
        html.Div(summary.benchmark, className="tile-benchmark small", title=summary.benchmark_note)
        if summary.benchmark
        else None,
        html.Div(summary.change, className=f"tile-change tone-{summary.change_tone}"),
        dcc.Graph(
            figure=sparkline,
            config={"displayModeBar": False, "staticPlot": False},
            className="tile-spark",
            style={"height": "70px"},
        ),
        html.Span(signal_text, className=f"tile-signal {signal_class}"),
        html.Div(summary.period_note, className="tile-note") if summary.period_note else None,
    ]


def layout(data: DashboardData, **_: Any) -> Any:
    tiles = [
        dbc.Col(
            dbc.Card(
                dbc.CardBody(
                    dcc.Loading(html.Div(id=ids.tile(m), className="tile-body"), type="dot", delay_show=300)
                ),
                className="tile h-100",
            ),
            xs=12,
            sm=6,
            lg=3,
            className="mb-3",
        )
        for m in HEADLINE_METRICS
    ]
    return html.Div(
        [
            html.H1("Overview", className="h4"),
            html.P(
                "Headline indicators for the chosen period and filters. "
                "Each tile compares the period with the "
                "one before it; the line shows the last 24 months with special-cause points coloured "
                "(blue improving, orange concerning).",
                className="text-muted small",
            ),
            dbc.Row(tiles, id=ids.OVERVIEW_TILES),
        ]
    )


def register(app: Dash, data: DashboardData) -> None:
    for metric in HEADLINE_METRICS:
        _register_tile(app, data, metric)


def _register_tile(app: Dash, data: DashboardData, metric: str) -> None:
    @app.callback(Output(ids.tile(metric), "children"), Input(ids.FILTER_STATE, "data"))
    @guarded(
        lambda alert: [html.Div(data.metric_info(metric).label, className="tile-label"), alert],
        where=f"tile {metric}",
    )
    def update(state_data: dict | None) -> list:
        if not state_data:
            raise PreventUpdate
        state = FilterState.from_store(state_data)
        with auth.purpose(auth.SYSTEM_TOTAL):  # headline totals: a service lead sees them too
            summary, series, chart = tile_summary(data, metric, state)
        info = data.metric_info(metric)
        spark = figures.sparkline_figure(series, chart, info.kind, info.direction)
        return render_tile(summary, spark)


CHARTS: dict = {}
