"""The bad-input corpus (`tests/corpus/cases.toml`): every malformed extract gives its documented outcome.

Refused: the error names the file, line and column the manifest gives, and a warehouse that existed
before is byte-identical afterwards, with no temp file left. Quarantined: exactly the listed
(file, line, column, rule) rows are quarantined, and every other row of every file loads. Loaded:
nothing is quarantined and every row loads. In all loads each file's rows_read equals its rows
counted independently, and rows_loaded + rows_rejected = rows_read.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.contract import TABLE_ORDER
from pipelines.load import LoadRefused, load_extracts
from pipelines.sources import ExtractError, ReadOptions
from tests.corpus.readme_table import readme_text
from tests.reliability.corpus import BASE, CASES_DIR, OUTCOMES, Case, build_case, load_cases, rows_in

CASES = load_cases()


def _options(case: Case) -> ReadOptions:
    return ReadOptions(date_format=case.date_format, encoding=case.encoding)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def warehouse_before(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding the base extract, copied by each refused case."""
    db = tmp_path_factory.mktemp("before") / "warehouse.duckdb"
    load_extracts([BASE], db)
    return db


def test_the_manifest_is_complete_and_large_enough() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 40
    assert all(case.outcome in OUTCOMES and case.description for case in CASES)
    folders = {p.name for p in CASES_DIR.iterdir()}
    assert folders <= set(ids), f"case folders without a manifest entry: {folders - set(ids)}"
    for case in CASES:
        assert (CASES_DIR / case.id).is_dir() or case.remove, f"{case.id}: nothing differs from the base"
        if case.outcome == "refused":
            assert case.file and case.message
        if case.outcome == "quarantined":
            assert case.quarantined
    readme = (CASES_DIR.parent / "README.md").read_text()
    assert all(f"`{case.id}`" in readme for case in CASES), "every case is in tests/corpus/README.md"
    assert readme == readme_text(readme), "run python tests/corpus/readme_table.py to update the README"


def _where(case: Case) -> str:
    """'contacts.csv line 3' / 'providers.parquet row 2' / 'people.csv', as messages say it."""
    if case.line is None:
        return case.file or ""
    if case.file and case.file.endswith(".parquet"):
        return f"{case.file} row {case.line - 1}"
    return f"{case.file} line {case.line}"


def _leftover_temps(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".tmp-" in p.name and not p.name.endswith(".tmp-lock")]


@pytest.mark.parametrize("case", [c for c in CASES if c.outcome == "refused"], ids=lambda c: c.id)
def test_refused_case_names_file_line_column_and_keeps_the_warehouse(
    case: Case, tmp_path: Path, warehouse_before: Path
) -> None:
    extract = build_case(case, tmp_path / "extract")
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(warehouse_before, db)
    before = sha256(db)

    with pytest.raises((ExtractError, LoadRefused)) as caught:
        load_extracts([extract], db, strict=case.strict, max_rejected=1.0, options=_options(case))
    error, message = caught.value, str(caught.value)

    assert case.message in message
    assert _where(case) in message, message[:300]
    if case.column is not None:
        assert f"column {case.column}" in message
    if isinstance(error, ExtractError):
        assert error.file is not None and case.file in error.file.replace(str(extract), "") + message
        assert error.line == case.line
        assert error.column == case.column
    else:
        assert case.strict and len(error.failures) >= 1
    assert sha256(db) == before
    assert _leftover_temps(tmp_path) == []
    assert not list(tmp_path.glob("*rejected.csv"))


@pytest.mark.parametrize("case", [c for c in CASES if c.outcome != "refused"], ids=lambda c: c.id)
def test_quarantined_or_loaded_case_accounts_for_every_row(case: Case, tmp_path: Path) -> None:
    extract = build_case(case, tmp_path / "extract")
    db = tmp_path / "warehouse.duckdb"
    result = load_extracts([extract], db, max_rejected=1.0, options=_options(case))

    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute("SELECT file, line, column_name, rule FROM quarantine").fetchall()
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLE_ORDER}
        files = json.loads(con.execute("SELECT files FROM load_history").fetchall()[0][0])
    found = sorted((Path(file).name, line, column, rule) for file, line, column, rule in found)
    assert found == sorted(case.quarantined)

    rejected_lines = {(file, line) for file, line, _, _ in case.quarantined}
    for record in files:
        path = extract / record["name"]
        assert record["rows_read"] == rows_in(path, case.encoding), record["name"]
        assert record["rows_loaded"] + record["rows_rejected"] == record["rows_read"]
        assert record["rows_rejected"] == len({line for file, line in rejected_lines if file == path.name})
        assert counts[record["table"]] == record["rows_loaded"] == result.loaded[record["table"]]
    for table, rows in case.rows.items():
        assert counts[table] == rows, table
    for part in case.warnings:
        assert any(part in warning for warning in result.warnings), (part, result.warnings)
    if case.outcome == "loaded":
        assert result.rows_rejected == 0 and result.report_path is None
