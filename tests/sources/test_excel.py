"""Excel workbooks as sources: cells by their own types, serial dates (1900 and 1904), where tables are
found, and messages that name the workbook, the sheet, the row and the column."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
import xlsxwriter

from pipelines.load import load_extracts
from pipelines.sources import ExtractError, SourceRef, load_profile, locate_extract, read_table
from pipelines.sources.excel_file import serial_to_datetime
from tests.test_load import VALID, write_extract


def _sheet(path: Path, name: str, rows: list[list], *, first_row: int = 0, date1904: bool = False) -> None:
    """A workbook at `path` with one sheet of `rows` (datetime cells as dates, None left empty)."""
    book = xlsxwriter.Workbook(str(path), {"date_1904": date1904})
    sheet = book.add_worksheet(name)
    day = book.add_format({"num_format": "dd/mm/yyyy"})
    for r, row in enumerate(rows, start=first_row):
        for c, value in enumerate(row or []):  # None: a blank row
            if value is None:
                continue
            if isinstance(value, datetime):
                sheet.write_datetime(r, c, value, day)
            elif isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, int | float):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, value)
    book.close()


CONTACT_HEADER = VALID["contacts"].splitlines()[0].split(",")


def _contacts_workbook(folder: Path, rows: list[list], **kw) -> Path:
    """The small valid extract with its contacts as `contacts.xlsx` holding `rows`."""
    write_extract(folder)
    (folder / "contacts.csv").unlink()
    _sheet(folder / "contacts.xlsx", "contacts", [CONTACT_HEADER, *rows], **kw)
    return folder


def _row(contact_id: str, when, *, attended=True, minutes=45) -> list:
    return [contact_id, "person-0001", "EP1", "PRG1", when, "keyworking", "professional", attended, minutes]


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (45383, datetime(2024, 4, 1)),
        (1, datetime(1900, 1, 1)),
        (59, datetime(1900, 2, 28)),
        (61, datetime(1900, 3, 1)),
        (60, None),
        (0, None),
        (-3, None),
        (45383.5, datetime(2024, 4, 1, 12)),
    ],
)
def test_serial_numbers_count_from_1900_with_lotus_leap_day(serial, expected) -> None:
    assert serial_to_datetime(serial) == expected


def test_serial_numbers_in_a_1904_workbook() -> None:
    assert serial_to_datetime(43921, date1904=True) == datetime(2024, 4, 1)  # 1 April 2024 is 1462 days less


def test_date_cells_serials_and_typed_cells_load(tmp_path: Path) -> None:
    folder = _contacts_workbook(
        tmp_path / "x",
        [
            _row("C1", datetime(2024, 1, 10)),
            _row("C2", 45474, minutes=None),  # 2024-07-01 as a General-format number
            _row("C3", datetime(2024, 2, 10), attended=False, minutes=30.0),
            _row("C4", "2024-03-05", attended="TRUE", minutes="60"),  # text cells
        ],
    )
    db = tmp_path / "w.duckdb"
    result = load_extracts([folder], db, max_rejected=0)
    assert result.rows_rejected == 0
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT contact_id, contact_date, attended, duration_minutes FROM contacts ORDER BY 1"
        ).fetchall()
    assert rows == [
        ("C1", date(2024, 1, 10), True, 45),
        ("C2", date(2024, 7, 1), True, None),
        ("C3", date(2024, 2, 10), False, 30),
        ("C4", date(2024, 3, 5), True, 60),
    ]


def test_a_date_with_a_time_and_a_fraction_are_bad_rows_named_by_sheet_and_row(tmp_path: Path) -> None:
    folder = _contacts_workbook(
        tmp_path / "x",
        [
            _row("C1", datetime(2024, 1, 10)),
            None,
            _row("C2", datetime(2024, 1, 11, 9, 30)),
            _row("C3", 45474, minutes=2.5),
        ],
        first_row=2,  # a title above the header: the header is row 3 of the sheet
    )
    db = tmp_path / "w.duckdb"
    result = load_extracts([folder], db, max_rejected=1)
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT file, sheet, line, column_name, rule, value FROM quarantine ORDER BY line"
        ).fetchall()
    assert [(Path(f).name, s, line, c, r, v) for f, s, line, c, r, v in rows] == [
        ("contacts.xlsx", "contacts", 6, "contact_date", "date_time", "2024-01-11 09:30:00.000000"),
        ("contacts.xlsx", "contacts", 7, "duration_minutes", "type", "2.5"),
    ]
    assert result.check.problems[0].example.startswith("contacts.xlsx sheet contacts row ")


def test_a_mixed_date_column_is_read_with_the_users_pattern(tmp_path: Path) -> None:
    folder = _contacts_workbook(tmp_path / "x", [_row("C1", datetime(2024, 1, 10)), _row("C2", "11/01/2024")])
    profile = tmp_path / "profile.toml"
    profile.write_text('[tables.contacts]\ndate_format = "%d/%m/%Y"\n')  # the CSV files keep ISO dates
    db = tmp_path / "w.duckdb"
    result = load_extracts([folder], db, max_rejected=0, profile=load_profile(profile))
    assert result.rows_rejected == 0
    with duckdb.connect(str(db), read_only=True) as con:
        dates = con.execute("SELECT contact_date FROM contacts ORDER BY contact_id").fetchall()
    assert dates == [(date(2024, 1, 10),), (date(2024, 1, 11),)]


def test_values_under_no_header_stop_the_load(tmp_path: Path) -> None:
    folder = _contacts_workbook(tmp_path / "x", [[*_row("C1", datetime(2024, 1, 10)), "stray"]])
    with pytest.raises(ExtractError) as refused:
        load_extracts([folder], tmp_path / "w.duckdb")
    assert "contacts.xlsx sheet contacts" in str(refused.value) and "column J" in str(refused.value)


def test_one_workbook_with_a_sheet_per_table(tmp_path: Path) -> None:
    folder = write_extract(tmp_path / "x")
    book = xlsxwriter.Workbook(str(folder / "export.xlsx"))
    for table in ("people", "providers"):
        sheet = book.add_worksheet(table)
        for r, line in enumerate(VALID[table].splitlines()):
            sheet.write_row(r, 0, [None if v == "" else v for v in line.split(",")])
    book.add_worksheet("notes").write(0, 0, "anything")
    book.close()
    (folder / "people.csv").unlink()
    (folder / "providers.csv").unlink()
    extract = locate_extract(folder)
    assert extract.sources["people"] == SourceRef(folder / "export.xlsx", "people")
    people = read_table("people", extract.sources["people"])
    assert people.where(3) == "export.xlsx sheet people row 3"
    db = tmp_path / "w.duckdb"
    assert load_extracts([folder], db, max_rejected=0).rows_loaded > 0


def test_a_table_in_two_places_and_an_inexact_sheet_name_are_refused(tmp_path: Path) -> None:
    folder = write_extract(tmp_path / "x")
    _sheet(folder / "export.xlsx", "people", [["person_id"], ["p-000001"]])
    with pytest.raises(
        ExtractError, match=r"people is present 2 times \(people.csv, export.xlsx sheet people\)"
    ):
        locate_extract(folder)
    other = write_extract(tmp_path / "y")
    (other / "people.csv").unlink()
    _sheet(other / "export.xlsx", "People", [["person_id"], ["p-000001"]])
    with pytest.raises(ExtractError, match="sheet names are exact: export.xlsx sheet 'People'"):
        locate_extract(other)


def test_a_per_table_workbook_with_several_sheets_must_name_the_table(tmp_path: Path) -> None:
    folder = write_extract(tmp_path / "x")
    book = xlsxwriter.Workbook(str(folder / "people.xlsx"))
    book.add_worksheet("Sheet1")
    book.add_worksheet("Sheet2")
    book.close()
    (folder / "people.csv").unlink()
    with pytest.raises(ExtractError, match="the workbook has sheets Sheet1, Sheet2"):
        locate_extract(folder)


def test_the_same_workbook_loaded_twice_is_a_duplicate(tmp_path: Path) -> None:
    folder = _contacts_workbook(tmp_path / "x", [_row("C1", datetime(2024, 1, 10))])
    db = tmp_path / "w.duckdb"
    load_extracts([folder], db)
    assert load_extracts([folder], db).skipped_as_duplicate
    shutil.copyfile(folder / "contacts.xlsx", tmp_path / "copy.xlsx")
    _sheet(folder / "contacts.xlsx", "contacts", [CONTACT_HEADER, _row("C1", datetime(2024, 1, 11))])
    assert not load_extracts([folder], db).skipped_as_duplicate
