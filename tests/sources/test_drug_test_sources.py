"""The optional drug_tests table (contract version 2) through the source adapters, the loader and
`rosc check`: found as drug_tests.csv, .parquet, .xlsx, a workbook sheet or through a mapping profile,
and simply absent when an extract has none.

The extract is the CTN-0094 importer's output on its hand-made fixture (`tests/sources/ctn0094_fixture`:
95 drug tests of 6 people, contract version 2). Each other way of writing it must load to the same
warehouse as the contract-exact files: every contract and derived table equal, EXCEPT ALL both ways
(`tests.sources.test_realistic_exports.differences`).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipelines.checks import check_extracts
from pipelines.cli import main
from pipelines.contract import TABLES
from pipelines.load import load_extracts
from pipelines.sources import ReadOptions, load_profile
from pipelines.sources.ctn0094 import import_ctn0094
from pipelines.sources.mapping_init import init_profile
from tests.exports.writers import write_pandas_defaults, write_windows_csv, write_workbook
from tests.sources.test_realistic_exports import differences

FIXTURE = Path(__file__).resolve().parent / "ctn0094_fixture"
TESTS = 95


@pytest.fixture(scope="module", autouse=True)
def one_record_key_salt():
    """One record-key salt for every warehouse here, so warehouses of the same rows compare equal."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROSC_RECORD_KEY_SALT", "the-drug-test-source-tests-use-one-salt-everywhere")
        yield


@pytest.fixture(scope="module")
def exact(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("drug-tests")
    extract = root / "contract"
    import_ctn0094(FIXTURE, extract)
    db = root / "exact.duckdb"
    result = load_extracts([extract], db, max_rejected=0)
    assert result.loaded["drug_tests"] == TESTS and result.rows_rejected == 0
    return {"root": root, "contract": extract, "db": db}


def _tests_in(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT count(*) FROM drug_tests").fetchone()[0]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_pandas_defaults_with_drug_tests_load_to_the_same_warehouse(exact, fmt: str) -> None:
    folder = write_pandas_defaults(exact["contract"], exact["root"] / f"pandas-{fmt}", fmt)
    assert (folder / f"drug_tests.{fmt}").exists()
    db = exact["root"] / f"pandas-{fmt}.duckdb"
    assert load_extracts([folder], db, max_rejected=0).rows_rejected == 0
    assert _tests_in(db) == TESTS
    assert differences(exact["db"], db) == {}


def test_excel_csv_on_windows_with_drug_tests(exact) -> None:
    folder = write_windows_csv(exact["contract"], exact["root"] / "windows")
    db = exact["root"] / "windows.duckdb"
    options = ReadOptions(date_format="%d/%m/%Y", encoding="cp1252")
    assert load_extracts([folder], db, max_rejected=0, options=options).rows_rejected == 0
    assert differences(exact["db"], db) == {}


@pytest.mark.parametrize("one_workbook", [True, False], ids=["a sheet in one workbook", "a workbook each"])
def test_drug_tests_in_a_workbook(exact, one_workbook: bool) -> None:
    out = exact["root"] / f"xlsx-{one_workbook}"
    folder = write_workbook(exact["contract"], out, one_workbook=one_workbook)
    assert (folder / ("extract.xlsx" if one_workbook else "drug_tests.xlsx")).exists()
    db = exact["root"] / f"xlsx-{one_workbook}.duckdb"
    assert load_extracts([folder], db, max_rejected=0).rows_rejected == 0
    assert _tests_in(db) == TESTS
    assert differences(exact["db"], db) == {}


def test_a_mapping_profile_names_the_drug_tests_file_columns_and_codes(exact, tmp_path: Path) -> None:
    """A toxicology export with its own file name, column names and codes."""
    folder = tmp_path / "export"
    shutil.copytree(exact["contract"], folder)
    source = folder / "drug_tests.csv"
    with source.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    source.unlink()
    substance_codes = {"opiates": "OPI", "methadone": "MTD", "buprenorphine": "BUP", "cannabis": "THC"}
    result_codes = {"positive": "POS", "negative": "NEG", "invalid": "INV"}
    with (folder / "TOX_RESULTS.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["SPECIMEN_TEST", "CLIENT", "EPISODE", "COLLECTED", "MATRIX", "DRUG", "OUTCOME"])
        for r in rows:
            writer.writerow(
                [
                    r["test_id"],
                    r["person_id"],
                    r["episode_id"],
                    r["test_date"],
                    "U",
                    substance_codes.get(r["substance"], r["substance"]),
                    result_codes[r["result"]],
                ]
            )
    values = "\n".join(f'"{export}" = "{code}"' for code, export in substance_codes.items())
    results = "\n".join(f'"{export}" = "{code}"' for code, export in result_codes.items())
    (tmp_path / "tox.toml").write_text(
        f"""
[profile]
name = "a toxicology export"

[tables.drug_tests]
file = "TOX_RESULTS.csv"

[tables.drug_tests.columns]
test_id = "SPECIMEN_TEST"
person_id = "CLIENT"
episode_id = "EPISODE"
test_date = "COLLECTED"
sample = "MATRIX"
substance = "DRUG"
result = "OUTCOME"

[tables.drug_tests.values.sample]
"U" = "urine"

[tables.drug_tests.values.substance]
{values}

[tables.drug_tests.values.result]
{results}
""",
        encoding="utf-8",
    )
    db = tmp_path / "mapped.duckdb"
    loaded = load_extracts([folder], db, max_rejected=0, profile=load_profile(tmp_path / "tox.toml"))
    assert loaded.rows_rejected == 0 and loaded.loaded["drug_tests"] == TESTS
    assert differences(exact["db"], db) == {}


def test_an_extract_without_drug_tests_loads_and_says_nothing_of_them(exact, tmp_path: Path) -> None:
    """drug_tests is optional: a version-2 extract without it (and a version-1 one) loads whole."""
    for version in (1, 2):
        folder = tmp_path / f"v{version}"
        shutil.copytree(exact["contract"], folder)
        (folder / "drug_tests.csv").unlink()
        manifest = json.loads((folder / "extract.json").read_text())
        (folder / "extract.json").write_text(json.dumps({**manifest, "contract_version": version}))
        db = tmp_path / f"v{version}.duckdb"
        result = load_extracts([folder], db, max_rejected=0)
        assert result.rows_rejected == 0 and "drug_tests" not in result.loaded
        assert "drug_tests" not in result.summary()
        assert _tests_in(db) == 0
        report = check_extracts([folder])
        assert "drug_tests" not in report.counts and "drug_tests" not in report.summary()


def test_rosc_check_counts_drug_tests_and_names_a_bad_one(exact, tmp_path: Path) -> None:
    folder = tmp_path / "extract"
    shutil.copytree(exact["contract"], folder)
    path = folder / "drug_tests.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(",urine,", ",saliva,")  # line 2: not a sample code
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(folder)])
    assert result.exit_code == 1, result.output
    row = next(line for line in result.output.splitlines() if line.strip().startswith("drug_tests"))
    assert row.split()[1:] == [str(TESTS), str(TESTS - 1), "1", "0"]
    assert "drug_tests.sample [code]: 1 row(s); e.g. drug_tests.csv line 2, value 'saliva'" in result.output
    assert "oral_fluid" in result.output  # the codes it may be mapped to


def test_a_quarantined_episode_makes_its_drug_tests_fail_foreign_key(exact, tmp_path: Path) -> None:
    folder = tmp_path / "extract"
    shutil.copytree(exact["contract"], folder)
    path = folder / "episodes.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    broken = next(i for i, line in enumerate(lines) if line.startswith("ctn0027-00001-r1,"))
    lines[broken] = lines[broken].replace(",unknown,", ",word_of_mouth,", 1)  # referral_source
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (folder / "drug_tests.csv").open(encoding="utf-8", newline="") as f:
        naming = [r for r in csv.DictReader(f) if r["episode_id"] == "ctn0027-00001-r1"]
    db = tmp_path / "w.duckdb"
    result = load_extracts([folder], db, max_rejected=1)
    assert result.rejected["drug_tests"] == len(naming) > 0
    with duckdb.connect(str(db), read_only=True) as con:
        rules = con.execute(
            "SELECT DISTINCT column_name, rule FROM quarantine WHERE table_name = 'drug_tests'"
        ).fetchall()
    assert rules == [("episode_id", "foreign_key")]
    fix = next(p.fix for p in result.check.problems if p.table == "drug_tests")
    assert fix == f"{len(naming)} of these refer to episodes rows rejected above: fix those first"


def test_a_later_load_may_add_drug_tests_for_episodes_in_the_warehouse(exact, tmp_path: Path) -> None:
    """Foreign keys of drug tests are checked against this load's rows and the warehouse's."""
    db = tmp_path / "w.duckdb"
    first = tmp_path / "first"
    shutil.copytree(exact["contract"], first)
    (first / "drug_tests.csv").unlink()
    load_extracts([first], db, max_rejected=0)
    second = tmp_path / "second"
    second.mkdir()
    shutil.copyfile(exact["contract"] / "extract.json", second / "extract.json")
    for table in TABLES:
        source = exact["contract"] / f"{table}.csv"
        text = source.read_text(encoding="utf-8")
        # Only the drug tests have rows; every other table is its header.
        (second / f"{table}.csv").write_text(text if table == "drug_tests" else text.splitlines()[0] + "\n")
    result = load_extracts([second], db, max_rejected=0)
    assert result.rows_rejected == 0 and result.loaded["drug_tests"] == TESTS
    assert _tests_in(db) == TESTS


def test_rosc_check_against_a_warehouse_built_before_drug_tests_existed(exact, tmp_path: Path) -> None:
    """A warehouse without the drug_tests table still gives its episodes to the references of a check."""
    db = tmp_path / "old.duckdb"
    shutil.copyfile(exact["db"], db)
    with duckdb.connect(str(db)) as con:
        con.execute("DROP TABLE drug_tests")
    only_tests = tmp_path / "tests-only"
    only_tests.mkdir()
    for table in TABLES:
        text = (exact["contract"] / f"{table}.csv").read_text(encoding="utf-8")
        kept = text if table == "drug_tests" else text.splitlines()[0] + "\n"
        (only_tests / f"{table}.csv").write_text(kept)
    shutil.copyfile(exact["contract"] / "extract.json", only_tests / "extract.json")
    assert check_extracts([only_tests], db).rows_rejected == 0  # people and episodes from the warehouse
    orphaned = check_extracts([only_tests])  # without the warehouse, every test is an orphan
    assert orphaned.counts["drug_tests"].rejected == TESTS


def test_rosc_map_init_places_a_toxicology_file_in_drug_tests(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Urine_Screens.csv").write_text(
        "Test ID,Person ID,Test Date,Sample,Substance,Result\nT1,P000001,2024-01-01,urine,Opiates,POS\n",
        encoding="utf-8",
    )
    proposal = init_profile(folder)
    tests = proposal.tables["drug_tests"]
    assert tests.source is not None and tests.source.path.name == "Urine_Screens.csv"
    assert tests.matched["test_id"] == "Test ID" and tests.matched["substance"] == "Substance"
    assert tests.near_values["substance"] == {"Opiates": "opiates"}
    assert tests.unmapped_values["result"] == [("POS", 1)]
    # Required tables with no file are listed; drug_tests is said to be optional only when absent.
    assert "  episodes: no file matched\n" in proposal.summary() + "\n"
    assert "drug_tests <- Urine_Screens.csv" in proposal.summary()
    empty = tmp_path / "no-tests"
    empty.mkdir()
    summary = init_profile(empty).summary()
    assert "drug_tests: no file matched (optional: fine if the export has none)" in summary


def test_drug_tests_get_record_keys_from_the_warehouse_salt(exact, tmp_path: Path) -> None:
    """Each drug test carries its record key (hash(salt, test_id) mod 256, as people and episodes do),
    the same after a forced reload of the same extract."""
    query = (
        "SELECT count(*), count(record_key), "
        "count(*) FILTER (WHERE record_key = hash(s.salt::VARCHAR, test_id::VARCHAR) % 256) "
        "FROM drug_tests, record_key_salt AS s"
    )
    db = tmp_path / "keys.duckdb"
    shutil.copyfile(exact["db"], db)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(query).fetchone() == (TESTS, TESTS, TESTS)
        before = con.execute("SELECT test_id, record_key FROM drug_tests ORDER BY 1").fetchall()
    load_extracts([exact["contract"]], db, force=True, max_rejected=0)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT test_id, record_key FROM drug_tests ORDER BY 1").fetchall() == before
        assert len({k for _, k in before}) > 20  # keys differ from test to test


def test_the_quarantine_report_quotes_the_toxicology_exports_own_names(exact, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    shutil.copytree(exact["contract"], folder)
    lines = (folder / "drug_tests.csv").read_text(encoding="utf-8").splitlines()
    lines[0] = "ID,CLIENT,EPISODE,DATE,SAMPLE,DRUG,RESULT"
    fields = lines[3].split(",")
    fields[5] = "OPI"  # line 4: the export's own code, which the profile does not map
    lines[3] = ",".join(fields)
    (folder / "drug_tests.csv").unlink()
    (folder / "TOX.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "tox.toml").write_text(
        '[tables.drug_tests]\nfile = "TOX.csv"\n\n[tables.drug_tests.columns]\n'
        'test_id = "ID"\nperson_id = "CLIENT"\nepisode_id = "EPISODE"\ntest_date = "DATE"\n'
        'sample = "SAMPLE"\nsubstance = "DRUG"\nresult = "RESULT"\n',
        encoding="utf-8",
    )
    profile = load_profile(tmp_path / "tox.toml")
    result = load_extracts([folder], tmp_path / "w.duckdb", max_rejected=1, profile=profile)
    assert result.rejected["drug_tests"] == 1
    report = result.report_path.read_text(encoding="utf-8")
    assert f"drug_tests,{folder / 'TOX.csv'},,4,DRUG,code,OPI," in report
    assert report.splitlines()[1].endswith(",substance")  # the contract column beside the export's
