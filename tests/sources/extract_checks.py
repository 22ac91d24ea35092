"""Checks an imported extract must pass: the six version-1 tables through the project's loader, and
the drug_tests table (which the current loader does not read yet) against DATA_CONTRACT.md v2 by hand.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from datetime import date
from pathlib import Path

from pipelines.load import LoadResult, load_extracts

#: DATA_CONTRACT.md v2, drug_tests.
DRUG_TEST_COLUMNS = ["test_id", "person_id", "episode_id", "test_date", "sample", "substance", "result"]
SAMPLES = {"urine", "oral_fluid", "breath", "blood", "hair", "other"}
SUBSTANCES = {
    "opiates",
    "methadone",
    "buprenorphine",
    "fentanyl",
    "cocaine",
    "amphetamine",
    "benzodiazepine",
    "cannabis",
    "alcohol",
    "other",
}
RESULTS = {"positive", "negative", "invalid"}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def load_version_1_tables(folder: Path, workdir: Path) -> LoadResult:
    """Load the six version-1 tables of `folder` with the project's loader into a temp DuckDB file.

    The current loader implements contract version 1 and refuses an extract.json saying 2, so the
    tables are loaded from a copy whose extract.json says 1 (same as_of); drug_tests.csv is copied
    too and ignored by that loader, which reads only its six tables.
    """
    copy = workdir / "extract-v1"
    shutil.copytree(folder, copy)
    manifest = json.loads((copy / "extract.json").read_text(encoding="utf-8"))
    assert manifest["contract_version"] == 2
    manifest["contract_version"] = 1
    (copy / "extract.json").write_text(json.dumps(manifest), encoding="utf-8")
    return load_extracts([copy], workdir / "warehouse.duckdb", quiet=True)


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def check_drug_tests(folder: Path) -> list[dict[str, str]]:
    """Assert drug_tests.csv keeps the contract (columns, codes, unique key, foreign keys to people
    and to an episode of the same person, ISO dates not after as_of); return its rows."""
    as_of = date.fromisoformat(json.loads((folder / "extract.json").read_text(encoding="utf-8"))["as_of"])
    header, tests = _rows(folder / "drug_tests.csv")
    assert header == DRUG_TEST_COLUMNS
    people = {row["person_id"] for row in _rows(folder / "people.csv")[1]}
    episode_person = {row["episode_id"]: row["person_id"] for row in _rows(folder / "episodes.csv")[1]}
    seen: set[str] = set()
    for row in tests:
        assert row["test_id"] and row["test_id"] not in seen, row
        seen.add(row["test_id"])
        assert row["person_id"] in people, row
        if row["episode_id"]:
            assert episode_person.get(row["episode_id"]) == row["person_id"], row
        assert ISO_DATE.match(row["test_date"]), row
        assert date.fromisoformat(row["test_date"]) <= as_of, row
        assert row["sample"] in SAMPLES, row
        assert row["substance"] in SUBSTANCES, row
        assert row["result"] in RESULTS, row
    return tests
