"""Whole-month periods for the dashboard: months, UK financial years (April to March) and their
quarters, rolling months, the periods the filter bar offers, and the names people give them.

The dashboard answers only a month, a financial-year quarter, a financial year or the rolling 12 months
(`DataSpan.allows`): a table builder that answered any run of days, or any run of months, would let
overlapping views pin the small counts each one hides (issue 16). The metric layer
(`pipelines.metrics`) keeps day-level periods for analysts with record-level access; nothing here is
used by it.

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


# -- the months a warehouse can answer, and the periods the dashboard offers ----------------------------

ROLLING_12 = "rolling12"


def period_key(period: Period) -> str:
    """The filter bar's value for a period of one of the dashboard's shapes: ``fy2025`` (a financial
    year), ``fy2025q3`` (a quarter of it), ``m2025-06`` (a month); `ROLLING_12` is the rolling 12
    months, keyed apart because it can be the same months as a financial year."""
    year = financial_year_of(period.first)
    if period == financial_year(year):
        return f"fy{year}"
    quarter = _as_financial_quarter(period)
    if quarter is not None:
        return f"fy{quarter[0]}q{quarter[1]}"
    if period.months == 1:
        return f"m{period.first}"
    raise ValueError(f"{period_label(period)} is not a month, a financial-year quarter or a financial year")


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
    first date in the month of as_of, as_of not a month end) spans just that last complete month.

    **The shapes of period the dashboard answers** (issue 16): a month, a financial-year quarter, a
    financial year, and the rolling 12 months ending with the last complete month (`rolling`), plus
    the 12 months before those, which the Overview compares them with. A table builder that answered
    any run of months would let overlapping periods (January to March against January to April, and
    every other pair) each add an estimate of the months they differ by; with these shapes a month
    lies in one quarter, one financial year and at most two rolling periods, so the estimates that can
    be combined stay few (see the README's disclosure section, and `tests/security`).
    """

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

    def allows(self, period: Period) -> bool:
        """Whether ``period`` is of a shape the dashboard answers: a month, a financial-year quarter,
        a financial year, the rolling 12 months (`rolling`) or the same number of months before them.
        Inside the data or not: a comparison period may lie before the data's first month."""
        rolling = self.rolling(12)
        return (
            period.months == 1
            or _as_financial_quarter(period) is not None
            or period == financial_year(financial_year_of(period.first))
            or period in (rolling, rolling.previous())
        )

    def choices(self) -> list[Preset]:
        """Every period the filter bar offers, in its order: the latest complete financial year, the
        rolling 12 months, then the complete quarters, the earlier financial years and the months, each
        newest first. Only periods wholly inside the data are offered."""
        out: list[Preset] = []
        year = self.latest_complete_financial_year()
        if year is not None:
            fy = financial_year(year)
            out.append(Preset(period_key(fy), capitalised(period_label(fy)), fy))
        rolling = self.rolling(12)
        label = f"12 months to {rolling.last.label}" if rolling.months == 12 else period_label(rolling)
        out.append(Preset(ROLLING_12, label, rolling))
        quarter_year = financial_year_of(self.last)
        years_back = range(quarter_year, self.first.year - 2, -1)
        quarters = [financial_quarter(y, q) for y in years_back for q in (4, 3, 2, 1)]
        out.extend(Preset(period_key(q), period_label(q), q) for q in quarters if self.holds(q))
        if year is not None:
            years = (financial_year(y) for y in range(year - 1, self.first.year - 2, -1))
            out.extend(Preset(period_key(y), capitalised(period_label(y)), y) for y in years if self.holds(y))
        singles = (Period(m, m) for m in self.months_newest_first())
        out.extend(Preset(period_key(m), m.first.label, m) for m in singles)
        return out

    def choice(self, key: object) -> Preset | None:
        """The offered period with filter-bar value ``key``, or None."""
        return next((p for p in self.choices() if p.key == key), None)

    def key_for(self, period: Period) -> str | None:
        """The filter-bar value of the first offered period that is ``period``, or None."""
        return next((p.key for p in self.choices() if p.period == period), None)

    def nearest_choice(self, period: Period) -> Preset | None:
        """For months the dashboard does not answer as they are, the shortest offered quarter,
        financial year or rolling 12 months holding them; None when none does."""
        holding = [
            p for p in self.choices() if p.period.first <= period.first and period.last <= p.period.last
        ]
        return min(holding, key=lambda p: p.period.months) if holding else None

    def followed_up(self, period: Period, days: int) -> Period | None:
        """``period``, or, when its last day has less than ``days`` of follow-up by as_of, the latest
        period of the same shape that has (a month for a month, a quarter for a quarter, a financial
        year for a financial year or for the rolling 12 months), so a cohort shown is a complete one
        and of a shape the dashboard answers. None when no such period lies in the data."""

        def followed(p: Period) -> bool:
            return (p.end - self.as_of).days + days <= 0

        if followed(period):
            return period
        if period.months == 1:
            candidates = [Period(m, m) for m in self.months_newest_first()]
        elif _as_financial_quarter(period) is not None:
            candidates = [p.period for p in self.choices() if _as_financial_quarter(p.period) is not None]
        else:
            last_year = financial_year_of(self.last)
            candidates = [financial_year(y) for y in range(last_year, self.first.year - 2, -1)]
        return next((p for p in candidates if followed(p) and self.holds(p) and p.last <= period.last), None)

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


def period_slug(period: Period, span: DataSpan | None = None) -> str:
    """The period in a file name: ``fy2025-26`` (a financial year), ``fy2025-26-q2`` (a quarter of it),
    ``2025-06`` (a month), ``12m-to-2026-02`` (the 12 months ending with the ``span``'s last complete
    month), ``2025-03-to-2026-02`` (any other run of months)."""
    year = financial_year_of(period.first)
    if period == financial_year(year):
        return f"fy{financial_year_name(year)}"
    quarter = _as_financial_quarter(period)
    if quarter is not None:
        return f"fy{financial_year_name(quarter[0])}-q{quarter[1]}"
    if period.months == 1:
        return str(period.first)
    if span is not None and period.months == 12 and period.last == span.last:
        return f"12m-to-{period.last}"
    return f"{period.first}-to-{period.last}"
