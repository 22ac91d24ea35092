"""Reading an extract folder: finding each table's file, reading it, and file-level errors.

An extract is a folder with one file per contract table, `<table>.csv` or `<table>.parquet`, and
optionally `extract.json` (`{"as_of": "YYYY-MM-DD", "contract_version": 1}`). This module reads the
files as they are and stops on anything that makes a file unusable as a whole, raising
`ExtractError`: a missing table, a table present as both CSV and Parquet, an unreadable or empty
file, a CSV that is not UTF-8 (a UTF-8 byte-order mark is accepted and stripped) or has a row with the
wrong number of fields, a missing required column, a duplicated column, a column that looks like
a direct identifier (a name, NHS number, date of birth, postcode, address, email, phone number...),
and a Parquet column no contract type fits (nested, or bytes that are not UTF-8). A CSV holding only
its header row is a valid empty table. Unknown extra columns are dropped and reported as warnings.
Row-level rules are `pipelines.schemas`' business. `tests/corpus/` shows each outcome on a case.

A CSV is read with every column as text, so that a bad value (`2024-13-45`, `yes`) becomes a
rejected row rather than a failed read. Each row carries its line number: the physical line of
the file where the row starts, the header being line 1 (a quoted field spanning lines is handled).
A Parquet file is read typed; its rows get "line" = row number + 1 (row 1 is line 2), so that a
CSV and a Parquet copy of one extract report the same numbers; messages say "row" for Parquet.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipelines.contract import CONTRACT_VERSION, DIRECT_IDENTIFIER_NAMES, TABLE_ORDER, TABLES

MANIFEST = "extract.json"
FORMATS = ("csv", "parquet")
_BOM = codecs.BOM_UTF8

FileFormat = Literal["csv", "parquet"]


class ExtractError(Exception):
    """A problem with a whole file: the load stops and nothing of it is kept.

    `str()` is a complete message, e.g. "providers.csv line 7, column provider_type: ...".
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
        row_word: str = "line",
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.column = column
        self.row_word = row_word
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or ""
        if self.line is not None:
            number = self.line - 1 if self.row_word == "row" else self.line
            where += f" {self.row_word} {number}"
        if self.column is not None:
            where += f"{',' if where else ''} column {self.column}"
        return f"{where.strip()}: {self.message}" if where.strip() else self.message


@dataclass(frozen=True)
class Manifest:
    """What `extract.json` says (both fields None when the folder has no extract.json)."""

    as_of: date | None = None
    contract_version: int | None = None


@dataclass
class TableFile:
    """One table's file, read: contract columns (present ones, as read) and each row's line."""

    table: str
    path: Path
    format: FileFormat
    size: int
    sha256: str
    data: pa.Table
    lines: np.ndarray
    dropped_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.lines)

    def where(self, line: int | None) -> str:
        """'episodes.csv line 7' / 'episodes.parquet row 6'."""
        if line is None:
            return self.path.name
        if self.format == "parquet":
            return f"{self.path.name} row {line - 1}"
        return f"{self.path.name} line {line}"


@dataclass
class ExtractFolder:
    """A located extract: its folder, manifest and one file per table (not read yet)."""

    folder: Path
    manifest: Manifest
    paths: dict[str, Path]
    manifest_path: Path | None = None


# ---------------------------------------------------------------------------------------------
# Direct identifiers.

#: Normalised names that look like direct identifiers, besides contract.DIRECT_IDENTIFIER_NAMES.
_MORE_IDENTIFIER_NAMES = frozenset(
    {
        "tel",
        "telno",
        "telephoneno",
        "telephonenumber",
        "mobileno",
        "mobilenumber",
        "mobilephone",
        "cellphone",
        "homephone",
        "workphone",
        "postalcode",
        "zip",
        "fname",
        "lname",
        "givenname",
        "givennames",
        "familyname",
        "middlename",
        "middlenames",
        "maidenname",
        "birthday",
        "nino",
        "nhsid",
        "chino",
        "chi",
        "emailaddr",
        "mail",
        "addr",
        "streetaddress",
        "houseno",
        "housenumber",
    }
)
#: A `<who>name` column (patient_name, client_name...) names a person.
_PERSON_WORDS = (
    "patient",
    "client",
    "person",
    "serviceuser",
    "user",
    "first",
    "last",
    "full",
    "given",
    "family",
    "middle",
    "maiden",
    "sur",
    "fore",
    "preferred",
    "nick",
    "mother",
    "father",
    "parent",
    "carer",
    "nextofkin",
    "nok",
    "gp",
    "contact",
    "keyworker",
    "worker",
    "staff",
    "child",
    "partner",
)
_IDENTIFIER_PARTS = (
    "nhsnumber",
    "nhsno",
    "dateofbirth",
    "birthdate",
    "postcode",
    "email",
    "phone",
    "telephone",
    "address",
    "nationalinsurance",
    "ninumber",
    "chinumber",
    "mobilenumber",
    "surname",
    "forename",
    "firstname",
    "lastname",
    "fullname",
    "givenname",
    "familyname",
    "middlename",
    "maidenname",
    "hospitalnumber",
    "hospitalno",
    "medicalrecordnumber",
    "localpatientid",
)


def normalise_header(name: str) -> str:
    """Lower-case, separators removed: 'Date of Birth' → 'dateofbirth'."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def identifier_kind(name: str) -> str | None:
    """Why a column name looks like a direct identifier (None when it does not)."""
    key = normalise_header(name)
    if not key:
        return None
    if key in DIRECT_IDENTIFIER_NAMES or key in _MORE_IDENTIFIER_NAMES:
        return "a direct identifier"
    for part in _IDENTIFIER_PARTS:
        if part in key:
            return "a direct identifier"
    if key.startswith("dob") or key.endswith("dob"):
        return "a direct identifier (date of birth)"
    if key.startswith("nhs") and (key.endswith("no") or key.endswith("num") or key.endswith("number")):
        return "a direct identifier (NHS number)"
    if key.endswith("name") and key[: -len("name")] in _PERSON_WORDS:
        return "a direct identifier (a person's name)"
    return None


# ---------------------------------------------------------------------------------------------
# Locating the files.


def read_manifest(folder: Path) -> tuple[Manifest, Path | None]:
    path = folder / MANIFEST
    if not path.exists():
        return Manifest(), None
    try:
        content = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExtractError(f"cannot read extract.json: {error}", file=path) from None
    if not isinstance(content, dict):
        raise ExtractError("extract.json must hold a JSON object", file=path)
    version = content.get("contract_version")
    if version is not None and version != CONTRACT_VERSION:
        raise ExtractError(
            f"contract_version {version!r} is not supported (this loader implements version "
            f"{CONTRACT_VERSION})",
            file=path,
        )
    as_of = content.get("as_of")
    if as_of is not None:
        try:
            as_of = date.fromisoformat(str(as_of))
        except ValueError:
            raise ExtractError(f"as_of {as_of!r} is not a date in YYYY-MM-DD form", file=path) from None
    return Manifest(as_of=as_of, contract_version=version), path


def locate_extract(folder: str | Path) -> ExtractFolder:
    """Find each table's file in `folder` and read its extract.json; ExtractError if incomplete."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExtractError("not a folder", file=folder)
    manifest, manifest_path = read_manifest(folder)
    paths: dict[str, Path] = {}
    for table in TABLE_ORDER:
        found = [folder / f"{table}.{fmt}" for fmt in FORMATS if (folder / f"{table}.{fmt}").is_file()]
        if not found:
            raise ExtractError(
                f"table {table} is missing: expected {table}.csv or {table}.parquet", file=folder
            )
        if len(found) > 1:
            raise ExtractError(
                f"both {table}.csv and {table}.parquet are present; keep one", file=folder / found[0].name
            )
        paths[table] = found[0]
    return ExtractFolder(folder, manifest, paths, manifest_path)


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# ---------------------------------------------------------------------------------------------
# Reading one file.


def _check_header(table: str, path: Path, header: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(contract columns present, unknown columns dropped, optional columns missing)."""
    spec = TABLES[table]
    contract = set(spec.column_names)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise ExtractError(
                "column appears twice in the header", file=path, line=1, column=name, row_word="line"
            )
        seen.add(name)
    for name in header:
        if name in contract:
            continue
        kind = identifier_kind(name)
        if kind:
            raise ExtractError(
                f"looks like {kind}; extracts must be anonymised, so remove this column and load again",
                file=path,
                column=name,
            )
    missing_required = [c.name for c in spec.columns if c.required and c.name not in seen]
    if missing_required:
        separators = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
        used = [word for sep, word in separators.items() if len(header) == 1 and sep in header[0]]
        hint = (
            f"; the header seems separated by {used[0]}, but the extract must be comma-separated"
            if used
            else ""
        )
        if any("\x00" in name for name in header):
            hint = "; the header holds NUL characters, so the file looks like UTF-16: save it as UTF-8"
        raise ExtractError(
            f"required column missing (the file has: {', '.join(header) or 'no columns'}){hint}",
            file=path,
            line=1 if path.suffix == ".csv" else None,
            column=", ".join(missing_required),
        )
    present = [c for c in spec.column_names if c in seen]
    dropped = [name for name in header if name not in contract]
    missing = [c.name for c in spec.columns if c.name not in seen]
    return present, dropped, missing


def _complete(table: str, data: pa.Table, present: list[str]) -> pa.Table:
    """Contract columns in contract order; a missing optional column is all null."""
    arrays = []
    for col in TABLES[table].columns:
        if col.name in present:
            arrays.append(data.column(col.name))
        else:
            arrays.append(pa.nulls(data.num_rows, pa.string()))
    return pa.table(arrays, names=TABLES[table].column_names)


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


def read_csv_file(table: str, path: Path, sha256: str | None = None) -> TableFile:
    """Read `<table>.csv` with every column as text."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ExtractError(f"cannot read the file: {error.strerror or error}", file=path) from None
    sha256 = sha256 or hashlib.sha256(raw).hexdigest()
    data = raw[len(_BOM) :] if raw.startswith(_BOM) else raw
    if not data.strip():
        raise ExtractError("the file is empty (not even a header row)", file=path)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ExtractError(
            "the file is UTF-16 text (it starts with a UTF-16 byte-order mark); save it as UTF-8",
            file=path,
            line=1,
        )
    bad = _first_undecodable(data)
    if bad is not None:
        line = data.count(b"\n", 0, bad) + 1
        raise ExtractError(
            f"not UTF-8 text (byte 0x{data[bad]:02x}); save the file as UTF-8", file=path, line=line
        )
    first_line = re.split(rb"\r\n|\r|\n", data, maxsplit=1)[0].decode("utf-8")
    try:
        header = next(csv.reader([first_line]), [])
    except csv.Error as error:
        raise ExtractError(f"cannot parse the header row: {error}", file=path, line=1) from None
    present, dropped, missing = _check_header(table, path, header)
    if not re.search(rb"[\r\n][^\r\n]", data):
        # A header row and nothing else: a valid, empty table (Arrow cannot read it on its own).
        return TableFile(
            table=table,
            path=path,
            format="csv",
            size=len(raw),
            sha256=sha256,
            data=_complete(table, pa.table({n: pa.array([], pa.string()) for n in present}), present),
            lines=np.array([], dtype=np.int64),
            dropped_columns=dropped,
            missing_columns=missing,
        )

    invalid: list[int] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        invalid.append(row.actual_columns)
        return "skip"

    try:
        frame = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(use_threads=True, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid_row),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                include_columns=present,
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException) as error:
        raise ExtractError(f"cannot parse the CSV: {error}", file=path) from None

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
    return TableFile(
        table=table,
        path=path,
        format="csv",
        size=len(raw),
        sha256=sha256,
        data=_complete(table, frame, present),
        lines=lines,
        dropped_columns=dropped,
        missing_columns=missing,
    )


def read_parquet_file(table: str, path: Path, sha256: str | None = None) -> TableFile:
    """Read `<table>.parquet` as typed."""
    try:
        size = path.stat().st_size
        if size == 0:
            raise ExtractError("the file is empty", file=path)
        header = list(pq.read_schema(path).names)
    except OSError as error:
        raise ExtractError(f"cannot read the file: {error.strerror or error}", file=path) from None
    except pa.ArrowException as error:
        raise ExtractError(f"not a readable Parquet file: {error}", file=path) from None
    present, dropped, missing = _check_header(table, path, header)
    try:
        frame = pq.read_table(path, columns=present, use_threads=True)
    except (pa.ArrowException, OSError) as error:
        raise ExtractError(f"not a readable Parquet file: {error}", file=path) from None
    frame = _flat_parquet_columns(path, frame)
    return TableFile(
        table=table,
        path=path,
        format="parquet",
        size=size,
        sha256=sha256 or file_sha256(path),
        data=_complete(table, frame, present),
        lines=np.arange(2, frame.num_rows + 2, dtype=np.int64),
        dropped_columns=dropped,
        missing_columns=missing,
    )


def _flat_parquet_columns(path: Path, frame: pa.Table) -> pa.Table:
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
                    line=row + 2,
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


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def read_table_file(table: str, path: Path, sha256: str | None = None) -> TableFile:
    """Read one table's file (CSV or Parquet by its suffix); `sha256` if already known."""
    if path.suffix == ".csv":
        return read_csv_file(table, path, sha256)
    return read_parquet_file(table, path, sha256)


def read_extract(extract: ExtractFolder) -> dict[str, TableFile]:
    """Read every table file of a located extract, in TABLE_ORDER."""
    return {table: read_table_file(table, extract.paths[table]) for table in TABLE_ORDER}
