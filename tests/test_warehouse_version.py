"""A warehouse built by other derived models than this version's is refused with what to do, and a load
of the same extract rebuilds it (it is not skipped as "already loaded")."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipelines.cli import main
from pipelines.derived import WAREHOUSE_INFO_TABLE, models_fingerprint
from pipelines.load import load_extracts
from pipelines.warehouse import WarehouseOutOfDate, open_warehouse

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture()
def warehouse(tmp_path: Path) -> Path:
    db = tmp_path / "rosc.duckdb"
    load_extracts([SAMPLE], db, quiet=True)
    return db


def _age(db: Path, statement: str) -> None:
    """Make the warehouse look as if an older version had built it."""
    con = duckdb.connect(str(db))
    try:
        con.execute(statement)
    finally:
        con.close()


def _metric(db: Path):
    return CliRunner().invoke(
        main, ["metric", "in_treatment", "--db", str(db), "--from", "2024-01-01", "--to", "2024-12-31"]
    )


def test_a_fresh_warehouse_records_this_version_s_models(warehouse: Path) -> None:
    with open_warehouse(warehouse) as w:
        assert w.sql(f"SELECT derived_models FROM {WAREHOUSE_INFO_TABLE}")["derived_models"].tolist() == [
            models_fingerprint()
        ]
    assert _metric(warehouse).exit_code == 0


@pytest.mark.parametrize(
    "statement",
    [
        f"UPDATE {WAREHOUSE_INFO_TABLE} SET derived_models = '0123456789abcdef'",
        f"DROP TABLE {WAREHOUSE_INFO_TABLE}",  # built before the fingerprint was recorded
    ],
)
def test_an_out_of_date_warehouse_is_refused_with_what_to_do(warehouse: Path, statement: str) -> None:
    _age(warehouse, statement)
    with pytest.raises(WarehouseOutOfDate, match=r"rosc load DIR --db .*rosc\.duckdb --force"):
        open_warehouse(warehouse)
    result = _metric(warehouse)
    assert result.exit_code != 0
    assert str(warehouse) in result.output and "another version" in result.output


def test_loading_the_same_extract_again_rebuilds_an_out_of_date_warehouse(warehouse: Path) -> None:
    _age(warehouse, f"UPDATE {WAREHOUSE_INFO_TABLE} SET derived_models = '0123456789abcdef'")
    result = load_extracts([SAMPLE], warehouse, quiet=True)  # no --force: the extract is the same
    assert result.rows_loaded > 0
    with open_warehouse(warehouse) as w:
        people = w.sql("SELECT count(*) AS n FROM people")["n"].item()
    assert _metric(warehouse).exit_code == 0 and people > 0
