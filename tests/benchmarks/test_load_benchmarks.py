"""England benchmarks file: the shipped values against their cited text, and every kind of bad file."""

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pytest

from pipelines.benchmarks import (
    BENCHMARK_COLUMNS,
    BenchmarkFileError,
    default_benchmarks_path,
    load_benchmarks,
)

HEADER = ",".join(BENCHMARK_COLUMNS)
GOOD_ROW = (
    "successful_completion,opiate,2024-04-01..2025-03-31,0.25,0.24,0.26,250,1000,"
    "matches,Some report,https://example.org/report"
)


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "benchmarks.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_shipped_file_loads_with_the_cited_values() -> None:
    benchmarks = load_benchmarks()
    assert list(benchmarks.columns) == [*BENCHMARK_COLUMNS, "period_start", "period_end", "definition_match"]
    by_indicator = benchmarks.set_index("indicator")
    # Values as published (see each row's source): OHID 2024 to 2025 report and the secure-settings
    # report for 2023 to 2024.
    assert by_indicator.loc["successful_completion", "value"] == 0.46
    assert by_indicator.loc["successful_completion", "denominator"] == 152067
    assert by_indicator.loc["deaths_in_treatment", "value"] == 0.013
    assert by_indicator.loc["deaths_in_treatment", "numerator"] == 4273
    assert by_indicator.loc["deaths_in_treatment", "denominator"] == 329646
    assert by_indicator.loc["continuity_of_care", "value"] == 0.53
    assert by_indicator.loc["continuity_of_care", "period_start"] == dt.date(2023, 4, 1)
    assert by_indicator.loc["continuity_of_care", "period_end"] == dt.date(2024, 3, 31)
    assert set(benchmarks["definition_match"]) <= {"matches", "close", "differs"}
    assert benchmarks["url"].str.startswith("https://www.gov.uk/").sum() + benchmarks["url"].str.startswith(
        "https://gov.uk/"
    ).sum() == len(benchmarks)
    # no interval is published for these; blanks are NaN, never 0
    assert benchmarks["ci_low"].isna().all() and benchmarks["ci_high"].isna().all()
    assert pd.isna(by_indicator.loc["continuity_of_care", "numerator"])


def test_shipped_file_is_package_data() -> None:
    path = default_benchmarks_path()
    assert path.name == "england.csv" and path.is_file()
    assert path.parent.name == "benchmarks" and path.parent.parent.name == "pipelines"


def test_a_good_user_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER,
        GOOD_ROW,
        "",
        GOOD_ROW.replace(",opiate,", ",alcohol,").replace("matches", "differs: x"),
    )
    frame = load_benchmarks(path, known_indicators={"successful_completion"})
    assert frame["population"].tolist() == ["opiate", "alcohol"]
    assert frame["definition_match"].tolist() == ["matches", "differs"]
    assert frame["numerator"].dtype == "Int64"
    assert frame.loc[0, "ci_low"] == 0.24


@pytest.mark.parametrize(
    ("row", "column", "problem"),
    [
        (GOOD_ROW.replace("0.25,0.24", "1.3,0.24"), "value", "not a proportion"),
        (GOOD_ROW.replace("0.25,0.24", "25%,0.24"), "value", "not a number"),
        (GOOD_ROW.replace(",opiate,", ",heroin,"), "population", "not one of"),
        (GOOD_ROW.replace("2024-04-01..2025-03-31", "2024/25"), "period", "YYYY-MM-DD"),
        (GOOD_ROW.replace("2024-04-01..2025-03-31", "2024-02-30..2025-03-31"), "period", "invalid date"),
        (GOOD_ROW.replace("2024-04-01..2025-03-31", "2025-04-01..2025-03-31"), "period", "starts after"),
        (GOOD_ROW.replace("0.24,0.26", "0.26,0.27"), "ci_low", "does not contain"),
        (GOOD_ROW.replace("0.24,0.26", ",0.26"), "ci_low", "both interval bounds"),
        (GOOD_ROW.replace("250,1000", "2500,1000"), "numerator", "larger than the denominator"),
        (GOOD_ROW.replace("250,1000", "300,1000"), "value", "within half a percentage point"),
        (GOOD_ROW.replace("250,1000", "250.5,1000"), "numerator", "whole number"),
        (GOOD_ROW.replace("matches", "the same"), "definition_note", "must start with"),
        (GOOD_ROW.replace("https://example.org/report", "www.example.org"), "url", "https://"),
        (GOOD_ROW.replace("Some report", ""), "source", "is empty"),
        (GOOD_ROW.replace("successful_completion", "Successful completion"), "indicator", "not a metric id"),
    ],
)
def test_bad_row_names_file_line_and_column(tmp_path: Path, row: str, column: str, problem: str) -> None:
    path = write(tmp_path, HEADER, GOOD_ROW.replace(",opiate,", ",all,"), row)
    with pytest.raises(BenchmarkFileError) as error:
        load_benchmarks(path)
    message = str(error.value)
    assert message.startswith(f"{path}, line 3, column {column!r}: ")
    assert problem in message


def test_bad_header(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkFileError, match=r"line 1, column 'url': column is missing"):
        load_benchmarks(write(tmp_path, HEADER.replace(",url", ""), GOOD_ROW))
    with pytest.raises(BenchmarkFileError, match=r"line 1, column 'notes': unknown column"):
        load_benchmarks(write(tmp_path, HEADER + ",notes", GOOD_ROW + ",x"))
    with pytest.raises(BenchmarkFileError, match=r"line 1, column 'value': column is repeated"):
        load_benchmarks(write(tmp_path, HEADER + ",value", GOOD_ROW + ",0.2"))
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(BenchmarkFileError, match=r"empty\.csv, line 1: the file is empty"):
        load_benchmarks(empty)
    with pytest.raises(BenchmarkFileError, match="no such benchmarks file"):
        load_benchmarks(tmp_path / "absent.csv")


def test_wrong_field_count_repeats_and_unknown_indicators(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkFileError, match=r"line 2: has 12 fields, the header has 11"):
        load_benchmarks(write(tmp_path, HEADER, GOOD_ROW + ",extra"))
    with pytest.raises(BenchmarkFileError, match=r"line 3, column 'period': repeats .* from line 2"):
        load_benchmarks(write(tmp_path, HEADER, GOOD_ROW, GOOD_ROW))
    with pytest.raises(
        BenchmarkFileError, match=r"line 2, column 'indicator': 'successful_completion' is not a known"
    ):
        load_benchmarks(write(tmp_path, HEADER, GOOD_ROW), known_indicators={"retention_12wk"})


def test_line_numbers_count_quoted_line_breaks(tmp_path: Path) -> None:
    multiline = GOOD_ROW.replace("matches", '"matches, though\nthe note runs on"')
    bad = GOOD_ROW.replace(",opiate,", ",all,").replace("0.25,0.24", "2,0.24")
    with pytest.raises(BenchmarkFileError, match=r"line 4, column 'value'"):
        load_benchmarks(write(tmp_path, HEADER, multiline, bad))
    assert math.isclose(load_benchmarks(write(tmp_path, HEADER, multiline))["value"].iloc[0], 0.25)


def test_the_reference_is_the_latest_row_whose_definition_matches_or_is_close(tmp_path: Path) -> None:
    from pipelines.benchmarks import period_text, reference_benchmark, value_text

    path = write(
        tmp_path,
        HEADER,
        "retention_12wk,all,2022-04-01..2023-03-31,0.71,,,,,matches,Report A,https://example.org/a",
        "retention_12wk,all,2023-04-01..2024-03-31,0.725,,,,,close: people not episodes,Report B,https://example.org/b",
        "retention_12wk,all,2024-04-01..2025-03-31,0.6,,,,,differs: 6 months not 12 weeks,Report C,https://example.org/c",
        "retention_12wk,opiate,2024-01-01..2024-12-31,0.65,,,,,matches,Report D,https://example.org/d",
    )
    benchmarks = load_benchmarks(path)
    row = reference_benchmark(benchmarks, "retention_12wk")
    assert row is not None and row["source"] == "Report B"  # the later "differs" row is never drawn
    assert value_text(row) == "72.5%" and period_text(row) == "2023-24"
    opiate = reference_benchmark(benchmarks, "retention_12wk", "opiate")
    assert (
        opiate is not None
        and period_text(opiate) == "1 Jan 2024 to 31 Dec 2024"
        and value_text(opiate) == "65%"
    )
    assert reference_benchmark(benchmarks, "retention_12wk", "alcohol") is None
    assert reference_benchmark(benchmarks, "early_unplanned_exit") is None
