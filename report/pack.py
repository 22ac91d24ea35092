"""What a board pack holds, gathered from the dashboard's own reads: the same views (a month, a
financial-year quarter, a financial year or the rolling 12 months; one value or all of each filter),
the same numbers and the same charts as the app, for the person asking.

Every number comes through `dashboard.queries.DashboardData`, so it is perturbed and suppressed as the
app's are, and scoped by `dashboard.auth` as every other read is: a commissioner's pack covers the view
as asked; a service lead's covers their own programmes (the headline indicators, their series and the
mixes are restricted to them, as the app restricts every read not marked as a system total), with the
other programmes only as anonymised points on the funnel plots, as on the Programmes page.

The headline indicators are the Overview's tiles (`dashboard.headlines.tile_summary`: value, interval,
change on the previous period, SPC signal, and the move to a followed-up period); the funnel plots,
exit mix and support mix are the dashboard's own charts (`dashboard.pages`), each labelled for export
(`charts.export`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import plotly.graph_objects as go

import charts
from charts.export import ExportLabels, one_line
from dashboard import auth, ids
from dashboard.components import view_filters, view_labels
from dashboard.filters import DIMENSION_LABELS, FilterState
from dashboard.headlines import HEADLINE_METRICS, TileSummary, tile_summary
from dashboard.pages.common import metric_spc_figure
from dashboard.periods import DataSpan, Month, Period, period_label, period_slug
from dashboard.queries import SPC_MONTHS, DashboardData, month_range
from report.sentences import (
    FunnelOutcome,
    HeadlineFacts,
    SpcOutcome,
    funnel_outcome,
    funnel_phrase,
    indicator_sentence,
    spc_outcome,
)

#: The indicators the pack compares programmes on, with a funnel plot each: retention, completion and
#: waiting times.
PACK_FUNNELS: tuple[str, ...] = ("retention_12wk", "successful_completion", "waiting_over_3_weeks")


@dataclass(frozen=True)
class FunnelSection:
    """One funnel plot: the programmes' table (as the Programmes page's), where they fall, the figure."""

    metric: str
    label: str
    table: pd.DataFrame
    outcome: FunnelOutcome
    sentence: str
    figure: go.Figure
    labels: ExportLabels


@dataclass(frozen=True)
class HeadlineSection:
    """One headline indicator: its tile, what its SPC chart says, its sentence and its SPC chart."""

    summary: TileSummary
    spc: SpcOutcome
    sentence: str
    figure: go.Figure
    labels: ExportLabels
    funnel: FunnelSection | None = None


@dataclass(frozen=True)
class FigureSection:
    """A chart of the pack that is not a headline's or a funnel: the exit mix, the support mix."""

    name: str
    title: str
    note: str
    table: pd.DataFrame
    figure: go.Figure
    labels: ExportLabels


@dataclass(frozen=True)
class BoardPack:
    """Everything a board pack shows, before it is laid out as a PDF (`report.render`)."""

    state: FilterState
    span: DataSpan
    period: str
    slug: str
    as_at: date
    system: str
    filters: tuple[str, ...]
    scope: str
    headlines: tuple[HeadlineSection, ...]
    funnels: tuple[FunnelSection, ...]
    mixes: tuple[FigureSection, ...]
    definitions: tuple[tuple[str, str], ...]

    @property
    def filename(self) -> str:
        """``board-pack_<period>.pdf``, e.g. ``board-pack_fy2025-26.pdf``."""
        return charts.export_filename("board-pack", self.slug, "pdf")


class PackRefused(ValueError):
    """A board pack for a view the dashboard does not answer (the message names the shapes it does)."""


PERIOD_SHAPES = (
    "a month, a financial-year quarter (Q1 April–June … Q4 January–March), a financial year "
    "(April–March) or the 12 months ending with the last complete month"
)


def check_pack_view(data: DashboardData, state: FilterState) -> None:
    """Refuse (`PackRefused`) a pack the dashboard would not answer as asked: a period that is not one
    of the dashboard's shapes or lies outside the data, or more than one value of a filter. Nothing
    is widened or cut: the message says what is answered instead."""
    span = DataSpan.of(*data.dates())
    period = state.period
    many = [DIMENSION_LABELS[d].lower() for d, values in state.metric_filters().items() if len(values) > 1]
    if many:
        raise PackRefused(
            f"a board pack is for one value of each filter or all of them, not several {', '.join(many)} "
            "values (programmes are compared side by side on the funnel plots)"
        )
    if not span.holds(period):
        raise PackRefused(
            f"{period_label(period, span)} is outside the data, which runs from {span.first.label} to "
            f"{span.last.label} (the last complete month by {span.as_of.isoformat()})"
        )
    if not (span.allows(period) and span.key_for(period) is not None):
        raise PackRefused(
            f"{period_label(period, span)} is not a period the dashboard answers: give {PERIOD_SHAPES}"
        )
    data.check_view(state.start, state.end, state.metric_filters())


def _month_names(end: date) -> dict[str, str]:
    return {label: Month.parse(label).label for label in month_range(end, SPC_MONTHS)}


def _scope_text(data: DashboardData) -> str:
    scope = auth.current_scope()
    if scope.everything:
        return "every programme"
    names = data.labels().get("programme", {})
    own = sorted(names.get(p, p) for p in scope.programmes or ())
    return (
        f"your programmes only ({', '.join(own)}); other programmes appear only as anonymised points "
        "on the funnel plots"
    )


def _system(data: DashboardData, state: FilterState) -> str:
    areas = data.labels().get("area", {})
    chosen = state.metric_filters().get("area")
    names = [areas.get(a, a) for a in chosen] if chosen else sorted(areas.values())
    return "Recovery-oriented system of care" + (f": {', '.join(names)}" if names else "")


def _headline(
    data: DashboardData, metric: str, state: FilterState, span: DataSpan, funnel: FunnelSection | None
) -> HeadlineSection:
    summary, series, chart = tile_summary(data, metric, state)
    info = data.metric_info(metric)
    shown = summary.shown or state
    months = _month_names(shown.end)
    spc = spc_outcome(series, chart, months)
    period = period_label(shown.period, span)
    facts = HeadlineFacts(
        label=summary.label,
        value=summary.value,
        interval=summary.interval,
        counts=summary.counts if " of " in summary.counts else "",
        period=period_label(state.period, span),
        period_note=summary.period_note,
        suppressed_reason=summary.suppressed_reason,
        cohort_note=summary.cohort_note,
        benchmark=summary.benchmark,
    )
    sentence = indicator_sentence(facts, spc, funnel.outcome if funnel else None)
    first, last = month_range(shown.end, SPC_MONTHS)[0], month_range(shown.end, SPC_MONTHS)[-1]
    span_note = f"Monthly values, {Month.parse(first).label} to {Month.parse(last).label}"
    notes = (span_note + (f"; the headline is for {period}" if shown != state else ""),)
    figure = metric_spc_figure(data, metric, series, chart)
    labels = view_labels(data, state, f"{summary.label}, by month: XmR chart", info.definition, notes)
    return HeadlineSection(summary, spc, sentence, figure, labels, funnel)


def _funnel(data: DashboardData, metric: str, state: FilterState) -> FunnelSection:
    from dashboard.pages import programmes

    params = {ids.PROGRAMMES_INDICATOR: metric}
    table = programmes.funnel_table(data, state, params)
    info = data.metric_info(metric)
    figure = programmes.funnel_figure(data, table, state, params)
    outcome = funnel_outcome(table, "programme_name", info.direction)
    sentence = f"{info.label}: {funnel_phrase(outcome)}"
    centres = table["target_label"].dropna()  # the system value, or the pooled one where that is hidden
    centre = str(centres.iloc[0]) if len(centres) else "system value"
    if outcome.suppressed:
        sentence += f"; {outcome.suppressed} suppressed (not placed)"
    labels = view_labels(
        data,
        state,
        f"Programmes compared on {info.label.lower()}: funnel plot",
        info.definition,
        (
            "Each point is a programme; the lines are the 95% and 99.8% limits (inverted Wilson) around "
            f"the {centre}.",
        ),
    )
    return FunnelSection(
        metric, info.label, table, outcome, sentence[:1].upper() + sentence[1:] + ".", figure, labels
    )


def _chart_section(data: DashboardData, state: FilterState, page: object, name: str) -> FigureSection:
    chart = page.CHARTS[name]  # type: ignore[attr-defined]
    table = chart.table(data, state, {})
    figure = chart.figure(data, table, state, {})
    labels = view_labels(data, state, chart.title, chart.note or chart.title)
    return FigureSection(name, chart.title, chart.note, table, figure, labels)


def collect_pack(data: DashboardData, state: FilterState) -> BoardPack:
    """The board pack of ``state`` for the person asking (`dashboard.auth.current_scope`), as the
    dashboard's reads give it. `PackRefused` for a view the dashboard does not answer
    (`check_pack_view`)."""
    from dashboard.pages import retention, support_mix

    check_pack_view(data, state)
    span = DataSpan.of(*data.dates())
    with auth.purpose(auth.FUNNEL):  # the Programmes page's view: other programmes anonymised
        funnels = tuple(_funnel(data, m, state) for m in PACK_FUNNELS)
    by_metric = {f.metric: f for f in funnels}
    headlines = tuple(_headline(data, m, state, span, by_metric.get(m)) for m in HEADLINE_METRICS)
    mixes = (
        _chart_section(data, state, retention, "exit_mix"),
        _chart_section(data, state, support_mix, "contacts_by_month"),
        _chart_section(data, state, support_mix, "contacts_by_programme"),
        # Issue 13: peer support and outcomes on landmark cohorts, crude and adjusted, labelled observational.
        _chart_section(data, state, support_mix, "peer_support_landmark"),
    )
    used = dict.fromkeys([*HEADLINE_METRICS, *PACK_FUNNELS, "exit_reason_mix", "peer_contact_share"])
    metrics = data.metrics()
    definitions = tuple((metrics[m].label, metrics[m].definition) for m in used if m in metrics)
    return BoardPack(
        state=state,
        span=span,
        period=period_label(state.period, span),
        slug=period_slug(state.period, span),
        as_at=data.as_of(),
        system=_system(data, state),
        filters=view_filters(data, state),
        scope=_scope_text(data),
        headlines=headlines,
        funnels=funnels,
        mixes=mixes,
        definitions=definitions,
    )


def state_for(period: Period, **values: object) -> FilterState:
    """The filter state of a pack: ``period`` and one value (or none) per filter dimension."""
    from dashboard.filters import state_of

    return state_of(period, **values)


__all__ = [
    "PACK_FUNNELS",
    "PERIOD_SHAPES",
    "BoardPack",
    "FigureSection",
    "FunnelSection",
    "HeadlineSection",
    "PackRefused",
    "check_pack_view",
    "collect_pack",
    "one_line",
    "state_for",
]
