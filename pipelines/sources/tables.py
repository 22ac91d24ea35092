"""One table's file, read into the contract's columns: `read_table`, and what it returns, `TableFile`.

Whatever the source (a CSV, a Parquet file, an Excel sheet; with or without a mapping profile), reading a
table goes the same way:
1. the file's header is checked: no column twice, and no column that looks like a direct identifier
   (a column a profile maps explicitly to provider_name, programme_name or area_name is an
   organisation's name and is allowed);
2. each contract column is found: a profile's constant, else the export column the profile maps it
   to, else the column of exactly its name; a required column found nowhere stops the load, naming the
   columns that match it ignoring case and punctuation, if any;
3. export columns no contract column uses are dropped, with a warning; optional contract columns found
   nowhere are loaded as empty, with a warning;
4. the profile's null values and value maps are applied, keeping the export's own values beside, so a
   rejected row is reported as the export wrote it (`TableFile.quote`).
Values keep the type the file gave them; `pipelines.schemas.to_contract_types` reads them into the
contract's types, by `pipelines.sources.values`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.contract import TABLES
from pipelines.sources.base import ExtractError, FileFormat, ReadOptions, SourceRef
from pipelines.sources.csv_file import CsvSource
from pipelines.sources.excel_file import EXCEL_SUFFIXES, ExcelSource
from pipelines.sources.identifiers import identifier_kind, normalise_header
from pipelines.sources.mapping import TableMapping
from pipelines.sources.parquet_file import ParquetSource

#: Contract columns holding an organisation's or an area's name: a profile may map them from a column
#: whose name alone ("Name") would look like a person's.
_ORGANISATION_NAMES = frozenset({"provider_name", "programme_name", "area_name"})
CONSTANT = "(constant)"


@dataclass
class TableFile:
    """One table's file, read: contract columns (as the file typed them) and each row's line.

    `source_columns` names, per contract column, the export's column it came from (CONSTANT for a
    profile's constant); `source_values` keeps, where a profile changed the values (a value map, null
    values or a constant), the export's own values as text, row by row.
    """

    table: str
    path: Path
    format: FileFormat
    size: int
    sha256: str
    data: pa.Table | None
    lines: np.ndarray
    sheet: str | None = None
    dropped_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    source_columns: dict[str, str] = field(default_factory=dict)
    source_values: dict[str, pa.ChunkedArray] = field(default_factory=dict)
    date_format: str | None = None
    warnings: list[str] = field(default_factory=list)
    mapping: TableMapping | None = None
    #: How to read the rows of a file opened by `open_table` (None once read whole, or for a piece).
    reader: _Reader | None = field(default=None, repr=False, compare=False)

    @property
    def rows(self) -> int:
        return len(self.lines)

    def rows_at_most(self) -> int | None:
        """At most how many rows the file has, if that is known without reading them (read whole, a
        Parquet file's metadata, a sheet, or a CSV's line breaks), else None."""
        return self.rows if self.reader is None else self.reader.source.rows_at_most()

    def pieces(self, rows: int) -> Iterator[TableFile]:
        """The rows of a file opened by `open_table`, in order, at most `rows` at a time, each piece a
        TableFile of its own: its data (the contract columns), lines and source values. A Parquet file
        or a big CSV is read a piece at a time, so memory holds one piece; a sheet or a small CSV is
        read whole first."""
        return self._opened().pieces(self, rows)

    def values(self, column: str, rows: int) -> Iterator[pa.ChunkedArray]:
        """One contract column of an opened file, `rows` at a time, without the cost of line numbers."""
        for data, _ in self._opened().parts(rows, [column], numbered=False):
            yield data.column(column)

    def _opened(self) -> _Reader:
        if self.reader is None:
            raise ValueError(f"{self.label} was read whole (read_table): its rows are in .data")
        return self.reader

    @property
    def label(self) -> str:
        """'episodes.csv', or 'extract.xlsx sheet episodes'."""
        return f"{self.path.name} sheet {self.sheet}" if self.sheet else self.path.name

    def where(self, line: int | None) -> str:
        """'episodes.csv line 7' / 'episodes.parquet row 6' / 'extract.xlsx sheet episodes row 7'."""
        if line is None:
            return self.label
        if self.format == "parquet":
            return f"{self.path.name} row {line - 1}"
        if self.format == "excel":
            return f"{self.label} row {line}"
        return f"{self.path.name} line {line}"

    def quote(self, failures: pd.DataFrame) -> pd.DataFrame:
        """`failures` (line, column, rule, value, message) as the export wrote them: `column` becomes
        the export's column, `value` its own value; `contract_column` and `contract_value` keep the
        contract's name and the value as read."""
        failures = failures.copy()
        failures["contract_column"] = failures["column"]
        failures["contract_value"] = failures["value"]
        if failures.empty or not any(
            self.source_columns.get(c, c) != c or c in self.source_values for c in failures["column"].unique()
        ):
            return failures
        positions = np.searchsorted(self.lines, failures["line"].to_numpy())
        columns, values, messages = [], [], []
        for column, value, message, position in zip(
            failures["column"], failures["value"], failures["message"], positions, strict=True
        ):
            source_column = self.source_columns.get(column, column)
            source_value = value
            if column in self.source_values and position < len(self.lines):
                source_value = self.source_values[column][int(position)].as_py()
            columns.append(source_column)
            values.append(source_value)
            messages.append(_quoted_message(message, column, value, source_column, source_value))
        failures["column"] = columns
        failures["value"] = values
        failures["message"] = messages
        return failures


def _quoted_message(message: str, column: str, value, source_column: str, source_value) -> str:
    label = column if source_column == column else f"{source_column} ({column})"
    if source_column == CONSTANT:
        label = f"the mapping profile's constant for {column}"
    text = label + message[len(column) :] if message.startswith(column) else f"{label}: {message}"
    if source_value != value and value is not None and f"'{value}'" in text:
        text = text.replace(f"'{value}'", f"'{source_value}' (read as '{value}')", 1)
    elif source_value != value and value is None and source_value is not None:
        text += f" (the export wrote '{source_value}')"
    return text


def open_source(ref: SourceRef, options: ReadOptions, sha256: str | None = None):
    """The reader for `ref`'s file, by its suffix."""
    suffix = ref.path.suffix.lower()
    if suffix == ".parquet":
        return ParquetSource(ref.path, sha256=sha256)
    if suffix in EXCEL_SUFFIXES:
        if ref.sheet is None:
            raise ExtractError("a workbook needs a sheet", file=ref.path)
        return ExcelSource(ref.path, ref.sheet, date_format=options.date_format, sha256=sha256)
    return CsvSource(ref.path, encoding=options.encoding, sha256=sha256)


def _error(source, message: str, *, line: int | None = None, column: str | None = None) -> ExtractError:
    return ExtractError(
        message,
        file=source.path,
        line=line,
        column=column,
        row_word=source.row_word,
        sheet=source.sheet,
    )


def _header_line(source) -> int | None:
    if source.format == "csv":
        return 1
    if source.format == "excel":
        return source.header_row
    return None


def _resolve(table: str, source, mapping: TableMapping | None) -> tuple[dict[str, str], list[str], list[str]]:
    """(contract column → export column or CONSTANT, export columns dropped, optional columns missing)."""
    spec = TABLES[table]
    header = source.header
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise _error(source, "column appears twice in the header", line=_header_line(source), column=name)
        seen.add(name)
    renames = mapping.columns if mapping else {}
    constants = mapping.constants if mapping else {}
    organisation = {renames[c] for c in _ORGANISATION_NAMES if c in renames}
    for name in header:
        if name in spec.column_names or name in organisation:
            continue
        kind = identifier_kind(name)
        if kind:
            raise _error(
                source,
                f"looks like {kind}; extracts must be anonymised, so remove this column and load again",
                column=name,
            )
    found: dict[str, str] = {}
    for col in spec.columns:
        if col.name in constants:
            found[col.name] = CONSTANT
        elif col.name in renames:
            if renames[col.name] not in seen:
                raise _error(
                    source,
                    f"the mapping profile's {mapping.setting('columns')} takes {col.name} from column "
                    f"{renames[col.name]!r}, which the file does not have (it has: {', '.join(header)})",
                    line=_header_line(source),
                    column=renames[col.name],
                )
            found[col.name] = renames[col.name]
        elif col.name in seen:
            found[col.name] = col.name
    missing_required = [c.name for c in spec.columns if c.required and c.name not in found]
    if missing_required:
        raise _error(
            source,
            f"required column missing (the file has: {', '.join(header) or 'no columns'})"
            + _missing_hint(header, missing_required, mapping),
            line=_header_line(source),
            column=", ".join(missing_required),
        )
    used = set(found.values())
    dropped = [name for name in header if name not in used]
    missing = [c.name for c in spec.columns if c.name not in found]
    return found, dropped, missing


def _missing_hint(header: list[str], missing: list[str], mapping: TableMapping | None) -> str:
    separators = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
    used = [word for sep, word in separators.items() if len(header) == 1 and sep in header[0]]
    if used:
        return f"; the header seems separated by {used[0]}, but the extract must be comma-separated"
    if any("\x00" in name for name in header):
        return (
            "; the header holds NUL characters, so the file looks like UTF-16: load it with "
            "--encoding utf-16-le, or save it as UTF-8"
        )
    near = {c: [h for h in header if normalise_header(h) == normalise_header(c)] for c in missing}
    near = {c: hs for c, hs in near.items() if hs}
    if near:
        pairs = ", ".join(f"{hs[0]!r} for {c}" for c, hs in near.items())
        return (
            f"; column names are exact, but the file has {pairs}: rename the column, or map it in a "
            "profile (`rosc map init DIR` writes one)"
        )
    if mapping is None:
        return "; if the export names it otherwise, map it in a profile (`rosc map init DIR` writes one)"
    return f"; map it in the profile's {mapping.setting('columns')}"


def _as_text(array: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(array.type):
        return array
    if pa.types.is_timestamp(array.type) or pa.types.is_date(array.type):
        return pc.cast(pc.cast(array, pa.date32()) if pa.types.is_date(array.type) else array, pa.string())
    return pc.cast(array, pa.string())


def _apply_profile(
    array: pa.ChunkedArray, column: str, mapping: TableMapping
) -> tuple[pa.ChunkedArray, pa.ChunkedArray | None]:
    """(the column with the profile's null values and value map applied, the export's own text or None
    when nothing was changed)."""
    value_map = mapping.values.get(column)
    if not value_map and not mapping.null_values:
        return array, None
    if not value_map and not pa.types.is_string(array.type):
        return array, None  # null values are texts: a typed column holds none of them
    text = _as_text(array)
    result = text
    if mapping.null_values:
        result = pc.if_else(
            pc.fill_null(pc.is_in(result, value_set=pa.array(mapping.null_values, pa.string())), False),
            pa.scalar(None, pa.string()),
            result,
        )
    if value_map:
        keys = pa.array(list(value_map), pa.string())
        targets = pa.array([v if v != "" else None for v in value_map.values()], pa.string())
        position = pc.index_in(result, value_set=keys)
        result = pc.if_else(pc.is_valid(position), pc.take(targets, position), result)
    if result.equals(text) and text is array:
        return array, None
    return result, text


@dataclass
class _Reader:
    """What `open_table` found: the open source, the export column of each contract column, and the
    export columns to read (with the contract type each feeds)."""

    table: str
    source: object
    found: dict[str, str]
    mapping: TableMapping | None
    wanted: list[str]
    kinds: dict[str, str]

    def assemble(self, data: pa.Table, rows: int, columns: list[str] | None = None):
        """The contract columns (or `columns`) of `rows` rows read from the export's `data`, and the
        export's own values where the profile changed them."""
        spec = TABLES[self.table]
        arrays: list[pa.ChunkedArray] = []
        names: list[str] = []
        source_values: dict[str, pa.ChunkedArray] = {}
        for col in spec.columns:
            if columns is not None and col.name not in columns:
                continue
            origin = self.found.get(col.name)
            if origin is None:
                array = pa.chunked_array([pa.nulls(rows, pa.string())])
            elif origin == CONSTANT:
                constant = self.mapping.constants[col.name]
                array = pa.chunked_array([pa.array([constant] * rows, pa.string())], type=pa.string())
                source_values[col.name] = array
            else:
                array = data.column(origin)
                if self.mapping is not None:
                    array, own = _apply_profile(array, col.name, self.mapping)
                    if own is not None:
                        source_values[col.name] = own
            arrays.append(array)
            names.append(col.name)
        return pa.table(arrays, names=names), source_values

    def _wanted(self, columns: list[str] | None) -> list[str]:
        if columns is None:
            return self.wanted
        return list(dict.fromkeys(self.found[c] for c in columns if self.found.get(c, CONSTANT) != CONSTANT))

    def read(self):
        """(contract columns, lines, source values) of the whole file."""
        data, lines = self.source.read(self.wanted, self.kinds)
        table, source_values = self.assemble(data, len(lines))
        return table, lines, source_values

    def parts(self, rows: int, columns: list[str] | None = None, *, numbered: bool = True):
        """(contract columns or `columns`, lines) of the file, `rows` at a time."""
        for data, lines in self.source.read_pieces(
            self._wanted(columns), self.kinds, rows, numbered=numbered
        ):
            yield self.assemble(data, len(lines), columns)[0], lines

    def pieces(self, tf: TableFile, rows: int) -> Iterator[TableFile]:
        for data, lines in self.source.read_pieces(self.wanted, self.kinds, rows):
            table, source_values = self.assemble(data, len(lines))
            yield replace(tf, data=table, lines=lines, source_values=source_values, reader=None)


def open_table(
    table: str,
    ref: SourceRef,
    options: ReadOptions | None = None,
    mapping: TableMapping | None = None,
    sha256: str | None = None,
) -> TableFile:
    """Open `table`'s file and find its contract columns (see the module docstring), reading no rows yet:
    the TableFile's `pieces()` reads them. Header problems raise `ExtractError` here."""
    spec = TABLES[table]
    options = options or ReadOptions()
    options = options.merged(mapping.date_format, mapping.encoding) if mapping else options
    source = open_source(ref, options, sha256)
    found, dropped, missing = _resolve(table, source, mapping)
    wanted = list(dict.fromkeys(s for s in found.values() if s != CONSTANT))
    kinds: dict[str, str] = {}
    for col in spec.columns:
        if found.get(col.name, CONSTANT) != CONSTANT:
            kinds.setdefault(found[col.name], col.type)
    warnings = list(source.warnings)
    where = ref.label if ref.sheet else str(ref.path)
    for column in dropped:
        warnings.append(f"{where}: unknown column {column!r} dropped (not in the contract)")
    for column in missing:
        warnings.append(f"{where}: optional column {column!r} absent; loaded as empty")
    return TableFile(
        table=table,
        path=ref.path,
        format=source.format,
        size=source.size,
        sha256=source.sha256,
        data=None,
        lines=np.array([], dtype=np.int64),
        sheet=ref.sheet,
        dropped_columns=dropped,
        missing_columns=missing,
        source_columns={c: s for c, s in found.items()},
        source_values={},
        date_format=options.date_format,
        warnings=warnings,
        mapping=mapping,
        reader=_Reader(table, source, found, mapping, wanted, kinds),
    )


def read_table(
    table: str,
    ref: SourceRef,
    options: ReadOptions | None = None,
    mapping: TableMapping | None = None,
    sha256: str | None = None,
) -> TableFile:
    """Read `table` from `ref` into its contract columns, whole (see the module docstring)."""
    tf = open_table(table, ref, options, mapping, sha256)
    tf.data, tf.lines, tf.source_values = tf.reader.read()
    tf.reader = None
    return tf
