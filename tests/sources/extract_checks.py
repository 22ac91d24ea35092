"""Checks an imported extract must pass: every table through the project's loader (contract version 2),
and the drug_tests table against DATA_CONTRACT.md v2 once more by hand, independently of the loader.
"""

from __future__ import annotations

import csv
import json
import re
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


def load_extract(folder: Path, workdir: Path) -> LoadResult:
    """Load the imported extract `folder` (contract version 2, drug_tests included) with the project's
    loader into a new DuckDB file in `workdir`, refusing it on any rejected row."""
    manifest = json.loads((folder / "extract.json").read_text(encoding="utf-8"))
    assert manifest["contract_version"] == 2
    return load_extracts([folder], workdir / "warehouse.duckdb", quiet=True, max_rejected=0)


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
