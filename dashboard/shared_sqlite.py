"""SQLite files that several worker processes share (the sign-in store, the result cache): made once,
private to the app's user, opened per thread in write-ahead-log mode."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path


def create_private(path: Path) -> None:
    """Create the file, readable by the app's own user only (SQLite gives its -wal and -shm files the same
    mode), unless it exists. Only ever create it: closing any descriptor of an open SQLite file drops this
    process's locks on it, and another process would then think itself alone and remove the log."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


def connect(path: Path, patience: float = 10.0) -> sqlite3.Connection:
    """A connection for one thread, in autocommit, WAL mode (readers go on while one process writes) and
    synchronous=NORMAL. Workers booting together race for the exclusive lock the switch to WAL needs,
    and SQLite answers "database is locked" at once rather than through the busy timeout while another
    connection holds or recovers the log: wait and try again, and give up with the error only after
    ``patience`` seconds."""
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    deadline = time.monotonic() + patience
    pause = 0.01
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                db.close()
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.25)
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def thread_connection(local: threading.local, path: Path) -> sqlite3.Connection:
    """This thread's connection to ``path`` (`connect`ed on its first use), kept in ``local``."""
    db = getattr(local, "db", None)
    if db is None:
        db = local.db = connect(path)
    return db
