"""The one reading of values (`pipelines.sources.values`), on hand-worked cases and against Python's
own parsers, and the typed conversions of `schemas.to_contract_types` for Parquet and Excel columns."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines import schemas
from pipelines.contract import TABLES
from pipelines.sources.values import read_booleans, read_dates, read_integers


@pytest.mark.parametrize(
    ("text", "readable", "value"),
    [
        ("2024-02-29", True, date(2024, 2, 29)),
        ("2023-02-29", False, None),
        ("2024-13-45", False, None),
        ("2024-1-5", False, None),
        ("20240105", False, None),
        ("2024-01-05 ", False, None),
        ("2024/01/05", False, None),
        ("0000-07-01", False, None),
        ("2024-04-01 00:00:00", True, date(2024, 4, 1)),
        ("2024-04-01T00:00:00", True, date(2024, 4, 1)),
        ("2024-04-01 00:00", True, date(2024, 4, 1)),
        ("2024-04-01 00:00:00.000000", True, date(2024, 4, 1)),
        ("2023-02-29 00:00:00", False, None),
        (None, True, None),
    ],
)
def test_iso_dates_are_strict_and_take_a_midnight_time(text, readable, value) -> None:
    reading = read_dates(pa.array([text], pa.string()))
    assert reading.readable.to_pylist() == [readable]
    assert reading.midnight.to_pylist() == [True]
    assert reading.values.to_pylist() == [value]


@pytest.mark.parametrize("text", ["2024-04-01 10:30:00", "2024-04-01T00:00:01", "2024-04-01 00:00:00.5"])
def test_a_time_that_is_not_midnight_is_readable_but_not_cut_off(text: str) -> None:
    # The fast path is skipped as soon as one value is not a bare date: mix one in.
    reading = read_dates(pa.array(["2024-04-02", text], pa.string()))
    assert reading.readable.to_pylist() == [True, True]
    assert reading.midnight.to_pylist() == [True, False]
    assert reading.values.to_pylist() == [date(2024, 4, 2), None]


def test_a_user_pattern_reads_uk_dates_and_their_midnight_times() -> None:
    texts = [
        "01/04/2024",
        "1/4/2024",
        "31/12/2023 00:00",
        "29/02/2023",
        "2024-04-01",
        "01/04/2024 09:15",
        None,
    ]
    reading = read_dates(pa.array(texts, pa.string()), "%d/%m/%Y")
    assert reading.values.to_pylist() == [
        date(2024, 4, 1),
        date(2024, 4, 1),
        date(2023, 12, 31),
        None,
        None,
        None,
        None,
    ]
    assert reading.readable.to_pylist() == [True, True, True, False, False, True, True]
    assert reading.midnight.to_pylist() == [True, True, True, True, True, False, True]


def test_a_pattern_with_a_time_is_read_whole() -> None:
    reading = read_dates(pa.array(["01/04/2024 00:00", "01/04/2024 12:00"]), "%d/%m/%Y %H:%M")
    assert reading.values.to_pylist() == [date(2024, 4, 1), None]
    assert reading.midnight.to_pylist() == [True, False]


@settings(max_examples=150, deadline=None)
@given(
    st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31)),
    st.sampled_from(["%d/%m/%Y", "%m/%d/%Y", "%d-%b-%Y", "%Y%m%d", "%d.%m.%y"]),
)
def test_patterns_agree_with_python_strptime(day: date, pattern: str) -> None:
    text = day.strftime(pattern)
    expected = datetime.strptime(text, pattern).date()  # the independent reading
    assert read_dates(pa.array([text]), pattern).values.to_pylist() == [expected]


def test_booleans_in_every_accepted_spelling() -> None:
    texts = ["true", "FALSE", "True", "t", "F", "yes", "No", "Y", "n", "1", "0", "1.0", "0.00", None]
    expected = [True, False, True, True, False, True, False, True, False, True, False, True, False, None]
    reading = read_booleans(pa.array(texts))
    assert reading.values.to_pylist() == expected
    assert all(reading.readable.to_pylist())


@pytest.mark.parametrize("text", ["maybe", " true", "2", "1.5", "oui", "yes please", "-1"])
def test_other_booleans_are_not_guessed(text: str) -> None:
    reading = read_booleans(pa.array(["true", text]))
    assert reading.readable.to_pylist() == [True, False]
    assert reading.values.to_pylist() == [True, None]


def test_integers_with_a_zero_fraction_but_not_a_real_one() -> None:
    texts = ["12", "+3", "-4", "1965.0", "60.00", "1.5", "2.50", "x", "1,965", "1e3", "١٩٦٥", None]
    reading = read_integers(pa.array(texts))
    assert reading.values.to_pylist() == [12, 3, -4, 1965, 60, None, None, None, None, None, None, None]
    assert reading.readable.to_pylist() == [True] * 5 + [False] * 6 + [True]


def _contacts(**columns) -> pa.Table:
    rows = len(next(iter(columns.values())))
    arrays = {c: columns.get(c, pa.nulls(rows, pa.string())) for c in TABLES["contacts"].column_names}
    return pa.table(arrays)


def test_parquet_timestamps_at_midnight_are_dates_and_others_bad_rows() -> None:
    stamps = pa.array([datetime(2024, 4, 1), datetime(2024, 4, 2, 10, 30), None], pa.timestamp("ns"))
    typed, failures = schemas.to_contract_types(
        "contacts", _contacts(contact_date=stamps), pd.Index([2, 3, 4])
    )
    assert typed.column("contact_date").to_pylist() == [date(2024, 4, 1), None, None]
    assert [(r.line, r.column, r.rule, r.value) for r in failures.itertuples()] == [
        (3, "contact_date", "date_time", "2024-04-02 10:30:00.000000000")
    ]


def test_parquet_timestamps_with_a_time_zone_are_read_in_it() -> None:
    # British Summer Time: local midnight on 1 April is 23:00 UTC on 31 March (stored as UTC).
    utc = pa.array([datetime(2024, 3, 31, 23, 0)], pa.timestamp("us"))
    stamps = utc.cast(pa.timestamp("us", tz="Europe/London"))
    typed, failures = schemas.to_contract_types("contacts", _contacts(contact_date=stamps), pd.Index([2]))
    assert typed.column("contact_date").to_pylist() == [date(2024, 4, 1)]
    assert failures.empty


def test_a_user_date_pattern_does_not_apply_to_typed_dates() -> None:
    stamps = pa.array([datetime(2024, 4, 1), datetime(2024, 4, 1, 9)], pa.timestamp("us"))
    typed, failures = schemas.to_contract_types(
        "contacts", _contacts(contact_date=stamps), pd.Index([2, 3]), date_format="%d/%m/%Y"
    )
    assert typed.column("contact_date").to_pylist() == [date(2024, 4, 1), None]
    assert failures["rule"].tolist() == ["date_time"]


def test_float_integers_load_and_fractions_are_bad_rows() -> None:
    minutes = pa.array([60.0, 2.5, None, 30.0], pa.float64())
    typed, failures = schemas.to_contract_types(
        "contacts", _contacts(duration_minutes=minutes), pd.Index([2, 3, 4, 5])
    )
    assert typed.column("duration_minutes").to_pylist() == [60, None, None, 30]
    assert [(r.line, r.rule, r.value) for r in failures.itertuples()] == [(3, "type", "2.5")]


def test_integer_booleans_are_read_as_one_and_zero_only() -> None:
    typed, failures = schemas.to_contract_types(
        "contacts", _contacts(attended=pa.array([1, 0, None], pa.int64())), pd.Index([2, 3, 4])
    )
    assert typed.column("attended").to_pylist() == [True, False, None]
    assert failures.empty
    typed, failures = schemas.to_contract_types(
        "contacts", _contacts(attended=pa.array([1, 2], pa.int8())), pd.Index([2, 3])
    )
    assert typed.column("attended").to_pylist() == [True, None]
    assert [(r.line, r.rule, r.value) for r in failures.itertuples()] == [(3, "type", "2")]
