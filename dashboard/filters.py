"""The global filter state and its query-string form, so every view can be shared as a link.

A view is a period plus optional lists of values for the breakdown dimensions the metric layer
filters on. The query string repeats a key for several values (``?from=2025-04-01&to=2026-03-31
&setting=community&setting=prison``), which keeps codes with any characters intact. Nothing here
imports Dash: these are plain functions on plain data, used by the callbacks and the tests.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from itertools import islice
from urllib.parse import parse_qs, urlencode

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


@dataclass(frozen=True)
class FilterState:
    """A period ``[start, end]`` (inclusive) and the dimension values a view is restricted to.

    An empty tuple for a dimension means "all values".
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

    def metric_filters(self) -> dict[str, list[str]]:
        """The ``filters`` argument of `pipelines.metrics.compute_metric`: only the restricted dimensions."""
        return {d: list(getattr(self, d)) for d in FILTER_DIMENSIONS if getattr(self, d)}

    def previous_period(self) -> tuple[date, date]:
        """The period of the same length ending the day before this one starts."""
        length = (self.end - self.start).days
        previous_end = self.start - timedelta(days=1)
        return previous_end - timedelta(days=length), previous_end

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
        """Inverse of `to_store`. The values are cleaned as a link's are (`_clean_values`): the store
        comes back from the browser, so it is as untrusted as the URL."""
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


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def default_state(as_of: date, months: int = 12) -> FilterState:
    """The default view: the ``months`` whole calendar months ending before the month of ``as_of``.

    A whole month keeps the monthly SPC points comparable; the month the extract was taken in is left
    out because it is incomplete.
    """
    end = as_of.replace(day=1) - timedelta(days=1)
    start = end.replace(day=1)
    for _ in range(months - 1):
        start = (start - timedelta(days=1)).replace(day=1)
    return FilterState(start=start, end=end)


def _parse_date(values: list[str] | None) -> date | None:
    if not values:
        return None
    try:
        return date.fromisoformat(values[0][:10])
    except ValueError:
        return None


def decode_query(search: str | None, default: FilterState) -> FilterState:
    """Read a filter state from a URL query string, falling back to ``default`` for what is missing.

    Unknown keys, over-long values and a reversed or unreadable period are ignored rather than
    refused: a link that was edited by hand still opens a sensible view.
    """
    query = parse_qs((search or "").lstrip("?"), keep_blank_values=False)
    start = _parse_date(query.get("from")) or default.start
    end = _parse_date(query.get("to")) or default.end
    if start > end:
        start, end = default.start, default.end
    values: dict[str, tuple[str, ...]] = {}
    for d in FILTER_DIMENSIONS:
        values[d] = _clean_values(query.get(d, []))
    return FilterState(start=start, end=end, **values)


def encode_query(state: FilterState) -> str:
    """The query string (with its leading ``?``) for a filter state; the period is always written,
    so a shared link keeps its period after the next load moves the default."""
    pairs: list[tuple[str, str]] = [("from", state.start.isoformat()), ("to", state.end.isoformat())]
    for d in FILTER_DIMENSIONS:
        pairs.extend((d, v) for v in getattr(state, d))
    return "?" + urlencode(pairs)


def describe_filters(state: FilterState, labels: dict[str, dict[str, str]] | None = None) -> str:
    """One line naming the period and each restricted dimension, for the page and for exports."""
    labels = labels or {}
    parts = [f"{state.start:%d %b %Y} to {state.end:%d %b %Y}"]
    for d in FILTER_DIMENSIONS:
        chosen = getattr(state, d)
        if chosen:
            names = [labels.get(d, {}).get(v, v) for v in chosen]
            parts.append(f"{DIMENSION_LABELS[d]}: {', '.join(names)}")
    if len(parts) == 1:
        parts.append("all people and programmes")
    return " · ".join(parts)
