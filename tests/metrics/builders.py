"""Hand-built warehouses for the metric tests.

Each test module describes a tiny extract row by row, with the answer worked out by hand in comments.
`make_warehouse` creates the contract tables with `contract.create_table_sql` in a DuckDB file, inserts
the rows, gives them record keys and runs `build_derived_tables` as the loader does, and opens the file
read-only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipelines.contract import TABLE_ORDER, TABLES, create_table_sql
from pipelines.derived import build_derived_tables
from pipelines.record_keys import ensure_key_columns
from pipelines.warehouse import Warehouse, open_warehouse

_ARROW_TYPES = {
    "string": pa.string(),
    "code": pa.string(),
    "date": pa.date32(),
    "integer": pa.int32(),
    "boolean": pa.bool_(),
}

#: A fixed record-key salt, so every hand-built warehouse perturbs the same way on every run.
TEST_SALT = "hand-built-warehouses-of-the-metric-tests-0123456789"


def perturbed(count: int, key_sum: int) -> int:
    """A count as shared outputs show it, given the sum of its records' keys (the ONS method)."""
    from pipelines.stats.perturbation import pcv_of, ptable

    return int(count) + int(ptable()[pcv_of(count), int(key_sum) % 256])


def shown_sum(warehouse: Warehouse, table: str, column: str, where: str) -> int:
    """What a shared output shows for the sum of `column` (minutes) over the rows matching `where`."""
    total, keys = (
        warehouse.cursor()
        .execute(
            f"SELECT coalesce(sum({column}), 0), coalesce(sum(record_key), 0) FROM {table} WHERE {where}"
        )
        .fetchall()[0]
    )
    return perturbed(int(total), int(keys))


def shown_count(warehouse: Warehouse, table: str, where: str, params: dict | None = None) -> int:
    """What a shared output shows for the rows of `table` (a keyed table) matching `where`, worked out
    from the records themselves: their number plus the perturbation table's value for it and the sum of
    their record keys (`pipelines.stats.perturbation`, checked against the ONS implementation)."""
    from pipelines.stats.perturbation import pcv_of, ptable

    n, keys = (
        warehouse.cursor()
        .execute(f"SELECT count(*), coalesce(sum(record_key), 0) FROM {table} WHERE {where}", params or {})
        .fetchall()[0]
    )
    return int(n) + int(ptable()[pcv_of(n), int(keys) % 256])


PROVIDERS = [
    {
        "provider_id": "PV1",
        "provider_name": "Leeds Recovery",
        "provider_type": "nhs",
        "area_code": "E08000035",
        "area_name": "Leeds",
    },
    {
        "provider_id": "PV2",
        "provider_name": "Bradford LERO",
        "provider_type": "lived_experience_org",
        "area_code": "E08000032",
        "area_name": "Bradford",
    },
]
PROGRAMMES = [
    {"programme_id": "PG1", "provider_id": "PV1", "programme_name": "Community", "setting": "community"},
    {"programme_id": "PG2", "provider_id": "PV2", "programme_name": "Rehab", "setting": "residential_rehab"},
    {
        "programme_id": "PG3",
        "provider_id": "PV2",
        "programme_name": "Recovery community",
        "setting": "recovery_community",
    },
]


def d(text: str, days: int = 0) -> date:
    """An ISO date plus a number of days."""
    return date.fromisoformat(text) + timedelta(days=days)


def episode(
    episode_id: str,
    person_id: str,
    *,
    programme: str = "PG1",
    referral: date | None = None,
    start: date | None = None,
    discharge: date | None = None,
    reason: str | None = None,
    substance_group: str = "opiate",
    primary: str = "heroin",
) -> dict:
    referral = referral or start
    assert referral is not None, "an episode needs a referral or a start date"
    return {
        "episode_id": episode_id,
        "person_id": person_id,
        "programme_id": programme,
        "referral_date": referral,
        "referral_source": "self",
        "triage_date": None,
        "start_date": start,
        "discharge_date": discharge,
        "discharge_reason": reason,
        "substance_group": substance_group,
        "primary_substance": primary,
        "injecting_status": "never",
        "ost": False,
    }


def contact(
    contact_id: str,
    person_id: str,
    when: date,
    *,
    programme: str = "PG1",
    by: str = "professional",
    attended: bool = True,
    minutes: int | None = 30,
    episode_id: str | None = None,
) -> dict:
    return {
        "contact_id": contact_id,
        "person_id": person_id,
        "episode_id": episode_id,
        "programme_id": programme,
        "contact_date": when,
        "support_type": "peer_support" if by == "peer" else "keyworking",
        "delivered_by": by,
        "attended": attended,
        "duration_minutes": minutes,
    }


def assessment(assessment_id: str, episode_id: str, person_id: str, when: date, stage: str, **scores) -> dict:
    row = {c: None for c in TABLES["assessments"].column_names}
    row.update(
        assessment_id=assessment_id,
        person_id=person_id,
        episode_id=episode_id,
        assessment_date=when,
        stage=stage,
        **scores,
    )
    return row


def drug_test(
    test_id: str,
    person_id: str,
    when: date,
    *,
    substance: str = "opiates",
    result: str = "negative",
    episode_id: str | None = None,
    sample: str = "urine",
) -> dict:
    return {
        "test_id": test_id,
        "person_id": person_id,
        "episode_id": episode_id,
        "test_date": when,
        "sample": sample,
        "substance": substance,
        "result": result,
    }


def _people_for(rows: Iterable[dict], people: dict[str, dict]) -> list[dict]:
    ids = dict.fromkeys(r["person_id"] for r in rows)
    out = []
    for person_id in ids:
        row = {
            "person_id": person_id,
            "sex": "female",
            "birth_year": 1980,
            "ethnic_group": "white",
            "area_code": None,
        }
        row.update(people.get(person_id, {}))
        out.append(row)
    return out


def build(
    path: Path,
    *,
    episodes: list[dict] = (),
    contacts: list[dict] = (),
    assessments: list[dict] = (),
    drug_tests: list[dict] = (),
    people: dict[str, dict] | None = None,
    programmes: list[dict] | None = None,
) -> Path:
    """Write a warehouse file holding these rows and its derived tables (``programmes`` replaces the
    three programmes of `PROGRAMMES`, e.g. to add prison ones)."""
    tables = {
        "providers": PROVIDERS,
        "programmes": PROGRAMMES if programmes is None else programmes,
        "people": _people_for([*episodes, *contacts, *assessments, *drug_tests], people or {}),
        "episodes": list(episodes),
        "contacts": list(contacts),
        "assessments": list(assessments),
        "drug_tests": list(drug_tests),
    }
    con = duckdb.connect(str(path))
    try:
        for name in TABLE_ORDER:
            table = TABLES[name]
            con.execute(create_table_sql(table))
            rows = tables[name]
            if rows:
                # One Arrow table per contract table, typed as the contract says: thousands of rows
                # insert in milliseconds (executemany takes seconds).
                schema = pa.schema([(c.name, _ARROW_TYPES[c.type]) for c in table.columns])
                batch = pa.Table.from_pylist([{c: row.get(c) for c in schema.names} for row in rows], schema)
                con.register("new_rows", batch)
                con.execute(f"INSERT INTO {name} SELECT * FROM new_rows")
                con.unregister("new_rows")
        ensure_key_columns(con, TEST_SALT)  # record keys, as the loader gives every row
        build_derived_tables(con)
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def make_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Warehouse]:
    opened: list[Warehouse] = []

    def factory(**rows) -> Warehouse:
        path = tmp_path_factory.mktemp("warehouse") / "rosc.duckdb"
        warehouse = open_warehouse(build(path, **rows))
        opened.append(warehouse)
        return warehouse

    yield factory
    for warehouse in opened:
        warehouse.close()


def only_row(frame) -> dict:
    """The single row of a result as a dict."""
    assert len(frame) == 1, frame
    return frame.iloc[0].to_dict()
