"""Checking extracts against the contract and the warehouse: the loader's first half, and `rosc check`.

`check_extracts(dirs, db)` is a dry run: it reads every file as `rosc load` would, runs every rule
(against the warehouse's rows where one exists, for foreign keys and overlaps) and writes nothing. It
returns a `CheckReport`: per table the rows read, the rows that would load and the rows that would be
rejected (counting rows lost through foreign keys), and the top problems, each with an example line
and value and, where one is known, the option or the mapping line that fixes it.

The loader (`pipelines.load`) runs the same `read_extracts` and `validate_extracts`, and refuses a load
whose `CheckReport` shows a table losing more than `--max-rejected` of its rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.contract import OPTIONAL_TABLES, TABLE_ORDER, TABLES, create_table_sql
from pipelines.progress import Progress
from pipelines.schemas import (
    ARROW_TYPES,
    KeyLookup,
    KnownKeys,
    empty_failures,
    key_as_text,
    overlap_schema,
    repeated_keys,
    schema_for,
    to_contract_types,
    validate,
    without_repeats,
)
from pipelines.sources import ExtractFolder, ReadOptions, TableFile, locate_extract
from pipelines.sources.hints import date_patterns, describe_patterns
from pipelines.sources.mapping import MappingProfile
from pipelines.sources.tables import open_table

#: Columns of a failures frame across files: the loader's quarantine rows.
FAILURE_COLUMNS = [
    "table",
    "file",
    "sheet",
    "line",
    "column",
    "rule",
    "value",
    "message",
    "contract_column",
    "contract_value",
]
#: What the quarantine table and the rejected-rows report keep of them.
REPORT_COLUMNS = FAILURE_COLUMNS[:-1]
#: Tables some other table refers to (their keys are collected for the foreign_key rule).
REFERENCED = frozenset(c.references[0] for t in TABLES.values() for c in t.columns if c.references)
DEFAULT_MAX_REJECTED = 0.05
#: Rows read, checked and written at a time: a bigger file goes in pieces, so that a load's memory is
#: bounded by the piece, not by the extract.
PIECE_ROWS = 1_000_000
#: DuckDB's memory while the files are checked (their pieces, the key sets and the rows being written
#: are held beside it) and while the derived tables are built; beyond it, DuckDB spills to disk.
CHECK_MEMORY_LIMIT = "640MB"
BUILD_MEMORY_LIMIT = "1GB"
TOP_PROBLEMS = 10

Folders = list[tuple[ExtractFolder, dict[str, TableFile], date]]


# ---------------------------------------------------------------------------------------------
# Reading.


def read_extracts(
    extracts: Sequence[ExtractFolder],
    options: ReadOptions,
    progress: Progress,
    as_of: date | None,
    shas: dict[Path, str] | None = None,
) -> tuple[Folders, list[str]]:
    """Open every table of every located extract: ([(extract, files, as_of)], warnings, each once).

    Each file's header is read and its contract columns found (a problem there raises ExtractError
    before anything else is done); its rows are read when `validate_extracts` reaches its table, a
    piece at a time. An optional table an extract does not hold has no entry in its files."""
    today = date.today()
    warnings: list[str] = []
    folders: Folders = []
    for extract in extracts:
        files: dict[str, TableFile] = {}
        for table in TABLE_ORDER:
            ref = extract.sources.get(table)
            if ref is None:  # an optional table this extract does not hold
                progress.step(f"no {table} in {extract.folder.name}")
                progress.done()
                continue
            progress.step(f"reading {ref.label}")
            mapping = extract.profile.for_table(table) if extract.profile else None
            table_options = options
            if extract.profile is not None:
                table_options = options.merged(extract.profile.date_format, extract.profile.encoding)
            tf = open_table(table, ref, table_options, mapping, (shas or {}).get(ref.path))
            warnings += [w for w in tf.warnings if w not in warnings]
            files[table] = tf
            progress.done()
        folders.append((extract, files, as_of or extract.manifest.as_of or today))
    for message in warnings:
        progress.warn(message)
    return folders, warnings


# ---------------------------------------------------------------------------------------------
# Validation across files and tables.


@dataclass
class FileOutcome:
    folder: Path
    file: TableFile
    rows_read: int
    rejected_lines: np.ndarray  # distinct lines with at least one failure


@dataclass
class Validated:
    failures: pd.DataFrame  # FAILURE_COLUMNS
    outcomes: list[FileOutcome]
    #: Per table, the keys of its rows this load rejects (why a child fails foreign_key).
    rejected_keys: dict[str, pa.Array] = field(default_factory=dict)


def _column(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Array:
    table = con.sql(sql).to_arrow_table()
    return table.column(0).combine_chunks().cast(pa.string())


def _distinct(*arrays: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The distinct strings of all `arrays`, as one array (a value set for `pc.is_in`)."""
    chunks: list[pa.Array] = []
    for array in arrays:
        chunks += array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    chunks = [c.cast(pa.string()) for c in chunks if len(c)]
    if not chunks:
        return pa.array([], pa.string())
    unique = pc.unique(pa.chunked_array(chunks, type=pa.string()))
    return unique.combine_chunks() if isinstance(unique, pa.ChunkedArray) else unique


def _merge(
    table: str, parts: list[tuple[int, pa.Table, np.ndarray]], con: duckdb.DuckDBPyConnection
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Candidate rows of every folder, upserted by key in folder order: (rows, source, line)."""
    if len({source for source, _, _ in parts}) == 1:  # one folder, maybe in several pieces
        source = parts[0][0]
        rows = pa.concat_tables([rows for _, rows, _ in parts]) if len(parts) > 1 else parts[0][1]
        lines = np.concatenate([lines for _, _, lines in parts])
        return rows, np.full(rows.num_rows, source, dtype=np.int64), lines
    key = TABLES[table].key
    stacked = pa.concat_tables(
        [
            rows.append_column(
                "_source", pa.array(np.full(rows.num_rows, source, dtype=np.int64))
            ).append_column("_line", pa.array(lines))
            for source, rows, lines in parts
        ]
    )
    con.register("_stacked", stacked)
    try:
        merged = con.sql(
            f"SELECT * FROM _stacked QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _source DESC) = 1"
        ).to_arrow_table()
    finally:
        con.unregister("_stacked")
    source = merged.column("_source").to_numpy()
    lines = merged.column("_line").to_numpy()
    merged = merged.drop_columns(["_source", "_line"])
    return merged, source, lines


def _frame(data: pa.Table, index: pd.Index | None = None) -> pd.DataFrame:
    frame = data.to_pandas(types_mapper=pd.ArrowDtype)
    if index is not None:
        frame.index = index
    return frame


def _placed(failures: pd.DataFrame, tf: TableFile) -> pd.DataFrame:
    """Failures of one file, quoted as the file wrote them, with their table, file and sheet."""
    failures = tf.quote(failures)
    failures.insert(0, "sheet", tf.sheet)
    failures.insert(0, "file", str(tf.path))
    failures.insert(0, "table", tf.table)
    return failures[FAILURE_COLUMNS]


def validate_extracts(
    con: duckdb.DuckDBPyConnection,
    folders: Folders,
    progress: Progress,
    accept: Callable[[str, pa.Table, bool], None],
) -> Validated:
    """Check every table in TABLE_ORDER, handing its accepted rows to `accept(table, rows, replace)`
    as soon as they are checked and `con` has been asked all it needs about the table.

    A file is read, checked and handed on a piece of `PIECE_ROWS` rows at a time, so
    memory holds a piece, not the extract; `replace` says whether rows already in the table may share
    the piece's keys (the warehouse held rows, or an earlier folder gave some: the rows are upserted).
    Episodes are handed on whole, once the overlap rule has compared them all. A key the whole file
    repeats is found first (`repeated_keys`), so rule `unique` and line numbers are exact whatever
    the piece size.
    """
    lookup = KeyLookup()
    try:
        return _validate_tables(con, folders, progress, accept, PIECE_ROWS, lookup)
    finally:
        lookup.close()


def _validate_tables(
    con: duckdb.DuckDBPyConnection,
    folders: Folders,
    progress: Progress,
    accept: Callable[[str, pa.Table, bool], None],
    piece_rows: int,
    lookup: KeyLookup,
) -> Validated:
    known: dict[str, pa.Array] = {}
    rejected_keys: dict[str, pa.Array] = {}
    episode_person: pa.Table | None = None
    failure_parts: list[pd.DataFrame] = []
    outcomes: list[FileOutcome] = []

    for table in TABLE_ORDER:
        spec = TABLES[table]
        progress.step(f"checking {table}")
        context = KnownKeys(keys=dict(known), episode_person=episode_person, lookup=lookup)
        # What `con` must say of the table before any of this load's rows of it are handed on.
        held = bool(con.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchall()[0][0])
        warehouse_keys = _column(con, f"SELECT {spec.key} FROM {table}") if table in REFERENCED else None
        whole = table == "episodes"  # the overlap rule compares every episode with every other
        parts: list[tuple[int, pa.Table, np.ndarray]] = []
        kept_keys: list[pa.ChunkedArray] = []
        rejected: list[pa.ChunkedArray] = []
        given = held
        for source, (extract, files, as_of) in enumerate(folders):
            tf = files.get(table)
            if tf is None:  # an optional table this folder does not hold: it adds no rows
                continue
            repeated = _repeated_keys(con, tf, piece_rows)
            schema = schema_for(table, as_of, context, repeated=repeated)
            rows_read = 0
            bad_lines: list[np.ndarray] = []
            for piece in tf.pieces(piece_rows):
                index = pd.Index(piece.lines, copy=False)
                typed, text_failures = to_contract_types(table, piece.data, index, date_format=tf.date_format)
                piece.data = None  # the raw columns are no longer needed
                row_failures = validate(_frame(typed, index), schema)
                failures = without_repeats(text_failures, row_failures)
                rows_read += piece.rows
                if len(failures):
                    lines_bad = failures["line"].unique()
                    bad = np.isin(piece.lines, lines_bad)
                    candidates, lines = typed.filter(pa.array(~bad)), piece.lines[~bad]
                    rejected.append(typed.filter(pa.array(bad)).column(spec.key))
                    failure_parts.append(_placed(failures, piece))
                    bad_lines.append(lines_bad)
                else:
                    candidates, lines = typed, piece.lines
                if whole:
                    parts.append((source, candidates, lines))
                    continue
                if table in REFERENCED:
                    kept_keys.append(candidates.column(spec.key))
                accept(table, candidates, given)
            given = given or rows_read > 0
            rejected_lines = np.unique(np.concatenate(bad_lines)) if bad_lines else np.array([], np.int64)
            outcomes.append(FileOutcome(extract.folder, tf, rows_read, rejected_lines))

        if whole:
            if not parts:
                parts.append((0, _empty_table(table), np.array([], dtype=np.int64)))
            merged, sources, lines = _merge(table, parts, con)
            if merged.num_rows:
                merged, sources, lines, overlap = _check_overlap(con, merged, sources, lines)
                for source, group in overlap.groupby("source"):
                    tf = folders[source][1][table]
                    outcome = [o for o in outcomes if o.file.table == table][source]
                    outcome.rejected_lines = np.union1d(outcome.rejected_lines, group["line"].unique())
                    failure_parts.append(_placed(group.drop(columns=["source", "episode_id"]), tf))
                    rejected.append(pa.chunked_array([pa.array(group["episode_id"].tolist(), pa.string())]))
            kept_keys.append(merged.column(spec.key))
            episode_person = _episode_owners(con, merged)
            accept(table, merged, held)
        if rejected:
            rejected_keys[table] = _distinct(*rejected)
        if table in REFERENCED:
            known[table] = _distinct(*kept_keys, warehouse_keys)
        progress.done()

    failures = (
        pd.concat(failure_parts, ignore_index=True)
        if failure_parts
        else pd.DataFrame(
            {c: pd.Series([], dtype="int64" if c == "line" else object) for c in FAILURE_COLUMNS}
        )
    )
    return Validated(failures, outcomes, rejected_keys)


def _repeated_keys(con: duckdb.DuckDBPyConnection, tf: TableFile, piece_rows: int) -> pa.Array | None:
    """The keys `tf` repeats, for a file checked in several pieces; None for a file of one piece (rule
    `unique` then sees all its rows at once)."""
    count = tf.rows_at_most()
    if count is not None and count <= piece_rows:
        return None
    key = TABLES[tf.table].key

    def keys():
        for values in tf.values(key, piece_rows):
            yield key_as_text(tf.table, values)

    return repeated_keys(keys, con)


def _empty_table(table: str) -> pa.Table:
    """No rows of `table`, in its contract types."""
    spec = TABLES[table]
    return pa.table({c.name: pa.array([], ARROW_TYPES[c.type]) for c in spec.columns})


def _check_overlap(con, merged: pa.Table, sources: np.ndarray, lines: np.ndarray):
    """Rule `overlap` on the merged episodes, against the warehouse's episodes they do not replace.

    Returns the episodes that pass, their sources and lines, and the failures (line, column, rule,
    value, message, source, episode_id).
    """
    con.register("_incoming_episodes", merged.select(["episode_id"]))
    try:
        existing = con.sql(
            "SELECT episode_id, person_id, programme_id, referral_date, discharge_date FROM episodes "
            "WHERE episode_id NOT IN (SELECT episode_id FROM _incoming_episodes)"
        ).to_arrow_table()
    finally:
        con.unregister("_incoming_episodes")
    failures = validate(_frame(merged), overlap_schema(_frame(existing) if existing.num_rows else None))
    if failures.empty:
        return merged, sources, lines, failures.assign(source=0, episode_id="")
    at = failures["line"].to_numpy()
    failures["episode_id"] = merged.column("episode_id").take(pa.array(at)).to_pylist()
    failures["line"] = lines[at]
    failures["source"] = sources[at]
    keep = np.ones(merged.num_rows, dtype=bool)
    keep[at] = False
    return merged.filter(pa.array(keep)), sources[keep], lines[keep], failures


def _episode_owners(con, merged: pa.Table) -> pa.Table:
    """(episode_id, person_id) of every episode the warehouse will hold after this load."""
    incoming = merged.select(["episode_id", "person_id"])
    con.register("_incoming_owners", incoming)
    try:
        kept = con.sql(
            "SELECT episode_id, person_id FROM episodes "
            "WHERE episode_id NOT IN (SELECT episode_id FROM _incoming_owners)"
        ).to_arrow_table()
    finally:
        con.unregister("_incoming_owners")
    if kept.num_rows == 0:
        return incoming
    return pa.concat_tables([incoming, kept.cast(incoming.schema)])


# ---------------------------------------------------------------------------------------------
# The report.


@dataclass(frozen=True)
class TableCount:
    """One table's rows in a check or load: read, rejected, and rejected through a foreign key."""

    table: str
    rows: int
    rejected: int
    via_foreign_keys: int

    @property
    def loaded(self) -> int:
        return self.rows - self.rejected

    @property
    def share_rejected(self) -> float:
        return self.rejected / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class Problem:
    """One rule broken in one column of one table: how many rows, a first example, and the fix."""

    table: str
    column: str  # the export's own column name
    contract_column: str
    rule: str
    rows: int
    example: str  # 'episodes.csv line 7'
    value: str | None
    fix: str


@dataclass
class CheckReport:
    """What a check (or a load) found: counts per table, problems, warnings."""

    folders: list[Path]
    as_of: date
    counts: dict[str, TableCount]
    failures: pd.DataFrame
    problems: list[Problem]
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(c.rows for c in self.counts.values())

    @property
    def rows_rejected(self) -> int:
        return sum(c.rejected for c in self.counts.values())

    def over(self, max_rejected: float) -> list[TableCount]:
        """The tables that would lose more than `max_rejected` (a fraction) of their rows."""
        return [c for c in self.counts.values() if c.share_rejected > max_rejected]

    def table_lines(self) -> list[str]:
        lines = [f"  {'table':<12} {'rows':>11} {'would load':>11} {'rejected':>10} {'via foreign keys':>17}"]
        for c in self.counts.values():
            lines.append(
                f"  {c.table:<12} {c.rows:>11,} {c.loaded:>11,} {c.rejected:>10,} {c.via_foreign_keys:>17,}"
            )
        return lines

    def problem_lines(self, top: int = TOP_PROBLEMS) -> list[str]:
        if not self.problems:
            return []
        lines = ["top problems:"]
        for number, p in enumerate(self.problems[:top], start=1):
            where = p.column if p.column == p.contract_column else f"{p.column} ({p.contract_column})"
            value = "" if p.value is None else f", value {p.value!r}"
            lines.append(
                f"  {number}. {p.table}.{where} [{p.rule}]: {p.rows:,} row(s); e.g. {p.example}{value}"
            )
            if p.fix:
                lines.append(f"     fix: {p.fix}")
        if len(self.problems) > top:
            lines.append(f"  ... and {len(self.problems) - top} more (every row is in the report)")
        return lines

    def closing_line(self) -> str:
        if not self.rows_rejected:
            return f"all {self.rows:,} rows would load; none would be rejected"
        share = self.rows_rejected / self.rows if self.rows else 0
        return f"{self.rows_rejected:,} of {self.rows:,} rows would be rejected ({share:.1%})"

    def summary(self, top: int = TOP_PROBLEMS) -> str:
        head = f"check of {', '.join(map(str, self.folders))} (as_of {self.as_of}; nothing written)"
        return "\n".join([head, *self.table_lines(), *self.problem_lines(top), self.closing_line()])


_CHILD_REFERENCE = {
    (t.name, c.name): c.references[0] for t in TABLES.values() for c in t.columns if c.references
}


def _fix(rule: str, table: str, column: str, group: pd.DataFrame, tf: TableFile, validated: Validated) -> str:
    """The option or the mapping line that fixes a problem, where one is known ('' otherwise)."""
    spec = TABLES[table]
    col = spec.column(column)
    values = [v for v in group["value"].dropna().astype(str).unique()]
    mapped = tf.source_columns.get(column, column) != column or tf.mapping is not None
    place = f"[tables.{table}]"
    if rule == "date_format":
        patterns = date_patterns(values)
        if tf.date_format is not None and patterns[:1] == ["%Y-%m-%d"]:
            return (
                f"these dates are YYYY-MM-DD, but they were read as {tf.date_format}: give the pattern "
                f"only to the tables that use it (date_format under [tables.<table>] in a mapping profile)"
            )
        advice = describe_patterns(patterns)
        if advice and mapped:
            advice += f' (or date_format = "{patterns[0]}" under {place} in the mapping profile)'
        return advice
    if rule == "date_time":
        return "export the date without its time, or correct the times: a time of day is not cut off"
    if rule == "type" and col.type == "boolean":
        sample = ", ".join(f'"{v}" = "true"' for v in values[:3])
        setting = f"[tables.{table}.values.{column}]"
        return f'map the export\'s spellings in a profile: {setting} {sample} (or "false")'
    if rule == "type" and col.type == "integer":
        return "the values must be whole numbers (1965 or 1965.0)"
    if rule == "code":
        codes = col.codes or ()
        near = {v: c for v in values for c in codes if v.strip().lower().replace(" ", "_") == c}
        setting = f"[tables.{table}.values.{column}]"
        if near:
            lines = "; ".join(f'"{v}" = "{c}"' for v, c in list(near.items())[:5])
            return f"map the values in a profile: {setting} {lines}"
        return (
            f"map each value to one of the contract's codes in a profile's {setting} "
            f"(codes: {', '.join(codes)})"
        )
    if rule == "foreign_key":
        parent = _CHILD_REFERENCE.get((table, column))
        refused = validated.rejected_keys.get(parent) if parent else None
        if refused is not None and len(refused):
            lost = int(
                pc.sum(
                    pc.is_in(pa.array(group["contract_value"].tolist(), pa.string()), value_set=refused)
                ).as_py()
                or 0
            )
            if lost:
                return f"{lost:,} of these refer to {parent} rows rejected above: fix those first"
        return f"the {parent} they name is neither in this extract nor in the warehouse"
    if rule == "after_as_of":
        return "check the extract date (--as-of, or as_of in extract.json)"
    if rule == "required" and tf.source_columns.get(column) is None:
        return f"the file has no {column} column: map it in a profile's [tables.{table}.columns]"
    return ""


def problems_of(validated: Validated, top: int | None = None) -> list[Problem]:
    """The failures grouped by table, column and rule, most rows first, each with its fix."""
    failures = validated.failures
    if failures.empty:
        return []
    files = {(str(o.file.path), o.file.sheet): o.file for o in validated.outcomes}
    problems: list[Problem] = []
    for (table, contract_column, rule), group in failures.groupby(
        ["table", "contract_column", "rule"], sort=False, dropna=False
    ):
        first = group.iloc[0]
        tf = files[(first["file"], first["sheet"] if isinstance(first["sheet"], str) else None)]
        problems.append(
            Problem(
                table=table,
                column=str(first["column"]),
                contract_column=contract_column,
                rule=rule,
                rows=int(group[["file", "line"]].drop_duplicates().shape[0]),
                example=tf.where(int(first["line"])),
                value=None if first["value"] is None or pd.isna(first["value"]) else str(first["value"]),
                fix=_fix(rule, table, contract_column, group, tf, validated),
            )
        )
    problems.sort(key=lambda p: (-p.rows, TABLE_ORDER.index(p.table), p.contract_column, p.rule))
    return problems[:top] if top else problems


def count_tables(validated: Validated) -> dict[str, TableCount]:
    """Rows read, rejected and rejected through a foreign key, per table, over every folder (an optional
    table only when some folder holds it)."""
    fk = validated.failures[validated.failures["rule"].isin(["foreign_key", "episode_person"])]
    fk_rows = fk[["table", "file", "line"]].drop_duplicates().groupby("table").size()
    counts: dict[str, TableCount] = {}
    for table in TABLE_ORDER:
        outcomes = [o for o in validated.outcomes if o.file.table == table]
        if not outcomes and table in OPTIONAL_TABLES:
            continue  # an optional table no folder holds: nothing to count, nothing to show
        counts[table] = TableCount(
            table=table,
            rows=sum(o.rows_read for o in outcomes),
            rejected=sum(len(o.rejected_lines) for o in outcomes),
            via_foreign_keys=int(fk_rows.get(table, 0)),
        )
    return counts


def report_of(folders: Folders, validated: Validated, warnings: list[str]) -> CheckReport:
    return CheckReport(
        folders=[extract.folder for extract, _, _ in folders],
        as_of=max(a for _, _, a in folders),
        counts=count_tables(validated),
        failures=validated.failures,
        problems=problems_of(validated),
        warnings=warnings,
    )


def ensure_contract_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the contract tables that `con`'s database lacks (without primary-key indexes)."""
    existing = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE database_name = current_database()"
        ).fetchall()
    }
    for table in TABLE_ORDER:
        if table not in existing:
            con.execute(create_table_sql(TABLES[table], primary_key=False))


def _attach_warehouse(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Make the warehouse's contract tables readable on `con` (an in-memory database) under their own
    names, read-only; a table the warehouse lacks (one built before the table existed) is left for
    `ensure_contract_tables` to create empty, so the warehouse's other rows still count."""
    con.execute("ATTACH ? AS warehouse (READ_ONLY)", [str(path)])
    held = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'warehouse'"
        ).fetchall()
    }
    for table in TABLE_ORDER:
        if table in held:
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM warehouse.main.{table}")


def limit_memory(
    con: duckdb.DuckDBPyConnection, spill: Path | None = None, *, building: bool = False
) -> None:
    """Hold DuckDB on `con` to `CHECK_MEMORY_LIMIT` (or `BUILD_MEMORY_LIMIT` when `building`), spilling
    to the folder `spill` beyond it. The environment variable ROSC_LOAD_MEMORY_LIMIT, in DuckDB's words
    ("2GB"), sets one limit for both, for a machine with more memory to spare (or less)."""
    limit = os.environ.get("ROSC_LOAD_MEMORY_LIMIT") or (
        BUILD_MEMORY_LIMIT if building else CHECK_MEMORY_LIMIT
    )
    con.execute("SET memory_limit = ?", [limit])
    if spill is not None:
        con.execute("SET temp_directory = ?", [str(spill)])


def check_extracts(
    dirs: Sequence[str | os.PathLike[str]],
    db: str | os.PathLike[str] | None = None,
    *,
    as_of: date | None = None,
    options: ReadOptions | None = None,
    profile: MappingProfile | None = None,
    quiet: bool = True,
) -> CheckReport:
    """Check the extract folder(s) as `rosc load` would, against the warehouse `db` if it exists, and
    write nothing. Raises `ExtractError` for a file-level problem."""
    options = options or ReadOptions()
    extracts = [locate_extract(Path(d), profile) for d in dirs]
    steps = len(extracts) * len(TABLE_ORDER) + len(TABLE_ORDER)
    with Progress(quiet, None, steps, warn_quietly=False) as progress:
        folders, warnings = read_extracts(extracts, options, progress, as_of)
        path = Path(db) if db is not None else None
        con = duckdb.connect()
        spill = Path(tempfile.mkdtemp(prefix="rosc-check-"))
        try:
            limit_memory(con, spill)
            if path is not None and path.exists():
                _attach_warehouse(con, path)
            ensure_contract_tables(con)
            validated = validate_extracts(con, folders, progress, lambda _table, _rows, _replace: None)
        finally:
            con.close()
            shutil.rmtree(spill, ignore_errors=True)
    return report_of(folders, validated, warnings)


__all__ = [
    "DEFAULT_MAX_REJECTED",
    "REPORT_COLUMNS",
    "CheckReport",
    "Problem",
    "TableCount",
    "check_extracts",
    "empty_failures",
]
