"""One plain-English sentence per indicator for the board pack, written from the statistics: the value
with its interval and counts, the SPC signal of the monthly series, and the programmes outside the
funnel plot's limits, e.g. "Retained in treatment at 12 weeks: 81.3% (95% CI 79.1% to 83.4%; 240 of
296), common-cause variation; Leeds Drug Treatment Service above the 95% limit (better)."

A hidden value gets a sentence saying that it is suppressed and why; an indicator whose period has no
follow-up yet says so. Nothing is guessed: the words come from the labels the statistics give
(`pipelines.stats.spc_signal`, `pipelines.stats.funnel_significance`) and the texts the tiles show
(`dashboard.headlines.TileSummary`). Plain functions on plain data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

#: The SPC signal of the latest month shown, as a sentence says it (`pipelines.stats.spc_signal`).
SIGNAL_PHRASES: dict[str, str] = {
    "improving": "special-cause improvement",
    "concerning": "special-cause concern",
    "special_cause": "special-cause variation",
    "common_cause": "common-cause variation",
}

#: Funnel positions, most extreme first (`pipelines.stats.funnel_significance` labels).
FUNNEL_PHRASES: dict[str, str] = {
    "high_99.8": "above the 99.8% limit",
    "low_99.8": "below the 99.8% limit",
    "high_95": "above the 95% limit",
    "low_95": "below the 95% limit",
}


@dataclass(frozen=True)
class SpcOutcome:
    """What an XmR chart of a monthly series says about its latest month: the signal
    (`pipelines.stats.spc_signal`), the latest month with a value, and the months after it that are
    suppressed (passed over by the signal)."""

    signal: str
    latest_month: str = ""
    suppressed_after: tuple[str, ...] = ()
    months_shown: int = 0


def spc_outcome(
    series: pd.DataFrame, chart: pd.DataFrame, month_label: dict[str, str] | None = None
) -> SpcOutcome:
    """The `SpcOutcome` of a monthly ``series`` (columns ``period``, ``value`` and optionally
    ``suppressed``) and its `pipelines.stats.xmr` table ``chart``, row for row. ``month_label`` names
    months (``2025-06`` → ``Jun 2025``); by default they are named as the series names them."""
    from pipelines.stats import spc_signal

    names = month_label or {}
    values = series["value"].astype(float).to_numpy()
    periods = [str(p) for p in series["period"]]
    shown = [i for i, v in enumerate(values) if v == v]
    hidden = (
        series["suppressed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        if "suppressed" in series
        else [False] * len(periods)
    )
    latest = shown[-1] if shown else -1
    after = tuple(names.get(periods[i], periods[i]) for i in range(latest + 1, len(periods)) if hidden[i])
    return SpcOutcome(
        signal=spc_signal(chart),
        latest_month=names.get(periods[latest], periods[latest]) if shown else "",
        suppressed_after=after,
        months_shown=len(shown),
    )


@dataclass(frozen=True)
class FunnelOutcome:
    """Where the programmes of a funnel plot fall: each one outside a limit as (name, significance
    label), how many were compared and how many were suppressed (not placed)."""

    outliers: tuple[tuple[str, str], ...]
    compared: int
    suppressed: int = 0
    direction: str | None = None


def funnel_outcome(
    table: pd.DataFrame, label_col: str = "programme_name", direction: str | None = None
) -> FunnelOutcome:
    """The `FunnelOutcome` of a funnel table (``significance`` per unit, ``suppressed``, and the unit's
    name in ``label_col``): outliers most extreme first, then by name."""
    hidden = table["suppressed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    placed = table[~hidden & table["significance"].notna()]
    order = list(FUNNEL_PHRASES)
    outliers = sorted(
        (
            (str(r[label_col]), str(r["significance"]))
            for _, r in placed.iterrows()
            if r["significance"] in FUNNEL_PHRASES
        ),
        key=lambda pair: (order.index(pair[1]), pair[0]),
    )
    return FunnelOutcome(
        tuple(outliers), compared=len(placed), suppressed=int(hidden.sum()), direction=direction
    )


def _judgement(significance: str, direction: str | None) -> str:
    if direction not in ("up", "down"):
        return ""
    high = significance.startswith("high")
    return " (better)" if high == (direction == "up") else " (worse)"


def _joined(items: Iterable[str]) -> str:
    parts = list(items)
    if len(parts) <= 2:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def spc_phrase(outcome: SpcOutcome) -> str:
    """The signal in words, naming the latest month it is of when later months are suppressed:
    "common-cause variation", "special-cause improvement in Feb 2026 (Mar 2026 suppressed)"."""
    if outcome.months_shown == 0:
        return "no monthly value to chart"
    phrase = SIGNAL_PHRASES.get(outcome.signal, SIGNAL_PHRASES["common_cause"])
    if outcome.suppressed_after:
        hidden = _joined(outcome.suppressed_after)
        verb = "is" if len(outcome.suppressed_after) == 1 else "are"
        return f"{phrase} to {outcome.latest_month}, the latest month shown ({hidden} {verb} suppressed)"
    return phrase


def funnel_phrase(outcome: FunnelOutcome) -> str:
    """The programmes outside the funnel's limits, grouped by limit, most extreme first ("Leeds Drug
    Treatment Service above the 95% limit (better)"; "A and B below the 99.8% limit (worse)"), or that
    every programme compared is within them."""
    if outcome.compared == 0:
        return "no programme could be placed on the funnel plot (all suppressed or empty)"
    if not outcome.outliers:
        if outcome.compared == 1:
            return "the programme compared is within the 95% limits"
        return f"all {outcome.compared} programmes compared are within the 95% limits"
    groups = []
    for label, phrase in FUNNEL_PHRASES.items():
        names = [name for name, significance in outcome.outliers if significance == label]
        if names:
            groups.append(f"{_joined(names)} {phrase}{_judgement(label, outcome.direction)}")
    return "; ".join(groups)


@dataclass(frozen=True)
class HeadlineFacts:
    """A headline indicator as its tile shows it (`dashboard.headlines.TileSummary`'s texts)."""

    label: str
    value: str
    interval: str = ""
    counts: str = ""
    period: str = ""
    period_note: str = ""
    suppressed_reason: str = ""
    cohort_note: str = ""
    #: England's published value where the definition matches or is close ("England 46% (2024-25)").
    benchmark: str = ""


def indicator_sentence(facts: HeadlineFacts, spc: SpcOutcome, funnel: FunnelOutcome | None = None) -> str:
    """One sentence for one indicator: its value, interval and counts, its SPC signal, and (when it
    has a funnel plot) the programmes outside the limits.

    A suppressed value: "<label> is suppressed for <period> (<reason>)", then the signal; a value that
    no period has the follow-up for yet: "<label> has no value yet: <note>".
    """
    where = f" for {facts.period}" if facts.period else ""
    if facts.value == "suppressed":
        reason = facts.suppressed_reason or "disclosure control"
        head = f"{facts.label} is suppressed{where} ({reason})"
    elif facts.value == "not yet":
        head = f"{facts.label} has no value yet: {facts.period_note or 'its cohort has no follow-up yet'}"
    else:
        details = "; ".join(part for part in (facts.interval, facts.counts) if part)
        head = f"{facts.label}: {facts.value}" + (f" ({details})" if details else "")
        if facts.period_note:
            head += f" (shown for {facts.period_note})"
        if facts.cohort_note:
            head += f" ({facts.cohort_note})"
        if facts.benchmark:
            head += f" against {facts.benchmark}"
    parts = [head, spc_phrase(spc)]
    if funnel is not None:
        parts.append(funnel_phrase(funnel))
    sentence = parts[0] + ", " + parts[1] + ("; " + "; ".join(parts[2:]) if parts[2:] else "")
    return sentence[:1].upper() + sentence[1:] + "."
