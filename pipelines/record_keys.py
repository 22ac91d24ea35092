"""Record keys for cell-key perturbation: fixed at load time, kept in the warehouse.

Every row of people, episodes, contacts, assessments and drug_tests carries ``record_key``, an integer
0–255 that the metric layer sums into a cell key (`pipelines.stats.perturbation`). People-based counts
use the person's key (``people.record_key``, carried as ``person_key`` by the fact tables), every other
count the key of its own record.

A key is a keyed hash of the row's primary key: ``hash(salt, key) mod 256``, computed by DuckDB as the
loader inserts the row. So a row keeps its key across loads of the same extract (an upsert recomputes
the same value), and nobody without the salt can work a key out from an id. The salt is 32 random bytes
made at the warehouse's first load and kept in the table `SALT_TABLE`; every later load into that
warehouse reuses it. A deployment that rebuilds its warehouse from scratch sets ``ROSC_RECORD_KEY_SALT``
instead, so the keys (and with them every published count) stay the same across rebuilds: a fresh salt
would give the same people fresh noise, and two readings of the same count could be averaged.
"""

from __future__ import annotations

import os
import secrets

import duckdb

from pipelines.contract import TABLES

#: The tables whose rows carry a record key.
KEYED_TABLES: tuple[str, ...] = ("people", "episodes", "contacts", "assessments", "drug_tests")
KEY_COLUMN = "record_key"
SALT_TABLE = "record_key_salt"
SALT_ENV = "ROSC_RECORD_KEY_SALT"
_MIN_SALT_LENGTH = 32


def key_expression(key_column: str, salt_parameter: str = "$salt") -> str:
    """The SQL expression of a row's record key from its primary-key column (a trusted column name)."""
    return f"(hash({salt_parameter}::VARCHAR, {key_column}::VARCHAR) % 256)::UTINYINT"


def ensure_salt(con: duckdb.DuckDBPyConnection, salt: str | None = None) -> str:
    """The warehouse's salt: `salt` when given, else ``ROSC_RECORD_KEY_SALT`` when set, else the stored
    one, else a new one; stored. ValueError for a given salt too short to keep keys secret."""
    configured = salt if salt is not None else os.environ.get(SALT_ENV)
    if configured is not None and len(configured.strip()) < _MIN_SALT_LENGTH:
        raise ValueError(
            f"{SALT_ENV} must hold at least {_MIN_SALT_LENGTH} characters of random text "
            "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    con.execute(f"CREATE TABLE IF NOT EXISTS {SALT_TABLE} (salt VARCHAR NOT NULL)")
    rows = con.execute(f"SELECT salt FROM {SALT_TABLE}").fetchall()
    stored = rows[0] if rows else None
    salt = configured.strip() if configured is not None else (stored[0] if stored else secrets.token_hex(32))
    if stored is None or stored[0] != salt:
        con.execute(f"DELETE FROM {SALT_TABLE}").fetchall()
        con.execute(f"INSERT INTO {SALT_TABLE} VALUES (?)", [salt]).fetchall()
    return salt


def read_salt(con: duckdb.DuckDBPyConnection) -> str:
    """The warehouse's salt, for readers (`pipelines.metrics.labelled_counts`); ValueError if it has none
    (a warehouse no load of this version has written)."""
    try:
        rows = con.execute(f"SELECT salt FROM {SALT_TABLE}").fetchall()
    except duckdb.CatalogException:
        rows = []
    if not rows:
        raise ValueError("this warehouse has no record-key salt; load the extract again with --force")
    return rows[0][0]


def ensure_key_columns(con: duckdb.DuckDBPyConnection, salt: str | None = None) -> None:
    """Give each keyed table its record_key column, and every row that has none its key (a warehouse
    loaded before keys existed, or rows written by other means than the loader); `salt` as
    `ensure_salt`."""
    salt = ensure_salt(con, salt)
    for table in KEYED_TABLES:
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {KEY_COLUMN} UTINYINT")
        key = TABLES[table].key
        con.execute(
            f"UPDATE {table} SET {KEY_COLUMN} = {key_expression(key)} WHERE {KEY_COLUMN} IS NULL",
            {"salt": salt},
        ).fetchall()  # an UPDATE answers with its row count, which must be read before the next query
