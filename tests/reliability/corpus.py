"""The bad-input corpus of `tests/corpus/`: reading its manifest and building a case's extract.

A case is the valid base extract (`tests/corpus/base/`) with the files of `tests/corpus/cases/<id>/`
laid over it, the base files named in the case's `remove` deleted, and `expand` applied: every
`marker` in the case's files replaced by `bytes` letters `x` (a huge field without a huge file in
the repository).
"""

from __future__ import annotations

import csv
import io
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
BASE = CORPUS / "base"
CASES_DIR = CORPUS / "cases"
MANIFEST = CORPUS / "cases.toml"
OUTCOMES = ("refused", "quarantined", "loaded")


@dataclass(frozen=True)
class Case:
    """One manifest entry."""

    id: str
    description: str
    outcome: str
    file: str | None = None  # refused: the file the message names
    line: int | None = None  # refused: the line it names (None: no line)
    column: str | None = None  # refused: the column it names (None: no column)
    message: str = ""  # refused: a part of the message
    quarantined: tuple[tuple[str, int, str, str], ...] = ()  # (file, line, column, rule)
    warnings: tuple[str, ...] = ()  # parts of the load's warnings
    rows: dict[str, int] = field(default_factory=dict)  # rows loaded, for the tables given
    remove: tuple[str, ...] = ()
    expand: dict | None = None
    strict: bool = False
    encoding: str | None = None  # --encoding for the load
    date_format: str | None = None  # --date-format for the load


def load_cases() -> list[Case]:
    with MANIFEST.open("rb") as f:
        entries = tomllib.load(f)["case"]
    cases = []
    for entry in entries:
        entry = dict(entry)
        entry["quarantined"] = tuple(tuple(row) for row in entry.get("quarantined", ()))
        entry["warnings"] = tuple(entry.get("warnings", ()))
        entry["remove"] = tuple(entry.get("remove", ()))
        cases.append(Case(**entry))
    return cases


def build_case(case: Case, folder: Path) -> Path:
    """The extract of `case`, written to `folder`."""
    shutil.copytree(BASE, folder)
    for name in case.remove:
        (folder / name).unlink()
    overlay = CASES_DIR / case.id
    if overlay.is_dir():
        for path in overlay.iterdir():
            content = path.read_bytes()
            if case.expand is not None:
                marker = case.expand["marker"].encode()
                content = content.replace(marker, b"x" * case.expand["bytes"])
            (folder / path.name).write_bytes(content)
    return folder


def rows_in(path: Path, encoding: str | None = None) -> int:
    """Data rows of a table file, counted independently of the loader (csv module / Parquet footer)."""
    if path.suffix == ".parquet":
        return pq.read_metadata(path).num_rows
    text = path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode(encoding or "utf-8")
    limit = csv.field_size_limit(len(text) + 1)
    try:
        records = [row for row in csv.reader(io.StringIO(text, newline=""), strict=True) if row]
    finally:
        csv.field_size_limit(limit)
    return max(len(records) - 1, 0)
