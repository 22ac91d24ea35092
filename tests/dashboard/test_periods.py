"""Whole-month period arithmetic: financial years and quarters around 1 April, the rolling 12 months,
the default view (including data with no complete financial year), the presets and their names.

Hand-worked cases around 1 April, and a property check against pandas' fiscal periods (``Q-MAR`` and
``Y-MAR``: quarters and years ending in March, the UK financial year) and against a brute-force search
over every financial year, written from the definitions and nothing else.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.periods import (
    ROLLING_12,
    DataSpan,
    Month,
    Period,
    financial_quarter,
    financial_year,
    financial_year_of,
    is_whole_months,
    last_complete_month,
    month_end,
    period_label,
    widen_to_whole_months,
)

SAMPLE_FIRST = date(2021, 4, 1)  # the first date of the committed sample and of the test warehouses


def months(first: str, last: str) -> Period:
    return Period(Month.parse(first), Month.parse(last))


# -- around 1 April, by hand -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "last_complete", "financial_year_start"),
    [
        # 31 March is the last day of March: March is complete, and with it financial year 2025-26.
        (date(2026, 3, 31), "2026-03", 2025),
        # 30 March: March is not yet complete, so the latest complete year is 2024-25.
        (date(2026, 3, 30), "2026-02", 2024),
        (date(2026, 3, 1), "2026-02", 2024),
        # 1 April: April has one day in the data and is not complete; 2025-26 is.
        (date(2026, 4, 1), "2026-03", 2025),
        (date(2026, 4, 29), "2026-03", 2025),
        (date(2026, 4, 30), "2026-04", 2025),
        (date(2026, 2, 28), "2026-02", 2024),
        (date(2025, 12, 31), "2025-12", 2024),
        (date(2024, 2, 29), "2024-02", 2022),  # leap day: February 2024 complete on the 29th
        (date(2024, 2, 28), "2024-01", 2022),
    ],
)
def test_last_complete_month_and_financial_year_around_1_april(
    as_of: date, last_complete: str, financial_year_start: int
) -> None:
    span = DataSpan.of(SAMPLE_FIRST, as_of)
    assert last_complete_month(as_of) == Month.parse(last_complete)
    assert span.last == Month.parse(last_complete)
    assert span.latest_complete_financial_year() == financial_year_start
    assert span.default() == financial_year(financial_year_start)


def test_quarters_of_the_financial_year() -> None:
    assert financial_year(2025) == months("2025-04", "2026-03")
    assert [financial_quarter(2025, q) for q in (1, 2, 3, 4)] == [
        months("2025-04", "2025-06"),
        months("2025-07", "2025-09"),
        months("2025-10", "2025-12"),
        months("2026-01", "2026-03"),
    ]
    assert financial_quarter(2025, 4).end == date(2026, 3, 31)
    with pytest.raises(ValueError):
        financial_quarter(2025, 5)
    # Which financial year a month belongs to: March belongs to the year that started the April before.
    assert financial_year_of(Month(2026, 3)) == 2025
    assert financial_year_of(Month(2026, 4)) == 2026
    assert financial_year_of(Month(2026, 1)) == 2025


def test_the_first_choices_at_31_march_and_at_1_april_are_the_same_year() -> None:
    expected = [
        ("fy2025", "Financial year 2025-26", months("2025-04", "2026-03")),
        (ROLLING_12, "12 months to Mar 2026", months("2025-04", "2026-03")),
        ("fy2025q4", "Q4 2025-26 (Jan-Mar 2026)", months("2026-01", "2026-03")),
        ("fy2025q3", "Q3 2025-26 (Oct-Dec 2025)", months("2025-10", "2025-12")),
        ("fy2025q2", "Q2 2025-26 (Jul-Sep 2025)", months("2025-07", "2025-09")),
        ("fy2025q1", "Q1 2025-26 (Apr-Jun 2025)", months("2025-04", "2025-06")),
        ("fy2024q4", "Q4 2024-25 (Jan-Mar 2025)", months("2025-01", "2025-03")),
    ]
    for as_of in (date(2026, 3, 31), date(2026, 4, 1), date(2026, 4, 29)):
        got = [(p.key, p.label, p.period) for p in DataSpan.of(SAMPLE_FIRST, as_of).choices()]
        assert got[: len(expected)] == expected, as_of


def test_choices_on_30_march_and_30_april() -> None:
    before = DataSpan.of(SAMPLE_FIRST, date(2026, 3, 30)).choices()
    assert [p.key for p in before[:4]] == ["fy2024", ROLLING_12, "fy2025q3", "fy2025q2"]
    assert before[0].period == months("2024-04", "2025-03")
    assert before[1].period == months("2025-03", "2026-02") and before[1].label == "12 months to Feb 2026"
    # The quarters of the year not yet complete come first: the latest complete quarter is Q3 2025-26.
    assert before[2].label == "Q3 2025-26 (Oct-Dec 2025)"
    after = {p.key: p for p in DataSpan.of(SAMPLE_FIRST, date(2026, 4, 30)).choices()}
    assert after["fy2025"].period == months("2025-04", "2026-03")
    assert after[ROLLING_12].period == months("2025-05", "2026-04")
    assert after[ROLLING_12].label == "12 months to Apr 2026"
    assert after["m2026-04"].label == "Apr 2026" and "fy2026q1" not in after  # Q1 2026-27 not complete


def test_rolling_twelve_months_end_with_the_last_complete_month() -> None:
    span = DataSpan.of(SAMPLE_FIRST, date(2026, 3, 15))
    assert span.rolling(12) == months("2025-03", "2026-02")
    assert span.rolling(3) == months("2025-12", "2026-02")
    assert span.rolling(1) == months("2026-02", "2026-02")
    # Across a year end, and a leap February.
    assert DataSpan.of(SAMPLE_FIRST, date(2024, 3, 1)).rolling(12) == months("2023-03", "2024-02")
    assert DataSpan.of(SAMPLE_FIRST, date(2024, 3, 1)).rolling(12).end == date(2024, 2, 29)


# -- the default when the data holds no complete financial year -------------------------------------------


def test_default_is_the_rolling_twelve_months_without_a_complete_financial_year() -> None:
    # Data from 14 May 2024 to 15 Jun 2025: financial year 2024-25 began in April 2024, before the data.
    span = DataSpan.of(date(2024, 5, 14), date(2025, 6, 15))
    assert span.latest_complete_financial_year() is None
    assert span.default() == months("2024-06", "2025-05")
    assert [p.key for p in span.choices()[:4]] == [ROLLING_12, "fy2024q4", "fy2024q3", "fy2024q2"]
    assert span.choices()[0].label == "12 months to May 2025"
    assert span.key_for(span.default()) == ROLLING_12
    # One month later the data holds no more years, but 2024-25 is still not whole: still rolling.
    assert DataSpan.of(date(2024, 5, 14), date(2025, 7, 31)).default() == months("2024-08", "2025-07")


def test_with_less_than_twelve_months_of_data_the_rolling_period_starts_with_the_data() -> None:
    span = DataSpan.of(date(2025, 9, 2), date(2026, 3, 31))
    assert span.latest_complete_financial_year() is None
    assert span.default() == months("2025-09", "2026-03")
    assert period_label(span.default(), span) == "Sep 2025 to Mar 2026"
    # Less than a month of data: the span is the last complete month.
    tiny = DataSpan.of(date(2026, 3, 5), date(2026, 3, 20))
    assert tiny.period == months("2026-02", "2026-02") and tiny.default() == tiny.period


def test_a_financial_year_that_starts_with_the_data_is_held() -> None:
    # The first record on 20 April: April counts as a month of the data, so 2021-22 is held.
    span = DataSpan.of(date(2021, 4, 20), date(2022, 3, 31))
    assert span.latest_complete_financial_year() == 2021
    assert DataSpan.of(date(2021, 5, 1), date(2022, 3, 31)).latest_complete_financial_year() is None


# -- the same against pandas' fiscal periods and a brute-force search ------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    first=st.dates(min_value=date(2015, 1, 1), max_value=date(2025, 12, 31)),
    days=st.integers(min_value=0, max_value=2500),
)
def test_financial_year_and_quarters_agree_with_pandas_and_brute_force(first: date, days: int) -> None:
    as_of = first + timedelta(days=days)
    span = DataSpan.of(first, as_of)
    # Brute force from the definitions: the last complete month is the latest month ending by as_of.
    candidates = [m for m in pd.period_range(first - timedelta(days=62), as_of, freq="M")]
    complete = [m for m in candidates if m.end_time.date() <= as_of]
    assert (span.last.year, span.last.month) == (complete[-1].year, complete[-1].month)
    # The latest financial year lying wholly between the first month of the data and the last complete
    # month, by trying every year.
    first_month_start = date(first.year, first.month, 1)
    held = [
        y
        for y in range(2000, 2040)
        if date(y, 4, 1) >= min(first_month_start, span.last.first_day) and date(y + 1, 3, 31) <= as_of
    ]
    expected_year = held[-1] if held else None
    assert span.latest_complete_financial_year() == expected_year
    if expected_year is not None:
        fy = pd.Period(date(expected_year, 4, 1), freq="Y-MAR")  # pandas: the year ending in March
        assert (span.default().start, span.default().end) == (fy.start_time.date(), fy.end_time.date())
        for q in (1, 2, 3, 4):
            quarter = financial_quarter(expected_year, q)
            fiscal = pd.Period(quarter.start, freq="Q-MAR")
            assert fiscal.quarter == q and fiscal.qyear == expected_year + 1
            assert (quarter.start, quarter.end) == (fiscal.start_time.date(), fiscal.end_time.date())
    else:
        rolling = pd.period_range(end=pd.Period(span.last.first_day, freq="M"), periods=12, freq="M")
        inside = [m for m in rolling if m.start_time.date() >= span.first.first_day]
        assert span.default().start == inside[0].start_time.date()
        assert span.default().end == inside[-1].end_time.date()


# -- whole months, and their names -----------------------------------------------------------------------


def test_whole_months_and_widening() -> None:
    assert is_whole_months(date(2025, 4, 1), date(2026, 3, 31))
    assert is_whole_months(date(2024, 2, 1), date(2024, 2, 29))
    assert not is_whole_months(date(2024, 2, 1), date(2024, 2, 28))  # a leap year's February
    assert not is_whole_months(date(2025, 6, 3), date(2025, 6, 30))
    assert widen_to_whole_months(date(2025, 6, 3), date(2025, 6, 23)) == (date(2025, 6, 1), date(2025, 6, 30))
    assert widen_to_whole_months(date(2025, 12, 31), date(2026, 2, 1)) == (
        date(2025, 12, 1),
        date(2026, 2, 28),
    )
    assert month_end(date(2100, 2, 10)) == date(2100, 2, 28)  # not a leap year


def test_months_parse_only_yyyy_mm() -> None:
    assert Month.parse("2025-04") == Month(2025, 4) and str(Month(2025, 4)) == "2025-04"
    for bad in ("2025-4", "2025-13", "2025-00", "25-04", "2025/04", "2025-04-01", "", "abcd-ef", "2025-0a"):
        with pytest.raises(ValueError):
            Month.parse(bad)
    assert Month(2025, 11).plus(3) == Month(2026, 2) and Month(2026, 2).plus(-14) == Month(2024, 12)


def test_previous_period_is_the_same_number_of_months_before() -> None:
    assert financial_year(2025).previous() == financial_year(2024)
    assert financial_quarter(2025, 1).previous() == financial_quarter(2024, 4)
    assert months("2026-02", "2026-02").previous() == months("2026-01", "2026-01")


def test_labels_name_the_period_as_people_say_it() -> None:
    span = DataSpan.of(SAMPLE_FIRST, date(2026, 3, 20))  # last complete month: Feb 2026
    assert period_label(financial_year(2025), span) == "financial year 2025-26"
    assert period_label(financial_quarter(2025, 2), span) == "Q2 2025-26 (Jul-Sep 2025)"
    assert period_label(financial_quarter(2025, 4), span) == "Q4 2025-26 (Jan-Mar 2026)"
    assert period_label(months("2025-03", "2026-02"), span) == "12 months to Feb 2026"
    # The same twelve months, once a later month is complete, are no longer "the last 12 months".
    later = DataSpan.of(SAMPLE_FIRST, date(2026, 3, 31))
    assert period_label(months("2025-03", "2026-02"), later) == "Mar 2025 to Feb 2026"
    assert period_label(months("2025-03", "2026-02")) == "Mar 2025 to Feb 2026"
    assert period_label(months("2026-02", "2026-02")) == "Feb 2026"
    # Three months that are not a financial quarter are a range.
    assert period_label(months("2025-05", "2025-07")) == "May 2025 to Jul 2025"
    assert period_label(months("2025-01", "2025-12")) == "Jan 2025 to Dec 2025"


def test_key_for_a_period_and_the_choices_not_offered() -> None:
    span = DataSpan.of(SAMPLE_FIRST, date(2026, 3, 31))
    assert span.key_for(financial_year(2025)) == "fy2025"  # also the rolling 12: the year first
    assert span.key_for(financial_quarter(2025, 3)) == "fy2025q3"
    assert span.key_for(months("2024-02", "2024-02")) == "m2024-02"
    assert span.key_for(months("2025-05", "2025-07")) is None
    assert span.key_for(financial_year(2020)) is None  # before the data
    assert span.choice("fy2025q9") is None and span.choice(None) is None and span.choice(["fy2025"]) is None
    assert span.months_newest_first()[:2] == [Month(2026, 3), Month(2026, 2)]
    assert span.months_newest_first()[-1] == Month(2021, 4) and len(span.months_newest_first()) == 60


@settings(max_examples=150, deadline=None)
@given(
    first=st.dates(min_value=date(2018, 1, 1), max_value=date(2025, 12, 31)),
    days=st.integers(min_value=0, max_value=1500),
)
def test_the_choices_are_every_month_quarter_and_year_in_the_data_and_nothing_else(
    first: date, days: int
) -> None:
    """Against pandas' fiscal periods: the choices are each month of the data, each financial quarter
    (``Q-MAR``) and financial year (``Y-MAR``) wholly inside it, and the rolling 12 months; `allows`
    says yes to exactly those shapes (and the 12 months before the rolling 12), tried on every run of
    months near the data."""
    span = DataSpan.of(first, first + timedelta(days=days))
    lo, hi = span.first.first_day, span.last.last_day
    monthly = pd.period_range(lo, hi, freq="M")
    quarters = {p for p in pd.period_range(lo, hi, freq="Q-MAR")}
    years = {p for p in pd.period_range(lo, hi, freq="Y-MAR")}

    def bounds(p: pd.Period) -> tuple[date, date]:
        return p.start_time.date(), p.end_time.date()

    inside = [bounds(p) for p in (*quarters, *years) if lo <= p.start_time.date() and p.end_time.date() <= hi]
    expected = {bounds(m) for m in monthly} | set(inside) | {(span.rolling(12).start, span.rolling(12).end)}
    got = [(p.period.start, p.period.end) for p in span.choices()]
    assert set(got) == expected
    assert len({p.key for p in span.choices()}) == len(got)  # one key each (the year and rolling 12 apart)
    assert got.count((span.default().start, span.default().end)) >= 1
    rolling = span.rolling(12)
    wide = pd.period_range(lo - timedelta(days=400), hi, freq="M")
    fiscal = {bounds(p) for p in pd.period_range(lo - timedelta(days=400), hi, freq="Q-MAR")}
    fiscal |= {bounds(p) for p in pd.period_range(lo - timedelta(days=400), hi, freq="Y-MAR")}
    for i, a in enumerate(wide):
        for b in wide[i : i + 15]:
            period = Period(Month(a.year, a.month), Month(b.year, b.month))
            shape = (
                period.months == 1
                or (period.start, period.end) in fiscal
                or period in (rolling, rolling.previous())
            )
            assert span.allows(period) == shape, period


def test_followed_up_moves_back_to_the_latest_period_of_the_same_shape() -> None:
    span = DataSpan.of(SAMPLE_FIRST, date(2026, 3, 31))
    # 182 days: March 2026's cohort needs until 29 Sep 2026; the latest month with it is Sep 2025.
    assert span.followed_up(months("2026-03", "2026-03"), 182) == months("2025-09", "2025-09")
    assert span.followed_up(months("2025-09", "2025-09"), 182) == months("2025-09", "2025-09")
    assert span.followed_up(financial_quarter(2025, 4), 182) == financial_quarter(2025, 2)
    assert span.followed_up(financial_year(2025), 182) == financial_year(2024)
    assert span.followed_up(span.rolling(12), 182) == financial_year(2024)
    assert span.followed_up(financial_year(2024), 182) == financial_year(2024)
    # 30 Sep 2025 + 182 days is 31 Mar 2026: exactly enough.
    assert date(2025, 9, 30) + timedelta(days=182) == date(2026, 3, 31)
    # Too little data for any year to have its follow-up.
    short = DataSpan.of(date(2025, 4, 1), date(2026, 5, 31))
    assert short.followed_up(financial_year(2025), 182) is None
    assert short.followed_up(financial_quarter(2025, 4), 182) == financial_quarter(2025, 2)  # to 30 Sep
