"""The one reading of values: how written booleans, integers and dates become contract values.

Every source adapter (CSV, Parquet, Excel, a mapped export) hands the loader its columns as they were
written. A column that is not already of its contract type is read here, the same way whatever file it
came from (the contract's "Reading real exports"):

- **booleans**: `true`/`false` in any letter case, `t`/`f`, `yes`/`no`, `y`/`n`, `1`/`0` (also `1.0`/`0.0`,
  a number written with a zero fraction, as a spreadsheet or pandas writes it);
- **integers**: ASCII digits with an optional sign and an optional zero fraction (`1965`, `1965.0`);
  `2.5` is not an integer;
- **dates**: `YYYY-MM-DD`, or the strftime pattern the user gives (`--date-format %d/%m/%Y`), optionally
  followed by a midnight time (` 00:00`, ` 00:00:00`, `T00:00:00.000`), which is dropped. A date with any
  other time of day is a bad row (rule `date_time`), never cut silently to its date.

Nothing else is read: no trimming of spaces, no other date order unless the user names it, no thousands
separators. Each reader returns the values (null where unreadable) and a mask of readable values (nulls
count as readable: whether a value is required is another rule's business).

Speed: each reader first tries the contract's own spelling on the whole column with one Arrow kernel
(a contract-exact extract pays nothing more); only a column that fails it is read the slower way. Dates
in a user's pattern are parsed once per distinct value with Python's `datetime.strptime`, which is
strict (2023-02-29 is refused) and whose `%Y` takes exactly four digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Year 0000 is left out: no Python date (nor the readers' pandas and DuckDB clients) can hold it.
ISO_DATE = r"^(000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})-\d{2}-\d{2}$"
#: An ISO date with an optional time part; the time part is checked for midnight separately.
_ISO_DATE_TIME = (
    r"^(?P<date>(?:000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})-\d{2}-\d{2})"
    r"(?P<time>[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_MIDNIGHT = r"^[ T]00:00(:00(\.0+)?)?$"
_TIME_SUFFIX = re.compile(r"[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$")
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%f", "%p", "%X", "%c", "%T", "%R")

_INTEGER_TEXT = r"^[+-]?\d{1,18}(\.0+)?$"
_CONTRACT_BOOLEANS = ("true", "false")
TRUE_SPELLINGS = ("true", "t", "yes", "y", "1")
FALSE_SPELLINGS = ("false", "f", "no", "n", "0")


@dataclass(frozen=True)
class Reading:
    """Values read from text: `values` (null where unreadable) and `readable` (true for nulls)."""

    values: pa.ChunkedArray
    readable: pa.ChunkedArray


@dataclass(frozen=True)
class DateReading(Reading):
    """Dates read from text; `midnight` is false where a readable date carries another time of day
    (its value is then null: the row is bad, rule `date_time`)."""

    midnight: pa.ChunkedArray


def _chunked(array: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def _null(kind: pa.DataType) -> pa.Scalar:
    return pa.scalar(None, kind)


def read_booleans(text: pa.Array | pa.ChunkedArray) -> Reading:
    """Booleans from text in the spellings the contract accepts (see the module docstring)."""
    text = _chunked(text)
    exact = pc.is_in(text, value_set=pa.array(_CONTRACT_BOOLEANS))
    if pc.all(pc.or_kleene(exact, pc.is_null(text))).as_py() is not False:
        return Reading(pc.equal(text, "true"), pc.or_(pc.fill_null(exact, False), pc.is_null(text)))
    spelled = pc.replace_substring_regex(pc.utf8_lower(text), pattern=r"^([01])\.0+$", replacement=r"\1")
    is_true = pc.fill_null(pc.is_in(spelled, value_set=pa.array(TRUE_SPELLINGS)), False)
    is_false = pc.fill_null(pc.is_in(spelled, value_set=pa.array(FALSE_SPELLINGS)), False)
    known = pc.or_(is_true, is_false)
    values = pc.if_else(known, is_true, _null(pa.bool_()))
    return Reading(values, pc.or_(known, pc.is_null(text)))


def read_integers(text: pa.Array | pa.ChunkedArray) -> Reading:
    """64-bit integers from text: digits, an optional sign, an optional zero fraction (`1965.0`)."""
    text = _chunked(text)
    readable = pc.fill_null(pc.match_substring_regex(text, _INTEGER_TEXT), False)
    digits = pc.if_else(readable, text, _null(pa.string()))
    digits = pc.replace_substring_regex(digits, pattern=r"\.0+$", replacement="")
    values = pc.cast(pc.utf8_ltrim(digits, characters="+"), pa.int64())
    return Reading(values, pc.or_(readable, pc.is_null(text)))


def _strict_iso(text: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """`YYYY-MM-DD` text (nulls where not of that shape) as dates, and which were real dates.

    Arrow's cast refuses impossible dates (2023-02-29) but fails as a whole; only then strptime is
    used, which rolls 2023-02-29 over to 1 March, so a date counts when formatting it back gives the text.
    """
    try:
        dates = pc.cast(text, pa.date32())
        return dates, pc.is_valid(text)
    except pa.ArrowInvalid:
        stamps = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
        real = pc.fill_null(pc.equal(pc.strftime(stamps, format="%Y-%m-%d"), text), False)
        return pc.if_else(real, pc.cast(stamps, pa.date32()), _null(pa.date32())), real


def _iso_dates(text: pa.ChunkedArray) -> DateReading:
    shaped = pc.fill_null(pc.match_substring_regex(text, ISO_DATE), False)
    if pc.all(pc.or_(shaped, pc.is_null(text))).as_py():
        dates, real = _strict_iso(pc.if_else(shaped, text, _null(pa.string())))
        readable = pc.or_(real, pc.is_null(text))
        return DateReading(dates, readable, pa.chunked_array([pa.array(np.ones(len(text), dtype=bool))]))
    parts = pc.extract_regex(text, _ISO_DATE_TIME)  # null where the shape does not match
    matched = pc.fill_null(pc.is_valid(parts), False)
    day = pc.if_else(matched, pc.struct_field(parts, "date"), _null(pa.string()))
    time_part = pc.struct_field(parts, "time")
    midnight = pc.or_(
        pc.fill_null(pc.equal(time_part, ""), True),
        pc.fill_null(pc.match_substring_regex(time_part, _MIDNIGHT), False),
    )
    dates, real = _strict_iso(day)
    dates = pc.if_else(midnight, dates, _null(pa.date32()))
    return DateReading(dates, pc.or_(real, pc.is_null(text)), pc.or_(midnight, pc.invert(real)))


def _parse_one(value: str, date_format: str, with_time: bool) -> tuple[date | None, bool]:
    """(the date, whether its time is midnight) of one value in `date_format`, or (None, True)."""
    if with_time:
        try:
            stamp = datetime.strptime(value, date_format)
        except ValueError:
            return None, True
        return stamp.date(), stamp.time() == datetime.min.time()
    try:
        return datetime.strptime(value, date_format).date(), True
    except ValueError:
        pass
    suffix = _TIME_SUFFIX.search(value)
    if suffix is None:
        return None, True
    try:
        day = datetime.strptime(value[: suffix.start()], date_format).date()
    except ValueError:
        return None, True
    hours, minutes, seconds, fraction = suffix.groups()
    midnight = (
        int(hours) == 0 and int(minutes) == 0 and int(seconds or 0) == 0 and not (fraction or "").strip("0")
    )
    return day, midnight


def _patterned_dates(text: pa.ChunkedArray, date_format: str) -> DateReading:
    distinct = pc.unique(text).drop_null()
    with_time = any(d in date_format for d in _TIME_DIRECTIVES)
    parsed = [_parse_one(v, date_format, with_time) for v in distinct.to_pylist()]
    days = pa.array([d for d, _ in parsed], pa.date32())
    midnights = pa.array([m for _, m in parsed], pa.bool_())
    position = pc.index_in(text, value_set=distinct)
    day = pc.take(days, position)
    midnight = pc.fill_null(pc.take(midnights, position), True)
    real = pc.is_valid(day)
    return DateReading(
        pc.if_else(midnight, day, _null(pa.date32())), pc.or_(real, pc.is_null(text)), midnight
    )


def read_dates(text: pa.Array | pa.ChunkedArray, date_format: str | None = None) -> DateReading:
    """Dates from text: `YYYY-MM-DD`, or `date_format` (a strftime pattern) when given, each with an
    optional midnight time part. A readable date with another time of day gets `midnight` false."""
    text = _chunked(text)
    if date_format is None or date_format == "%Y-%m-%d":
        return _iso_dates(text)
    return _patterned_dates(text, date_format)


def describe_format(date_format: str | None) -> str:
    """How a message names the expected form of a date: 'YYYY-MM-DD' or the pattern given."""
    if date_format is None or date_format == "%Y-%m-%d":
        return "a date in YYYY-MM-DD form"
    return f"a date in the form {date_format}"


# ---------------------------------------------------------------------------------------------
# Typed columns (Parquet, Excel): lossless conversions, or None when the column must be read as text.


def timestamps_as_dates(array: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """A timestamp column as dates when every value is at midnight (in its own time zone), else None
    (the caller reads it as text, where each time that is not midnight is a bad row)."""
    if array.type.tz is not None:
        array = pc.local_timestamp(array)
    days = pc.cast(array, pa.date32())
    back = pc.cast(pc.cast(days, pa.timestamp(array.type.unit)), array.type)
    if pc.all(pc.fill_null(pc.equal(back, array), True)).as_py():
        return days
    return None


def timestamps_as_text(array: pa.ChunkedArray) -> pa.ChunkedArray:
    """Timestamps written as ISO text (`YYYY-MM-DD HH:MM:SS[.ffffff]`, in their own time zone)."""
    if array.type.tz is not None:
        array = pc.local_timestamp(array)
    return pc.strftime(array, format="%Y-%m-%d %H:%M:%S")
