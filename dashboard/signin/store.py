"""The sign-in state every worker shares: one SQLite file beside the app holding the server-side
sessions and the sign-in rate-limit counters.

Sessions live here, not in the cookie: the cookie carries only a random session id, and the file holds
an HMAC of that id (keyed with ``ROSC_SECRET_KEY``, so the file alone gives no usable cookie), who is
signed in, when the session began and when it was last used, and its data (JSON). Deleting a row ends
that session in every worker at once: sign-out does it for one session, an administrator's
``python -m dashboard.auth revoke USER`` for all of a user's. A session ends after ``idle`` without a
request or ``absolute`` after it began, whichever comes first.

`SessionStoreInterface` is Flask's session interface over this store (Flask-Login keeps the signed-in
user in it). `SQLiteLimitsStorage` is a storage for the ``limits`` package (which Flask-Limiter uses),
registered under the scheme ``rosc-sqlite://``, so rate limits count across workers too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from limits.storage import Storage
from werkzeug.datastructures import CallbackDict

from dashboard import shared_sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    key       TEXT PRIMARY KEY,   -- HMAC-SHA256 of the cookie's session id
    user_id   TEXT NOT NULL,      -- '' before sign-in
    username  TEXT NOT NULL,
    created   REAL NOT NULL,      -- unix time
    last_seen REAL NOT NULL,
    data      TEXT NOT NULL       -- JSON
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);
CREATE INDEX IF NOT EXISTS sessions_last_seen ON sessions (last_seen);
CREATE TABLE IF NOT EXISTS rate_limits (
    key     TEXT PRIMARY KEY,
    count   INTEGER NOT NULL,
    expires REAL NOT NULL
);
"""


@dataclass(frozen=True)
class SessionRecord:
    """One stored session, as an administrator lists it (no id, no data)."""

    user_id: str
    username: str
    created: float
    last_seen: float


class SignInStore:
    """The SQLite file of sessions and rate-limit counters (safe for many processes and threads)."""

    def __init__(
        self,
        path: str | Path,
        secret_key: str,
        idle: timedelta,
        absolute: timedelta,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self._key = hashlib.sha256(b"rosc-session-id\0" + secret_key.encode()).digest()
        self.idle = idle.total_seconds()
        self.absolute = absolute.total_seconds()
        self.clock = clock
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        shared_sqlite.create_private(self.path)
        with self._connection() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        yield shared_sqlite.thread_connection(self._local, self.path)

    @staticmethod
    def _one(db: sqlite3.Connection, sql: str, parameters: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The one row of a query, or None. Read to the end (fetchall): a SELECT left unfinished keeps
        its read transaction open, and this worker would go on seeing the file as it was then (a
        revoked session alive, a cleared counter still counting)."""
        rows = db.execute(sql, parameters).fetchall()
        return rows[0] if rows else None

    def _hash(self, sid: str) -> str:
        return hmac.new(self._key, sid.encode(), hashlib.sha256).hexdigest()

    def _alive(self, created: float, last_seen: float, now: float) -> bool:
        return now - last_seen <= self.idle and now - created <= self.absolute

    # -- sessions -------------------------------------------------------------------------------------

    def load(self, sid: str) -> tuple[dict[str, Any], float, float] | None:
        """(data, created, last seen) of a live session; None if it is unknown, ended or timed out
        (a timed-out session is deleted)."""
        with self._connection() as db:
            row = self._one(
                db, "SELECT created, last_seen, data FROM sessions WHERE key = ?", (self._hash(sid),)
            )
            if row is None:
                return None
            created, last_seen, data = row
            if not self._alive(created, last_seen, self.clock()):
                db.execute("DELETE FROM sessions WHERE key = ?", (self._hash(sid),))
                return None
        return json.loads(data), created, last_seen

    def save(self, sid: str, data: dict[str, Any], created: float, user_id: str, username: str) -> None:
        """Write a session (insert or replace); also clears out sessions that have timed out."""
        now = self.clock()
        with self._connection() as db:
            db.execute(
                "INSERT INTO sessions (key, user_id, username, created, last_seen, data) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET user_id = excluded.user_id, "
                "username = excluded.username, last_seen = excluded.last_seen, data = excluded.data",
                (self._hash(sid), user_id, username, created, now, json.dumps(data)),
            )
            db.execute(
                "DELETE FROM sessions WHERE last_seen < ? OR created < ?",
                (now - self.idle, now - self.absolute),
            )

    def touch(self, sid: str) -> None:
        """Record a request on a session (for the idle timeout)."""
        with self._connection() as db:
            db.execute("UPDATE sessions SET last_seen = ? WHERE key = ?", (self.clock(), self._hash(sid)))

    def delete(self, sid: str) -> None:
        """End one session."""
        with self._connection() as db:
            db.execute("DELETE FROM sessions WHERE key = ?", (self._hash(sid),))

    def revoke(self, user: str) -> int:
        """End every session of a user (by username or user id); the number ended."""
        with self._connection() as db:
            return db.execute(
                "DELETE FROM sessions WHERE user_id <> '' AND (username = ? OR user_id = ?)", (user, user)
            ).rowcount

    def sessions(self) -> list[SessionRecord]:
        """The live signed-in sessions, oldest first."""
        now = self.clock()
        with self._connection() as db:
            rows = db.execute(
                "SELECT user_id, username, created, last_seen FROM sessions WHERE user_id <> '' "
                "ORDER BY created"
            ).fetchall()
        return [SessionRecord(*row) for row in rows if self._alive(row[2], row[3], now)]

    # -- rate-limit counters (fixed windows) ------------------------------------------------------

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = self.clock()
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM rate_limits WHERE key = ? AND expires <= ?", (key, now))
                db.execute(
                    "INSERT INTO rate_limits (key, count, expires) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET count = count + excluded.count",
                    (key, amount, now + expiry),
                )
                (count,) = self._one(db, "SELECT count FROM rate_limits WHERE key = ?", (key,)) or (0,)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return int(count)

    def counter(self, key: str) -> tuple[int, float]:
        """(count, expiry time) of a live counter; (0, now) when there is none."""
        now = self.clock()
        with self._connection() as db:
            row = self._one(
                db, "SELECT count, expires FROM rate_limits WHERE key = ? AND expires > ?", (key, now)
            )
        return (int(row[0]), float(row[1])) if row else (0, now)

    def clear_counters(self, containing: str | None = None) -> int:
        """Delete the rate-limit counters whose key contains ``containing`` (all when None)."""
        with self._connection() as db:
            if containing is None:
                return db.execute("DELETE FROM rate_limits").rowcount
            return db.execute("DELETE FROM rate_limits WHERE instr(key, ?) > 0", (containing,)).rowcount


# -- Flask's session interface --------------------------------------------------------------------------


class ServerSession(CallbackDict, SessionMixin):  # type: ignore[misc]
    """A session whose data lives in the store; the cookie holds only ``sid``."""

    def __init__(
        self, initial: dict[str, Any] | None = None, sid: str | None = None, created: float | None = None
    ) -> None:
        def on_update(session: ServerSession) -> None:
            session.modified = True

        super().__init__(initial, on_update)
        self.sid = sid
        self.created = created
        self.modified = False
        self.rotate_id = False
        #: The request carried a session cookie that is unknown, ended or timed out.
        self.expired = False

    def regenerate(self) -> None:
        """Give the session a new id when the response is sent, and end the old one (at sign-in:
        an id someone saw or planted before sign-in is worth nothing after it)."""
        self.rotate_id = True
        self.modified = True


class SessionStoreInterface(SessionInterface):
    """Flask's session interface over a `SignInStore`.

    The cookie is set only when a session id is issued (never refreshed on every response); its
    expiry is the session's absolute timeout. A request on a signed-in session records its time
    (at most every ``touch_every`` seconds), which is what the idle timeout counts from.
    """

    def __init__(self, store: SignInStore, cookie_name: str = "rosc_session") -> None:
        self.store = store
        self.cookie_name = cookie_name
        self.touch_every = min(60.0, store.idle / 10)

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.cookie_name)
        if sid:
            found = self.store.load(sid)
            if found is not None:
                data, created, last_seen = found
                session = ServerSession(data, sid, created)
                session.last_seen = last_seen  # type: ignore[attr-defined]
                return session
        session = ServerSession()
        session.expired = bool(sid)
        return session

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        domain, path = self.get_cookie_domain(app), self.get_cookie_path(app)
        response.vary.add("Cookie")
        if session.sid and (session.rotate_id or (session.modified and not session)):
            self.store.delete(session.sid)
            if not session:  # cleared (signed out): the id is gone, and so is the cookie
                session.sid = None
                response.delete_cookie(self.cookie_name, domain=domain, path=path)
                return
        if not session:
            if session.expired:  # the browser's id names no live session: let it go
                response.delete_cookie(self.cookie_name, domain=domain, path=path)
            return
        user_id, username = str(session.get("_user_id", "")), str(session.get("rosc_username", ""))
        if session.sid is None or session.rotate_id:
            session.sid = secrets.token_urlsafe(32)
            session.created = self.store.clock()
            self.store.save(session.sid, dict(session), session.created, user_id, username)
            response.set_cookie(
                self.cookie_name,
                session.sid,
                expires=session.created + self.store.absolute,
                httponly=True,
                secure=self.get_cookie_secure(app),
                samesite=self.get_cookie_samesite(app) or "Lax",
                domain=domain,
                path=path,
            )
        elif session.modified:
            self.store.save(
                session.sid, dict(session), session.created or self.store.clock(), user_id, username
            )
        elif user_id and self.store.clock() - getattr(session, "last_seen", 0.0) >= self.touch_every:
            self.store.touch(session.sid)


# -- the limits package's storage -----------------------------------------------------------------------


class SQLiteLimitsStorage(Storage):
    """Fixed-window rate-limit counters in a `SignInStore`'s file: ``rosc-sqlite:///path/to/file``."""

    STORAGE_SCHEME = ["rosc-sqlite"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        path = (uri or "").split("://", 1)[-1]
        # The secret only keys session ids; counters do not need it.
        self.store = SignInStore(path, "", timedelta(seconds=1), timedelta(seconds=1))

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self.store.incr(key, expiry, amount)

    def get(self, key: str) -> int:
        return self.store.counter(key)[0]

    def get_expiry(self, key: str) -> float:
        return self.store.counter(key)[1]

    def check(self) -> bool:
        try:
            self.store.counter("")
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        return self.store.clear_counters()

    def clear(self, key: str) -> None:
        with self.store._connection() as db:
            db.execute("DELETE FROM rate_limits WHERE key = ?", (key,))
