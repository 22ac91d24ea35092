"""The result cache the dashboard's worker processes share: a SQLite file beside the warehouse, so that a
second person opening a view another worker has already answered is served without querying again.

What it holds are the aggregated tables `dashboard.queries.DashboardData` caches: metric tables computed
with the signed-in person's scope already applied to the filters (the key holds the scoped filters, and
the funnel's anonymising step `dashboard.auth.scoped_rows` runs after the cache), option lists before
`scoped_options` narrows them, and the Data page's bookkeeping before `shown_counts` perturbs it. Nothing
in it is record-level.

Every entry is keyed by

- the warehouse file's identity (`pipelines.warehouse.file_identity`: inode, size, mtime), so a new load,
  which swaps in a new file, is never answered from an older file's entries; the first request that sees
  a new identity also deletes every entry of other identities (the cache is cleared on a new load);
- a fingerprint of the code that computes the answers (the metric layer's Python and SQL, and this
  package's queries), so a new release never serves what an older one computed;
- the full request as `DashboardData` keys it (what, period, breakdown, filters after scoping).

The values are pickled. Unpickling runs code named in the data, so the file is created readable and
writable by the app's own user only (0600), and a cache file owned by anyone else, or writable by group
or others, is refused with a warning (the dashboard then caches in its own process only). Likewise when
the folder cannot be written (a read-only deployment): the dashboard says so in its log and goes on.

``ROSC_RESULT_CACHE`` names the file (default ``<warehouse>.results.sqlite3``); ``off`` turns it off.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sqlite3
import stat
import threading
import time
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from dashboard import shared_sqlite

log = logging.getLogger(__name__)

#: At most this many entries; the least recently stored go first (checked every `_TRIM_EVERY` writes).
MAX_ENTRIES = 20_000
_TRIM_EVERY = 200
#: The value of ``ROSC_RESULT_CACHE`` that turns the shared cache off.
OFF = "off"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    warehouse TEXT NOT NULL,
    stored_at REAL NOT NULL,
    value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS results_by_warehouse ON results (warehouse);
"""


class _Missing:
    """The answer of `ResultCache.get` when there is no entry (None may be a cached value)."""


MISSING = _Missing()


@cache
def code_fingerprint() -> str:
    """A digest of the code whose answers are cached: `pipelines.metrics` (Python), `pipelines/sql`
    (every SQL file) and `dashboard.queries`. Part of every key."""
    import dashboard.queries
    import pipelines.metrics

    metrics_dir = Path(pipelines.metrics.__file__).parent
    sql_dir = metrics_dir.parent / "sql"
    files = sorted(metrics_dir.rglob("*.py")) + sorted(sql_dir.rglob("*.sql"))
    files.append(Path(dashboard.queries.__file__))
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(metrics_dir.parent.parent)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


class ResultCache:
    """Aggregated answers shared by every process serving one warehouse (safe for processes and threads)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._current: str | None = None  # the warehouse identity this process last cleared for
        self._lock = threading.Lock()
        self._writes = 0
        shared_sqlite.create_private(self.path)
        _check_private(self.path)
        with self._connection() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        yield shared_sqlite.thread_connection(self._local, self.path)

    @staticmethod
    def key_of(warehouse: str, key: Hashable) -> str:
        """The stored key: a digest of the warehouse identity, the code fingerprint and the request."""
        text = f"{warehouse}\0{code_fingerprint()}\0{key!r}"
        return hashlib.sha256(text.encode()).hexdigest()

    def _clear_others(self, db: sqlite3.Connection, warehouse: str) -> None:
        """Delete every entry of another warehouse file, once per process and identity."""
        with self._lock:
            if self._current == warehouse:
                return
            self._current = warehouse
        deleted = db.execute("DELETE FROM results WHERE warehouse != ?", (warehouse,)).rowcount
        if deleted:
            log.info("result cache: a new warehouse file; %d entries of older files deleted", deleted)

    def get(self, warehouse: str, key: Hashable) -> object:
        """The cached value, or `MISSING`."""
        with self._connection() as db:
            self._clear_others(db, warehouse)
            rows = db.execute(
                "SELECT value FROM results WHERE key = ? AND warehouse = ?",
                (self.key_of(warehouse, key), warehouse),
            ).fetchall()
        if not rows:
            return MISSING
        return pickle.loads(rows[0][0])

    def put(self, warehouse: str, key: Hashable, value: object) -> None:
        """Store ``value`` (replacing any entry of the same key)."""
        blob = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        with self._connection() as db:
            self._clear_others(db, warehouse)
            db.execute(
                "INSERT OR REPLACE INTO results (key, warehouse, stored_at, value) VALUES (?, ?, ?, ?)",
                (self.key_of(warehouse, key), warehouse, time.time(), blob),
            )
            with self._lock:
                self._writes += 1
                trim = self._writes % _TRIM_EVERY == 0
            if trim:
                db.execute(
                    "DELETE FROM results WHERE key IN (SELECT key FROM results ORDER BY stored_at DESC "
                    "LIMIT -1 OFFSET ?)",
                    (MAX_ENTRIES,),
                )

    def entries(self) -> int:
        """How many entries the file holds (for tests and the log)."""
        with self._connection() as db:
            return int(db.execute("SELECT count(*) FROM results").fetchone()[0])

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


class UnsafeCacheFile(PermissionError):
    """A cache file someone other than the app's user owns or may write: unpickling it would run their
    code."""


def _check_private(path: Path) -> None:
    st = os.stat(path)
    if st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeCacheFile(
            f"{path} is owned by uid {st.st_uid} or writable by group/others "
            f"(mode {stat.filemode(st.st_mode)})"
        )


def default_path(db_path: str | os.PathLike[str]) -> Path | None:
    """Where the shared cache of the warehouse at ``db_path`` lives: ``ROSC_RESULT_CACHE``, else
    ``<db_path>.results.sqlite3``; None when ``ROSC_RESULT_CACHE=off``."""
    setting = os.environ.get("ROSC_RESULT_CACHE", "").strip()
    if setting.lower() == OFF:
        return None
    return Path(setting) if setting else Path(str(db_path) + ".results.sqlite3")


def open_result_cache(path: str | os.PathLike[str] | None) -> ResultCache | None:
    """The shared cache at ``path``, or None (said in the log) when it is off or cannot be used."""
    if path is None:
        log.info("result cache: off (ROSC_RESULT_CACHE=off); each worker caches in its own memory")
        return None
    try:
        return ResultCache(path)
    except (OSError, sqlite3.Error) as error:
        log.warning("result cache: not used (%s); each worker caches in its own memory", error)
        return None
