"""The global filter state and its query-string form, so every view can be shared as a link.

A view is a period of whole months plus, for each breakdown dimension the metric layer filters on, one
value or all of them. The query string names the months and the values
(``?from=2025-04&to=2026-03&setting=community``), which keeps codes with any characters intact. Links
written before whole months (``from=2025-04-01&to=2026-03-31``) still open.

**Whole months only.** `FilterState` cannot hold a period that is not whole months: its constructor
widens any other period to the whole months holding it (the first day of the start's month to the last
day of the end's month), so no callback, link or crafted filter store is ever computed at day level
(issue 16).

**The views the dashboard answers** (issue 16). A link or the filter bar gives a month, a
financial-year quarter, a financial year or the rolling 12 months (`dashboard.periods.DataSpan.choices`),
and one value or all values of each dimension. Free unions of values and free runs of months are what
let an averaging attacker cancel the perturbation: with every programme but one and every programme
but two, and so on, each difference is another noisy copy of one programme's count, and 26 copies
average to the exact count (`tests/security`). `dashboard.queries.DashboardData` refuses any other view
however it arrives, such as a crafted filter store (`check_view`).

**Nothing is changed silently.** `decode_query` (a link) and `read_controls` (the filter bar) return the
state together with a notice for each thing they could not use as given: an unknown key, a month that
cannot be read, a period that is not whole months (widened), a run of months that is not a period the
dashboard answers (the shortest one holding it), a period starting after it ends (the default
instead), a period partly outside the data (cut to the data) or wholly outside it (the default
instead), a filter value that is not one of the options (left out), a second value of a dimension
(left out). Nothing here imports Dash: these are plain functions on plain data, used by the callbacks
and the tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from itertools import islice
from urllib.parse import parse_qs, urlencode

from dashboard.periods import (
    DataSpan,
    Month,
    Period,
    capitalised,
    format_day,
    is_whole_months,
    period_label,
    widen_to_whole_months,
)

#: The filter dimensions, in the order the filter bar shows them; each is a query-string key.
FILTER_DIMENSIONS: tuple[str, ...] = (
    "area",
    "provider",
    "programme",
    "setting",
    "substance_group",
    "sex",
    "age_band",
)

#: The query-string keys of the period: the first and the last month (``YYYY-MM``).
PERIOD_KEYS: tuple[str, str] = ("from", "to")

#: Labels for the dimensions, as the page shows them.
DIMENSION_LABELS: dict[str, str] = {
    "area": "Area",
    "provider": "Provider",
    "programme": "Programme",
    "setting": "Setting",
    "substance_group": "Substance group",
    "sex": "Sex",
    "age_band": "Age band",
    "month": "Month",
    "quarter": "Quarter",
}

#: A filter value longer than this is ignored (a shared link is never that long legitimately), and only
#: the first ``_MAX_VALUES`` values of a dimension are kept: the same limits for a link, the filter
#: controls and the filter store, so no request can make a huge query or a huge cache key.
_MAX_VALUE_LENGTH = 100
_MAX_VALUES = 200


def _clean_values(raw: object) -> tuple[str, ...]:
    """The values one dimension is restricted to, from a link, a filter control or the filter store.

    A lone string is one value (not a sequence of characters); a list or tuple keeps its non-empty
    strings of at most ``_MAX_VALUE_LENGTH`` characters, at most ``_MAX_VALUES`` of them, without repeats
    (first occurrence kept). Anything else (None, a number, a boolean, a mapping, a nested list) is
    dropped: a value of the wrong shape is ignored, never turned into text.
    """
    if isinstance(raw, str):
        items: Iterable[object] = (raw,)
    elif isinstance(raw, (list, tuple)):
        items = raw
    else:
        return ()
    kept = (v for v in items if isinstance(v, str) and v and len(v) <= _MAX_VALUE_LENGTH)
    return tuple(dict.fromkeys(islice(kept, _MAX_VALUES)))  # drop repeats, keep order


def _as_day(value: object, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise TypeError(f"the period's {name} must be a date, not {type(value).__name__}")


@dataclass(frozen=True)
class FilterState:
    """A period ``[start, end]`` (inclusive) of whole months and the dimension values a view is
    restricted to. An empty tuple for a dimension means "all values".

    The constructor widens a period that is not whole months to the whole months holding it
    (`dashboard.periods.widen_to_whole_months`), whatever made it (a link, a control, the filter store
    the browser sends back, ``dataclasses.replace``), and refuses one that starts after it ends
    (ValueError).
    """

    start: date
    end: date
    area: tuple[str, ...] = field(default=())
    provider: tuple[str, ...] = field(default=())
    programme: tuple[str, ...] = field(default=())
    setting: tuple[str, ...] = field(default=())
    substance_group: tuple[str, ...] = field(default=())
    sex: tuple[str, ...] = field(default=())
    age_band: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        start, end = _as_day(self.start, "start"), _as_day(self.end, "end")
        if start > end:
            raise ValueError(f"the period starts ({start}) after it ends ({end})")
        start, end = widen_to_whole_months(start, end)
        object.__setattr__(self, "start", start)  # frozen: the one place the period is set
        object.__setattr__(self, "end", end)

    @property
    def period(self) -> Period:
        return Period.of_days(self.start, self.end)

    def metric_filters(self) -> dict[str, list[str]]:
        """The ``filters`` argument of `pipelines.metrics.compute_metric`: only the restricted dimensions."""
        return {d: list(getattr(self, d)) for d in FILTER_DIMENSIONS if getattr(self, d)}

    def previous_period(self) -> tuple[date, date]:
        """The period of the same number of whole months ending the month before this one starts
        (the financial year before a financial year, the quarter before a quarter)."""
        previous = self.period.previous()
        return previous.start, previous.end

    def to_store(self) -> dict[str, object]:
        """A JSON-able dict for a ``dcc.Store`` (filter values only)."""
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["end"] = self.end.isoformat()
        for d in FILTER_DIMENSIONS:
            data[d] = list(data[d])
        return data

    @classmethod
    def from_store(cls, data: dict[str, object]) -> FilterState:
        """Inverse of `to_store`. The store comes back from the browser, so it is as untrusted as the
        URL: the values are cleaned as a link's are (`_clean_values`), and the period is widened to
        whole months by the constructor (ValueError for dates that cannot be read or a reversed
        period)."""
        return cls(
            start=date.fromisoformat(str(data["start"])),
            end=date.fromisoformat(str(data["end"])),
            **{d: _clean_values(data.get(d)) for d in FILTER_DIMENSIONS},
        )

    def with_values(self, **values: object) -> FilterState:
        """A copy with some dimensions replaced (a list or tuple of values, or one string; None clears
        one), cleaned as a link's values are (`_clean_values`)."""
        changes = {k: _clean_values(v) for k, v in values.items() if k in FILTER_DIMENSIONS}
        return replace(self, **changes)


def state_of(period: Period, **values: object) -> FilterState:
    """A filter state for ``period`` with the given dimension values."""
    return FilterState(period.start, period.end).with_values(**values)


def default_state(as_of: date, first: date | None = None, months: int | None = None) -> FilterState:
    """The default view of a warehouse whose dates run from ``first`` to ``as_of``: the latest complete
    financial year, or the rolling 12 months ending with the last complete month when the data holds no
    complete financial year (`dashboard.periods.DataSpan.default`). Without ``first`` the data is taken
    to reach back far enough. With ``months``, the ``months`` months ending with the last complete month
    instead (for the benchmarks' varied views)."""
    span = DataSpan.of(first or date(1900, 1, 1), as_of)
    return state_of(span.rolling(months) if months else span.default())


# -- reading a link or the controls, with a notice for everything not used as given ------------------


@dataclass(frozen=True)
class FilterReading:
    """A filter state and the notices saying what of the request was changed or left out to make it."""

    state: FilterState
    notices: tuple[str, ...] = ()


def _shown(value: object, limit: int = 30) -> str:
    """A value someone sent, safe to quote on the page: printable characters only, cut short."""
    if not isinstance(value, str):
        return "(a value that is not text)"
    text = "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in value)
    return f"'{text[:limit]}…'" if len(text) > limit else f"'{text}'"


def _shown_list(values: list[object], most: int = 3) -> str:
    quoted = [_shown(v) for v in values[:most]]
    more = len(values) - most
    return ", ".join(quoted) + (f" and {more} more" if more > 0 else "")


def _read_day(value: object, bound: str) -> date | None:
    """A month ``YYYY-MM`` (its first or last day, as ``bound`` is "start" or "end") or a day
    ``YYYY-MM-DD``; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        month = Month.parse(value)
    except ValueError:
        pass
    else:
        return month.first_day if bound == "start" else month.last_day
    if len(value) != 10:  # fromisoformat also reads "20250401" and week dates: only YYYY-MM-DD here
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _days_text(start: date, end: date) -> str:
    return f"{format_day(start)} to {format_day(end)}"


def _settle_period(
    start: date, end: date, span: DataSpan, notices: list[str], *, reversed_note: str | None = None
) -> Period:
    """Whole months of ``[start, end]`` inside the data, noting every change: widened to whole months;
    the default when reversed (``reversed_note`` then says what was asked for) or wholly outside the
    data; cut to the data when partly outside it."""
    default = span.default()
    instead = f"showing the default period, {period_label(default, span)}, instead"
    if start > end:
        asked = reversed_note or f"The period {_days_text(start, end)} starts after it ends"
        notices.append(f"{asked}: {instead}.")
        return default
    if not is_whole_months(start, end):
        wide_start, wide_end = widen_to_whole_months(start, end)
        widened = Period.of_days(wide_start, wide_end)
        notices.append(
            f"The dashboard shows whole months only: the period {_days_text(start, end)} was widened "
            f"to {period_label(widened, span)}, {_days_text(widened.start, widened.end)}."
        )
        start, end = wide_start, wide_end
    period = Period.of_days(start, end)
    last_complete = f"{span.last.label}, the last complete month of the data (as at {format_day(span.as_of)})"
    if period.last < span.first or period.first > span.last:
        notices.append(
            f"{capitalised(period_label(period, span))} is outside the data, which runs from "
            f"{span.first.label} to {last_complete}: {instead}."
        )
        return default
    first, last = max(period.first, span.first), min(period.last, span.last)
    if first != period.first:
        notices.append(
            f"The data begins in {span.first.label}: the period starts there, not in {period.first.label}."
        )
    if last != period.last:
        notices.append(f"{period.last.label} is after {last_complete}: the period ends in {last.label}.")
    period = Period(first, last)
    if span.key_for(period) is None:
        chosen = span.nearest_choice(period)
        shapes = (
            "The dashboard shows a month, a financial-year quarter, a financial year or the latest 12 "
            f"months, not any run of months: {period_label(period, span)}"
        )
        if chosen is None:
            notices.append(f"{shapes} is not one of these and none holds it: {instead}.")
            return default
        notices.append(
            f"{shapes} is shown as {period_label(chosen.period, span)} "
            f"({_days_text(chosen.period.start, chosen.period.end)}), the shortest of these holding it."
        )
        period = chosen.period
    return period


def _given(raw: object) -> list[object]:
    """What was sent for one dimension, as a list (a lone value is a list of one)."""
    if raw is None:
        return []
    return list(raw) if isinstance(raw, (list, tuple)) else [raw]


def _hashable(value: object) -> object:
    try:
        hash(value)
    except TypeError:
        return repr(value)[:40]
    return value


def _settle_values(
    raw: Mapping[str, object],
    options: Mapping[str, Iterable[Mapping[str, str]] | Iterable[str]] | None,
    notices: list[str],
) -> dict[str, tuple[str, ...]]:
    """Each dimension's values, cleaned as `_clean_values` cleans them and, with ``options`` (per
    dimension the dropdown's options or their values), only those that are options. A notice names the
    values left out, per dimension."""
    out: dict[str, tuple[str, ...]] = {}
    for d in FILTER_DIMENSIONS:
        cleaned = _clean_values(raw.get(d))
        if options is not None:
            allowed = {o["value"] if isinstance(o, Mapping) else o for o in options.get(d, ())}
            cleaned = tuple(v for v in cleaned if v in allowed)
        given = _given(raw.get(d))
        kept = set(cleaned)
        dropped = [v for v in dict.fromkeys(map(_hashable, given)) if v not in kept and v != ""]
        if dropped:
            label = DIMENSION_LABELS[d]
            one = len(dropped) == 1
            if options is not None:
                verb = (
                    "is not one of the options, so it was"
                    if one
                    else "are not among the options, so they were"
                )
            else:  # over-long, empty or not text (`_clean_values`)
                verb = "is not a usable value, so it was" if one else "are not usable values, so they were"
            rest = "" if cleaned else f"; showing every {label.lower()}"
            cap = f" (at most {_MAX_VALUES} values are used)" if len(given) > _MAX_VALUES else ""
            notices.append(f"{label}: {_shown_list(dropped)} {verb} left out{rest}{cap}.")
        if len(cleaned) > 1:
            label = DIMENSION_LABELS[d]
            rest = list(cleaned[1:])
            verb = "was" if len(rest) == 1 else "were"
            notices.append(
                f"{label}: the dashboard shows one {label.lower()} at a time or all of them, so "
                f"{_shown(cleaned[0])} is shown and {_shown_list(rest)} {verb} left out."
            )
            cleaned = cleaned[:1]
        out[d] = cleaned
    return out


def decode_query(
    search: str | None,
    span: DataSpan,
    options: Mapping[str, Iterable[Mapping[str, str]] | Iterable[str]] | None = None,
) -> FilterReading:
    """Read a filter state from a URL query string, for a warehouse spanning ``span``.

    A missing period is the default (``span.default()``); a missing dimension is "all". Everything else
    that cannot be used as given is changed and named in a notice: unknown keys (ignored), a repeated
    ``from``/``to`` (the first used), a month that cannot be read (the default's month), a period that
    is not whole months (widened), a period that starts after it ends (the default), a period outside
    the data (cut to it, or the default when wholly outside), a run of months that is not a period the
    dashboard answers (the shortest quarter, financial year or rolling 12 months holding it, else the
    default), with ``options`` (per dimension the dropdown's options, or their values) values that are
    not options (left out), and a second or later value of a dimension (left out).
    """
    notices: list[str] = []
    query = parse_qs((search or "").lstrip("?"), keep_blank_values=True)
    unknown = [k for k in query if k not in PERIOD_KEYS and k not in FILTER_DIMENSIONS]
    if unknown:
        noun = "is not a filter" if len(unknown) == 1 else "are not filters"
        notices.append(
            f"{_shown_list(unknown)} in the link {noun} and {'was' if len(unknown) == 1 else 'were'} ignored."
        )
    default = span.default()
    days: dict[str, date] = {}
    for key, bound, fallback in (("from", "start", default.start), ("to", "end", default.end)):
        values = query.get(key)
        if not values:
            days[bound] = fallback
            continue
        if len(values) > 1:
            notices.append(
                f"{key}= is given {len(values)} times in the link: the first, {_shown(values[0])}, is used."
            )
        day = _read_day(values[0], bound)
        if day is None:
            fallback_month = Month.of(fallback).label
            notices.append(
                f"{key}={_shown(values[0])} is not a month (write it YYYY-MM, such as 2025-04): "
                f"{'starting' if bound == 'start' else 'ending'} in {fallback_month}, the default, instead."
            )
            day = fallback
        days[bound] = day

    def given(key: str, bound: str) -> str:
        if query.get(key):
            return f"{key}={_shown(query[key][0])}"
        return f"the default {bound} ({Month.of(days[bound]).label})"

    reversed_note = None
    if days["start"] > days["end"]:
        reversed_note = f"In the link, {given('from', 'start')} is after {given('to', 'end')}"
    period = _settle_period(days["start"], days["end"], span, notices, reversed_note=reversed_note)
    raw_values = {d: [v for v in query.get(d, []) if v != ""] for d in FILTER_DIMENSIONS}
    values = _settle_values({d: v for d, v in raw_values.items() if v}, options, notices)
    return FilterReading(state_of(period, **values), tuple(notices))


def read_controls(
    changed: str | None,
    choice: object,
    values: Mapping[str, object],
    span: DataSpan,
    current: FilterState,
    options: Mapping[str, Iterable[Mapping[str, str]] | Iterable[str]] | None = None,
) -> FilterReading:
    """Read a filter state from the filter bar: the period dropdown (a key of
    `dashboard.periods.DataSpan.choices`) and each dimension's dropdown, after the control ``changed``
    ("period", or None for a dimension) changed.

    A period that is not one of the choices keeps ``current``'s period, with a notice; the dimensions
    are read as `decode_query` reads a link's, one value each.
    """
    notices: list[str] = []
    period = current.period
    if changed == "period":
        chosen = span.choice(choice)
        if chosen is None:
            notices.append(
                f"The period {_shown(choice)} is not one of the choices: it stays "
                f"{period_label(period, span)}."
            )
        else:
            period = chosen.period
    period = _settle_period(period.start, period.end, span, notices)
    settled = _settle_values(values, options, notices)
    return FilterReading(state_of(period, **settled), tuple(notices))


def encode_query(state: FilterState) -> str:
    """The query string (with its leading ``?``) for a filter state; the period is always written, as
    its first and last month, so a shared link keeps its period after the next load moves the default."""
    period = state.period
    pairs: list[tuple[str, str]] = [("from", str(period.first)), ("to", str(period.last))]
    for d in FILTER_DIMENSIONS:
        pairs.extend((d, v) for v in getattr(state, d))
    return "?" + urlencode(pairs)


def describe_filters(
    state: FilterState, labels: dict[str, dict[str, str]] | None = None, span: DataSpan | None = None
) -> str:
    """One line naming the period as people say it (`dashboard.periods.period_label`: "financial year
    2025-26", "Q2 2025-26 (Jul-Sep 2025)", "12 months to Feb 2026" with the ``span`` it ends, "Mar 2025
    to Feb 2026") and each restricted dimension, for the page and for exports."""
    labels = labels or {}
    parts = [period_label(state.period, span)]
    for d in FILTER_DIMENSIONS:
        chosen = getattr(state, d)
        if chosen:
            names = [labels.get(d, {}).get(v, v) for v in chosen]
            parts.append(f"{DIMENSION_LABELS[d]}: {', '.join(names)}")
    if len(parts) == 1:
        parts.append("all people and programmes")
    return " · ".join(parts)
