"""``python -m dashboard.auth``: the administrator's sign-in commands.

- ``hash-password``: read a password (prompted, or one line on stdin) and print its hash for the users
  file.
- ``sessions``: list the signed-in sessions (who, since when, last request), from the session store.
- ``revoke USER``: end every session of USER (a username or user id) in every worker, at once.
- ``unlock USER``: clear USER's failed sign-in count (after a lockout by the per-user rate limit).

The session store is ``--store PATH``, else ``ROSC_SESSION_STORE``, else ``<ROSC_DB>.sessions.sqlite3``
(the default beside the warehouse, as the app uses it).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from werkzeug.security import generate_password_hash

from dashboard.signin.settings import ENV_SESSION_STORE
from dashboard.signin.store import SignInStore


def _store(path: str | None) -> SignInStore:
    where = (
        path
        or os.environ.get(ENV_SESSION_STORE)
        or os.environ.get("ROSC_DB", "rosc.duckdb") + ".sessions.sqlite3"
    )
    if not Path(where).exists():
        raise SystemExit(f"no session store at {where} (give --store PATH or set {ENV_SESSION_STORE})")
    # Listing and deleting by user needs no secret (it only keys the stored session ids) and no timeouts
    # shorter than any the app uses.
    return SignInStore(where, "", timedelta(days=3650), timedelta(days=3650))


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.auth", description="Sign-in administration.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "hash-password",
        help="read a password (prompted, or one line on stdin) and print its hash for the users file",
    )
    for name, text in (
        ("sessions", "list the signed-in sessions"),
        ("revoke", "end every session of a user, in every worker"),
        ("unlock", "clear a user's failed sign-in count"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--store", help="the session store file")
        if name != "sessions":
            command.add_argument("user", help="username (or user id)")
    args = parser.parse_args(argv)
    if args.command == "hash-password":
        return _hash_password()
    store = _store(args.store)
    if args.command == "sessions":
        for record in store.sessions():
            since, last = _when(record.created), _when(record.last_seen)
            print(f"{record.username}\t{record.user_id}\tsince {since}\tlast {last}")
        return 0
    if args.command == "revoke":
        ended = store.revoke(args.user)
        print(f"ended {ended} session{'s' if ended != 1 else ''} of {args.user}")
        return 0
    cleared = store.clear_counters(f"/user:{args.user.strip().casefold()}/")
    print(f"cleared {cleared} failed sign-in count{'s' if cleared != 1 else ''} of {args.user}")
    return 0


def _hash_password() -> int:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("The passwords differ.", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("No password given.", file=sys.stderr)
        return 1
    print(generate_password_hash(password))
    return 0
