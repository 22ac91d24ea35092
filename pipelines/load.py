"""Loading extracts into the DuckDB warehouse: validate everything, then swap in the new state.

`load_extracts(dirs, db)` is the one writer of the warehouse. What it promises:

- **One load, several folders.** Every folder is a complete extract (all six tables). Their tables
  are merged as an upsert by key: a row replaces the warehouse's row with the same key, and a later
  folder's row replaces an earlier folder's. (A row replaced by a later folder counts as loaded.)
- **as_of.** The `as_of` argument if given, else each folder's `extract.json` as_of, else today. No
  date may be later than it, and birth_year must be ≤ its year − 12. The load records the latest.
- **File problems stop everything.** Every file of every folder is read and checked before the
  warehouse is touched; a missing table, an unreadable/empty/non-UTF-8 file, a missing required
  column or a column that looks like a direct identifier raises `ExtractError` and nothing changes.
  Unknown extra columns are dropped and reported in `LoadResult.warnings`.
- **Bad rows are quarantined, good rows load.** A row breaking a rule (`pipelines.schemas` lists
  them) is kept out of the contract tables and written to the `quarantine` table (load_id,
  table_name, file, line, column_name, rule, value, message; one row per broken rule) and to a
  report next to the warehouse, `<db stem>.load-<load_id>-rejected.csv`. Tables are checked in
  `TABLE_ORDER`; a reference must exist among the valid rows of this load or in the warehouse, so a
  quarantined parent makes its children fail `foreign_key`. Every input row is either loaded or
  quarantined: per file, rows_read = rows_loaded + rows_rejected.
- **Strict mode** (`strict=True`): any bad row refuses the whole load with `LoadRefused`, which
  lists the first 20 problems; nothing is kept.
- **Idempotent.** The extract's fingerprint is a sha256 over its files' names and contents (per
  folder, in folder order; extract.json included). If an earlier load with the same fingerprint
  succeeded, the load does nothing (`LoadResult.skipped_as_duplicate`) unless `force=True`; a forced
  reload upserts the same rows, so the contract tables end up identical.
- **Atomic.** The live file is never written in place. The current warehouse is copied to a sibling
  `<db>.tmp-<pid>-<random>`, the load is applied there (contract tables created if absent, upsert,
  quarantine, load_history, then `pipelines.derived.build_derived_tables(con)` when that module
  exists), checkpointed, closed and fsynced, then renamed over the live file with `os.replace` and
  the folder fsynced. A load that dies leaves the old file exactly as it was; its stale temp files
  are removed by the next load. Readers holding the old file keep reading it (Linux keeps the old
  inode alive) and `pipelines.warehouse.Warehouse` reconnects to the new one. One load at a time
  per warehouse: a lock file `<db>.tmp-lock` guards it.
- **load_history** gets one row per load: load_id (1, 2, ...), loaded_at (UTC), as_of,
  source_dirs (JSON), files (JSON: folder, name, format, bytes, sha256, rows_read, rows_loaded,
  rows_rejected, dropped_columns), fingerprint, rows_loaded, rows_rejected, strict, status
  (`loaded`, or `loaded_with_rejections`).

Speed: files are read into Arrow (allocated with jemalloc, see `_jemalloc_for_arrow`); row rules
run as pandera checks on Arrow-backed pandas frames (vectorised, no object dtype); rows go to DuckDB
through Arrow with insertion order not preserved (so DuckDB inserts in parallel), on a writer thread
that inserts each table while the next one is checked (`_Writer`). The contract tables carry no
PRIMARY KEY index: the loader guarantees key uniqueness itself, and building the index would double
the load time.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.contract import CONTRACT_VERSION, TABLE_ORDER, TABLES, create_table_sql
from pipelines.extract import (
    ExtractError,
    ExtractFolder,
    TableFile,
    file_sha256,
    locate_extract,
    read_table_file,
)
from pipelines.schemas import (
    KnownKeys,
    empty_failures,
    overlap_schema,
    schema_for,
    to_contract_types,
    validate,
    without_repeats,
)
from pipelines.warehouse import LOAD_HISTORY_TABLE, QUARANTINE_TABLE, WarehouseOutOfDate, check_derived_models

__all__ = ["ExtractError", "LoadRefused", "LoadResult", "load_extracts", "report_path_for"]

REFUSED_SHOWN = 20
#: Test-only: a load started with `ROSC_LOAD_PAUSE_AT=<point>` stops at that point, says so on stderr
#: and waits to be killed (tests/reliability/test_atomicity.py). Points: each phase of the progress
#: display as it starts (reading, copying, checking, writing, building, saving), `swap` just before
#: the new file is renamed over the live one and `swapped` just after.
PAUSE_ENV = "ROSC_LOAD_PAUSE_AT"
_INSERT_BATCH_ROWS = 122_880  # DuckDB's row-group size

QUARANTINE_SQL = f"""CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} (
  load_id INTEGER NOT NULL,
  table_name VARCHAR NOT NULL,
  file VARCHAR NOT NULL,
  line BIGINT,
  column_name VARCHAR,
  rule VARCHAR NOT NULL,
  value VARCHAR,
  message VARCHAR NOT NULL
)"""

LOAD_HISTORY_SQL = f"""CREATE TABLE IF NOT EXISTS {LOAD_HISTORY_TABLE} (
  load_id INTEGER PRIMARY KEY,
  loaded_at TIMESTAMP NOT NULL,
  as_of DATE NOT NULL,
  source_dirs VARCHAR NOT NULL,
  files VARCHAR NOT NULL,
  fingerprint VARCHAR NOT NULL,
  rows_loaded BIGINT NOT NULL,
  rows_rejected BIGINT NOT NULL,
  strict BOOLEAN NOT NULL,
  status VARCHAR NOT NULL,
  contract_version INTEGER NOT NULL
)"""

_SUCCESS = ("loaded", "loaded_with_rejections")
#: Tables some other table refers to (their keys are collected for the foreign_key rule).
_REFERENCED = frozenset(c.references[0] for t in TABLES.values() for c in t.columns if c.references)


class LoadRefused(Exception):
    """The load was refused as a whole (strict mode and bad rows, or another load running).

    `failures` holds every problem found (columns table, file, line, column, rule, value, message).
    """

    def __init__(self, message: str, failures: pd.DataFrame | None = None) -> None:
        self.failures = failures if failures is not None else pd.DataFrame()
        super().__init__(message)


@dataclass
class LoadResult:
    """What a load did."""

    db: Path
    load_id: int | None
    as_of: date | None
    loaded: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    report_path: Path | None = None
    skipped_as_duplicate: bool = False
    warnings: list[str] = field(default_factory=list)
    fingerprint: str = ""
    seconds: float = 0.0
    #: Seconds spent per phase (reading, copying, checking, writing, building, saving). Tables are
    #: written while the next ones are checked, so `writing` is only the wait for the writes after
    #: the checks are done.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def rows_loaded(self) -> int:
        return sum(self.loaded.values())

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())

    def summary(self) -> str:
        """A few lines for a person: what loaded, what was rejected and where to read why."""
        if self.skipped_as_duplicate:
            return (
                f"this extract was already loaded into {self.db} (load {self.load_id}); "
                "nothing to do (use --force to load it again)"
            )
        lines = [f"load {self.load_id} into {self.db} (as_of {self.as_of}, {self.seconds:.1f} s)"]
        lines.append(f"  {'table':<12} {'loaded':>12} {'rejected':>10}")
        for table in TABLE_ORDER:
            lines.append(f"  {table:<12} {self.loaded.get(table, 0):>12,} {self.rejected.get(table, 0):>10,}")
        if self.rows_rejected:
            lines.append(f"rejected rows are listed in {self.report_path} and the quarantine table")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def report_path_for(db: Path, load_id: int) -> Path:
    """The rejected-rows report of load `load_id`: `<db stem>.load-<load_id>-rejected.csv`."""
    return db.with_name(f"{db.stem}.load-{load_id}-rejected.csv")


# ---------------------------------------------------------------------------------------------
# Progress.


class _Progress:
    """A rich progress bar over the load's steps, or nothing when quiet."""

    def __init__(self, quiet: bool, console, total: int) -> None:
        self._progress = None
        self._console = console
        self.timings: dict[str, float] = {}
        self._phase: str | None = None
        self._since = time.perf_counter()
        if not quiet:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._console = console or Console(stderr=True)
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description:<40}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=self._console,
                transient=False,
            )
            self._task = self._progress.add_task("loading", total=total)

    def __enter__(self) -> _Progress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._clock(None)
        if self._progress is not None:
            self._progress.stop()

    def _clock(self, phase: str | None) -> None:
        now = time.perf_counter()
        if self._phase is not None:
            self.timings[self._phase] = self.timings.get(self._phase, 0.0) + now - self._since
        self._phase, self._since = phase, now

    def step(self, description: str) -> None:
        """Start a step; its time is added to the phase named by the description's first word."""
        _pause_point(description.split()[0])
        self._clock(description.split()[0])
        if self._progress is not None:
            self._progress.update(self._task, description=description)

    def done(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def warn(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.print(f"[yellow]warning:[/yellow] {message}")


def _pause_point(point: str) -> None:
    """Wait here forever when the test-only PAUSE_ENV names `point` (see PAUSE_ENV)."""
    if os.environ.get(PAUSE_ENV) != point:
        return
    sys.stderr.write(f"load paused at {point}\n")
    sys.stderr.flush()
    while True:
        time.sleep(60)


# ---------------------------------------------------------------------------------------------
# Files on disk: lock, temp files, fsync.


@contextlib.contextmanager
def _exclusive(db: Path) -> Iterator[None]:
    lock_path = db.with_name(f"{db.name}.tmp-lock")
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LoadRefused(f"another load into {db} is running; try again when it has finished") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _remove_stale_temps(db: Path) -> list[Path]:
    """Remove temp files of loads that died (we hold the lock, so no load is running)."""
    removed = []
    for path in db.parent.glob(f"{db.name}.tmp-*"):
        if path.name.endswith(".tmp-lock"):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


@contextlib.contextmanager
def _jemalloc_for_arrow() -> Iterator[None]:
    """Allocate Arrow memory with jemalloc for the duration of the block, where pyarrow has it.

    Why: with pyarrow's default pool on Linux, mimalloc, whose memory may be backed by transparent
    huge pages, a load of 200,000 people spent 4–5 s of system time faulting in fresh memory, against
    under 2 s with jemalloc (1.5–2 s of wall time on a 2-core machine with THP `defrag` = `madvise`).
    The environment variable MIMALLOC_ALLOW_THP=0 does the same, but only if set before pyarrow is
    imported. Buffers keep the pool they came from, so restoring the previous default is safe.
    """
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc (Windows)
        yield
        return
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


# ---------------------------------------------------------------------------------------------
# Fingerprint and history.


def _fingerprint(extracts: Sequence[ExtractFolder]) -> tuple[str, dict[Path, str]]:
    digest = hashlib.sha256()
    shas: dict[Path, str] = {}
    for position, extract in enumerate(extracts):
        files = list(extract.paths.values())
        if extract.manifest_path is not None:
            files.append(extract.manifest_path)
        for path in sorted(files, key=lambda p: p.name):
            sha = file_sha256(path)
            shas[path] = sha
            digest.update(f"{position}/{path.name}\0{sha}\n".encode())
    return digest.hexdigest(), shas


def _previous_load(db: Path, fingerprint: str) -> int | None:
    """The load_id of a successful earlier load of the same extract, if any, into a warehouse built by
    this version's derived models (one built by another version is loaded again, which rebuilds it)."""
    if not db.exists():
        return None
    con = duckdb.connect(str(db), read_only=True)
    try:
        check_derived_models(con, db)
        rows = con.execute(
            f"SELECT max(load_id) FROM {LOAD_HISTORY_TABLE} WHERE fingerprint = ? AND status IN ?",
            [fingerprint, list(_SUCCESS)],
        ).fetchall()
    except (duckdb.CatalogException, WarehouseOutOfDate):
        return None
    finally:
        con.close()
    return rows[0][0] if rows else None


def _derived_builder():
    """`pipelines.derived.build_derived_tables` if that module exists."""
    try:
        from pipelines.derived import build_derived_tables
    except ModuleNotFoundError as error:
        if error.name == "pipelines.derived":
            return None
        raise
    return build_derived_tables


# ---------------------------------------------------------------------------------------------
# Validation across files and tables.


@dataclass
class _FileOutcome:
    folder: Path
    file: TableFile
    rows_read: int
    rejected_lines: np.ndarray  # distinct lines with at least one failure


@dataclass
class _Validated:
    failures: pd.DataFrame  # table, file, line, column, rule, value, message
    outcomes: list[_FileOutcome]


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
    if len(parts) == 1:
        source, rows, lines = parts[0]
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


def _validate(
    con: duckdb.DuckDBPyConnection,
    folders: list[tuple[ExtractFolder, dict[str, TableFile], date]],
    progress: _Progress,
    accept: Callable[[str, pa.Table], None],
) -> _Validated:
    """Check every table in TABLE_ORDER, handing each table's accepted rows to `accept` as soon as
    it is checked (and `con` has been asked all it needs about that table)."""
    known: dict[str, pa.Array] = {}
    episode_person: pa.Table | None = None
    failure_parts: list[pd.DataFrame] = []
    outcomes: list[_FileOutcome] = []

    for table in TABLE_ORDER:
        spec = TABLES[table]
        progress.step(f"checking {table}")
        context = KnownKeys(keys=dict(known), episode_person=episode_person)
        parts: list[tuple[int, pa.Table, np.ndarray]] = []
        file_failures: list[pd.DataFrame] = []
        for source, (extract, files, as_of) in enumerate(folders):
            tf = files[table]
            index = pd.Index(tf.lines, copy=False)
            typed, text_failures = to_contract_types(table, tf.data, index)
            tf.data = None  # the raw columns are no longer needed
            row_failures = validate(_frame(typed, index), schema_for(table, as_of, context))
            failures = without_repeats(text_failures, row_failures)
            if len(failures):
                bad = np.isin(tf.lines, failures["line"].unique())
                candidates, lines = typed.filter(pa.array(~bad)), tf.lines[~bad]
            else:
                candidates, lines = typed, tf.lines
            parts.append((source, candidates, lines))
            failures.insert(0, "file", str(tf.path))
            failures.insert(0, "table", table)
            file_failures.append(failures)
            outcomes.append(_FileOutcome(extract.folder, tf, tf.rows, np.asarray([], dtype=np.int64)))
            outcomes[-1].rejected_lines = failures["line"].unique()

        merged, sources, lines = _merge(table, parts, con)
        if table == "episodes" and merged.num_rows:
            merged, sources, lines, overlap_failures = _check_overlap(con, merged, sources, lines, folders)
            for source, extract_failures in overlap_failures.groupby("source"):
                outcome = [o for o in outcomes if o.file.table == table][source]
                outcome.rejected_lines = np.union1d(outcome.rejected_lines, extract_failures["line"].unique())
            file_failures.append(overlap_failures.drop(columns="source"))
        failure_parts += [f for f in file_failures if len(f)]

        if table in _REFERENCED:
            warehouse_keys = _column(con, f"SELECT {spec.key} FROM {table}")
            known[table] = _distinct(merged.column(spec.key), warehouse_keys)
        if table == "episodes":
            episode_person = _episode_owners(con, merged)
        accept(table, merged)
        progress.done()

    failures = (
        pd.concat(failure_parts, ignore_index=True)
        if failure_parts
        else empty_failures().assign(table=pd.Series([], dtype=object), file=pd.Series([], dtype=object))
    )
    return _Validated(failures, outcomes)


def _check_overlap(con, merged: pa.Table, sources: np.ndarray, lines: np.ndarray, folders):
    """Rule `overlap` on the merged episodes, against the warehouse's episodes they do not replace."""
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
        return merged, sources, lines, failures.assign(table="episodes", file="", source=0)
    at = failures["line"].to_numpy()
    failures["line"] = lines[at]
    failures["source"] = sources[at]
    failures["file"] = [str(folders[s][1]["episodes"].path) for s in sources[at]]
    failures["table"] = "episodes"
    failures = failures[["table", "file", "line", "column", "rule", "value", "message", "source"]]
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
# Writing.


def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    existing = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for table in TABLE_ORDER:
        if table not in existing:
            con.execute(create_table_sql(TABLES[table], primary_key=False))
    con.execute(QUARANTINE_SQL)
    con.execute(LOAD_HISTORY_SQL)


def _upsert(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
    if rows.num_rows == 0:
        return
    key = TABLES[table].key
    # DuckDB scans an Arrow table in parallel by record batch: give it row-group-sized batches.
    rows = pa.Table.from_batches(rows.to_batches(max_chunksize=_INSERT_BATCH_ROWS), schema=rows.schema)
    con.register("_incoming", rows)
    try:
        if con.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchall()[0][0]:
            con.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM _incoming)")
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
    finally:
        con.unregister("_incoming")


class _Writer:
    """Upserts checked tables into the new warehouse on a thread of its own, one at a time in order.

    DuckDB releases the GIL while it inserts, so the next table is checked (in Python) while the one
    before is written: on 200,000 people the checks of contacts hide the writes of people and
    episodes, and the checks of assessments part of the write of contacts. The writer has its own
    cursor, as one DuckDB connection must not be used by two threads at once; the checks only read
    tables the writer has not been given yet, so they see what they would see one after the other.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._cursor = con.cursor()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-writer")
        self._writes: dict[str, Future[None]] = {}

    def submit(self, table: str, rows: pa.Table) -> None:
        """Queue `rows` for upserting into `table`."""
        self._writes[table] = self._thread.submit(_upsert, self._cursor, table, rows)

    def wait(self, table: str) -> None:
        """Block until `table` is written; raise what its write raised."""
        self._writes.pop(table).result()

    def close(self) -> None:
        """Stop writing (a load that fails drops the writes still queued) and release the cursor."""
        for write in self._writes.values():
            write.cancel()
        if not all(write.done() for write in self._writes.values()):
            self._cursor.interrupt()
        self._thread.shutdown(wait=True)
        self._cursor.close()


def _file_records(outcomes: list[_FileOutcome]) -> list[dict]:
    records = []
    for o in outcomes:
        rejected = len(o.rejected_lines)
        records.append(
            {
                "folder": str(o.folder),
                "name": o.file.path.name,
                "table": o.file.table,
                "format": o.file.format,
                "bytes": o.file.size,
                "sha256": o.file.sha256,
                "rows_read": o.rows_read,
                "rows_loaded": o.rows_read - rejected,
                "rows_rejected": rejected,
                "dropped_columns": o.file.dropped_columns,
            }
        )
    return records


def _where(row, formats: dict[str, str]) -> str:
    name = Path(row.file).name
    if pd.isna(row.line):
        return name
    if formats.get(row.file) == "parquet":
        return f"{name} row {int(row.line) - 1}"
    return f"{name} line {int(row.line)}"


def _refusal(failures: pd.DataFrame, formats: dict[str, str]) -> LoadRefused:
    rows = failures.drop_duplicates(["file", "line"]).shape[0]
    shown = [
        f"  {_where(r, formats)}, column {r.column}: {r.message} [{r.rule}]"
        for r in failures.head(REFUSED_SHOWN).itertuples()
    ]
    more = len(failures) - len(shown)
    message = (
        f"strict mode: {rows:,} row(s) break the data contract ({len(failures):,} problem(s)); "
        "nothing was loaded.\n" + "\n".join(shown) + (f"\n  ... and {more:,} more" if more > 0 else "")
    )
    return LoadRefused(message, failures)


# ---------------------------------------------------------------------------------------------
# The load.


def load_extracts(
    dirs: Sequence[str | os.PathLike[str]],
    db: str | os.PathLike[str],
    *,
    strict: bool = False,
    quiet: bool = True,
    as_of: date | None = None,
    force: bool = False,
    console=None,
) -> LoadResult:
    """Validate the extract folder(s) `dirs` and load them into the warehouse `db` in one atomic step.

    See the module docstring for the semantics. Raises `ExtractError` for a file-level problem and
    `LoadRefused` when strict mode meets a bad row; in both cases the warehouse is unchanged.
    """
    started = time.perf_counter()
    folders_in = [Path(d) for d in dirs]
    if not folders_in:
        raise ValueError("give at least one extract folder")
    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)

    with _exclusive(db), _jemalloc_for_arrow():
        _remove_stale_temps(db)
        extracts = [locate_extract(folder) for folder in folders_in]
        fingerprint, shas = _fingerprint(extracts)
        if not force and (previous := _previous_load(db, fingerprint)) is not None:
            return LoadResult(
                db=db,
                load_id=previous,
                as_of=None,
                skipped_as_duplicate=True,
                fingerprint=fingerprint,
                seconds=time.perf_counter() - started,
            )

        today = date.today()
        steps = len(extracts) * len(TABLE_ORDER) + 2 * len(TABLE_ORDER) + 3
        with _Progress(quiet, console, steps) as progress:
            warnings: list[str] = []
            folders: list[tuple[ExtractFolder, dict[str, TableFile], date]] = []
            for extract in extracts:
                files: dict[str, TableFile] = {}
                for table in TABLE_ORDER:
                    path = extract.paths[table]
                    progress.step(f"reading {path.name}")
                    tf = read_table_file(table, path, shas.get(path))
                    for column in tf.dropped_columns:
                        warnings.append(f"{path}: unknown column {column!r} dropped (not in the contract)")
                    for column in tf.missing_columns:
                        warnings.append(f"{path}: optional column {column!r} absent; loaded as empty")
                    files[table] = tf
                    progress.done()
                folders.append((extract, files, as_of or extract.manifest.as_of or today))
            for message in warnings:
                progress.warn(message)
            load_as_of = max(a for _, _, a in folders)
            formats = {str(tf.path): tf.format for _, files, _ in folders for tf in files.values()}

            temp = db.with_name(f"{db.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
            con: duckdb.DuckDBPyConnection | None = None
            try:
                progress.step("copying the warehouse")
                if db.exists():
                    shutil.copyfile(db, temp)
                    if _wal(db).exists():
                        shutil.copyfile(_wal(db), _wal(temp))
                con = duckdb.connect(str(temp))
                con.execute("SET preserve_insertion_order = false")
                _ensure_tables(con)
                progress.done()

                writer = _Writer(con)
                try:
                    checked = _validate(con, folders, progress, writer.submit)
                    failures = checked.failures
                    if strict and len(failures):
                        raise _refusal(failures, formats)

                    load_id = con.execute(
                        f"SELECT coalesce(max(load_id), 0) + 1 FROM {LOAD_HISTORY_TABLE}"
                    ).fetchall()[0][0]
                    for table in TABLE_ORDER:
                        progress.step(f"writing {table}")  # what is left of it after the checks
                        writer.wait(table)
                        progress.done()
                finally:
                    writer.close()
                pa.default_memory_pool().release_unused()  # the rows now live in DuckDB

                if len(failures):
                    quarantine = failures.rename(columns={"table": "table_name", "column": "column_name"})
                    quarantine.insert(0, "load_id", load_id)
                    quarantine = quarantine[
                        ["load_id", "table_name", "file", "line", "column_name", "rule", "value", "message"]
                    ]
                    con.register("_quarantine", pa.Table.from_pandas(quarantine, preserve_index=False))
                    con.execute(f"INSERT INTO {QUARANTINE_TABLE} SELECT * FROM _quarantine")
                    con.unregister("_quarantine")

                records = _file_records(checked.outcomes)
                loaded: dict[str, int] = dict.fromkeys(TABLE_ORDER, 0)
                rejected: dict[str, int] = dict.fromkeys(TABLE_ORDER, 0)
                for record in records:
                    loaded[record["table"]] += record["rows_loaded"]
                    rejected[record["table"]] += record["rows_rejected"]
                total_rejected = sum(rejected.values())
                con.execute(
                    f"INSERT INTO {LOAD_HISTORY_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        load_id,
                        datetime.now(UTC).replace(tzinfo=None),
                        load_as_of,
                        json.dumps([str(f) for f in folders_in]),
                        json.dumps(records),
                        fingerprint,
                        sum(loaded.values()),
                        total_rejected,
                        strict,
                        "loaded_with_rejections" if total_rejected else "loaded",
                        CONTRACT_VERSION,
                    ],
                )

                build_derived_tables = _derived_builder()
                if build_derived_tables is not None:
                    progress.step("building derived tables")
                    con.execute("RESET preserve_insertion_order")  # the models run as on any connection
                    build_derived_tables(con)
                progress.done()

                progress.step("saving")
                con.execute("CHECKPOINT")
                con.close()
                con = None
                _fsync(temp)
                _pause_point("swap")
                os.replace(temp, db)
                _pause_point("swapped")
                with contextlib.suppress(FileNotFoundError):
                    _wal(db).unlink()  # a WAL of the old file must not be replayed on the new one
                _fsync(db.parent)
                progress.done()
            except BaseException:
                if con is not None:
                    with contextlib.suppress(Exception):
                        con.close()
                for path in (temp, _wal(temp)):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                raise

            report = None
            if len(failures):
                report = report_path_for(db, load_id)
                failures[["table", "file", "line", "column", "rule", "value", "message"]].to_csv(
                    report, index=False
                )

    return LoadResult(
        db=db,
        load_id=load_id,
        as_of=load_as_of,
        loaded=loaded,
        rejected=rejected,
        report_path=report,
        warnings=warnings,
        fingerprint=fingerprint,
        seconds=time.perf_counter() - started,
        timings=progress.timings,
    )
