"""Reading a CSV file: its encoding, its header, and every column as text with each row's line number.

A CSV is read with every column as text, so that a bad value (`2024-13-45`, `maybe`) becomes a rejected
row rather than a failed read. Each row carries its line number: the physical line of the file where the
row starts, the header being line 1 (a quoted field spanning lines is handled; blank lines are skipped
but counted). LF, CRLF and classic-Mac CR line ends are all read.

Encoding: UTF-8 unless the user names another (`--encoding cp1252`); a UTF-8 byte-order mark is
accepted and stripped. A file that is not in the encoding it is read in stops the load with a message
naming the line and the byte, and, for a file read as UTF-8, the encoding charset-normalizer finds most
likely and the option to pass (`pipelines.sources.hints`). A file that is valid UTF-8 with accented
letters, read in another encoding because the user said so, is read as told, with a warning.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.sources.base import ExtractError
from pipelines.sources.hints import likely_encodings

_BOM = codecs.BOM_UTF8
_UTF8_NAMES = frozenset({"utf_8", "utf_8_sig"})
#: Files up to this size keep their decoded bytes between opening and reading.
_KEEP_BYTES = 64 << 20


def _first_undecodable(data: bytes) -> int | None:
    """Byte offset of the first byte that is not UTF-8, or None (decoded in pieces)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 24
    view = memoryview(data)
    for start in range(0, len(data), step):
        pending = len(decoder.getstate()[0])  # bytes of a sequence cut by the previous piece
        try:
            decoder.decode(view[start : start + step], final=start + step >= len(data))
        except UnicodeDecodeError as error:
            return start - pending + error.start
    return None


def _csv_record_lines(text: str) -> list[tuple[int, int]]:
    """(starting line, number of fields) of every non-blank record, header included."""
    # Lines end at LF (so a CR inside a quoted field is not a line break, as on the fast path);
    # a file without a single LF has classic-Mac CR line ends.
    reader = csv.reader(io.StringIO(text, newline="\n" if "\n" in text else ""))
    records = []
    line = 0
    # The csv module refuses fields over 128 KiB by default; the contract sets no such limit.
    limit = csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    try:
        for row in reader:
            start = line + 1
            line = reader.line_num
            if row:
                records.append((start, len(row)))
    except csv.Error as error:
        raise _CsvSyntaxError(str(error), line + 1) from None
    finally:
        csv.field_size_limit(limit)
    return records


class _CsvSyntaxError(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def _canonical(encoding: str) -> str:
    return codecs.lookup(encoding).name.replace("-", "_")


class CsvSource:
    """One CSV file, decoded and with its header parsed; `read(columns)` reads the named columns."""

    format = "csv"
    row_word = "line"
    sheet = None

    def __init__(self, path: Path, *, encoding: str | None = None, sha256: str | None = None) -> None:
        self.path = path
        self.warnings: list[str] = []
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise ExtractError(f"cannot read the file: {error.strerror or error}", file=path) from None
        self.size = len(raw)
        self.sha256 = sha256 or hashlib.sha256(raw).hexdigest()
        self._encoding = encoding
        data = self._decode(raw, encoding)
        del raw
        # A big file is read again when its rows are wanted, so that an extract's files are not all
        # held in memory at once while the tables are checked one after another.
        self._data: bytes | None = data if len(data) <= _KEEP_BYTES else None
        first_line = re.split(rb"\r\n|\r|\n", data, maxsplit=1)[0].decode("utf-8")
        try:
            self.header: list[str] = next(csv.reader([first_line]), [])
        except csv.Error as error:
            raise ExtractError(f"cannot parse the header row: {error}", file=path, line=1) from None

    def _decode(self, raw: bytes, encoding: str | None) -> bytes:
        """The file's bytes as UTF-8 without a byte-order mark; ExtractError if they are not text."""
        path = self.path
        if encoding is not None and _canonical(encoding) not in _UTF8_NAMES:
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as error:
                line = raw[: error.start].decode(encoding, errors="replace").count("\n") + 1
                raise ExtractError(
                    f"not {encoding} text (byte 0x{raw[error.start]:02x} cannot be read in {encoding}); "
                    "check the encoding the file was saved in",
                    file=path,
                    line=line,
                ) from None
            text = text.removeprefix("\ufeff")
            if not raw.isascii() and _first_undecodable(raw) is None:
                self.warnings.append(
                    f"{path}: read as {encoding} as asked, but the file is valid UTF-8 with accented "
                    "letters: if names look garbled (Ã©), load it without --encoding"
                )
            data = text.encode("utf-8")
            if not data.strip():
                raise ExtractError("the file is empty (not even a header row)", file=path)
            return data
        data = raw[len(_BOM) :] if raw.startswith(_BOM) else raw
        if not data.strip():
            raise ExtractError("the file is empty (not even a header row)", file=path)
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise ExtractError(
                "the file is UTF-16 text (it starts with a UTF-16 byte-order mark): load it with "
                "--encoding utf-16, or save it as UTF-8",
                file=path,
                line=1,
            )
        bad = _first_undecodable(data)
        if bad is not None:
            line = data.count(b"\n", 0, bad) + 1
            guesses = likely_encodings(data, around=bad)
            guess = guesses[0] if guesses else None
            others = f" (charset-normalizer also finds {', '.join(guesses[1:4])} fit)" if guesses[1:] else ""
            advice = (
                f"; it is most likely {guess}{others}: load it with --encoding {guess} (or encoding = "
                f'"{guess}" in a mapping profile), or save it as UTF-8'
                if guess
                else "; save the file as UTF-8, or name its encoding with --encoding"
            )
            raise ExtractError(f"not UTF-8 text (byte 0x{data[bad]:02x}){advice}", file=path, line=line)
        return data

    def where(self, line: int) -> str:
        return f"{self.path.name} line {line}"

    def rows_at_most(self) -> int | None:
        """At most one row per line break and one more (None for a big file, not held in memory)."""
        return None if self._data is None else self._data.count(b"\n") + self._data.count(b"\r") + 1

    def read(self, columns: list[str], kinds: dict[str, str] | None = None) -> tuple[pa.Table, np.ndarray]:
        """The named columns, all as text, and each row's line number."""
        path, header = self.path, self.header
        data = self._data
        if data is None:
            warnings = list(self.warnings)
            data = self._decode(path.read_bytes(), self._encoding)
            self.warnings = warnings  # said when the file was opened
        if not re.search(rb"[\r\n][^\r\n]", data):
            # A header row and nothing else: a valid, empty table (Arrow cannot read it on its own).
            empty = pa.table({n: pa.array([], pa.string()) for n in columns})
            return empty, np.array([], dtype=np.int64)

        invalid: list[int] = []

        def on_invalid_row(row: pacsv.InvalidRow) -> str:
            invalid.append(row.actual_columns)
            return "skip"

        try:
            frame = pacsv.read_csv(
                pa.py_buffer(data),
                read_options=pacsv.ReadOptions(
                    use_threads=True,
                    block_size=1 << 24,
                    column_names=[f"c{i}" for i in range(len(header))],
                    skip_rows=1,
                ),
                parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid_row),
                convert_options=pacsv.ConvertOptions(
                    column_types={f"c{i}": pa.string() for i in range(len(header))},
                    include_columns=[f"c{header.index(name)}" for name in columns],
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowException) as error:
            raise ExtractError(f"cannot parse the CSV: {error}", file=path) from None
        frame = frame.rename_columns(columns)

        newlines = data.count(b"\n")
        physical_lines = newlines + (0 if data.endswith(b"\n") else 1)
        if invalid or physical_lines != frame.num_rows + 1:
            # Quoted fields spanning lines, blank lines or bad rows: find each record's line exactly.
            try:
                records = _csv_record_lines(data.decode("utf-8"))
            except _CsvSyntaxError as error:
                raise ExtractError(f"cannot parse the CSV: {error}", file=path, line=error.line) from None
            width = len(header)
            wrong = [(line, n) for line, n in records[1:] if n != width]
            if wrong:
                line, n = wrong[0]
                raise ExtractError(
                    f"the row has {n} fields but the header has {width}"
                    + (f" ({len(wrong)} such rows)" if len(wrong) > 1 else ""),
                    file=path,
                    line=line,
                )
            lines = np.array([line for line, _ in records[1:]], dtype=np.int64)
            if len(lines) != frame.num_rows:
                raise ExtractError(
                    f"could not match the {frame.num_rows} rows read to lines of the file", file=path
                )
        else:
            lines = np.arange(2, frame.num_rows + 2, dtype=np.int64)
        return frame, lines
