"""The headline indicators as the Overview's tiles and the board pack show them: each one's value, 95%
interval, counts, change on the previous period and the SPC signal of its monthly series, computed once
here for both presenters (`tile_summary`). A metric that needs follow-up after its period moves to the
latest period of the same shape that has it (`tile_period`). Plain Python: no Dash."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import charts as figures
from dashboard.filters import FilterState
from dashboard.periods import DataSpan, format_day, period_label
from dashboard.queries import DashboardData
from pipelines.metrics.registry import METRICS
from pipelines.stats import spc_signal

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

#: A tile's value when nobody is in its cohort (0 of 0): there is no rate, and none is hidden.
NO_ONE = "no one in the cohort"

#: Follow-up days a metric needs after its period (docs/metrics.md); tiles shift such periods back.
#: A metric the metric layer defines only with follow-up after the period (completion without
#: re-presentation), and continuity of care, whose cohort of a recent period would be mostly releases
#: not yet followed up: its days from the registry too.
FOLLOW_UP_DAYS = {
    **{m.id: m.needs_follow_up_days for m in METRICS.values() if m.needs_follow_up_days},
    "continuity_of_care": METRICS["continuity_of_care"].cohort_follow_up[1],  # type: ignore[index]
}


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
    #: Why the value is hidden, as the metric layer says it ("" when it is shown).
    suppressed_reason: str = ""
    #: The view the value is of: the chosen one, or the one a follow-up moved it to (None: not yet).
    shown: FilterState | None = None
    #: Which part of the period the cohort covers when follow-up cuts it short ("" when it is whole).
    cohort_note: str = ""
    #: England's published value for the view ("England 53% (2023-24)"), or "" (`DashboardData.benchmark`)
    benchmark: str = ""
    #: How England's definition compares with ours, and the source (the benchmark's hover text).
    benchmark_note: str = ""


def cohort_note(data: DashboardData, metric: str, shown: FilterState) -> str:
    """What a tile's cohort covers when its period ends too near as_of for all of it to be followed up:
    the metric's cohort keeps only the records with ``cohort_follow_up`` days by as_of (12-week
    retention: starts with start_date + 84 ≤ as_of), so starts after as_of − 84 are not in it. "" when
    the whole period is followed up or the metric has no such cut."""
    from pipelines.metrics import describe_metric

    cut = describe_metric(metric).get("cohort_follow_up")
    if not cut:
        return ""
    what, days = str(cut[0]), int(cut[1])
    last = data.as_of() - timedelta(days=days)
    if shown.end <= last:
        return ""
    if last < shown.start:
        return f"no {what} of the period have {days} days of follow-up yet"
    return f"covers {what} to {format_day(last)} only: {days} days of follow-up needed"


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
    if not bool(current["suppressed"]) and current["value"] != current["value"]:
        value = NO_ONE  # nobody in the cohort: no rate, not a hidden one
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
        suppressed_reason=_reason(current),
        shown=shown,
        cohort_note=cohort_note(data, metric, shown),
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


def _reason(row: Any) -> str:
    """The metric layer's reason a row is hidden, or "" when it is shown."""
    if not bool(row.get("suppressed", False)):
        return ""
    reason = row.get("suppressed_reason")
    return reason if isinstance(reason, str) and reason else "disclosure control"


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
