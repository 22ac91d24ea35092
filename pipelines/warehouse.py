"""The one door to the DuckDB warehouse.

Every reader (the dashboard, notebooks, the `rosc metric` command) opens the warehouse through
`open_warehouse`, which connects read-only. The loader is the only writer, and it never writes the
live file in place: it builds the new state in a sibling file and swaps it in with an atomic rename
(see `pipelines.load`). A reader notices the swap by the file's identity and reconnects, so an open
dashboard keeps answering during a load and sees the new data after it.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.stats.suppression import DEFAULT_THRESHOLD

DEFAULT_DB = Path("rosc.duckdb")

#: Tables every loaded warehouse holds, besides the contract tables.
LOAD_HISTORY_TABLE = "load_history"
QUARANTINE_TABLE = "quarantine"


class WarehouseNotFound(FileNotFoundError):
    """The warehouse file does not exist (nothing has been loaded yet)."""


class WarehouseOutOfDate(RuntimeError):
    """The warehouse's derived tables were built by another version of the pipeline."""


def check_derived_models(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Refuse a warehouse whose derived tables were built by other models than this version's.

    Raises `WarehouseOutOfDate` naming the file and the command that rebuilds it.
    """
    from pipelines.derived import WAREHOUSE_INFO_TABLE, models_fingerprint

    try:
        row = con.execute(f"SELECT derived_models FROM {WAREHOUSE_INFO_TABLE}").fetchone()
    except duckdb.CatalogException:
        row = None
    if row is None or row[0] != models_fingerprint():
        raise WarehouseOutOfDate(
            f"{path}: this warehouse was built by another version of the pipeline (its derived tables "
            "do not match this version's models); load the extract again to rebuild it: "
            f"`rosc load DIR --db {path} --force`"
        )


def connect(path: str | os.PathLike[str], *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection to the warehouse file (read-only unless asked otherwise)."""
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseNotFound(
            f"{path}: no warehouse here yet; load an extract first with `rosc load DIR --db {path}`"
        )
    return duckdb.connect(str(path), read_only=read_only)


def file_identity(path: str | os.PathLike[str]) -> tuple[int, int, int] | None:
    """Which file is at `path` now (inode, size, mtime), or None if there is none.

    A load swaps in a new file, so a change of identity means cached answers and connections are stale.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class Warehouse:
    """A read-only handle on a warehouse file, reconnecting when a load swaps in a new file.

    DuckDB connections are not safe to share between threads, so each thread (a Dash worker
    thread, a notebook) gets its own cursor on the shared read-only connection.
    """

    path: Path
    _con: duckdb.DuckDBPyConnection | None = field(default=None, repr=False)
    _identity: tuple[int, int, int] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def _connection(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            identity = file_identity(self.path)
            if self._con is None or identity != self._identity:
                if self._con is not None:
                    self._con.close()
                con = connect(self.path, read_only=True)
                try:
                    check_derived_models(con, self.path)
                except WarehouseOutOfDate:
                    con.close()
                    raise
                self._con = con
                self._identity = identity
                self._local = threading.local()
            return self._con

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for the calling thread on the current warehouse file."""
        con = self._connection()
        cur = getattr(self._local, "cursor", None)
        if cur is None or getattr(self._local, "owner", None) is not con:
            cur = con.cursor()
            self._local.cursor = cur
            self._local.owner = con
        return cur

    def sql(self, query: str, params: list | dict | None = None):
        """Run a parameterised query and return a pandas DataFrame."""
        return self.cursor().execute(query, params or []).df()

    def metric(
        self,
        name: str,
        start,
        end,
        *,
        as_of=None,
        by=None,
        filters=None,
        suppress: bool = True,
        threshold: int = DEFAULT_THRESHOLD,
        parameters=None,
    ):
        """A metric of docs/metrics.md for [start, end]; see `pipelines.metrics.compute_metric`."""
        from pipelines.metrics.api import compute_metric

        return compute_metric(
            self,
            name,
            start,
            end,
            as_of=as_of,
            by=by,
            filters=filters,
            suppress=suppress,
            threshold=threshold,
            parameters=parameters,
        )

    def tables(self) -> list[str]:
        return [r[0] for r in self.cursor().execute("SELECT table_name FROM duckdb_tables()").fetchall()]

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_warehouse(path: str | os.PathLike[str] = DEFAULT_DB) -> Warehouse:
    """Open the warehouse read-only, e.g. ``warehouse = open_warehouse("rosc.duckdb")``."""
    warehouse = Warehouse(Path(path))
    warehouse.cursor()  # fail now, with a clear message, if the file is missing
    return warehouse
