"""Reading an Excel sheet: the first non-empty row as the header, each cell by its own type.

A table may come as `episodes.xlsx` (its sheet named `episodes`, or its only sheet), or as a sheet named
after the table in one workbook holding several (`pipelines.sources.folder`). Workbooks are read with
python-calamine, the Python binding of the Rust calamine reader: it is fast, reads .xlsx, .xlsm and .xls,
and gives each cell its own type, so a date cell, a number and a text that looks like a number stay
apart.

How cells become values (then read as every other source's, by `pipelines.sources.values`):
- date and date-time cells are dates; a time of day that is not midnight makes the row bad, it is not
  cut off;
- in a date column, a number is an Excel serial date (1900 date system, or 1904 where the workbook
  says so; serial 60, the 29 February 1900 that never was, is not a date);
- a whole number cell is that integer (`1965`, also as text: a code 10 is "10"); other numbers are
  written as Python writes them (`2.5`), so they fail an integer rule;
- TRUE/FALSE cells are booleans; empty cells are null.
A column holding cells of one kind keeps that type; a column mixing kinds is read as text, with date
cells written in the user's date pattern (or `YYYY-MM-DD`), so one pattern reads the whole column.

Rows are numbered as Excel numbers them (the header is usually row 1); blank rows are skipped and
counted; messages say "extract.xlsx sheet episodes row 7".
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
from python_calamine import CalamineError, CalamineWorkbook

from pipelines.sources.base import ExtractError, read_whole_in_pieces

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
_EPOCH_1900 = datetime(1899, 12, 30)
_EPOCH_1900_EARLY = datetime(1899, 12, 31)
_EPOCH_1904 = datetime(1904, 1, 1)
_ISO = "%Y-%m-%d"


def sheet_names(path: Path) -> list[str]:
    """The sheets of a workbook, in order; ExtractError if it cannot be read."""
    try:
        return list(CalamineWorkbook.from_path(str(path)).sheet_names)
    except (CalamineError, OSError, ValueError) as error:
        raise ExtractError(f"not a readable Excel workbook: {error}", file=path) from None


def _uses_1904_dates(path: Path) -> bool:
    """Whether an .xlsx/.xlsm workbook counts serial dates from 1904 (`<workbookPr date1904="1"/>`)."""
    if path.suffix.lower() == ".xls":
        return False
    try:
        with zipfile.ZipFile(path) as book:
            xml = book.read("xl/workbook.xml").decode("utf-8", errors="replace")
    except (KeyError, OSError, zipfile.BadZipFile):
        return False
    return re.search(r"<(?:\w+:)?workbookPr[^>]*\bdate1904=\"(1|true)\"", xml) is not None


def serial_to_datetime(serial: float, date1904: bool = False) -> datetime | None:
    """The date (and time) an Excel serial number stands for, or None where it names no real day."""
    if serial < 0 or serial != serial:
        return None
    if date1904:
        return _EPOCH_1904 + timedelta(days=serial)
    if serial < 1 or 60 <= serial < 61:
        return None  # serial 0 is 0 January 1900; 60 is Lotus 1-2-3's 29 February 1900
    return (_EPOCH_1900_EARLY if serial < 60 else _EPOCH_1900) + timedelta(days=serial)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_text(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _date_text(value: datetime | date, date_format: str | None) -> str:
    pattern = date_format or _ISO
    if isinstance(value, datetime) and value.time() != time(0, 0):
        return value.strftime(pattern) + (value.strftime(" %H:%M:%S") if "%H" not in pattern else "")
    return value.strftime(pattern)


def _cell_text(value: object, date_format: str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return _number_text(value)
    if isinstance(value, datetime | date):
        return _date_text(value, date_format)
    return str(value)  # a time or a duration: no contract value, so it fails its column's rule


def column_array(cells: list[object], kind: str | None, date_format: str | None, date1904: bool) -> pa.Array:
    """One column's cells (None for empty) as an Arrow array, following the module docstring."""
    if kind == "date":
        cells = [
            (serial_to_datetime(float(v), date1904) or _number_text(v)) if _is_number(v) else v for v in cells
        ]
    present = [v for v in cells if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pa.array(cells, pa.bool_())
    if present and all(_is_number(v) for v in present):
        return pa.array([None if v is None else float(v) for v in cells], pa.float64())
    if present and all(isinstance(v, datetime | date) for v in present):
        stamps = [
            None if v is None else (v if isinstance(v, datetime) else datetime(v.year, v.month, v.day))
            for v in cells
        ]
        return pa.array(stamps, pa.timestamp("us"))
    return pa.array([_cell_text(v, date_format) for v in cells], pa.string())


class ExcelSource:
    """One sheet of a workbook, with its header found; `read(columns)` reads the named columns."""

    format = "excel"
    row_word = "row"

    def __init__(
        self, path: Path, sheet: str, *, date_format: str | None = None, sha256: str | None = None
    ) -> None:
        self.path = path
        self.sheet = sheet
        self.warnings: list[str] = []
        self._date_format = date_format
        try:
            self.size = path.stat().st_size
            book = CalamineWorkbook.from_path(str(path))
            rows = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        except (CalamineError, OSError, ValueError) as error:
            raise ExtractError(f"cannot read the sheet: {error}", file=path, sheet=sheet) from None
        self.sha256 = sha256 or hashlib.sha256(path.read_bytes()).hexdigest()
        self._date1904 = _uses_1904_dates(path)
        # Empty cells come as "" (rows are rectangular); list.count keeps the scans in C.
        width = len(rows[0]) if rows else 0
        header_at = next((i for i, row in enumerate(rows) if row.count("") < width), None)
        if header_at is None:
            raise ExtractError("the sheet is empty (not even a header row)", file=path, sheet=sheet)
        header_row = rows[header_at]
        self._positions = [j for j, v in enumerate(header_row) if v != ""]
        self.header: list[str] = [_cell_text(header_row[j], None) or "" for j in self._positions]
        self.header_row = header_at + 1
        self._rows = [
            (number, row)
            for number, row in enumerate(rows[header_at + 1 :], start=header_at + 2)
            if row.count("") < width
        ]
        # Cells under no header hold data that would be lost without a word.
        unnamed = [j for j, v in enumerate(header_row) if v == ""]
        stray = [j for j in unnamed if any(row[j] != "" for _, row in self._rows)]
        if stray:
            raise ExtractError(
                f"column {_column_letter(stray[0])} holds values but has no header in row "
                f"{self.header_row}; name it or delete it",
                file=path,
                sheet=sheet,
            )

    def where(self, line: int) -> str:
        return f"{self.path.name} sheet {self.sheet} row {line}"

    def rows_at_most(self) -> int:
        return len(self._rows)

    def read_pieces(
        self, columns: list[str], kinds: dict[str, str] | None, rows: int, *, numbered: bool = True
    ):
        """A sheet is read whole (workbooks are small), then handed on in pieces."""
        return read_whole_in_pieces(self, columns, kinds, rows)

    def read(self, columns: list[str], kinds: dict[str, str] | None = None) -> tuple[pa.Table, np.ndarray]:
        kinds = kinds or {}
        arrays = []
        for name in columns:
            j = self._positions[self.header.index(name)]
            cells = [None if (v := row[j]) == "" else v for _, row in self._rows]
            arrays.append(column_array(cells, kinds.get(name), self._date_format, self._date1904))
        lines = np.array([number for number, _ in self._rows], dtype=np.int64)
        return pa.table(arrays, names=columns), lines


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters
