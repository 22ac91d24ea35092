"""Whole-month periods for the dashboard: months, UK financial years (April to March) and their
quarters, rolling months, the presets the filter bar offers, and the names people give them.

The dashboard answers only periods of whole calendar months (from the first day of a month to the last
day of a month): a table builder that answered any run of days would let overlapping views pin the
small counts each one hides (issue 16). The metric layer (`pipelines.metrics`) keeps day-level periods
for analysts with record-level access; nothing here is used by it.

A month is *complete* when its last day is on or before the warehouse's as_of (the extract date: no
record is dated after it, so an extract taken on 31 March holds all of March). `DataSpan` is the whole
months a warehouse can answer: from the month of its first date to its last complete month.

The financial year is the UK's, 1 April to 31 March, named by its two calendar years (``2025-26``);
its quarters are Q1 April-June, Q2 July-September, Q3 October-December and Q4 January-March. Plain
functions on plain data, no Dash.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

MONTH_NAMES: tuple[str, ...] = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)

#: The month a UK financial year starts in.
FINANCIAL_YEAR_START_MONTH = 4


def month_end(day: date) -> date:
    """The last day of the month of ``day``."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def is_month_end(day: date) -> bool:
    return month_end(day) == day


def format_day(day: date) -> str:
    """``3 Jun 2025`` (the same in every locale)."""
    return f"{day.day} {MONTH_NAMES[day.month - 1]} {day.year}"


@dataclass(frozen=True, order=True)
class Month:
    """One calendar month."""

    year: int
    month: int  # 1 to 12

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1 <= self.year <= 9999:
            raise ValueError(f"no such month: {self.year}-{self.month}")

    @classmethod
    def of(cls, day: date) -> Month:
        """The month ``day`` falls in."""
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, text: str) -> Month:
        """A month written ``YYYY-MM`` (ValueError for anything else)."""
        if len(text) != 7 or text[4] != "-" or not (text[:4].isdigit() and text[5:].isdigit()):
            raise ValueError(f"not a month: {text!r}")
        return cls(int(text[:4]), int(text[5:]))

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return month_end(self.first_day)

    @property
    def index(self) -> int:
        """Months since January of year 0: differences of indexes count months."""
        return self.year * 12 + self.month - 1

    def plus(self, months: int) -> Month:
        """The month ``months`` later (earlier when negative)."""
        year, month0 = divmod(self.index + months, 12)
        return Month(year, month0 + 1)

    @property
    def label(self) -> str:
        """``Mar 2025``."""
        return f"{MONTH_NAMES[self.month - 1]} {self.year}"

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class Period:
    """A run of whole months, ``first`` to ``last`` inclusive."""

    first: Month
    last: Month

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError(f"a period cannot start ({self.first}) after it ends ({self.last})")

    @classmethod
    def of_days(cls, start: date, end: date) -> Period:
        """The whole months from the month of ``start`` to the month of ``end``."""
        return cls(Month.of(start), Month.of(end))

    @property
    def start(self) -> date:
        return self.first.first_day

    @property
    def end(self) -> date:
        return self.last.last_day

    @property
    def months(self) -> int:
        return self.last.index - self.first.index + 1

    def previous(self) -> Period:
        """The period of the same number of months ending the month before this one starts."""
        return Period(self.first.plus(-self.months), self.first.plus(-1))


def is_whole_months(start: date, end: date) -> bool:
    """Whether ``[start, end]`` runs from the first day of a month to the last day of a month."""
    return start.day == 1 and is_month_end(end)


def widen_to_whole_months(start: date, end: date) -> tuple[date, date]:
    """The smallest whole-month period holding ``[start, end]``: the first day of the start's month to
    the last day of the end's month."""
    return start.replace(day=1), month_end(end)


# -- financial years and quarters ----------------------------------------------------------------------


def financial_year_of(month: Month) -> int:
    """The calendar year in which the financial year holding ``month`` starts (April 2025 to March
    2026 is financial year 2025, written 2025-26)."""
    return month.year if month.month >= FINANCIAL_YEAR_START_MONTH else month.year - 1


def financial_year_name(start_year: int) -> str:
    """``2025-26`` for the financial year starting in April 2025."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def financial_year(start_year: int) -> Period:
    """April of ``start_year`` to March of the next year."""
    return Period(Month(start_year, FINANCIAL_YEAR_START_MONTH), Month(start_year + 1, 3))


def financial_quarter(start_year: int, quarter: int) -> Period:
    """Quarter ``quarter`` (1 to 4) of the financial year starting in April of ``start_year``: Q1
    April-June, Q2 July-September, Q3 October-December, Q4 January-March of the next year."""
    if quarter not in (1, 2, 3, 4):
        raise ValueError(f"a financial year has quarters 1 to 4, not {quarter}")
    first = Month(start_year, FINANCIAL_YEAR_START_MONTH).plus(3 * (quarter - 1))
    return Period(first, first.plus(2))


def _as_financial_quarter(period: Period) -> tuple[int, int] | None:
    """(start year, quarter) when ``period`` is exactly one financial-year quarter."""
    offset = (period.first.month - FINANCIAL_YEAR_START_MONTH) % 12
    if period.months != 3 or offset % 3:
        return None
    return financial_year_of(period.first), offset // 3 + 1


def last_complete_month(as_of: date) -> Month:
    """The latest month whose last day is on or before ``as_of``."""
    month = Month.of(as_of)
    return month if is_month_end(as_of) else month.plus(-1)


# -- the months a warehouse can answer, and the presets ------------------------------------------------

FINANCIAL_YEAR = "fy"
QUARTERS = ("q1", "q2", "q3", "q4")
ROLLING_12 = "rolling12"
#: The preset value meaning "the months chosen in the From and To controls".
CUSTOM = "custom"


@dataclass(frozen=True)
class Preset:
    """A period the filter bar offers by name: its key (the dropdown's value), label and months."""

    key: str
    label: str
    period: Period


@dataclass(frozen=True)
class DataSpan:
    """The whole months a warehouse can answer: ``first`` (the month of its first date) to ``last``
    (its last complete month by ``as_of``). A warehouse holding less than one complete month (its
    first date in the month of as_of, as_of not a month end) spans just that last complete month."""

    first: Month
    last: Month
    as_of: date

    @classmethod
    def of(cls, first_date: date, as_of: date) -> DataSpan:
        last = last_complete_month(as_of)
        return cls(min(Month.of(first_date), last), last, as_of)

    @property
    def period(self) -> Period:
        return Period(self.first, self.last)

    def holds(self, period: Period) -> bool:
        return self.first <= period.first and period.last <= self.last

    def latest_complete_financial_year(self) -> int | None:
        """The start year of the latest financial year whose months all lie in the span, or None."""
        year = financial_year_of(self.last)
        if financial_year(year).last > self.last:
            year -= 1
        return year if self.holds(financial_year(year)) else None

    def rolling(self, months: int = 12) -> Period:
        """The ``months`` months ending with the last complete month (fewer when the data begins later)."""
        return Period(max(self.first, self.last.plus(1 - months)), self.last)

    def default(self) -> Period:
        """The dashboard's default view: the latest complete financial year, or the rolling 12 months
        when the data holds no complete financial year (issue 12)."""
        year = self.latest_complete_financial_year()
        return financial_year(year) if year is not None else self.rolling(12)

    def presets(self) -> list[Preset]:
        """The latest complete financial year and each of its quarters (when the data holds one), then
        the rolling 12 months ending with the last complete month."""
        out: list[Preset] = []
        year = self.latest_complete_financial_year()
        if year is not None:
            out.append(
                Preset(FINANCIAL_YEAR, capitalised(period_label(financial_year(year))), financial_year(year))
            )
            for key, quarter in zip(QUARTERS, (1, 2, 3, 4), strict=True):
                period = financial_quarter(year, quarter)
                out.append(Preset(key, period_label(period), period))
        rolling = self.rolling(12)
        label = f"12 months to {rolling.last.label}" if rolling.months == 12 else period_label(rolling)
        out.append(Preset(ROLLING_12, label, rolling))
        return out

    def preset(self, key: object) -> Preset | None:
        return next((p for p in self.presets() if p.key == key), None)

    def preset_for(self, period: Period) -> str:
        """The key of the first preset that is ``period``, else `CUSTOM`."""
        return next((p.key for p in self.presets() if p.period == period), CUSTOM)

    def months_newest_first(self) -> list[Month]:
        return [self.last.plus(-i) for i in range(self.period.months)]


# -- names ---------------------------------------------------------------------------------------------


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def period_label(period: Period, span: DataSpan | None = None) -> str:
    """The period as people say it, for the filter line and the presets:

    - a financial year: ``financial year 2025-26``;
    - a financial-year quarter: ``Q2 2025-26 (Jul-Sep 2025)``;
    - the 12 months ending with the span's last complete month: ``12 months to Feb 2026``;
    - one month: ``Feb 2026``;
    - any other run of months: ``Mar 2025 to Feb 2026``.
    """
    year = financial_year_of(period.first)
    if period == financial_year(year):
        return f"financial year {financial_year_name(year)}"
    quarter = _as_financial_quarter(period)
    if quarter is not None:
        q_year, q = quarter
        months = f"{MONTH_NAMES[period.first.month - 1]}-{MONTH_NAMES[period.last.month - 1]}"
        return f"Q{q} {financial_year_name(q_year)} ({months} {period.last.year})"
    if span is not None and period.months == 12 and period.last == span.last:
        return f"12 months to {period.last.label}"
    if period.months == 1:
        return period.first.label
    return f"{period.first.label} to {period.last.label}"
