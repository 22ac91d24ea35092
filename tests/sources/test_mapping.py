"""Mapping profiles: renames, value maps, constants and null values applied as the profile says, and
every mistake in a profile stopped with a message naming the profile and the setting."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.load import load_extracts
from pipelines.sources import ExtractError, load_profile
from tests.test_load import VALID, write_extract


@pytest.fixture(scope="module", autouse=True)
def one_record_key_salt():
    """One record-key salt for every warehouse here (ROSC_RECORD_KEY_SALT, as a deployment that rebuilds
    its warehouses sets), so warehouses built from the same rows, record keys included, compare equal."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROSC_RECORD_KEY_SALT", "the-export-tests-use-one-salt-for-every-warehouse")
        yield


def _profile(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profile.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _people_export(folder: Path, body: str) -> Path:
    """The small valid extract with people.csv replaced by an export's `CLIENTS.csv`."""
    write_extract(folder)
    (folder / "people.csv").unlink()
    (folder / "CLIENTS.csv").write_text(body, encoding="utf-8")
    return folder


PEOPLE_PROFILE = """
[tables.people]
file = "CLIENTS.csv"
null_values = ["N/A"]
[tables.people.columns]
person_id = "Client ID"
sex = "Gender"
birth_year = "YOB"
[tables.people.values.sex]
"M" = "male"
"F" = "female"
"X" = ""
[tables.people.constants]
ethnic_group = "unknown"
"""


def test_renames_value_maps_constants_and_nulls(tmp_path: Path) -> None:
    folder = _people_export(
        tmp_path / "x",
        "Client ID,Gender,YOB,area_code\n"
        "person-0001,M,1980,E08000025\n"
        "person-0002,female,N/A,\n"  # a contract code passes through a value map unchanged
        "person-0003,F,1975.0,N/A\n",
    )
    db = tmp_path / "w.duckdb"
    result = load_extracts(
        [folder], db, profile=load_profile(_profile(tmp_path, PEOPLE_PROFILE)), max_rejected=0
    )
    assert result.rows_rejected == 0
    with duckdb.connect(str(db), read_only=True) as con:
        people = con.execute(
            "SELECT person_id, sex, birth_year, ethnic_group, area_code FROM people ORDER BY person_id"
        ).fetchall()
    assert people == [
        ("person-0001", "male", 1980, "unknown", "E08000025"),
        ("person-0002", "female", None, "unknown", None),
        ("person-0003", "female", 1975, "unknown", None),
    ]


def test_an_unmapped_code_is_rejected_and_reported_as_the_export_wrote_it(tmp_path: Path) -> None:
    folder = _people_export(
        tmp_path / "x",
        "Client ID,Gender,YOB\nperson-0001,M,1980\nperson-0002,Q,1990\nperson-0003,X,1975\n",
    )
    db = tmp_path / "w.duckdb"
    load_extracts([folder], db, profile=load_profile(_profile(tmp_path, PEOPLE_PROFILE)), max_rejected=1)
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT line, column_name, contract_column, rule, value, message FROM quarantine "
            "WHERE table_name = 'people' ORDER BY line"
        ).fetchall()
    assert [r[:5] for r in rows] == [
        (3, "Gender", "sex", "code", "Q"),
        (4, "Gender", "sex", "required", "X"),  # mapped to no value, and sex is required
    ]
    assert rows[0][5].startswith("Gender (sex) 'Q' is not one of: male, female")
    assert "the export wrote 'X'" in rows[1][5]


def test_a_constant_that_is_not_a_code_names_the_profile(tmp_path: Path) -> None:
    folder = _people_export(tmp_path / "x", "Client ID,Gender,YOB\nperson-0001,M,1980\n")
    profile = _profile(tmp_path, PEOPLE_PROFILE.replace('ethnic_group = "unknown"', 'ethnic_group = "White"'))
    db = tmp_path / "w.duckdb"
    result = load_extracts([folder], db, profile=load_profile(profile), max_rejected=1)
    assert result.rejected["people"] == 1
    with duckdb.connect(str(db), read_only=True) as con:
        column, message = con.execute(
            "SELECT column_name, message FROM quarantine WHERE table_name = 'people'"
        ).fetchone()
    assert column == "(constant)" and message.startswith("the mapping profile's constant for ethnic_group")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tables.patients]\n", "[tables.patients] is not a contract table"),
        ("[tables.people.columns]\nname = 'X'\n", "names name, which is not column(s) of people"),
        ("[tables.people]\nfiles = 'x.csv'\n", "[tables.people] has unknown setting(s) files"),
        (
            "[tables.people.columns]\nsex = 'S'\n[tables.people.constants]\nsex = 'male'\n",
            "both to a column and",
        ),
        ("[tables.people]\ndate_format = '%d'\n", "does not give a whole date"),
        ("[tables.people]\nsheet = 'People'\n", "names a sheet but no file"),
        ("[tables.people.values.sex]\nM = ['male']\n", "must be text, a number or true/false"),
        ("[profile]\ncolour = 'blue'\n", "[profile] may hold only"),
        ("[tables.people\n", "not a valid TOML mapping profile"),
    ],
)
def test_mistakes_in_a_profile_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ExtractError) as refused:
        load_profile(_profile(tmp_path, text))
    assert message in str(refused.value) and "profile.toml" in str(refused.value)


def test_a_profile_naming_a_column_or_file_the_export_lacks_stops_the_load(tmp_path: Path) -> None:
    folder = _people_export(tmp_path / "x", "Client ID,Sex,YOB\nperson-0001,M,1980\n")
    with pytest.raises(ExtractError) as refused:
        load_extracts(
            [folder], tmp_path / "w.duckdb", profile=load_profile(_profile(tmp_path, PEOPLE_PROFILE))
        )
    assert "CLIENTS.csv" in str(refused.value) and "takes sex from column 'Gender'" in str(refused.value)
    missing = _profile(tmp_path, '[tables.people]\nfile = "PEOPLE_EXPORT.csv"\n')
    with pytest.raises(ExtractError, match="names file 'PEOPLE_EXPORT.csv', which is not in the folder"):
        load_extracts([folder], tmp_path / "w.duckdb", profile=load_profile(missing))


def test_an_identifier_column_is_refused_even_in_a_mapped_export(tmp_path: Path) -> None:
    folder = _people_export(tmp_path / "x", "Client ID,Gender,YOB,DOB\nperson-0001,M,1980,1980-01-01\n")
    with pytest.raises(ExtractError, match="column DOB: looks like a direct identifier"):
        load_extracts(
            [folder], tmp_path / "w.duckdb", profile=load_profile(_profile(tmp_path, PEOPLE_PROFILE))
        )


def test_an_organisation_name_column_may_be_mapped_from_name(tmp_path: Path) -> None:
    folder = write_extract(tmp_path / "x")
    (folder / "providers.csv").write_text(
        VALID["providers"].replace("provider_name", "Name", 1), encoding="utf-8"
    )
    profile = _profile(tmp_path, "[tables.providers.columns]\nprovider_name = 'Name'\n")
    result = load_extracts([folder], tmp_path / "w.duckdb", profile=load_profile(profile), max_rejected=0)
    assert result.rows_rejected == 0
    with pytest.raises(ExtractError, match="column Name: looks like a direct identifier"):
        load_extracts([folder], tmp_path / "v.duckdb")  # without the profile's word, a Name column is refused


def test_the_profile_is_part_of_the_fingerprint(tmp_path: Path) -> None:
    folder = _people_export(tmp_path / "x", "Client ID,Gender,YOB\nperson-0001,M,1980\nperson-0002,F,1990\n")
    db = tmp_path / "w.duckdb"
    first = _profile(tmp_path, PEOPLE_PROFILE)
    load_extracts([folder], db, profile=load_profile(first), max_rejected=1)
    assert load_extracts([folder], db, profile=load_profile(first), max_rejected=1).skipped_as_duplicate
    first.write_text(PEOPLE_PROFILE.replace('"F" = "female"', '"F" = "other"'))
    again = load_extracts([folder], db, profile=load_profile(first), max_rejected=1)
    assert not again.skipped_as_duplicate
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT sex FROM people WHERE person_id = 'person-0002'").fetchone() == ("other",)
