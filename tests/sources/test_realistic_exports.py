"""The realistic-exports corpus: one contract extract written as real systems write it loads to the
same warehouse as the contract-exact files (every contract and derived table equal, EXCEPT ALL both
ways), with the options each needs, and is refused loudly, with the fix named, without them."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipelines.cli import main
from pipelines.contract import REQUIRED_TABLES, TABLE_ORDER
from pipelines.derived import DERIVED_TABLES
from pipelines.generate import generate_extract
from pipelines.load import LoadRefused, load_extracts
from pipelines.sources import ExtractError, ReadOptions, load_profile
from tests.exports.writers import (
    EXAMPLE_PEOPLE,
    EXAMPLE_SEED,
    NDTMS_EXAMPLE,
    NDTMS_PROFILE,
    with_accents,
    write_ndtms_style,
    write_pandas_defaults,
    write_windows_csv,
    write_workbook,
)

PEOPLE = 300
SEED = 4242
COMPARED = (*TABLE_ORDER, *DERIVED_TABLES)


@pytest.fixture(scope="module", autouse=True)
def one_record_key_salt():
    """One record-key salt for every warehouse here (ROSC_RECORD_KEY_SALT, as a deployment that rebuilds
    its warehouses sets), so warehouses built from the same rows, record keys included, compare equal."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROSC_RECORD_KEY_SALT", "the-export-tests-use-one-salt-for-every-warehouse")
        yield


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The contract-exact extract (with a £ and an é) and its warehouse."""
    root = tmp_path_factory.mktemp("exports")
    generate_extract(root / "contract", people=PEOPLE, seed=SEED)
    contract = with_accents(root / "contract")
    db = root / "exact.duckdb"
    result = load_extracts([contract], db, max_rejected=0)
    assert result.rows_rejected == 0
    return {"root": root, "contract": contract, "db": db}


def differences(a: Path, b: Path) -> dict[str, tuple[int, int]]:
    """Per table, the rows only in `a` and only in `b` (EXCEPT ALL both ways); empty when equal."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
        found = {}
        for table in COMPARED:
            only_a = con.execute(
                f"SELECT count(*) FROM (FROM a.{table} EXCEPT ALL FROM b.{table})"
            ).fetchone()[0]
            only_b = con.execute(
                f"SELECT count(*) FROM (FROM b.{table} EXCEPT ALL FROM a.{table})"
            ).fetchone()[0]
            if only_a or only_b:
                found[table] = (only_a, only_b)
        return found
    finally:
        con.close()


def test_the_base_extract_has_rows_in_every_compared_table(base: dict[str, Path]) -> None:
    # The generator simulates no drug tests (an optional table): their readers and layouts are checked
    # on an extract that has them, in tests/sources/test_drug_test_sources.py.
    without_tests = {"drug_tests", "int_drug_test_weeks"}
    with duckdb.connect(str(base["db"]), read_only=True) as con:
        for table in (t for t in COMPARED if t not in without_tests):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0, table
        names = [r[0] for r in con.execute("SELECT provider_name FROM providers").fetchall()]
    assert "Café Recovery Hub" in names and any("£" in n for n in names)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_pandas_defaults_load_to_the_same_warehouse(base: dict[str, Path], fmt: str) -> None:
    folder = write_pandas_defaults(base["contract"], base["root"] / f"pandas-{fmt}", fmt)
    if fmt == "csv":
        text = (folder / "people.csv").read_text()
        assert ".0" in text and text.startswith(",person_id")  # 1965.0, and the index column
        assert "True" in (folder / "contacts.csv").read_text()
    db = base["root"] / f"pandas-{fmt}.duckdb"
    result = load_extracts([folder], db, max_rejected=0)
    assert result.rows_rejected == 0
    assert differences(base["db"], db) == {}
    if fmt == "csv":  # pandas' index column is dropped, with a warning said once
        assert sum("unknown column ''" in w for w in result.warnings) == len(REQUIRED_TABLES)


def test_excel_csv_on_windows_loads_with_its_encoding_and_date_format(base: dict[str, Path]) -> None:
    folder = write_windows_csv(base["contract"], base["root"] / "windows")
    raw = (folder / "providers.csv").read_bytes()
    assert b"\r\n" in raw and b"\xe9" in raw and b"\xa3" in raw  # é and £ as single cp1252 bytes
    db = base["root"] / "windows.duckdb"
    options = ReadOptions(date_format="%d/%m/%Y", encoding="cp1252")
    result = load_extracts([folder], db, max_rejected=0, options=options)
    assert result.rows_rejected == 0
    assert differences(base["db"], db) == {}


def test_excel_csv_without_the_encoding_is_refused_naming_it(base: dict[str, Path], tmp_path: Path) -> None:
    folder = write_windows_csv(base["contract"], tmp_path / "windows")
    with pytest.raises(ExtractError) as refused:
        load_extracts([folder], tmp_path / "w.duckdb")
    message = str(refused.value)
    assert "providers.csv line" in message and "not UTF-8 text" in message
    assert "--encoding cp1252" in message
    assert not (tmp_path / "w.duckdb").exists()


def test_excel_csv_without_the_date_format_is_refused_naming_the_pattern(
    base: dict[str, Path], tmp_path: Path
) -> None:
    folder = write_windows_csv(base["contract"], tmp_path / "windows")
    db = tmp_path / "w.duckdb"
    shutil.copyfile(base["db"], db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with pytest.raises(LoadRefused) as refused:
        load_extracts([folder], db, options=ReadOptions(encoding="cp1252"))
    message = str(refused.value)
    assert "more than --max-rejected 0.05" in message
    assert "date_format" in message and "--date-format %d/%m/%Y" in message
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # the warehouse is byte-identical
    assert refused.value.report is not None and refused.value.report.counts["episodes"].share_rejected == 1.0


@pytest.mark.parametrize("one_workbook", [True, False], ids=["one-workbook", "workbook-per-table"])
def test_an_excel_workbook_loads_to_the_same_warehouse(base: dict[str, Path], one_workbook: bool) -> None:
    name = "xlsx-one" if one_workbook else "xlsx-each"
    folder = write_workbook(base["contract"], base["root"] / name, one_workbook=one_workbook)
    db = base["root"] / f"{name}.duckdb"
    result = load_extracts([folder], db, max_rejected=0)
    assert result.rows_rejected == 0
    assert differences(base["db"], db) == {}


def test_the_ndtms_style_export_loads_with_its_profile(base: dict[str, Path]) -> None:
    folder = write_ndtms_style(base["contract"], base["root"] / "ndtms")
    assert (folder / "EPISODE.csv").exists() and not (folder / "episodes.csv").exists()
    db = base["root"] / "ndtms.duckdb"
    as_of = json.loads((base["contract"] / "extract.json").read_text())["as_of"]
    result = load_extracts(
        [folder], db, max_rejected=0, profile=load_profile(NDTMS_PROFILE), as_of=_date(as_of)
    )
    assert result.rows_rejected == 0 and result.warnings == []
    assert differences(base["db"], db) == {}


def test_the_committed_ndtms_example_is_the_generated_extract(tmp_path: Path) -> None:
    """data/examples/ndtms/ is `python -m tests.exports.writers` output: it loads with its profile to the
    warehouse of the contract extract it was written from."""
    contract = with_accents(_generated(tmp_path / "contract", EXAMPLE_PEOPLE, EXAMPLE_SEED))
    load_extracts([contract], tmp_path / "exact.duckdb", max_rejected=0)
    as_of = _date(json.loads((contract / "extract.json").read_text())["as_of"])
    result = load_extracts(
        [NDTMS_EXAMPLE],
        tmp_path / "ndtms.duckdb",
        max_rejected=0,
        profile=load_profile(NDTMS_PROFILE),
        as_of=as_of,
    )
    assert result.rows_rejected == 0
    assert differences(tmp_path / "exact.duckdb", tmp_path / "ndtms.duckdb") == {}


def _generated(folder: Path, people: int, seed: int) -> Path:
    generate_extract(folder, people=people, seed=seed)
    return folder


def _date(text: str) -> date:
    return date.fromisoformat(text)


# ---------------------------------------------------------------------------------------------
# The mapped export's problems quote its own names and values.


def test_the_quarantine_report_quotes_the_exports_own_columns_and_values(
    base: dict[str, Path], tmp_path: Path
) -> None:
    folder = write_ndtms_style(base["contract"], tmp_path / "ndtms")
    episode = folder / "EPISODE.csv"
    lines = episode.read_bytes().decode("cp1252").split("\r\n")
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("DISRSN")] = "77"  # a code the profile does not map
    cells[header.index("DISD")] = "01/04/2024"  # so the reason is required
    lines[1] = ",".join(cells)
    episode.write_bytes("\r\n".join(lines).encode("cp1252"))
    db = tmp_path / "w.duckdb"
    result = load_extracts(
        [folder], db, max_rejected=1, profile=load_profile(NDTMS_PROFILE), as_of=_date("2026-03-31")
    )
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT file, line, column_name, contract_column, rule, value, message FROM quarantine "
            "WHERE rule = 'code'"
        ).fetchall()
    assert len(rows) == 1
    file, line, column, contract_column, rule, value, message = rows[0]
    assert (Path(file).name, line, column, contract_column, value) == (
        "EPISODE.csv",
        2,
        "DISRSN",
        "discharge_reason",
        "77",
    )
    assert message.startswith("DISRSN (discharge_reason) '77' is not one of")
    report = result.report_path.read_text(encoding="utf-8")
    assert "EPISODE.csv,,2,DISRSN,code,77," in report


# ---------------------------------------------------------------------------------------------
# rosc check and rosc map init, as a user runs them.


def test_rosc_check_is_clean_on_a_clean_extract(base: dict[str, Path]) -> None:
    result = CliRunner().invoke(main, ["check", str(base["contract"])])
    assert result.exit_code == 0, result.output
    assert "nothing written" in result.output
    assert (
        result.output.rstrip().splitlines()[-1].startswith("all ")
        and "none would be rejected" in result.output
    )


def test_rosc_check_counts_rejections_and_names_the_fix(base: dict[str, Path], tmp_path: Path) -> None:
    folder = write_windows_csv(base["contract"], tmp_path / "windows")
    result = CliRunner().invoke(main, ["check", str(folder), "--encoding", "cp1252"])
    assert result.exit_code == 1, result.output
    out = result.output
    assert (
        "episodes.referral_date [date_format]" in out and "fix: " in out and "--date-format %d/%m/%Y" in out
    )
    assert "refer to episodes rows rejected above" in out  # contacts lost through foreign keys
    people_row = next(line for line in out.splitlines() if line.strip().startswith("contacts"))
    rows, would_load, rejected, via_fk = (int(n.replace(",", "")) for n in people_row.split()[1:])
    assert would_load + rejected == rows and via_fk > 0
    assert out.rstrip().splitlines()[-1].endswith(")") and "rows would be rejected" in out.splitlines()[-1]
    assert not list(tmp_path.glob("*.duckdb"))


def test_rosc_check_exits_2_on_a_file_level_problem(base: dict[str, Path], tmp_path: Path) -> None:
    folder = write_windows_csv(base["contract"], tmp_path / "windows")
    result = CliRunner().invoke(main, ["check", str(folder)])
    assert result.exit_code == 2
    assert "--encoding cp1252" in result.output


def test_rosc_load_refuses_above_the_threshold_and_its_last_line_says_so(base, tmp_path: Path) -> None:
    folder = write_windows_csv(base["contract"], tmp_path / "windows")
    db = tmp_path / "w.duckdb"
    shutil.copyfile(base["db"], db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    result = CliRunner().invoke(
        main, ["load", str(folder), "--db", str(db), "--encoding", "cp1252", "--quiet"]
    )
    assert result.exit_code == 1
    assert result.output.rstrip().splitlines()[-1] == "nothing was loaded; the warehouse is unchanged."
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_rosc_load_within_the_threshold_states_the_rejections_last(base, tmp_path: Path) -> None:
    folder = tmp_path / "extract"
    shutil.copytree(base["contract"], folder)
    contacts = folder / "contacts.csv"
    text = contacts.read_text().splitlines()
    text[1] = text[1].replace(",true,", ",maybe,").replace(",false,", ",maybe,")
    contacts.write_text("\n".join(text) + "\n")
    db = tmp_path / "w.duckdb"
    result = CliRunner().invoke(main, ["load", str(folder), "--db", str(db), "--quiet"])
    assert result.exit_code == 0, result.output
    last = result.output.rstrip().splitlines()[-1]
    assert "REJECTED 1 of" in last and "quarantine" in last
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status FROM load_history").fetchone()[0] == "loaded_with_rejections"


def test_each_warning_is_printed_once(base, tmp_path: Path) -> None:
    folder = write_pandas_defaults(base["contract"], tmp_path / "pandas", "csv")
    result = CliRunner().invoke(main, ["load", str(folder), "--db", str(tmp_path / "w.duckdb")])
    assert result.exit_code == 0, result.stderr
    warning = f"{folder / 'people.csv'}: unknown column ''"
    assert (result.stdout + result.stderr).count(warning) == 1


def test_rosc_map_init_on_the_ndtms_folder(tmp_path: Path) -> None:
    out = tmp_path / "profile.toml"
    result = CliRunner().invoke(main, ["map", "init", str(NDTMS_EXAMPLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    # Files placed by their names.
    for table, file in [
        ("providers", "AGENCY.csv"),
        ("programmes", "SERVICE.csv"),
        ("people", "CLIENT.csv"),
        ("episodes", "EPISODE.csv"),
        ("contacts", "CONTACT.csv"),
        ("assessments", "TOP.csv"),
    ]:
        assert f'[tables.{table}]\nfile = "{file}"' in text
    # Columns matched ignoring case; the rest listed.
    assert 'sex = "SEX"' in text
    assert '# person_id = ""  # required: no column matched' in text
    assert "export columns not matched: CLIENTID, YOB, ETHNIC, LA" in text
    # Code values that are not contract codes, with their counts.
    sex_counts = _counts(NDTMS_EXAMPLE / "CLIENT.csv", "SEX")
    for value, count in sex_counts.items():
        assert f'# "{value}" = ""  # {count:,} rows; map to one of: male, female, other, unknown' in text
    assert "sex: values that are not contract codes" in result.output
    assert 'encoding = "cp1252"' in text or "encoding" in text  # the non-UTF-8 files are detected
    # It is a valid profile, and what it could not match stops a load with a clear message.
    profile = load_profile(out)
    assert profile.tables["people"].columns == {"sex": "SEX"}
    with pytest.raises(ExtractError, match="required column missing"):
        load_extracts([NDTMS_EXAMPLE], tmp_path / "w.duckdb", profile=profile)


def _counts(path: Path, column: str) -> dict[str, int]:
    import csv
    import io
    from collections import Counter

    rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("cp1252"))))
    return dict(Counter(r[column] for r in rows))
