"""Derived tables of the warehouse: the layered SQL models the metric layer reads.

The loader calls `build_derived_tables` on its read-write connection at the end of every load, after
the contract tables are in place and before the new file is swapped in. Each model is one SQL file under
``pipelines/sql/`` (``staging/`` cleans one source, ``intermediate/`` holds the episode logic, ``marts/``
holds the fact tables the metrics query); each file starts with a header comment naming its grain and
what it defines, and holds one SELECT that is run as ``CREATE OR REPLACE TABLE <file stem> AS ...`` (or
``CREATE OR REPLACE VIEW`` for the models of `VIEWS`, whose copy would cost more than it saves).

Code lists live in `pipelines.contract` and reach the SQL through a few ``{{placeholders}}``, so a
discharge reason's outcome group or a substance's days column is written once.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from importlib import resources

import duckdb

from pipelines.contract import (
    OPIOID_TEST_SUBSTANCES,
    SUBSTANCE_DAYS_COLUMN,
    TOP_DAYS,
    VALID_TEST_RESULTS,
    outcome_group_sql,
)

#: Models in build order: (layer, table name). A model only reads tables above it.
MODELS: tuple[tuple[str, str], ...] = (
    ("staging", "stg_programmes"),
    ("staging", "stg_episodes"),
    ("intermediate", "int_episode_next_referral"),
    ("intermediate", "int_assessment_pairs"),
    ("intermediate", "int_unlinked_contacts"),
    ("intermediate", "int_episode_first_peer_contact"),
    ("intermediate", "int_episode_new_presentation"),
    ("intermediate", "int_episode_release_engagement"),
    ("intermediate", "int_drug_test_weeks"),
    ("marts", "episode_facts"),
    ("marts", "contact_facts"),
    ("marts", "contact_months"),
    ("marts", "contact_person_months"),
    ("marts", "assessment_pair_facts"),
    ("marts", "extract_dates"),
)

#: The tables (and views) build_derived_tables creates, in order.
DERIVED_TABLES: tuple[str, ...] = tuple(name for _, name in MODELS)

#: Models created as views rather than tables: contact_facts would copy every contact (most of a load's
#: rows) only to add a few columns that a join at query time gives as fast (see its SQL header).
VIEWS: frozenset[str] = frozenset({"contact_facts"})

#: A one-row table recording which derived models built the warehouse (`models_fingerprint`).
WAREHOUSE_INFO_TABLE = "warehouse_info"

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_:]+)\s*\}\}")


def _substance_days_column_case() -> str:
    whens = " ".join(
        f"WHEN '{substance}' THEN '{column}'"
        for substance, column in SUBSTANCE_DAYS_COLUMN.items()
        if column is not None
    )
    return f"CASE primary_substance {whens} ELSE NULL END"


def _substance_days_value_case() -> str:
    whens = " ".join(f"WHEN '{column}' THEN a.{column}" for column in TOP_DAYS)
    return f"CASE e.substance_days_column {whens} ELSE NULL END"


def contract_placeholders() -> dict[str, str]:
    """SQL fragments generated from the contract, by placeholder name."""
    return {
        "outcome_group_case": outcome_group_sql("e.discharge_reason"),
        "substance_days_column_case": _substance_days_column_case(),
        "substance_days_value_case": _substance_days_value_case(),
        "opioid_test_substances": _sql_list(OPIOID_TEST_SUBSTANCES),
        "valid_test_results": _sql_list(VALID_TEST_RESULTS),
    }


def _sql_list(codes: tuple[str, ...]) -> str:
    """Contract codes as a SQL list of string literals (codes are snake_case, so need no escaping)."""
    return ", ".join(f"'{code}'" for code in codes)


def render(sql: str, values: dict[str, str]) -> str:
    """Replace each ``{{name}}`` in ``sql`` with ``values[name]``; an unknown name is an error."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"no value for SQL placeholder {{{{{name}}}}}")
        return values[name]

    return _PLACEHOLDER.sub(replace, sql)


@cache
def read_sql(*parts: str) -> str:
    """The text of a packaged SQL file, e.g. ``read_sql("marts", "episode_facts.sql")``."""
    return resources.files("pipelines").joinpath("sql", *parts).read_text(encoding="utf-8")


def model_sql(layer: str, name: str) -> str:
    """The SELECT of one model with the contract placeholders filled in."""
    return render(read_sql(layer, f"{name}.sql"), contract_placeholders())


@cache
def models_fingerprint() -> str:
    """A hash of the macros and every model's SQL as built (placeholders filled in).

    Written into each warehouse by `build_derived_tables`; `pipelines.warehouse` refuses a warehouse
    whose fingerprint differs, since its derived tables were built by other models than the metric SQL
    of this version expects (a missing column would be a binder error, a changed definition a silently
    wrong answer).
    """
    digest = hashlib.sha256(read_sql("macros.sql").encode())
    for layer, name in MODELS:
        digest.update(f"\0{layer}/{name}\0{model_sql(layer, name)}".encode())
    return digest.hexdigest()[:16]


def build_derived_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create (or replace) every derived table on a read-write connection; return their names in order.

    Runs ``sql/macros.sql`` first, then each model of `MODELS` as ``CREATE OR REPLACE TABLE`` (``VIEW``
    for `VIEWS`). An object of the other kind left by an earlier version of this module is dropped first.
    Finally records `models_fingerprint` in `WAREHOUSE_INFO_TABLE`.
    """
    con.execute(read_sql("macros.sql"))
    existing = dict(
        con.execute(
            "SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE schema_name = current_schema() "
            "UNION ALL SELECT view_name, 'VIEW' FROM duckdb_views() "
            "WHERE schema_name = current_schema() AND NOT internal"
        ).fetchall()
    )
    for layer, name in MODELS:
        kind = "VIEW" if name in VIEWS else "TABLE"
        if existing.get(name, kind) != kind:
            con.execute(f"DROP {existing[name]} {name}")
        con.execute(f"CREATE OR REPLACE {kind} {name} AS\n{model_sql(layer, name)}")
    con.execute(
        f"CREATE OR REPLACE TABLE {WAREHOUSE_INFO_TABLE} AS SELECT ?::VARCHAR AS derived_models",
        [models_fingerprint()],
    )
    return list(DERIVED_TABLES)
