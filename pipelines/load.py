"""Loading extracts into the DuckDB warehouse: validate everything, then swap in the new state.

`load_extracts(dirs, db)` is the one writer of the warehouse. What it promises:

- **Real exports.** Files come through the source adapters (`pipelines.sources`): CSV, Parquet or
  Excel, in the contract's names or mapped by a profile (`profile=`), with the date pattern and
  encoding the user names (`options=`). Their values are read one way for every format
  (`pipelines.sources.values`).
- **One load, several folders.** Every folder is a complete extract (the six required tables, and
  the optional drug_tests table where the folder holds it; contract versions 1 and 2). Their tables
  are merged as an upsert by key: a row replaces the warehouse's row with the same key, and a later
  folder's row replaces an earlier folder's. (A row replaced by a later folder counts as loaded.)
- **as_of.** The `as_of` argument if given, else each folder's `extract.json` as_of, else today. No
  date may be later than it, and birth_year must be ≤ its year − 12. The load records the latest.
- **File problems stop everything.** Every file of every folder is read and checked before the new
  warehouse is swapped in (every header, and a CSV's encoding, before any rows are read); a missing
  table, an unreadable/empty/non-UTF-8 file, a missing required column or a column that looks like a
  direct identifier raises `ExtractError` and nothing changes.
  Unknown extra columns are dropped and reported in `LoadResult.warnings`.
- **Bad rows are quarantined, good rows load.** A row breaking a rule (`pipelines.schemas` lists
  them) is kept out of the contract tables and written to the `quarantine` table (load_id,
  table_name, file, line, column_name, rule, value, message, sheet, contract_column; one row per broken
  rule; column_name and value as the export wrote them) and to a report next to the warehouse,
  `<db stem>.load-<load_id>-rejected.csv`. Tables are checked in
  `TABLE_ORDER`; a reference must exist among the valid rows of this load or in the warehouse, so a
  quarantined parent makes its children fail `foreign_key`. Every input row is either loaded or
  quarantined: per file, rows_read = rows_loaded + rows_rejected.
- **No silent loss.** A load in which any table would lose more than `max_rejected` of its rows
  (default 5%, counting rows lost through foreign keys) is refused whole with `LoadRefused`, whose
  message is the `rosc check` summary; nothing is kept. Within it, `LoadResult.closing_line()` says
  how many rows were rejected, and load_history records `loaded_with_rejections`.
- **Strict mode** (`strict=True`): any bad row refuses the whole load with `LoadRefused`, which
  lists the first 20 problems; nothing is kept.
- **Idempotent.** The extract's fingerprint is a sha256 over its files' names and contents (per
  folder, in folder order; extract.json included), its mapping profile and the reading options. If
  an earlier load with the same fingerprint
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
  rows_rejected, dropped_columns, sheet), fingerprint, rows_loaded, rows_rejected, strict, status
  (`loaded`, or `loaded_with_rejections`).

Memory: bounded by a piece, not by the extract. The files are opened first (headers checked), then
each table is read, checked and written a piece of `pipelines.checks.PIECE_ROWS` rows at a time (a
Parquet file by record batches; a CSV or a sheet is read whole, one file at a time, and handed on in
pieces). A file's repeated keys are found before its pieces are checked (`repeated_keys`: nothing to
do for a file in key order), so rule `unique` and every line number are as for a file checked whole;
episodes alone are checked whole, as the overlap rule compares each with every other. DuckDB is held
to `CHECK_MEMORY_LIMIT` while the files are checked and `BUILD_MEMORY_LIMIT` while the derived tables
are built, spilling to `<temp>.spill/` beyond them (ROSC_LOAD_MEMORY_LIMIT sets another limit).

Speed: row rules run as pandera checks on Arrow-backed pandas frames (vectorised, no object dtype);
references to big key sets are joined in DuckDB (`pipelines.schemas.KeyLookup`); Arrow memory comes
from jemalloc (see `_jemalloc_for_arrow`); rows go to DuckDB through Arrow with insertion order not
preserved (so DuckDB inserts in parallel), on a writer thread that inserts each piece while the next
one is checked (`_Writer`). The contract tables carry no PRIMARY KEY index: the loader guarantees key
uniqueness itself, and building the index would double the load time.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from pipelines.checks import (
    DEFAULT_MAX_REJECTED,
    REPORT_COLUMNS,
    CheckReport,
    FileOutcome,
    ensure_contract_tables,
    limit_memory,
    read_extracts,
    report_of,
    validate_extracts,
)
from pipelines.contract import CONTRACT_VERSION, OPTIONAL_TABLES, TABLE_ORDER, TABLES
from pipelines.progress import Progress, pause_point
from pipelines.record_keys import KEY_COLUMN, KEYED_TABLES, ensure_key_columns, ensure_salt, key_expression
from pipelines.sources import (
    ExtractError,
    ExtractFolder,
    MappingProfile,
    ReadOptions,
    file_sha256,
    locate_extract,
)
from pipelines.warehouse import LOAD_HISTORY_TABLE, QUARANTINE_TABLE, WarehouseOutOfDate, check_derived_models

__all__ = ["ExtractError", "LoadRefused", "LoadResult", "load_extracts", "report_path_for"]

REFUSED_SHOWN = 20
_INSERT_BATCH_ROWS = 122_880  # DuckDB's row-group size

QUARANTINE_SQL = f"""CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} (
  load_id INTEGER NOT NULL,
  table_name VARCHAR NOT NULL,
  file VARCHAR NOT NULL,
  line BIGINT,
  column_name VARCHAR,
  rule VARCHAR NOT NULL,
  value VARCHAR,
  message VARCHAR NOT NULL,
  sheet VARCHAR,
  contract_column VARCHAR
)"""
#: Columns added since the first version (a warehouse loaded before gains them on its next load).
QUARANTINE_ADDED = (("sheet", "VARCHAR"), ("contract_column", "VARCHAR"))

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


class LoadRefused(Exception):
    """The load was refused as a whole (strict mode and bad rows, or another load running).

    `failures` holds every problem found (columns table, file, line, column, rule, value, message).
    """

    def __init__(
        self, message: str, failures: pd.DataFrame | None = None, *, report: CheckReport | None = None
    ) -> None:
        self.failures = failures if failures is not None else pd.DataFrame()
        self.report = report
        super().__init__(message)


@dataclass
class LoadResult:
    """What a load did."""

    db: Path
    load_id: int | None
    as_of: date | None
    #: Rows loaded and rejected per table: every required table, and an optional one (drug_tests) only
    #: when the extract holds it.
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
    #: What the checks found (counts per table, problems with their fixes).
    check: CheckReport | None = None

    @property
    def rows_loaded(self) -> int:
        return sum(self.loaded.values())

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())

    def summary(self) -> str:
        """A few lines for a person: what loaded, the top problems and their fixes, and last the
        rows loaded and rejected. (Warnings were said once, as they arose, and are not repeated.)"""
        if self.skipped_as_duplicate:
            return self.closing_line()
        lines = [f"load {self.load_id} into {self.db} (as_of {self.as_of}, {self.seconds:.1f} s)"]
        lines.append(f"  {'table':<12} {'loaded':>12} {'rejected':>10}")
        for table in TABLE_ORDER:
            if table in OPTIONAL_TABLES and table not in self.loaded:
                continue  # an optional table this extract does not hold
            lines.append(f"  {table:<12} {self.loaded.get(table, 0):>12,} {self.rejected.get(table, 0):>10,}")
        if self.check is not None:
            lines += self.check.problem_lines(top=5)
        lines.append(self.closing_line())
        return "\n".join(lines)

    def closing_line(self) -> str:
        """The last line of `rosc load`: what was loaded and what was rejected, and where it is listed."""
        if self.skipped_as_duplicate:
            return (
                f"this extract was already loaded into {self.db} (load {self.load_id}); "
                "nothing to do (use --force to load it again)"
            )
        loaded = f"loaded {self.rows_loaded:,} rows into {self.db} (load {self.load_id})"
        if not self.rows_rejected:
            return f"{loaded}; no rows rejected"
        total = self.rows_loaded + self.rows_rejected
        return (
            f"{loaded}; REJECTED {self.rows_rejected:,} of {total:,} rows "
            f"({self.rows_rejected / total:.1%}), listed in {self.report_path} and the quarantine table"
        )


def report_path_for(db: Path, load_id: int) -> Path:
    """The rejected-rows report of load `load_id`: `<db stem>.load-<load_id>-rejected.csv`."""
    return db.with_name(f"{db.stem}.load-{load_id}-rejected.csv")


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
            if path.is_dir():  # a load's spill folder
                shutil.rmtree(path)
            else:
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


def _fingerprint(extracts: Sequence[ExtractFolder], options: ReadOptions) -> tuple[str, dict[Path, str]]:
    """A sha256 over the files of every folder, the mapping profile and the reading options (the same
    files read another way are another extract), and each file's own sha256."""
    digest = hashlib.sha256()
    shas: dict[Path, str] = {}
    for position, extract in enumerate(extracts):
        files = list(extract.files)
        if extract.manifest_path is not None:
            files.append(extract.manifest_path)
        for path in sorted(files, key=lambda p: p.name):
            sha = file_sha256(path)
            shas[path] = sha
            digest.update(f"{position}/{path.name}\0{sha}\n".encode())
        for table, ref in extract.sources.items():
            if ref.sheet is not None:
                digest.update(f"{position}/{table}\0sheet {ref.sheet}\n".encode())
        if extract.profile is not None:
            digest.update(f"{position}/profile\0{extract.profile.sha256}\n".encode())
    if options != ReadOptions():
        digest.update(f"options\0{options.date_format}\0{options.encoding}\n".encode())
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
# Writing.


def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    ensure_contract_tables(con)
    con.execute(QUARANTINE_SQL)
    for column, kind in QUARANTINE_ADDED:
        con.execute(f"ALTER TABLE {QUARANTINE_TABLE} ADD COLUMN IF NOT EXISTS {column} {kind}")
    con.execute(LOAD_HISTORY_SQL)


def _upsert(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table, salt: str, replace: bool) -> None:
    """Insert these rows, each with its record key (`pipelines.record_keys`) computed as it is
    inserted; with `replace`, first delete the table's rows with the same keys."""
    if rows.num_rows == 0:
        return
    key = TABLES[table].key
    # DuckDB scans an Arrow table in parallel by record batch: give it row-group-sized batches.
    rows = pa.Table.from_batches(rows.to_batches(max_chunksize=_INSERT_BATCH_ROWS), schema=rows.schema)
    con.register("_incoming", rows)
    try:
        if replace:
            con.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM _incoming)")
        if table in KEYED_TABLES:
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT *, {key_expression(key)} AS {KEY_COLUMN} FROM _incoming",
                {"salt": salt},
            ).fetchall()
        else:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
    finally:
        con.unregister("_incoming")


class _Writer:
    """Upserts checked rows into the new warehouse on a thread of its own, in the order given.

    DuckDB releases the GIL while it inserts, so the next piece is checked (in Python) while the one
    before is written. The writer has its own cursor, as one DuckDB connection must not be used by
    two threads at once; the checks ask `con` about a table before any of its rows are handed on, so
    they see what they would see one after the other. At most `_QUEUED` pieces wait to be written,
    so the queue does not hold a big file in memory.
    """

    _QUEUED = 2

    def __init__(self, con: duckdb.DuckDBPyConnection, salt: str) -> None:
        self._cursor = con.cursor()
        self._salt = salt
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-writer")
        self._writes: list[tuple[str, Future[None]]] = []

    def submit(self, table: str, rows: pa.Table, replace: bool) -> None:
        """Queue `rows` for inserting into `table` (upserting them with `replace`)."""
        if len(self._writes) >= self._QUEUED:  # one thread writes in order: wait for the write before last
            futures.wait([self._writes[-self._QUEUED][1]])
        write = self._thread.submit(_upsert, self._cursor, table, rows, self._salt, replace)
        self._writes.append((table, write))  # a finished write no longer holds its rows

    def wait(self, table: str) -> None:
        """Block until every piece of `table` is written; raise what a write raised."""
        mine = [write for t, write in self._writes if t == table]
        self._writes = [(t, write) for t, write in self._writes if t != table]
        for write in mine:
            write.result()

    def close(self) -> None:
        """Stop writing (a load that fails drops the writes still queued) and release the cursor."""
        for _, write in self._writes:
            write.cancel()
        if not all(write.done() for _, write in self._writes):
            self._cursor.interrupt()
        self._thread.shutdown(wait=True)
        self._cursor.close()


def _file_records(outcomes: list[FileOutcome]) -> list[dict]:
    records = []
    for o in outcomes:
        rejected = len(o.rejected_lines)
        records.append(
            {
                "folder": str(o.folder),
                "name": o.file.path.name,
                "sheet": o.file.sheet,
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


def _where(row, files: dict[tuple[str, str | None], object]) -> str:
    sheet = row.sheet if isinstance(row.sheet, str) else None
    tf = files.get((row.file, sheet))
    if tf is None or pd.isna(row.line):
        return Path(row.file).name
    return tf.where(int(row.line))


def _refusal(failures: pd.DataFrame, files) -> LoadRefused:
    rows = failures.drop_duplicates(["file", "sheet", "line"]).shape[0]
    shown = [
        f"  {_where(r, files)}, column {r.column}: {r.message} [{r.rule}]"
        for r in failures.head(REFUSED_SHOWN).itertuples()
    ]
    more = len(failures) - len(shown)
    message = (
        f"strict mode: {rows:,} row(s) break the data contract ({len(failures):,} problem(s)); "
        "nothing was loaded.\n" + "\n".join(shown) + (f"\n  ... and {more:,} more" if more > 0 else "")
    )
    return LoadRefused(message, failures)


def _too_many_rejected(report: CheckReport, max_rejected: float) -> LoadRefused:
    over = report.over(max_rejected)
    worst = ", ".join(
        f"{c.table} would lose {c.share_rejected:.1%} of its rows ({c.rejected:,} of {c.rows:,})"
        for c in over
    )
    message = (
        f"refused: {worst}, more than --max-rejected {max_rejected:g} allows; nothing was loaded.\n"
        + report.summary()
        + "\nfix the problems above (`rosc check` shows them without loading), or raise --max-rejected "
        "to load the valid rows and quarantine the rest"
    )
    return LoadRefused(message, report.failures, report=report)


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
    max_rejected: float = DEFAULT_MAX_REJECTED,
    options: ReadOptions | None = None,
    profile: MappingProfile | None = None,
) -> LoadResult:
    """Validate the extract folder(s) `dirs` and load them into the warehouse `db` in one atomic step.

    See the module docstring for the semantics. Raises `ExtractError` for a file-level problem, and
    `LoadRefused` when strict mode meets a bad row or a table would lose more than `max_rejected` (a
    fraction, 0–1) of its rows; in every case the warehouse is unchanged. `options` say how to read
    what the files cannot say (date pattern, encoding); `profile` maps an export's own names and codes.
    """
    started = time.perf_counter()
    options = options or ReadOptions()
    folders_in = [Path(d) for d in dirs]
    if not folders_in:
        raise ValueError("give at least one extract folder")
    if not 0 <= max_rejected <= 1:
        raise ValueError(f"max_rejected must be a fraction from 0 to 1, not {max_rejected}")
    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)

    with _exclusive(db), _jemalloc_for_arrow():
        _remove_stale_temps(db)
        extracts = [locate_extract(folder, profile) for folder in folders_in]
        fingerprint, shas = _fingerprint(extracts, options)
        if not force and (previous := _previous_load(db, fingerprint)) is not None:
            return LoadResult(
                db=db,
                load_id=previous,
                as_of=None,
                skipped_as_duplicate=True,
                fingerprint=fingerprint,
                seconds=time.perf_counter() - started,
            )

        steps = len(extracts) * len(TABLE_ORDER) + 2 * len(TABLE_ORDER) + 3
        with Progress(quiet, console, steps, warn_quietly=not quiet or console is not None) as progress:
            folders, warnings = read_extracts(extracts, options, progress, as_of, shas)
            load_as_of = max(a for _, _, a in folders)
            files = {(str(tf.path), tf.sheet): tf for _, fs, _ in folders for tf in fs.values()}

            temp = db.with_name(f"{db.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
            spill = temp.with_name(f"{temp.name}.spill")  # where DuckDB spills what its memory cannot hold
            con: duckdb.DuckDBPyConnection | None = None
            try:
                progress.step("copying the warehouse")
                if db.exists():
                    shutil.copyfile(db, temp)
                    if _wal(db).exists():
                        shutil.copyfile(_wal(db), _wal(temp))
                con = duckdb.connect(str(temp))
                con.execute("SET preserve_insertion_order = false")
                limit_memory(con, spill)
                _ensure_tables(con)
                ensure_key_columns(con)  # and keys for rows loaded before keys existed
                salt = ensure_salt(con)
                progress.done()

                writer = _Writer(con, salt)
                try:
                    checked = validate_extracts(con, folders, progress, writer.submit)
                    failures = checked.failures
                    if strict and len(failures):
                        raise _refusal(failures, files)
                    check_report = report_of(folders, checked, warnings)
                    if check_report.over(max_rejected):
                        raise _too_many_rejected(check_report, max_rejected)

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
                        [
                            "load_id",
                            "table_name",
                            "file",
                            "line",
                            "column_name",
                            "rule",
                            "value",
                            "message",
                            "sheet",
                            "contract_column",
                        ]
                    ].astype({"value": object})
                    quarantine["value"] = [
                        None if v is None or v is pd.NA else str(v) for v in quarantine["value"]
                    ]
                    con.register("_quarantine", pa.Table.from_pandas(quarantine, preserve_index=False))
                    con.execute(f"INSERT INTO {QUARANTINE_TABLE} BY NAME SELECT * FROM _quarantine")
                    con.unregister("_quarantine")

                records = _file_records(checked.outcomes)
                # Every required table, and an optional one only when some folder holds it.
                loaded: dict[str, int] = dict.fromkeys(check_report.counts, 0)
                rejected: dict[str, int] = dict.fromkeys(check_report.counts, 0)
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
                    limit_memory(con, building=True)  # the checks' pieces and key sets are gone
                    build_derived_tables(con)
                progress.done()

                progress.step("saving")
                con.execute("CHECKPOINT")
                con.close()
                con = None
                _fsync(temp)
                pause_point("swap")
                os.replace(temp, db)
                pause_point("swapped")
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
            finally:
                shutil.rmtree(spill, ignore_errors=True)

            report = None
            if len(failures):
                report = report_path_for(db, load_id)
                failures[REPORT_COLUMNS].to_csv(report, index=False)

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
        check=check_report,
    )
