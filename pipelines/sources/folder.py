"""Locating an extract's tables in a folder: which file (and which sheet) holds each table.

An extract is a folder. Each contract table is, in this order of looking:
- the file or sheet a mapping profile names for it (`[tables.episodes] file = "EPISODE.csv"`);
- `<table>.csv`, `<table>.parquet` or `<table>.xlsx` (also .xlsm, .xls): a workbook's sheet named after
  the table, or its only sheet;
- a sheet named exactly after the table in another workbook of the folder (one workbook may hold
  every table, a sheet each).
A table found in two places stops the load with a message naming both places; a required table found
nowhere stops it with a message saying what was looked for. An optional table (`drug_tests`, contract
version 2) found nowhere is simply absent: the extract is complete without it, and the loader loads no
rows of it. `extract.json` (`{"as_of": "YYYY-MM-DD", "contract_version": 2}`) is optional; versions 1
and 2 are read (every version-1 extract is a valid version 2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipelines.contract import OPTIONAL_TABLES, READABLE_CONTRACT_VERSIONS, TABLE_ORDER
from pipelines.sources.base import ExtractError, SourceRef
from pipelines.sources.excel_file import EXCEL_SUFFIXES, sheet_names
from pipelines.sources.mapping import MappingProfile

MANIFEST = "extract.json"
FILE_SUFFIXES = (".csv", ".parquet", *EXCEL_SUFFIXES)
#: Contract versions a loader of this version reads (every version-1 extract is a valid version 2).
READABLE_VERSIONS = READABLE_CONTRACT_VERSIONS


@dataclass(frozen=True)
class Manifest:
    """What `extract.json` says (both fields None when the folder has no extract.json)."""

    as_of: date | None = None
    contract_version: int | None = None


@dataclass
class ExtractFolder:
    """A located extract: its folder, manifest and where each table is (not read yet). `sources` has
    every required table, and an optional one only when the folder holds it."""

    folder: Path
    manifest: Manifest
    sources: dict[str, SourceRef]
    manifest_path: Path | None = None
    profile: MappingProfile | None = None
    files: list[Path] = field(default_factory=list)

    @property
    def paths(self) -> dict[str, Path]:
        return {table: ref.path for table, ref in self.sources.items()}


def read_manifest(folder: Path) -> tuple[Manifest, Path | None]:
    path = folder / MANIFEST
    if not path.exists():
        return Manifest(), None
    try:
        content = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExtractError(f"cannot read extract.json: {error}", file=path) from None
    if not isinstance(content, dict):
        raise ExtractError("extract.json must hold a JSON object", file=path)
    version = content.get("contract_version")
    if version is not None and (isinstance(version, bool) or version not in READABLE_VERSIONS):
        raise ExtractError(
            f"contract_version {version!r} is not supported (this loader reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))})",
            file=path,
        )
    as_of = content.get("as_of")
    if as_of is not None:
        try:
            as_of = date.fromisoformat(str(as_of))
        except ValueError:
            raise ExtractError(f"as_of {as_of!r} is not a date in YYYY-MM-DD form", file=path) from None
    return Manifest(as_of=as_of, contract_version=version), path


def _workbook_sheet(path: Path, table: str) -> str:
    """The sheet of a per-table workbook `<table>.xlsx`: the one named after the table, or the only one."""
    names = sheet_names(path)
    if table in names:
        return table
    if len(names) == 1:
        return names[0]
    raise ExtractError(
        f"the workbook has sheets {', '.join(names)}: name the one holding {table} '{table}', "
        "or keep one sheet",
        file=path,
    )


def _profile_ref(folder: Path, table: str, profile: MappingProfile) -> SourceRef | None:
    mapping = profile.for_table(table)
    if mapping is None or mapping.file is None:
        return None
    path = folder / mapping.file
    if not path.is_file():
        raise ExtractError(
            f"the mapping profile's [tables.{table}] names file {mapping.file!r}, which is not in the folder",
            file=folder,
        )
    if path.suffix.lower() in EXCEL_SUFFIXES:
        if mapping.sheet is None:
            return SourceRef(path, _workbook_sheet(path, table))
        if mapping.sheet not in sheet_names(path):
            raise ExtractError(
                f"the mapping profile's [tables.{table}] names sheet {mapping.sheet!r}, which the workbook "
                f"does not have (it has: {', '.join(sheet_names(path))})",
                file=path,
            )
        return SourceRef(path, mapping.sheet)
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise ExtractError(
            f"the mapping profile's [tables.{table}] names {mapping.file!r}: only CSV, Parquet and Excel "
            "files are read",
            file=folder,
        )
    return SourceRef(path)


def locate_extract(folder: str | Path, profile: MappingProfile | None = None) -> ExtractFolder:
    """Find where each table is in `folder` and read its extract.json; ExtractError if incomplete."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExtractError("not a folder", file=folder)
    manifest, manifest_path = read_manifest(folder)
    named = {(folder / m.file).resolve() for m in (profile.tables.values() if profile else ()) if m.file}
    workbooks = sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and p.suffix.lower() in EXCEL_SUFFIXES
        and p.stem not in TABLE_ORDER
        and not p.name.startswith("~$")  # Excel's lock file of an open workbook
        and p.resolve() not in named
    )
    sheets = {book: sheet_names(book) for book in workbooks}
    sources: dict[str, SourceRef] = {}
    for table in TABLE_ORDER:
        ref = _profile_ref(folder, table, profile) if profile else None
        if ref is not None:
            sources[table] = ref
            continue
        found = [
            SourceRef(p, _workbook_sheet(p, table) if p.suffix.lower() in EXCEL_SUFFIXES else None)
            for p in (folder / f"{table}{suffix}" for suffix in FILE_SUFFIXES)
            if p.is_file()
        ]
        found += [SourceRef(book, table) for book, names in sheets.items() if table in names]
        if not found and table in OPTIONAL_TABLES:
            continue  # an optional table the extract does not hold
        if not found:
            near = [
                f"{book.name} sheet {n!r}"
                for book, names in sheets.items()
                for n in names
                if n.lower() == table
            ]
            hint = f" (sheet names are exact: {', '.join(near)} is not '{table}')" if near else ""
            raise ExtractError(
                f"table {table} is missing: expected {table}.csv, {table}.parquet, {table}.xlsx or a sheet "
                f"named {table} in a workbook{hint}",
                file=folder,
            )
        if len(found) > 1:
            raise ExtractError(
                f"{table} is present {len(found)} times ({', '.join(r.label for r in found)}); keep one",
                file=folder / found[0].path.name,
            )
        sources[table] = found[0]
    files = list(dict.fromkeys(ref.path for ref in sources.values()))
    return ExtractFolder(folder, manifest, sources, manifest_path, profile, files)
