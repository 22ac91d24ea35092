"""Reading a CSV file: its encoding, its header, and every column as text with each row's line number.

A CSV is read with every column as text, so that a bad value (`2024-13-45`, `maybe`) becomes a rejected
row rather than a failed read. Each row carries its line number: the physical line of the file where the
row starts, the header being line 1 (a quoted field spanning lines is handled; blank lines are skipped
but counted). LF, CRLF and classic-Mac CR line ends are all read.

Size: a file up to 64 MB is decoded and parsed whole. A bigger one is never held in memory: opening it
scans it a block at a time (`_scan`: encoding, hash, header, and whether every record is one physical
line), and `read_pieces` parses it with Arrow's streaming reader, counting lines as rows come, or, where
quoted fields span lines or blank lines sit between rows, reading them beside it with the csv module.
A big file whose bytes are not text in its encoding is decoded whole, so the error names the byte and
line as for a small one.

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
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.sources.base import ExtractError, read_whole_in_pieces
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


def _data_record_lines(text: Iterable[str], path: Path, width: int, size: int) -> Iterator[int]:
    """The starting line of every non-blank record after the header, read by Python's csv module from
    `text` (lines as the file splits them), for a whole file or one streamed; ExtractError for a CSV
    syntax error (at its line) or for rows of another width than the header's `width` (the first one,
    and how many: once one is found no more lines are given, the rest only counted)."""
    reader = csv.reader(text)
    line = 0
    header = True
    wrong: list[tuple[int, int]] = []
    # The csv module refuses fields over 128 KiB by default; the contract sets no such limit.
    limit = csv.field_size_limit(max(csv.field_size_limit(), size + 1))
    try:
        for row in reader:
            start = line + 1
            line = reader.line_num
            if not row:
                continue
            if header:
                header = False
            elif len(row) != width:
                wrong.append((start, len(row)))
            elif not wrong:
                yield start
    except csv.Error as error:
        raise ExtractError(f"cannot parse the CSV: {error}", file=path, line=line + 1) from None
    finally:
        csv.field_size_limit(limit)
    if wrong:
        line, n = wrong[0]
        raise ExtractError(
            f"the row has {n} fields but the header has {width}"
            + (f" ({len(wrong)} such rows)" if len(wrong) > 1 else ""),
            file=path,
            line=line,
        )


def _no_rows(columns: list[str]) -> pa.Table:
    """A table of the named text columns without rows (a header and nothing else)."""
    return pa.table({n: pa.array([], pa.string()) for n in columns})


def _utf8_read_as(path: Path, encoding: str) -> str:
    """The warning for a file read in the encoding the user named that is valid UTF-8 with accents."""
    return (
        f"{path}: read as {encoding} as asked, but the file is valid UTF-8 with accented "
        "letters: if names look garbled (Ã©), load it without --encoding"
    )


def _arrow_options(
    header: list[str], columns: list[str], block_size: int, on_invalid_row, encoding: str = "utf8"
):
    """Arrow's CSV options, the same for a whole file and a stream: every column as text, the header
    skipped, empty fields null, rows of the wrong width handed to `on_invalid_row`."""
    return {
        "read_options": pacsv.ReadOptions(
            use_threads=True,
            block_size=block_size,
            column_names=[f"c{i}" for i in range(len(header))],
            skip_rows=1,
            encoding=encoding,
        ),
        "parse_options": pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid_row),
        "convert_options": pacsv.ConvertOptions(
            column_types={f"c{i}": pa.string() for i in range(len(header))},
            include_columns=[f"c{header.index(name)}" for name in columns],
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    }


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
        self._encoding = encoding
        self._data: bytes | None = None
        self._scan: _Scan | None = None
        try:
            self.size = path.stat().st_size
            if self.size > _KEEP_BYTES:
                # A big file is checked a block at a time here and read a piece at a time later, so
                # that neither its bytes nor its rows are ever all in memory.
                self._scan = _scan(path, encoding, digest=sha256 is None)
            raw = None if self._scan is not None and self._scan.ok else path.read_bytes()
        except OSError as error:
            raise ExtractError(f"cannot read the file: {error.strerror or error}", file=path) from None
        if raw is None:
            self.sha256 = sha256 or self._scan.sha256
            self.warnings += self._scan.warnings
            first_line = self._scan.first_line.decode("utf-8")
        else:  # a small file, or a big one the scan found a problem in: decoded whole, as it says
            self._scan = None
            self.sha256 = sha256 or hashlib.sha256(raw).hexdigest()
            data = self._decode(raw, encoding)
            del raw
            self._data = data if len(data) <= _KEEP_BYTES else None
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
                self.warnings.append(_utf8_read_as(path, encoding))
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
        """At most one row per line break and one more (None for a big file read whole)."""
        if self._scan is not None:
            return self._scan.line_breaks + 1
        return None if self._data is None else self._data.count(b"\n") + self._data.count(b"\r") + 1

    def read_pieces(
        self, columns: list[str], kinds: dict[str, str] | None, rows: int, *, numbered: bool = True
    ) -> Iterator[tuple[pa.Table, np.ndarray]]:
        """The named columns as text, about `rows` at a time, with each row's line. A small file is
        read whole and cut; a big one is parsed by Arrow's streaming reader, its lines counted as the
        rows come (each record one line, as the scan found) or, where quoted fields span lines or
        blank lines sit between rows, by Python's csv module reading beside it. Not `numbered` (only
        the values are wanted), the csv module is spared and the lines are row numbers + 1."""
        if self._scan is None:
            return read_whole_in_pieces(self, columns, kinds, rows)
        return _stream(self, columns, rows, numbered)

    def read(self, columns: list[str], kinds: dict[str, str] | None = None) -> tuple[pa.Table, np.ndarray]:
        """The named columns, all as text, and each row's line number."""
        path, header = self.path, self.header
        data = self._data
        if data is None:  # a big file, read whole (for `rosc map init`, or a problem's exact line)
            warnings = list(self.warnings)
            data = self._decode(path.read_bytes(), self._encoding)
            self.warnings = warnings  # said when the file was opened
        if not re.search(rb"[\r\n][^\r\n]", data):
            # A header row and nothing else: a valid, empty table (Arrow cannot read it on its own).
            empty = _no_rows(columns)
            return empty, np.array([], dtype=np.int64)

        invalid: list[int] = []

        def on_invalid_row(row: pacsv.InvalidRow) -> str:
            invalid.append(row.actual_columns)
            return "skip"

        try:
            frame = pacsv.read_csv(
                pa.py_buffer(data),
                **_arrow_options(header, columns, 1 << 24, on_invalid_row),
            )
        except (pa.ArrowInvalid, pa.ArrowException) as error:
            raise ExtractError(f"cannot parse the CSV: {error}", file=path) from None
        frame = frame.rename_columns(columns)

        newlines = data.count(b"\n")
        physical_lines = newlines + (0 if data.endswith(b"\n") else 1)
        if invalid or physical_lines != frame.num_rows + 1:
            # Quoted fields spanning lines, blank lines or bad rows: find each record's line exactly.
            text = data.decode("utf-8")
            # Lines end at LF (so a CR inside a quoted field is not a line break, as on the fast path);
            # a file without a single LF has classic-Mac CR line ends.
            split = io.StringIO(text, newline="\n" if "\n" in text else "")
            lines = np.fromiter(_data_record_lines(split, path, len(header), len(text)), dtype=np.int64)
            if len(lines) != frame.num_rows:
                raise ExtractError(
                    f"could not match the {frame.num_rows} rows read to lines of the file", file=path
                )
        else:
            lines = np.arange(2, frame.num_rows + 2, dtype=np.int64)
        return frame, lines


# ---------------------------------------------------------------------------------------------
# Big files: scanned a block at a time, then streamed.

_BLOCK = 1 << 24
#: Bytes Arrow's streaming reader parses at a time (a row must fit in one).
_STREAM_BLOCK = 1 << 24
_ASCII_COMPATIBLE = frozenset({"utf_8", "utf_8_sig", "cp1252", "latin_1", "iso8859_15", "ascii", "cp850"})


@dataclass
class _Scan:
    """What a block-by-block pass over a big file found: `ok` when it is text in its encoding (else
    the file is decoded whole, so the error is reported exactly as for a small one)."""

    ok: bool = True
    sha256: str = ""
    first_line: bytes = b""
    line_breaks: int = 0
    #: Every record is one physical line (no quoted field spans lines, no blank line, no bare CR), so
    #: row n of the file is line n + 1.
    one_line_records: bool = True
    has_lf: bool = False
    #: Something follows the header row (else the file is a valid, empty table).
    rows: bool = False
    warnings: list[str] = field(default_factory=list)


def _scan(path: Path, encoding: str | None, *, digest: bool = True) -> _Scan:
    """See `_Scan`; with `digest` False the file's sha256 (known already) is not computed."""
    name = _canonical(encoding) if encoding else "utf_8"
    utf8 = name in _UTF8_NAMES
    scan = _Scan()
    hasher = hashlib.sha256() if digest else None
    decoder = codecs.getincrementaldecoder("utf-8" if utf8 else encoding)()
    as_utf8 = None if utf8 else codecs.getincrementaldecoder("utf-8")()  # for the warning below
    valid_utf8, ascii_only, any_text = True, True, False
    quotes = 0  # quote characters so far: odd means inside a quoted field
    head = b""  # the bytes up to the first line break
    previous = b""
    with path.open("rb") as f:
        first = True
        while block := f.read(max(_BLOCK, 4) if first else _BLOCK):
            if hasher is not None:
                hasher.update(block)
            if first:
                first = False
                if utf8 and block.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                    scan.ok = False
                    return scan
                if utf8 and block.startswith(_BOM):
                    block = block[len(_BOM) :]
            if not re.search(rb"[\r\n]", head):
                head += block
                if re.search(rb"[\r\n][^\r\n]", head):
                    scan.rows = True
            elif not scan.rows and re.search(rb"[^\r\n]", block):
                scan.rows = True
            any_text = any_text or bool(block.strip())
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                scan.ok = False
                return scan
            if not utf8:
                ascii_only = ascii_only and block.isascii()
                if valid_utf8:
                    try:
                        as_utf8.decode(block)
                    except UnicodeDecodeError:
                        valid_utf8 = False
            scan.line_breaks += block.count(b"\n")
            scan.has_lf = scan.has_lf or b"\n" in block
            if scan.one_line_records:
                joined = previous + block[:2]
                if (
                    name not in _ASCII_COMPATIBLE
                    or b"\n\n" in block
                    or b"\n\n" in joined
                    or b"\n\r\n" in joined
                    or (previous.endswith(b"\r") and not block.startswith(b"\n"))
                    or (
                        b"\r" in block  # CR only as part of CRLF (a bare CR ends a row for Arrow)
                        and (
                            b"\n\r\n" in block
                            or block.count(b"\r") != block.count(b"\r\n") + (block.endswith(b"\r"))
                        )
                    )
                ):
                    scan.one_line_records = False
                elif b'"' in block or quotes % 2:
                    array = np.frombuffer(block, dtype=np.uint8)
                    opened = np.cumsum(array == ord('"'), dtype=np.int64) + quotes
                    if (opened[array == ord("\n")] % 2).any():
                        scan.one_line_records = False
                    quotes = int(opened[-1])
            previous = (previous + block)[-2:]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        scan.ok = False
        return scan
    if not any_text:
        scan.ok = False  # decoded whole, it says the file is empty
        return scan
    first_line = re.split(rb"\r\n|\r|\n", head, maxsplit=1)[0]
    scan.first_line = first_line if utf8 else first_line.decode(encoding).encode("utf-8")
    if not scan.has_lf:
        scan.one_line_records = False  # classic-Mac CR line ends
    scan.sha256 = hasher.hexdigest() if hasher is not None else ""
    if not utf8 and not ascii_only and valid_utf8:
        scan.warnings.append(_utf8_read_as(path, encoding))
    return scan


def _record_lines(source: CsvSource) -> Iterator[int]:
    """`_data_record_lines` of a big file, read from disk as the whole-file path reads its text."""
    encoding = source._encoding or "utf-8-sig"
    if _canonical(encoding) == "utf_8":
        encoding = "utf-8-sig"
    with source.path.open(encoding=encoding, newline="\n" if source._scan.has_lf else "") as f:
        yield from _data_record_lines(f, source.path, len(source.header), source.size)


def _stream(
    source: CsvSource, columns: list[str], rows: int, numbered: bool = True
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    header, path, scan = source.header, source.path, source._scan
    invalid: list[int] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        invalid.append(row.actual_columns)
        return "skip"

    if not scan.rows:  # a header row and nothing else: a valid, empty table
        yield _no_rows(columns), np.array([], dtype=np.int64)
        return
    encoding = source._encoding or "utf8"

    def open_reader(block_size: int) -> pacsv.CSVStreamingReader:
        text = "utf8" if _canonical(encoding) in _UTF8_NAMES else encoding
        return pacsv.open_csv(path, **_arrow_options(header, columns, block_size, on_invalid_row, text))

    lines = None if scan.one_line_records or not numbered else _record_lines(source)
    first_line = 2
    held: list[pa.RecordBatch] = []
    held_rows = 0
    given = 0  # rows handed on

    def piece() -> tuple[pa.Table, np.ndarray]:
        nonlocal first_line, given, held, held_rows
        frame = pa.Table.from_batches(held).rename_columns(columns) if held else _no_rows(columns)
        if lines is None:
            numbers = np.arange(first_line, first_line + frame.num_rows, dtype=np.int64)
            first_line += frame.num_rows
        else:
            numbers = np.fromiter(itertools.islice(lines, frame.num_rows), dtype=np.int64, count=-1)
            if len(numbers) != frame.num_rows:
                raise ExtractError("could not match the rows read to lines of the file", file=path)
        given += frame.num_rows
        held, held_rows = [], 0
        return frame, numbers

    def wrong_width() -> ExtractError:
        for _ in _record_lines(source):  # raises, naming the row's line
            pass
        return ExtractError("could not match the rows read to lines of the file", file=path)

    block_size, pieces = _STREAM_BLOCK, 0
    while True:
        held, held_rows, skip = [], 0, given
        try:
            for batch in open_reader(block_size):
                if invalid:  # a row of the wrong width
                    raise wrong_width()
                if skip:  # rows handed on before the reader was opened again
                    if batch.num_rows <= skip:
                        skip -= batch.num_rows
                        continue
                    batch, skip = batch.slice(skip), 0
                held.append(batch)
                held_rows += batch.num_rows
                if held_rows >= rows:
                    yield piece()
                    pieces += 1
            break
        except pa.ArrowInvalid as error:
            if "straddl" in str(error) and block_size < source.size:
                block_size *= 4  # a row longer than the block: read again, in bigger blocks
                continue
            raise ExtractError(f"cannot parse the CSV: {error}", file=path) from None
        except pa.ArrowException as error:
            raise ExtractError(f"cannot parse the CSV: {error}", file=path) from None
    if invalid:
        raise wrong_width()
    if held or not pieces:
        yield piece()
    if scan.one_line_records and given != scan.line_breaks + (0 if _ends_with_line_feed(path) else 1) - 1:
        raise ExtractError(f"could not match the {given} rows read to the lines of the file", file=path)


def _ends_with_line_feed(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, 2)
        return f.read(1) == b"\n"
