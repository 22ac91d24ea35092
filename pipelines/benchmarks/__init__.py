"""England's published values for the headline indicators, as reference data (issue 13).

The package ships ``england.csv``: one row per published value, with the product's metric id, the
population (``all`` or a substance group), the period, the value as a proportion, its interval and
counts where published, how the published definition compares with ours, and the source with its URL.
A user may replace it with their own file of the same shape (``--benchmarks FILE``); `load_benchmarks`
checks any such file and names the file, line and column of the first problem it finds.

File format (UTF-8 CSV, header on line 1), one rule per column:

- indicator: the product's metric id, e.g. ``successful_completion``.
- population: ``all`` or a substance group (``opiate``, ``non_opiate``, ``alcohol``,
  ``non_opiate_and_alcohol``).
- period: ``YYYY-MM-DD..YYYY-MM-DD``, inclusive, start ≤ end.
- value: the published proportion, 0–1, at its published precision.
- ci_low, ci_high: both blank or both given, 0 ≤ ci_low ≤ value ≤ ci_high ≤ 1.
- numerator, denominator: blank or whole numbers ≥ 0 with numerator ≤ denominator; when both are
  given, numerator / denominator is within half a percentage point of value (publication rounding).
- definition_note: starts with ``matches``, ``close:`` or ``differs:``, then how the published
  definition compares with ours.
- source: title of the publication (and where a figure was read, if not there).
- url: an ``https://`` address.

(indicator, population, period) is unique.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections.abc import Collection, Mapping
from importlib import resources
from pathlib import Path

import pandas as pd

BENCHMARK_COLUMNS = (
    "indicator",
    "population",
    "period",
    "value",
    "ci_low",
    "ci_high",
    "numerator",
    "denominator",
    "definition_note",
    "source",
    "url",
)
"""Columns of a benchmarks file, in order."""

POPULATIONS = ("all", "opiate", "non_opiate", "alcohol", "non_opiate_and_alcohol")
DEFINITION_MATCHES = ("matches", "close", "differs")
ROUNDING_TOLERANCE = 0.005 + 1e-9
"""How far numerator / denominator may be from the published value: half a percentage point."""

_PERIOD = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_METRIC_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class BenchmarkFileError(ValueError):
    """A benchmarks file that does not follow the format; the message names file, line and column."""


def default_benchmarks_path() -> Path:
    """The England benchmarks file shipped in the package."""
    return Path(str(resources.files("pipelines.benchmarks").joinpath("england.csv")))


def _fail(path: Path, line: int, column: str | None, problem: str) -> BenchmarkFileError:
    where = f"{path}, line {line}" + (f", column {column!r}" if column else "")
    return BenchmarkFileError(f"{where}: {problem}")


def _proportion(path: Path, line: int, column: str, text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise _fail(path, line, column, f"{text!r} is not a number") from None
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise _fail(path, line, column, f"{text!r} is not a proportion between 0 and 1")
    return number


def _count(path: Path, line: int, column: str, text: str) -> int | None:
    if text == "":
        return None
    if not re.fullmatch(r"\d+", text):
        raise _fail(path, line, column, f"{text!r} is not a whole number ≥ 0")
    return int(text)


def _check_row(path: Path, line: int, row: dict[str, str]) -> dict[str, object]:
    for column in ("indicator", "population", "period", "value", "definition_note", "source", "url"):
        if row[column] == "":
            raise _fail(path, line, column, "is empty")
    if not _METRIC_ID.match(row["indicator"]):
        raise _fail(
            path, line, "indicator", f"{row['indicator']!r} is not a metric id (lower case, digits, _)"
        )
    if row["population"] not in POPULATIONS:
        raise _fail(path, line, "population", f"{row['population']!r} is not one of {', '.join(POPULATIONS)}")
    period = _PERIOD.match(row["period"])
    if not period:
        raise _fail(path, line, "period", f"{row['period']!r} is not YYYY-MM-DD..YYYY-MM-DD")
    try:
        start, end = (dt.date.fromisoformat(part) for part in period.groups())
    except ValueError as error:
        raise _fail(path, line, "period", f"{row['period']!r} has an invalid date ({error})") from None
    if start > end:
        raise _fail(path, line, "period", f"{row['period']!r} starts after it ends")
    value = _proportion(path, line, "value", row["value"])
    if (row["ci_low"] == "") != (row["ci_high"] == ""):
        raise _fail(
            path, line, "ci_low" if row["ci_low"] == "" else "ci_high", "give both interval bounds or neither"
        )
    ci_low = ci_high = math.nan
    if row["ci_low"] != "":
        ci_low = _proportion(path, line, "ci_low", row["ci_low"])
        ci_high = _proportion(path, line, "ci_high", row["ci_high"])
        if not ci_low <= value <= ci_high:
            raise _fail(
                path, line, "ci_low", f"interval {ci_low}–{ci_high} does not contain the value {value}"
            )
    numerator = _count(path, line, "numerator", row["numerator"])
    denominator = _count(path, line, "denominator", row["denominator"])
    if numerator is not None and denominator is not None:
        if numerator > denominator:
            raise _fail(path, line, "numerator", f"{numerator} is larger than the denominator {denominator}")
        if denominator == 0 or abs(numerator / denominator - value) > ROUNDING_TOLERANCE:
            raise _fail(
                path,
                line,
                "value",
                f"{value} is not {numerator}/{denominator} to within half a percentage point",
            )
    match = re.match(r"^(matches|close:|differs:)", row["definition_note"], flags=re.IGNORECASE)
    if not match:
        raise _fail(path, line, "definition_note", "must start with 'matches', 'close:' or 'differs:'")
    if not row["url"].startswith("https://") or " " in row["url"]:
        raise _fail(path, line, "url", f"{row['url']!r} is not an https:// address")
    return {
        **row,
        "value": value,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "numerator": numerator,
        "denominator": denominator,
        "period_start": start,
        "period_end": end,
        "definition_match": match.group(1).rstrip(":").lower(),
    }


def load_benchmarks(
    path: str | Path | None = None, known_indicators: Collection[str] | None = None
) -> pd.DataFrame:
    """Read and check a benchmarks file (default: the shipped ``england.csv``).

    Returns one row per benchmark with the `BENCHMARK_COLUMNS` (``value``, ``ci_low``, ``ci_high`` as
    floats with NaN for blanks; ``numerator``, ``denominator`` as nullable integers), then
    ``period_start`` and ``period_end`` (dates) and ``definition_match`` (``matches``, ``close`` or
    ``differs``, from the start of ``definition_note``). With ``known_indicators``, an indicator not in
    it is an error.

    Raises `BenchmarkFileError` naming the file, the line (the header is line 1) and the column of the
    first problem: a missing, extra or repeated column, an empty required field, a bad value (see the
    module docstring), or a repeated (indicator, population, period).
    """
    path = Path(path) if path is not None else default_benchmarks_path()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BenchmarkFileError(f"{path}: no such benchmarks file") from None
    except UnicodeDecodeError as error:
        raise BenchmarkFileError(f"{path}: not UTF-8 text ({error})") from None
    reader = csv.reader(text.splitlines(keepends=True))
    header = next(reader, None)
    if header is None:
        raise _fail(path, 1, None, "the file is empty; expected a header row")
    if len(set(header)) != len(header):
        repeated = sorted({name for name in header if header.count(name) > 1})
        raise _fail(path, 1, repeated[0], "column is repeated")
    missing = [name for name in BENCHMARK_COLUMNS if name not in header]
    if missing:
        raise _fail(path, 1, missing[0], f"column is missing (expected {', '.join(BENCHMARK_COLUMNS)})")
    extra = [name for name in header if name not in BENCHMARK_COLUMNS]
    if extra:
        raise _fail(path, 1, extra[0], "unknown column")
    rows: list[dict[str, object]] = []
    seen: dict[tuple[str, str, str], int] = {}
    while True:
        start_line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise _fail(path, start_line, None, f"not valid CSV ({error})") from None
        if not fields or all(field.strip() == "" for field in fields):
            continue
        if len(fields) != len(header):
            raise _fail(path, start_line, None, f"has {len(fields)} fields, the header has {len(header)}")
        row = {name: value.strip() for name, value in zip(header, fields, strict=True)}
        checked = _check_row(path, start_line, row)
        if known_indicators is not None and row["indicator"] not in known_indicators:
            raise _fail(path, start_line, "indicator", f"{row['indicator']!r} is not a known metric")
        key = (row["indicator"], row["population"], row["period"])
        if key in seen:
            raise _fail(path, start_line, "period", f"repeats {key} from line {seen[key]}")
        seen[key] = start_line
        rows.append(checked)
    columns = [*BENCHMARK_COLUMNS, "period_start", "period_end", "definition_match"]
    frame = pd.DataFrame(rows, columns=columns)
    for name in ("value", "ci_low", "ci_high"):
        frame[name] = frame[name].astype(float)
    for name in ("numerator", "denominator"):
        frame[name] = pd.array(frame[name].tolist(), dtype="Int64")
    return frame


#: Definition matches under which a benchmark is shown as a reference (one that ``differs`` is not).
SHOWN_MATCHES = ("matches", "close")


def reference_benchmark(
    benchmarks: pd.DataFrame, indicator: str, population: str = "all"
) -> dict[str, object] | None:
    """The benchmark to draw beside ``indicator`` for ``population``: of the rows of a
    `load_benchmarks` table whose definition ``matches`` or is ``close`` to ours (`SHOWN_MATCHES`), the
    one with the latest period end; None when there is none (no row, or only rows whose definition
    differs: those are never drawn as a reference). The row is returned as a dict with its
    ``definition_note``, ``source`` and ``url``, so every caller can say how the definition compares
    and where the value comes from."""
    rows = benchmarks[
        (benchmarks["indicator"] == indicator)
        & (benchmarks["population"] == population)
        & benchmarks["definition_match"].isin(SHOWN_MATCHES)
    ]
    if rows.empty:
        return None
    return rows.sort_values("period_end", kind="stable").iloc[-1].to_dict()


def period_text(row: Mapping[str, object]) -> str:
    """A benchmark's period as a reader says it: ``2024-25`` for an April–March financial year, else
    ``1 Jan 2024 to 31 Dec 2024``."""
    start, end = row["period_start"], row["period_end"]
    assert isinstance(start, dt.date) and isinstance(end, dt.date)
    if (start.month, start.day, end.month, end.day) == (4, 1, 3, 31) and end.year == start.year + 1:
        return f"{start.year}-{str(end.year)[2:]}"
    return f"{start.day} {start:%b %Y} to {end.day} {end:%b %Y}"


def value_text(row: Mapping[str, object]) -> str:
    """A benchmark's value as a percentage at its published precision (0.46 → ``46%``, 0.013 →
    ``1.3%``): no more digits than were published."""
    value = row["value"]
    assert isinstance(value, float)
    return f"{round(value * 100, 6):g}%"
