"""The loader: every contract rule quarantines the right cell, file problems stop the load,
strict mode, idempotency, multi-folder upserts, atomic swaps (also under kill -9), readers during a
load, and CSV/Parquet giving the same warehouse."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from pipelines import load
from pipelines.contract import REQUIRED_TABLES, TABLE_ORDER, TABLES
from pipelines.load import LoadRefused, report_path_for
from pipelines.sources import ExtractError
from pipelines.warehouse import open_warehouse

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2025-03-31"

#: A small valid extract; data rows start on line 2 of each file.
VALID = {
    "providers": """\
provider_id,provider_name,provider_type,area_code,area_name
PRV1,Alpha Recovery,nhs,E08000025,Birmingham
PRV2,Beta Peers,lived_experience_org,E08000025,Birmingham
""",
    "programmes": """\
programme_id,provider_id,programme_name,setting
PRG1,PRV1,Community Treatment,community
PRG2,PRV2,Recovery Community,recovery_community
""",
    "people": """\
person_id,sex,birth_year,ethnic_group,area_code
person-0001,male,1980,white,E08000025
person-0002,female,1990,asian,
person-0003,other,,unknown,E08000025
""",
    "episodes": """\
episode_id,person_id,programme_id,referral_date,referral_source,triage_date,start_date,discharge_date,\
discharge_reason,substance_group,primary_substance,injecting_status,ost
EP1,person-0001,PRG1,2024-01-02,self,2024-01-05,2024-01-10,2024-06-30,completed_drug_free,opiate,heroin,previously,true
EP2,person-0002,PRG1,2024-02-01,gp,,,,,alcohol,alcohol,never,false
EP3,person-0001,PRG1,2024-08-01,peer_org,2024-08-02,2024-08-05,,,opiate,heroin,currently,true
EP4,person-0003,PRG2,2024-03-01,self,,2024-03-01,2024-03-20,dropped_out,non_opiate,cocaine,never,false
""",
    "contacts": """\
contact_id,person_id,episode_id,programme_id,contact_date,support_type,delivered_by,attended,duration_minutes
C1,person-0001,EP1,PRG1,2024-01-10,keyworking,professional,true,45
C2,person-0001,,PRG2,2024-07-01,mutual_aid,peer,true,
C3,person-0002,EP2,PRG1,2024-02-10,peer_support,peer,false,30
C4,person-0003,EP4,PRG2,2024-03-05,recovery_coaching,peer,true,60
""",
    "assessments": """\
assessment_id,person_id,episode_id,assessment_date,stage,days_opiates,days_crack,days_cocaine,days_amphetamine,\
days_cannabis,days_alcohol,days_injected,psych_health,phys_health,quality_of_life,days_paid_work,\
acute_housing_problem,recovery_capital
A1,person-0001,EP1,2024-01-10,start,20,0,0,0,0,2,10,8,9,7,0,true,25
A2,person-0001,EP1,2024-06-30,exit,0,0,0,0,0,0,0,14,15,14,10,false,45
A3,person-0001,,2024-12-30,post_exit,,,,,,,,,,,,,
""",
}
ROWS = {table: text.count("\n") - 1 for table, text in VALID.items()}


def edit_csv(text: str, line: int, column: str, value: str) -> str:
    """`text` with the cell at (physical line, column) replaced (no multi-line fields here)."""
    rows = list(csv.reader(io.StringIO(text)))
    rows[line - 1][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def write_extract(folder: Path, tables: dict[str, str] | None = None, *, as_of: str | None = AS_OF) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for table, text in (tables or VALID).items():
        (folder / f"{table}.csv").write_text(text, encoding="utf-8")
    if as_of is not None:
        (folder / "extract.json").write_text(json.dumps({"as_of": as_of, "contract_version": 1}))
    return folder


def to_parquet(csv_folder: Path, folder: Path) -> Path:
    """The same extract as typed Parquet."""
    arrow_types = {
        "string": pa.string(),
        "code": pa.string(),
        "date": pa.date32(),
        "integer": pa.int32(),
        "boolean": pa.bool_(),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for table in REQUIRED_TABLES:
        types = {c.name: arrow_types[c.type] for c in TABLES[table].columns}
        data = pacsv.read_csv(
            csv_folder / f"{table}.csv",
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
        )
        pq.write_table(data, folder / f"{table}.parquet")
    if (csv_folder / "extract.json").exists():
        (folder / "extract.json").write_bytes((csv_folder / "extract.json").read_bytes())
    return folder


def quarantine(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT table_name, line, column_name, rule, value FROM quarantine ORDER BY ALL"
        ).fetchall()


def contract_tables(db: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY {TABLES[t].key}").fetchall() for t in TABLE_ORDER}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def one_record_key_salt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every warehouse of these tests gets the same record-key salt, as a deployment that rebuilds its
    warehouses sets ROSC_RECORD_KEY_SALT, so warehouses built from the same rows compare equal."""
    monkeypatch.setenv("ROSC_RECORD_KEY_SALT", "the-loader-tests-use-one-salt-for-every-warehouse")


def load_extracts(*args, **kwargs):
    """The loader with the rejection threshold off: these small extracts test quarantine row by row
    (one bad row of four is 25%); the threshold's own tests call `load.load_extracts`."""
    kwargs.setdefault("max_rejected", 1.0)
    return load.load_extracts(*args, **kwargs)


@pytest.fixture
def extract(tmp_path: Path) -> Path:
    return write_extract(tmp_path / "extract")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


# ---------------------------------------------------------------------------------------------
# A valid extract.


def test_valid_extract_loads_every_row(extract: Path, db: Path) -> None:
    result = load_extracts([extract], db)
    assert result.loaded == ROWS
    assert result.rejected == dict.fromkeys(REQUIRED_TABLES, 0)
    assert result.report_path is None and not result.skipped_as_duplicate
    assert result.as_of == date(2025, 3, 31) and result.load_id == 1
    assert quarantine(db) == []
    tables = contract_tables(db)
    # The extract has no drug_tests (an optional table): the warehouse holds the table, empty.
    assert {t: len(rows) for t, rows in tables.items()} == {**ROWS, "drug_tests": 0}
    with duckdb.connect(str(db), read_only=True) as con:
        ep2 = con.execute(
            "SELECT start_date, discharge_date, ost FROM episodes WHERE episode_id = 'EP2'"
        ).fetchall()
        assert ep2 == [(None, None, False)]
        history = con.execute(
            "SELECT load_id, as_of, rows_loaded, rows_rejected, strict, status, files FROM load_history"
        ).fetchall()
    assert history[0][:6] == (1, date(2025, 3, 31), sum(ROWS.values()), 0, False, "loaded")
    files = json.loads(history[0][6])
    assert {f["name"] for f in files} == {f"{t}.csv" for t in REQUIRED_TABLES}
    assert all(f["rows_read"] == f["rows_loaded"] and f["sha256"] for f in files)


# ---------------------------------------------------------------------------------------------
# Every rule, one broken cell (or two) each: (table, [(line, column, value)], expected failures).

CASES = [
    ("code", "providers", [(2, "provider_type", "NHS")], {(2, "provider_type", "code")}),
    ("required", "providers", [(3, "provider_name", "")], {(3, "provider_name", "required")}),
    ("code/setting", "programmes", [(3, "setting", "Recovery_Community")], {(3, "setting", "code")}),
    ("fk/provider", "programmes", [(2, "provider_id", "PRV9")], {(2, "provider_id", "foreign_key")}),
    ("nhs_number", "people", [(4, "person_id", "9434765919")], {(4, "person_id", "nhs_number")}),
    ("person_id/short", "people", [(4, "person_id", "p-3")], {(4, "person_id", "person_id_format")}),
    ("person_id/space", "people", [(4, "person_id", "person 0003")], {(4, "person_id", "person_id_format")}),
    ("birth_year/low", "people", [(2, "birth_year", "1899")], {(2, "birth_year", "range")}),
    ("birth_year/high", "people", [(2, "birth_year", "2014")], {(2, "birth_year", "range")}),
    ("birth_year/type", "people", [(2, "birth_year", "19x0")], {(2, "birth_year", "type")}),
    ("sex/case", "people", [(3, "sex", "Female")], {(3, "sex", "code")}),
    (
        "unique",
        "people",
        [(3, "person_id", "person-0001")],
        {(2, "person_id", "unique"), (3, "person_id", "unique")},
    ),
    (
        "date_format/month",
        "contacts",
        [(5, "contact_date", "2024-13-45")],
        {(5, "contact_date", "date_format")},
    ),
    (
        "date_format/slashes",
        "contacts",
        [(5, "contact_date", "2024/03/05")],
        {(5, "contact_date", "date_format")},
    ),
    (
        "date_format/feb30",
        "contacts",
        [(5, "contact_date", "2024-02-30")],
        {(5, "contact_date", "date_format")},
    ),
    ("boolean/type", "episodes", [(3, "ost", "maybe")], {(3, "ost", "type")}),
    ("required/date", "episodes", [(3, "referral_date", "")], {(3, "referral_date", "required")}),
    ("triage<referral", "episodes", [(2, "triage_date", "2024-01-01")], {(2, "triage_date", "date_order")}),
    ("start<triage", "episodes", [(2, "start_date", "2024-01-04")], {(2, "start_date", "date_order")}),
    ("start<referral", "episodes", [(5, "start_date", "2024-02-28")], {(5, "start_date", "date_order")}),
    (
        "discharge<start",
        "episodes",
        [(2, "discharge_date", "2024-01-09")],
        {(2, "discharge_date", "date_order")},
    ),
    (
        "discharge<referral/never started",
        "episodes",
        [(3, "discharge_date", "2024-01-15"), (3, "discharge_reason", "declined")],
        {(3, "discharge_date", "date_order")},
    ),
    (
        "reason missing",
        "episodes",
        [(2, "discharge_reason", "")],
        {(2, "discharge_reason", "discharge_reason_presence")},
    ),
    (
        "reason without discharge",
        "episodes",
        [(3, "discharge_reason", "died")],
        {(3, "discharge_reason", "discharge_reason_presence")},
    ),
    ("reason code", "episodes", [(2, "discharge_reason", "finished")], {(2, "discharge_reason", "code")}),
    ("after_as_of", "contacts", [(3, "contact_date", "2025-04-01")], {(3, "contact_date", "after_as_of")}),
    (
        "before_min_date",
        "contacts",
        [(3, "contact_date", "1800-07-01")],
        {(3, "contact_date", "before_min_date")},
    ),
    (
        "after_as_of/episode",
        "episodes",
        [(4, "discharge_date", "2025-04-01"), (4, "discharge_reason", "died")],
        {(4, "discharge_date", "after_as_of")},
    ),
    ("fk/person", "episodes", [(3, "person_id", "person-9999")], {(3, "person_id", "foreign_key")}),
    ("fk/programme", "episodes", [(5, "programme_id", "PRG9")], {(5, "programme_id", "foreign_key")}),
    ("overlap", "episodes", [(4, "referral_date", "2024-06-01")], {(4, "referral_date", "overlap")}),
    ("episode_person/contact", "contacts", [(2, "episode_id", "EP2")], {(2, "episode_id", "episode_person")}),
    ("fk/episode", "contacts", [(2, "episode_id", "EP9")], {(2, "episode_id", "foreign_key")}),
    ("duration/low", "contacts", [(3, "duration_minutes", "0")], {(3, "duration_minutes", "range")}),
    ("duration/high", "contacts", [(2, "duration_minutes", "721")], {(2, "duration_minutes", "range")}),
    ("duration/type", "contacts", [(2, "duration_minutes", "1.5")], {(2, "duration_minutes", "type")}),
    ("attended/required", "contacts", [(4, "attended", "")], {(4, "attended", "required")}),
    ("delivered_by/code", "contacts", [(4, "delivered_by", "Peer")], {(4, "delivered_by", "code")}),
    ("support_type/code", "contacts", [(4, "support_type", "counselling")], {(4, "support_type", "code")}),
    ("days/range", "assessments", [(2, "days_opiates", "29")], {(2, "days_opiates", "range")}),
    ("tops/range", "assessments", [(2, "psych_health", "21")], {(2, "psych_health", "range")}),
    ("barc/range", "assessments", [(3, "recovery_capital", "9")], {(3, "recovery_capital", "range")}),
    (
        "housing/type",
        "assessments",
        [(2, "acute_housing_problem", "maybe")],
        {(2, "acute_housing_problem", "type")},
    ),
    ("stage/code", "assessments", [(3, "stage", "Exit")], {(3, "stage", "code")}),
    (
        "episode_person/assessment",
        "assessments",
        [(3, "episode_id", "EP4")],
        {(3, "episode_id", "episode_person")},
    ),
    (
        "two rules, one row",
        "contacts",
        [(2, "delivered_by", "staff"), (2, "duration_minutes", "900")],
        {(2, "delivered_by", "code"), (2, "duration_minutes", "range")},
    ),
]


@pytest.mark.parametrize(("table", "cells", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_broken_cell_is_quarantined_with_its_line_column_and_rule(
    tmp_path: Path,
    db: Path,
    table: str,
    cells: list[tuple[int, str, str]],
    expected: set[tuple[int, str, str]],
) -> None:
    tables = dict(VALID)
    for line, column, value in cells:
        tables[table] = edit_csv(tables[table], line, column, value)
    folder = write_extract(tmp_path / "extract", tables)
    result = load_extracts([folder], db)

    found = quarantine(db)
    assert {(line, column, rule) for t, line, column, rule, _ in found if t == table} == expected
    rejected_lines = {line for line, _, _ in expected}
    assert result.rejected[table] == len(rejected_lines)
    assert result.loaded[table] == ROWS[table] - len(rejected_lines)
    for t in REQUIRED_TABLES:  # every row is loaded or rejected, never both
        assert result.loaded[t] + result.rejected[t] == ROWS[t]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] == result.loaded[table]
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0]
        if len(cells) == 1 and len(expected) == 1:
            line, column, value = cells[0]
            stored = [v for t, ln, c, _, v in found if (t, ln, c) == (table, line, column)]
            assert stored == [value or None]
    assert quarantined == len(found)
    report = report_path_for(db, result.load_id)
    assert result.report_path == report and report.exists()
    assert report.read_text().count("\n") - 1 == len(found)


def test_quarantined_parent_makes_children_fail_foreign_key(tmp_path: Path, db: Path) -> None:
    tables = dict(VALID)
    tables["people"] = edit_csv(tables["people"], 2, "sex", "M")  # person-0001
    result = load_extracts([write_extract(tmp_path / "x", tables)], db)
    found = {(t, line, column, rule) for t, line, column, rule, _ in quarantine(db)}
    assert found == {
        ("people", 2, "sex", "code"),
        ("episodes", 2, "person_id", "foreign_key"),
        ("episodes", 4, "person_id", "foreign_key"),
        # contacts C1 refers to EP1 (gone) and person-0001: both references fail
        ("contacts", 2, "person_id", "foreign_key"),
        ("contacts", 2, "episode_id", "foreign_key"),
        ("contacts", 3, "person_id", "foreign_key"),
        ("assessments", 2, "person_id", "foreign_key"),
        ("assessments", 2, "episode_id", "foreign_key"),
        ("assessments", 3, "person_id", "foreign_key"),
        ("assessments", 3, "episode_id", "foreign_key"),
        ("assessments", 4, "person_id", "foreign_key"),
    }
    assert result.rejected == {
        "providers": 0,
        "programmes": 0,
        "people": 1,
        "episodes": 2,
        "contacts": 2,
        "assessments": 3,
    }


def test_a_boundary_birth_year_and_a_ten_digit_non_nhs_id_are_valid(tmp_path: Path, db: Path) -> None:
    tables = dict(VALID)
    tables["people"] = edit_csv(tables["people"], 2, "birth_year", "2013")
    tables["people"] = edit_csv(tables["people"], 3, "birth_year", "1900")
    tables["people"] = edit_csv(tables["people"], 4, "person_id", "9434765918")  # check digit wrong
    for table in ("episodes", "contacts"):
        tables[table] = tables[table].replace("person-0003", "9434765918")
    result = load_extracts([write_extract(tmp_path / "x", tables)], db)
    assert result.rejected == dict.fromkeys(REQUIRED_TABLES, 0)


def test_as_of_argument_overrides_extract_json(extract: Path, db: Path) -> None:
    result = load_extracts([extract], db, as_of=date(2024, 12, 1))
    assert result.as_of == date(2024, 12, 1)
    rules = {(t, line, rule) for t, line, _, rule, _ in quarantine(db)}
    assert ("assessments", 4, "after_as_of") in rules  # A3 on 2024-12-30


def test_as_of_defaults_to_today_without_extract_json(tmp_path: Path, db: Path) -> None:
    folder = write_extract(tmp_path / "x", as_of=None)
    assert load_extracts([folder], db).as_of == date.today()


def test_csv_details_bom_crlf_quoted_newline_blank_line(tmp_path: Path, db: Path) -> None:
    tables = dict(VALID)
    providers = tables["providers"].replace("Alpha Recovery", '"Alpha\nRecovery, Ltd"')
    providers = providers.replace("PRV2,Beta Peers", "\nPRV2,Beta Peers")  # a blank line 4... then line 5
    tables["providers"] = providers.replace("nhs,E08000025", "NHS,E08000025")
    folder = write_extract(tmp_path / "x", tables)
    data = (folder / "providers.csv").read_bytes().replace(b"\n", b"\r\n")
    (folder / "providers.csv").write_bytes(
        b"\xef\xbb\xbf" + data.replace(b"Alpha\r\nRecovery", b"Alpha\nRecovery")
    )
    load_extracts([folder], db)
    providers_failures = {(line, c, r) for t, line, c, r, _ in quarantine(db) if t == "providers"}
    assert providers_failures == {(2, "provider_type", "code")}
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT provider_name FROM providers ORDER BY 1").fetchall() == [("Beta Peers",)]
    tables["providers"] = (
        providers  # now PRV1 valid, PRV2 broken: its line is 5 (after the newline and blank line)
    )
    tables["providers"] = providers.replace("lived_experience_org", "peer")
    load_extracts([write_extract(tmp_path / "y", tables)], tmp_path / "y.duckdb")
    found = {(line, r) for t, line, _, r, _ in quarantine(tmp_path / "y.duckdb") if t == "providers"}
    assert found == {(5, "code")}


def test_unknown_columns_are_dropped_with_a_warning(tmp_path: Path, db: Path) -> None:
    tables = dict(VALID)
    tables["providers"] = (
        tables["providers"]
        .replace("area_name\n", "area_name,colour\n")
        .replace("Birmingham\n", "Birmingham,blue\n")
    )
    result = load_extracts([write_extract(tmp_path / "x", tables)], db)
    assert any("colour" in w and "providers.csv" in w for w in result.warnings)
    with duckdb.connect(str(db), read_only=True) as con:
        columns = [r[0] for r in con.execute("DESCRIBE providers").fetchall()]
    assert "colour" not in columns and result.loaded["providers"] == 2


# ---------------------------------------------------------------------------------------------
# File-level problems: ExtractError naming the file (and column), warehouse untouched.


def _break_files(folder: Path, how: str) -> None:
    if how == "missing table":
        (folder / "contacts.csv").unlink()
    elif how == "both formats":
        pq.write_table(pa.table({"provider_id": ["x"]}), folder / "providers.parquet")
    elif how == "missing required column":
        text = (folder / "programmes.csv").read_text()
        rows = [",".join(line.split(",")[:3]) for line in text.splitlines()]
        (folder / "programmes.csv").write_text("\n".join(rows) + "\n")
    elif how in ("nhs_number", "date_of_birth", "Patient Name", "post_code", "email_address", "tel"):
        text = (folder / "people.csv").read_text().splitlines()
        text = [text[0] + f",{how}"] + [line + ",x" for line in text[1:]]
        (folder / "people.csv").write_text("\n".join(text) + "\n")
    elif how == "not utf-8":
        text = (folder / "providers.csv").read_text().replace("Beta Peers", "Bêta Peers")
        (folder / "providers.csv").write_bytes(text.encode("latin-1"))
    elif how == "empty file":
        (folder / "episodes.csv").write_bytes(b"")
    elif how == "ragged row":
        with (folder / "contacts.csv").open("a") as f:
            f.write("C5,person-0001,,PRG1,2024-01-01,keyworking,peer,true,30,extra\n")
    elif how == "not parquet":
        (folder / "episodes.csv").unlink()
        (folder / "episodes.parquet").write_bytes(b"this is not parquet")
    elif how == "contract version":
        (folder / "extract.json").write_text(json.dumps({"as_of": AS_OF, "contract_version": 3}))


FILE_PROBLEMS = [
    ("missing table", "contacts", None, None),
    ("both formats", "providers", None, None),
    ("missing required column", "programmes.csv", None, "setting"),
    ("nhs_number", "people.csv", None, "nhs_number"),
    ("date_of_birth", "people.csv", None, "date_of_birth"),
    ("Patient Name", "people.csv", None, "Patient Name"),
    ("post_code", "people.csv", None, "post_code"),
    ("email_address", "people.csv", None, "email_address"),
    ("tel", "people.csv", None, "tel"),
    ("not utf-8", "providers.csv", 3, None),
    ("empty file", "episodes.csv", None, None),
    ("ragged row", "contacts.csv", 6, None),
    ("not parquet", "episodes.parquet", None, None),
    ("contract version", "extract.json", None, None),
]


@pytest.mark.parametrize(("how", "file", "line", "column"), FILE_PROBLEMS, ids=[p[0] for p in FILE_PROBLEMS])
def test_a_file_problem_stops_the_load_and_leaves_the_warehouse_as_it_was(
    tmp_path: Path, db: Path, extract: Path, how: str, file: str, line: int | None, column: str | None
) -> None:
    load_extracts([extract], db)
    before = sha256(db)
    broken = write_extract(tmp_path / "broken")
    _break_files(broken, how)
    with pytest.raises(ExtractError) as caught:
        load_extracts([broken], db)
    error = caught.value
    assert file in str(error)
    if column is not None:
        assert error.column == column and f"column {column}" in str(error)
    if line is not None:
        assert error.line == line and f"line {line}" in str(error)
    assert sha256(db) == before
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name and not p.name.endswith("lock")] == []


def test_a_file_problem_in_a_new_warehouse_creates_nothing(tmp_path: Path, db: Path) -> None:
    broken = write_extract(tmp_path / "broken")
    _break_files(broken, "nhs_number")
    with pytest.raises(ExtractError, match=r"people\.csv, column nhs_number: looks like a direct identifier"):
        load_extracts([broken], db)
    assert not db.exists()


def test_extract_error_message_for_parquet_says_row(tmp_path: Path, db: Path, extract: Path) -> None:
    from pipelines.sources import ExtractError as E

    assert str(E("bad", file="episodes.parquet", line=7, column="ost", row_word="row")) == (
        "episodes.parquet row 6, column ost: bad"
    )
    assert str(E("bad", file="providers.csv", line=7, column="provider_type")) == (
        "providers.csv line 7, column provider_type: bad"
    )


# ---------------------------------------------------------------------------------------------
# Strict mode, idempotency, upserts.


def test_strict_mode_refuses_the_whole_load_and_keeps_the_old_warehouse(
    tmp_path: Path, db: Path, extract: Path
) -> None:
    load_extracts([extract], db)
    before = sha256(db)
    tables = dict(VALID)
    tables["contacts"] = edit_csv(tables["contacts"], 3, "delivered_by", "volunteer")
    tables["providers"] = edit_csv(tables["providers"], 2, "provider_name", "Renamed")
    with pytest.raises(LoadRefused) as caught:
        load_extracts([write_extract(tmp_path / "bad", tables)], db, strict=True)
    message = str(caught.value)
    assert "contacts.csv line 3, column delivered_by" in message and "[code]" in message
    assert len(caught.value.failures) == 1
    assert sha256(db) == before
    assert not list(tmp_path.glob("*rejected.csv"))


def test_a_failed_write_stops_the_load_and_keeps_the_old_warehouse(
    tmp_path: Path, db: Path, extract: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tables are written on a thread of their own while the next ones are checked: a write's error
    # still reaches the caller, and leaves neither a changed warehouse nor a temp file behind.
    load_extracts([extract], db)
    before = sha256(db)
    upsert = load._upsert

    def upsert_failing_on_people(con, table, rows, salt, replace) -> None:
        if table == "people":
            raise duckdb.IOException("disk full")
        upsert(con, table, rows, salt, replace)

    monkeypatch.setattr(load, "_upsert", upsert_failing_on_people)
    with pytest.raises(duckdb.IOException, match="disk full"):
        load_extracts([extract], db, force=True)
    assert sha256(db) == before
    assert [p for p in tmp_path.iterdir() if ".tmp-" in p.name and not p.name.endswith(".tmp-lock")] == []


def test_a_load_leaves_pyarrow_default_memory_pool_as_it_was(extract: Path, db: Path) -> None:
    before = pa.default_memory_pool().backend_name
    load_extracts([extract], db)
    assert pa.default_memory_pool().backend_name == before


def test_loading_the_same_extract_twice_changes_nothing(extract: Path, db: Path) -> None:
    first = load_extracts([extract], db)
    tables, before = contract_tables(db), sha256(db)
    second = load_extracts([extract], db)
    assert second.skipped_as_duplicate and second.load_id == first.load_id
    assert "already loaded" in second.summary()
    assert sha256(db) == before
    forced = load_extracts([extract], db, force=True)
    assert not forced.skipped_as_duplicate and forced.load_id == 2
    assert contract_tables(db) == tables
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM load_history").fetchall()[0][0] == 2


def test_several_folders_are_one_load_and_later_rows_replace_earlier(
    tmp_path: Path, db: Path, extract: Path
) -> None:
    update = {t: VALID[t].splitlines(keepends=True)[0] for t in REQUIRED_TABLES}
    update["providers"] += "PRV2,Beta Peers Renamed,third_sector,E08000025,Birmingham\n"
    update["people"] += "person-0004,unknown,2000,mixed,\n"
    update["episodes"] += (
        "EP2,person-0002,PRG1,2024-02-01,gp,2024-02-03,2024-02-05,2024-03-01,dropped_out,alcohol,alcohol,never,false\n"
    )
    update["contacts"] += "C9,person-0004,,PRG2,2024-05-01,mutual_aid,peer,true,90\n"
    second = write_extract(tmp_path / "update", update)
    result = load_extracts([extract, second], db)
    assert result.load_id == 1 and result.rejected == dict.fromkeys(REQUIRED_TABLES, 0)
    tables = contract_tables(db)
    assert [r[1] for r in tables["providers"]] == ["Alpha Recovery", "Beta Peers Renamed"]
    assert len(tables["people"]) == 4 and len(tables["contacts"]) == 5
    ep2 = [r for r in tables["episodes"] if r[0] == "EP2"]
    assert ep2[0][7] == date(2024, 3, 1) and ep2[0][8] == "dropped_out"

    # The same update loaded on its own later: an upsert against the warehouse, same result.
    db2 = tmp_path / "sequential.duckdb"
    load_extracts([extract], db2)
    load_extracts([second], db2)
    assert contract_tables(db2) == tables


def test_a_child_may_refer_to_a_parent_already_in_the_warehouse(
    tmp_path: Path, db: Path, extract: Path
) -> None:
    load_extracts([extract], db)
    later = {t: VALID[t].splitlines(keepends=True)[0] for t in REQUIRED_TABLES}
    later["contacts"] += "C10,person-0003,EP4,PRG2,2024-03-06,peer_support,peer,true,20\n"
    later["contacts"] += "C11,person-0002,EP4,PRG2,2024-03-06,peer_support,peer,true,20\n"
    later["episodes"] += (
        "EP5,person-0001,PRG1,2024-06-01,self,,,,,opiate,heroin,never,false\n"  # overlaps EP1
    )
    result = load_extracts([write_extract(tmp_path / "later", later)], db)
    assert result.loaded["contacts"] == 1
    found = {(t, line, column, rule) for t, line, column, rule, _ in quarantine(db)}
    assert found == {
        ("contacts", 3, "episode_id", "episode_person"),
        ("episodes", 2, "referral_date", "overlap"),
    }


# ---------------------------------------------------------------------------------------------
# CSV and Parquet.


def test_csv_and_parquet_of_one_extract_load_identical_tables(tmp_path: Path, extract: Path) -> None:
    parquet = to_parquet(extract, tmp_path / "parquet")
    load_extracts([extract], tmp_path / "csv.duckdb")
    load_extracts([parquet], tmp_path / "parquet.duckdb")
    assert contract_tables(tmp_path / "csv.duckdb") == contract_tables(tmp_path / "parquet.duckdb")


def test_parquet_failures_report_the_same_lines_as_csv(tmp_path: Path) -> None:
    tables = dict(VALID)
    tables["contacts"] = edit_csv(tables["contacts"], 4, "delivered_by", "volunteer")
    tables["episodes"] = edit_csv(tables["episodes"], 3, "start_date", "2024-01-01")
    csv_folder = write_extract(tmp_path / "csv", tables)
    parquet = to_parquet(csv_folder, tmp_path / "parquet")
    load_extracts([csv_folder], tmp_path / "csv.duckdb")
    with pytest.raises(LoadRefused, match=r"episodes\.parquet row 2, column start_date"):
        load_extracts([parquet], tmp_path / "strict.duckdb", strict=True)
    load_extracts([parquet], tmp_path / "parquet.duckdb")
    assert quarantine(tmp_path / "csv.duckdb") == quarantine(tmp_path / "parquet.duckdb")


def test_parquet_with_text_columns_is_checked_like_csv(tmp_path: Path, db: Path, extract: Path) -> None:
    folder = to_parquet(extract, tmp_path / "parquet")
    people = pq.read_table(folder / "people.parquet")
    years = pa.array(["1980", "19x0", None])
    pq.write_table(people.set_column(2, "birth_year", years), folder / "people.parquet")
    load_extracts([folder], db)
    assert [(t, line, c, r) for t, line, c, r, _ in quarantine(db) if t == "people"] == [
        ("people", 3, "birth_year", "type")
    ]


# ---------------------------------------------------------------------------------------------
# Atomicity: the live file is swapped, never written; kill -9 leaves it as it was.


@pytest.fixture(scope="module")
def big_extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.generate import generate_extract

    folder = tmp_path_factory.mktemp("big") / "extract"
    generate_extract(folder, people=30_000, seed=7, fmt="parquet")
    return folder


LOAD_IN_CHILD = (
    "import sys; from pipelines.load import load_extracts; load_extracts([sys.argv[1]], sys.argv[2])"
)


@pytest.mark.slow
def test_a_killed_load_leaves_the_warehouse_as_it_was(
    tmp_path: Path, db: Path, extract: Path, big_extract: Path
) -> None:
    load_extracts([extract], db)
    before = sha256(db)
    child = subprocess.Popen([sys.executable, "-c", LOAD_IN_CHILD, str(big_extract), str(db)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while not list(tmp_path.glob(f"{db.name}.tmp-{child.pid}-*")):
            assert child.poll() is None, "the load finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(0.5)  # well into the load
        assert child.poll() is None, "the load finished before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert sha256(db) == before
    assert list(tmp_path.glob(f"{db.name}.tmp-{child.pid}-*"))  # the dead load's temp file is left behind
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM load_history").fetchall()[0][0] == 1

    result = load_extracts([big_extract], db)
    assert result.load_id == 2 and result.loaded["people"] == 30_000
    assert [p for p in tmp_path.iterdir() if ".tmp-" in p.name and not p.name.endswith(".tmp-lock")] == []


@pytest.mark.slow
def test_a_reader_keeps_answering_during_and_after_a_load(
    tmp_path: Path, db: Path, extract: Path, big_extract: Path
) -> None:
    load_extracts([extract], db)
    warehouse = open_warehouse(db)
    try:
        assert warehouse.sql("SELECT count(*) AS n FROM people")["n"][0] == 3
        child = subprocess.Popen([sys.executable, "-c", LOAD_IN_CHILD, str(big_extract), str(db)], cwd=ROOT)
        answers = []
        while child.poll() is None:
            answers.append(int(warehouse.sql("SELECT count(*) AS n FROM people")["n"][0]))
            time.sleep(0.01)
        assert child.returncode == 0
        assert answers and set(answers) <= {3, 30_003}
        assert warehouse.sql("SELECT count(*) AS n FROM people")["n"][0] == 30_003
    finally:
        warehouse.close()


def test_a_reader_in_another_thread_is_not_blocked(tmp_path: Path, db: Path, extract: Path) -> None:
    load_extracts([extract], db)
    warehouse = open_warehouse(db)
    stop, errors, counts = threading.Event(), [], []

    def read() -> None:
        try:
            while not stop.is_set():
                counts.append(int(warehouse.sql("SELECT count(*) AS n FROM contacts")["n"][0]))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        load_extracts([extract], db, force=True)
    finally:
        stop.set()
        reader.join()
        warehouse.close()
    assert not errors and counts and set(counts) == {4}


def test_progress_display_when_not_quiet_and_silence_when_quiet(
    tmp_path: Path, extract: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=120)
    result = load_extracts([extract], tmp_path / "shown.duckdb", quiet=False, console=console)
    assert result.loaded == ROWS
    shown = console.file.getvalue()
    # 7 tables read (drug_tests: absent, a step all the same), 7 checked, 7 written, copy, build, save.
    assert "saving" in shown and "24/24" in shown
    load_extracts([extract], tmp_path / "quiet.duckdb")
    assert capsys.readouterr() == ("", "")
    assert "providers" in result.summary() and f"{ROWS['contacts']:>10}" in result.summary()


def test_a_dead_loads_spill_folder_is_removed_by_the_next_load(extract: Path, db: Path) -> None:
    # DuckDB spills what its memory limit cannot hold to <temp>.spill/; a load killed mid-way leaves it.
    spill = db.with_name(f"{db.name}.tmp-999999-deadbeef.spill")
    spill.mkdir()
    (spill / "duckdb_temp_storage-0.tmp").write_bytes(b"\0" * 4096)
    load_extracts([extract], db)
    assert not spill.exists()
    assert [
        p.name for p in db.parent.iterdir() if ".tmp-" in p.name and not p.name.endswith(".tmp-lock")
    ] == []


def test_a_load_holds_duckdb_to_its_memory_limits(extract: Path, db: Path, monkeypatch) -> None:
    seen = []
    limit = load.limit_memory

    def spy(con, spill=None, *, building=False):
        limit(con, spill, building=building)
        seen.append((building, con.execute("SELECT current_setting('memory_limit')").fetchone()[0]))

    monkeypatch.setattr(load, "limit_memory", spy)
    load_extracts([extract], db)
    # DuckDB reports its limits in MiB: 640 MB = 610.3 MiB, 1 GB = 953.6 MiB.
    assert seen == [(False, "610.3 MiB"), (True, "953.6 MiB")]
    seen.clear()
    monkeypatch.setenv("ROSC_LOAD_MEMORY_LIMIT", "600MB")
    load_extracts([extract], db, force=True)
    assert seen == [(False, "572.2 MiB"), (True, "572.2 MiB")]
