"""Record keys (`pipelines.record_keys`): made at load from a salted hash, kept across loads of the same
extract, the salt made once per warehouse (or set by the deployment), and refused when too weak."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.load import load_extracts
from pipelines.record_keys import KEYED_TABLES, SALT_ENV, SALT_TABLE
from tests.test_load import write_extract


def _keys(db) -> dict[str, list[tuple]]:
    from pipelines.contract import TABLES

    with duckdb.connect(str(db), read_only=True) as con:
        return {
            t: con.execute(f"SELECT {TABLES[t].key}, record_key FROM {t} ORDER BY 1").fetchall()
            for t in KEYED_TABLES
        }


def _salt(db) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT salt FROM {SALT_TABLE}").fetchall()[0][0]


def test_a_new_warehouse_gets_a_random_salt_kept_for_later_loads(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(SALT_ENV, raising=False)
    extract = write_extract(tmp_path / "x")
    load_extracts([extract], tmp_path / "a.duckdb", max_rejected=1)
    load_extracts([extract], tmp_path / "b.duckdb", max_rejected=1)
    salt = _salt(tmp_path / "a.duckdb")
    assert len(salt) == 64 and salt != _salt(tmp_path / "b.duckdb")  # 32 random bytes, new per warehouse
    keys = _keys(tmp_path / "a.duckdb")
    assert all(0 <= k <= 255 for rows in keys.values() for _, k in rows)
    assert len({k for rows in keys.values() for _, k in rows}) > 5  # not all the same
    load_extracts([extract], tmp_path / "a.duckdb", force=True, max_rejected=1)  # the same extract again
    assert _salt(tmp_path / "a.duckdb") == salt and _keys(tmp_path / "a.duckdb") == keys


def test_a_key_is_the_salted_hash_of_the_rows_key_whatever_else_changes(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(SALT_ENV, "a-deployment-salt-that-is-long-enough-to-be-safe-0123456789")
    extract = write_extract(tmp_path / "x")
    load_extracts([extract], tmp_path / "a.duckdb", max_rejected=1)
    people = (tmp_path / "x" / "people.csv").read_text().replace("person-0002,female", "person-0002,other")
    (tmp_path / "x" / "people.csv").write_text(people)
    load_extracts([extract], tmp_path / "b.duckdb", max_rejected=1)
    # The same salt in another warehouse (a rebuild) gives the same keys, an edited row keeps its key.
    assert _keys(tmp_path / "a.duckdb") == _keys(tmp_path / "b.duckdb")
    with duckdb.connect(str(tmp_path / "a.duckdb"), read_only=True) as con:
        expected = con.execute(
            "SELECT person_id, (hash($s::VARCHAR, person_id::VARCHAR) % 256)::UTINYINT "
            "FROM people ORDER BY 1",
            {"s": "a-deployment-salt-that-is-long-enough-to-be-safe-0123456789"},
        ).fetchall()
    assert _keys(tmp_path / "a.duckdb")["people"] == expected


def test_a_weak_deployment_salt_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(SALT_ENV, "short")
    with pytest.raises(ValueError, match="ROSC_RECORD_KEY_SALT must hold at least 32 characters"):
        load_extracts([write_extract(tmp_path / "x")], tmp_path / "a.duckdb")
