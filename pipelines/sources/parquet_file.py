"""Reading a Parquet file: its schema as the header, and the named columns as typed.

A Parquet file is read typed: a column already of its contract type (or convertible without loss) is
used as it is, anything else is read as text by `pipelines.sources.values`. Its rows get "line" = row
number + 1 (row 1 is line 2), so that a CSV and a Parquet copy of one extract report the same numbers;
messages say "row" for Parquet. A column no contract type fits (nested, or bytes that are not UTF-8)
stops the load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.sources.base import ExtractError


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _flat_parquet_columns(path: Path, frame: pa.Table, first_row: int = 0) -> pa.Table:
    """`frame` with binary columns decoded as UTF-8; ExtractError for a column no contract type fits.

    A nested (list, struct, map) or otherwise exotic column cannot hold a contract value, and
    binary must be UTF-8 text: both are problems with the whole file, like a non-UTF-8 CSV.
    """
    for position, name in enumerate(frame.column_names):
        column = frame.column(position)
        t = column.type
        if pa.types.is_dictionary(t):
            column = column.cast(t.value_type)
            t = t.value_type
        if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
            try:
                column = column.cast(pa.string())
            except pa.ArrowInvalid:
                row = next(i for i, v in enumerate(column.to_pylist()) if v is not None and not _is_utf8(v))
                raise ExtractError(
                    "not UTF-8 text; write text columns as UTF-8 strings",
                    file=path,
                    line=first_row + row + 2,
                    column=name,
                    row_word="row",
                ) from None
            t = column.type
        flat = (
            pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or pa.types.is_string_view(t)
            or pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_decimal(t)
            or pa.types.is_boolean(t)
            or pa.types.is_date(t)
            or pa.types.is_timestamp(t)
            or pa.types.is_null(t)
        )
        if not flat:
            raise ExtractError(
                f"has Parquet type {t}, which cannot hold a contract value (text, number, date or boolean)",
                file=path,
                column=name,
            )
        if column is not frame.column(position):
            frame = frame.set_column(position, name, column)
    return frame


class ParquetSource:
    """One Parquet file, its schema read; `read(columns)` reads the named columns."""

    format = "parquet"
    row_word = "row"
    sheet = None

    def __init__(self, path: Path, *, sha256: str | None = None) -> None:
        self.path = path
        self.warnings: list[str] = []
        try:
            self.size = path.stat().st_size
            if self.size == 0:
                raise ExtractError("the file is empty", file=path)
            self.header: list[str] = list(pq.read_schema(path).names)
        except OSError as error:
            raise ExtractError(f"cannot read the file: {error.strerror or error}", file=path) from None
        except pa.ArrowException as error:
            raise ExtractError(f"not a readable Parquet file: {error}", file=path) from None
        self.sha256 = sha256 or file_sha256(path)

    def where(self, line: int) -> str:
        return f"{self.path.name} row {line - 1}"

    def read(self, columns: list[str], kinds: dict[str, str] | None = None) -> tuple[pa.Table, np.ndarray]:
        try:
            frame = pq.read_table(self.path, columns=columns, use_threads=True)
        except (pa.ArrowException, OSError) as error:
            raise ExtractError(f"not a readable Parquet file: {error}", file=self.path) from None
        frame = _flat_parquet_columns(self.path, frame)
        return frame, np.arange(2, frame.num_rows + 2, dtype=np.int64)

    def rows_at_most(self) -> int:
        return self._metadata().num_rows

    def _metadata(self):
        try:
            return pq.ParquetFile(self.path).metadata
        except (pa.ArrowException, OSError) as error:
            raise ExtractError(f"not a readable Parquet file: {error}", file=self.path) from None

    def read_pieces(
        self, columns: list[str], kinds: dict[str, str] | None, rows: int, *, numbered: bool = True
    ) -> Iterator[tuple[pa.Table, np.ndarray]]:
        """The named columns `rows` at a time, with their lines (which cost nothing, `numbered` or not):
        memory holds one piece (and one row group being decoded), whatever the file's size."""
        try:
            file = pq.ParquetFile(self.path)
            if file.metadata.num_rows <= rows:  # one piece: read it as `read` does
                yield self.read(columns, kinds)
                return
            first = 0
            for batch in file.iter_batches(batch_size=rows, columns=columns, use_threads=True):
                frame = _flat_parquet_columns(self.path, pa.Table.from_batches([batch]), first)
                yield frame, np.arange(first + 2, first + frame.num_rows + 2, dtype=np.int64)
                first += frame.num_rows
        except (pa.ArrowException, OSError) as error:
            raise ExtractError(f"not a readable Parquet file: {error}", file=self.path) from None
