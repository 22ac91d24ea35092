"""What every source adapter shares: the file-level error, the reading options, and where a table is.

`ExtractError` is a problem with a whole file (the load stops and nothing of it is kept); its `str()` is
a complete message naming the file, the sheet, the line or row and the column where there is one.
`ReadOptions` holds what must never be guessed and so can only be told: the date pattern and the text
encoding of an export (`rosc load --date-format --encoding`, or a mapping profile).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

FileFormat = Literal["csv", "parquet", "excel"]


class ExtractError(Exception):
    """A problem with a whole file: the load stops and nothing of it is kept.

    `str()` is a complete message, e.g. "providers.csv line 7, column provider_type: ...", or
    "extract.xlsx sheet episodes row 9, column referral_date: ...".
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
        row_word: str = "line",
        sheet: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.column = column
        self.row_word = row_word
        self.sheet = sheet
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or ""
        if self.sheet is not None:
            where += f" sheet {self.sheet}"
        if self.line is not None:
            # Parquet rows count from the first data row; lines (CSV) and Excel rows as the file shows them.
            number = self.line - 1 if self.row_word == "row" and self.sheet is None else self.line
            where += f" {self.row_word} {number}"
        if self.column is not None:
            where += f"{',' if where else ''} column {self.column}"
        return f"{where.strip()}: {self.message}" if where.strip() else self.message


@dataclass(frozen=True)
class ReadOptions:
    """How to read what an export does not say about itself.

    `date_format`: a strftime pattern for dates written as text (e.g. `%d/%m/%Y`, the UK Excel default);
    None = the contract's `YYYY-MM-DD`. `encoding`: a Python codec name for CSV files (e.g. `cp1252`,
    Excel's "CSV" on Windows); None = UTF-8 (a byte-order mark is accepted).
    """

    date_format: str | None = None
    encoding: str | None = None

    def __post_init__(self) -> None:
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ValueError(
                    f"unknown encoding {self.encoding!r} (e.g. utf-8, cp1252, latin-1)"
                ) from None
        if self.date_format is not None:
            check_date_format(self.date_format)

    def merged(self, date_format: str | None, encoding: str | None) -> ReadOptions:
        """These options with a table's own settings (a mapping profile's) taking precedence."""
        return ReadOptions(date_format=date_format or self.date_format, encoding=encoding or self.encoding)


def check_date_format(pattern: str) -> None:
    """ValueError unless `pattern` is a strftime pattern that writes and reads back a day, month and year."""
    probe = datetime(2024, 11, 23, 0, 0)
    try:
        written = probe.strftime(pattern)
        read = datetime.strptime(written, pattern)
    except ValueError as error:
        raise ValueError(f"date format {pattern!r} is not a strftime pattern: {error}") from None
    if "%" not in pattern or read.date() != probe.date():
        raise ValueError(
            f"date format {pattern!r} does not give a whole date (it needs a day, a month and a year, "
            "e.g. %d/%m/%Y)"
        )


@dataclass(frozen=True)
class SourceRef:
    """Where one table is: a file, and for a workbook the sheet."""

    path: Path
    sheet: str | None = None

    @property
    def label(self) -> str:
        return f"{self.path.name} sheet {self.sheet}" if self.sheet else self.path.name


def read_whole_in_pieces(source, columns: list[str], kinds: dict[str, str] | None, rows: int):
    """`source.read(columns, kinds)`, handed on `rows` rows at a time with their lines: for a file that
    is read whole (a sheet, a small CSV) where a big one would be read a piece at a time."""
    frame, lines = source.read(columns, kinds)
    for start in range(0, max(len(lines), 1), rows):
        yield frame.slice(start, rows), lines[start : start + rows]
