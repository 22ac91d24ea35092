"""`rosc map init`: a starting mapping profile, written from an export folder's headers and values.

It proposes; the user decides. Nothing it writes is applied until the user loads with the profile, and
everything it could not match is listed, in the profile's comments and in its summary:
- each file (or workbook sheet) is matched to a table by its name (`EPISODE.csv`, `Clients.xlsx`:
  the table's name or a common synonym, ignoring case and punctuation), else by the most columns in
  common; files it cannot place are listed;
- each column is matched to a contract column of that table ignoring case, spaces and punctuation
  (`Episode ID`, `EPISODE_ID` → episode_id); unmatched contract and export columns are listed;
- for a matched code column, every value that is not a contract code is listed with its count (a
  value that is a code but for case or spaces is proposed as a mapping line, marked as such);
- for a matched date column whose values are not `YYYY-MM-DD`, the date patterns that read every value
  are named (`pipelines.sources.hints`), and used only when exactly one does;
- a CSV that is not UTF-8 gets the encoding charset-normalizer finds most likely, marked as detected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.contract import OPTIONAL_TABLES, TABLE_ORDER, TABLES
from pipelines.sources.base import ExtractError, SourceRef
from pipelines.sources.csv_file import CsvSource
from pipelines.sources.excel_file import EXCEL_SUFFIXES, ExcelSource, sheet_names
from pipelines.sources.hints import date_patterns, likely_encoding
from pipelines.sources.identifiers import normalise_header
from pipelines.sources.parquet_file import ParquetSource
from pipelines.sources.values import read_booleans, read_dates

#: Words an export uses for each table's file, normalised (`normalise_header`), most specific first.
TABLE_WORDS: dict[str, tuple[str, ...]] = {
    "providers": ("provider", "agency", "agencies", "organisation", "organization"),
    "programmes": ("programme", "program", "service", "team"),
    "people": ("people", "person", "client", "serviceuser", "patient"),
    "episodes": ("episode", "journey", "referral"),
    "contacts": ("contact", "intervention", "appointment", "session", "attendance"),
    "assessments": ("assessment", "outcome", "top", "barc"),
    "drug_tests": ("drugtest", "toxicology", "tox", "urinescreen", "uds", "drugscreen"),
}
_SHOWN_VALUES = 40


@dataclass
class TableProposal:
    """What `init_profile` found for one table."""

    table: str
    source: SourceRef | None = None
    matched: dict[str, str] = field(default_factory=dict)  # contract column → export column
    unmatched_contract: list[str] = field(default_factory=list)
    unmatched_export: list[str] = field(default_factory=list)
    unmapped_values: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # contract column →
    near_values: dict[str, dict[str, str]] = field(default_factory=dict)  # contract column → {value: code}
    date_patterns: dict[str, list[str]] = field(default_factory=dict)
    encoding: str | None = None


@dataclass
class Proposal:
    """A starting profile (`toml`) and what was and was not matched."""

    folder: Path
    tables: dict[str, TableProposal]
    unplaced: list[str]
    toml: str = ""

    def summary(self) -> str:
        lines = [f"starting profile for {self.folder}:"]
        for p in self.tables.values():
            if p.source is None:
                optional = " (optional: fine if the export has none)" if p.table in OPTIONAL_TABLES else ""
                lines.append(f"  {p.table}: no file matched{optional}")
                continue
            required = [c.name for c in TABLES[p.table].columns if c.required]
            missing_required = [c for c in p.unmatched_contract if c in required]
            lines.append(
                f"  {p.table} <- {p.source.label}: "
                f"{len(p.matched)} of {len(TABLES[p.table].columns)} columns "
                f"matched"
                + (f"; required and unmatched: {', '.join(missing_required)}" if missing_required else "")
            )
            if p.unmatched_export:
                lines.append(f"    export columns not matched: {', '.join(p.unmatched_export)}")
            for column, values in p.unmapped_values.items():
                shown = ", ".join(f"{v!r} ({n:,})" for v, n in values[:_SHOWN_VALUES])
                more = f", and {len(values) - _SHOWN_VALUES} more" if len(values) > _SHOWN_VALUES else ""
                lines.append(f"    {column}: values that are not contract codes: {shown}{more}")
            for column, patterns in p.date_patterns.items():
                lines.append(f"    {column}: dates read as {' or '.join(patterns) or 'no known pattern'}")
        if self.unplaced:
            lines.append(f"  files not placed in any table: {', '.join(self.unplaced)}")
        return "\n".join(lines)


def _sources(folder: Path) -> list[tuple[SourceRef, object]]:
    """Every readable table-like source in the folder: CSV and Parquet files, and workbook sheets."""
    found: list[tuple[SourceRef, object]] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        suffix = path.suffix.lower()
        if suffix == ".csv":
            try:
                source = CsvSource(path)
            except ExtractError as error:
                guess = likely_encoding(path.read_bytes()) if "not UTF-8" in error.message else None
                if guess is None:
                    raise
                source = CsvSource(path, encoding=guess)
                source.detected_encoding = guess
            found.append((SourceRef(path), source))
        elif suffix == ".parquet":
            found.append((SourceRef(path), ParquetSource(path)))
        elif suffix in EXCEL_SUFFIXES and not path.name.startswith("~$"):
            for sheet in sheet_names(path):
                found.append((SourceRef(path, sheet), ExcelSource(path, sheet)))
    return found


def _name_of(ref: SourceRef) -> str:
    return normalise_header(ref.sheet if ref.sheet else ref.path.stem)


def _column_matches(table: str, header: list[str]) -> dict[str, str]:
    by_key = {normalise_header(h): h for h in reversed(header)}
    return {
        c.name: by_key[normalise_header(c.name)]
        for c in TABLES[table].columns
        if normalise_header(c.name) in by_key
    }


def _place(sources: list[tuple[SourceRef, object]]) -> tuple[dict[str, tuple[SourceRef, object]], list[str]]:
    """Which source each table comes from, and the sources placed nowhere."""
    placed: dict[str, tuple[SourceRef, object]] = {}
    free = list(sources)
    for table in TABLE_ORDER:
        words = (normalise_header(table), *TABLE_WORDS[table])
        for word in words:
            hit = next((s for s in free if word in _name_of(s[0])), None)
            if hit is not None:
                placed[table] = hit
                free.remove(hit)
                break
    for table in TABLE_ORDER:
        if table in placed or not free:
            continue
        best = max(free, key=lambda s: len(_column_matches(table, s[1].header)))
        if len(_column_matches(table, best[1].header)) >= 2:
            placed[table] = best
            free.remove(best)
    return placed, [ref.label for ref, _ in free]


def _distinct_counts(array: pa.ChunkedArray) -> list[tuple[str, int]]:
    counts = pc.value_counts(pc.cast(array, pa.string()) if not pa.types.is_string(array.type) else array)
    pairs = [(v["values"].as_py(), v["counts"].as_py()) for v in counts]
    return sorted(((v, n) for v, n in pairs if v is not None and v != ""), key=lambda vn: (-vn[1], vn[0]))


def _propose(table: str, ref: SourceRef, source) -> TableProposal:
    proposal = TableProposal(table, ref, encoding=getattr(source, "detected_encoding", None))
    proposal.matched = _column_matches(table, source.header)
    used = set(proposal.matched.values())
    proposal.unmatched_contract = [c.name for c in TABLES[table].columns if c.name not in proposal.matched]
    proposal.unmatched_export = [h for h in source.header if h not in used]
    wanted = list(dict.fromkeys(proposal.matched.values()))
    kinds = {proposal.matched[c.name]: c.type for c in TABLES[table].columns if c.name in proposal.matched}
    data, _ = source.read(wanted, kinds) if wanted else (pa.table({}), None)
    for col in TABLES[table].columns:
        if col.name not in proposal.matched:
            continue
        values = data.column(proposal.matched[col.name])
        if col.codes:
            counts = _distinct_counts(values)
            odd = [(v, n) for v, n in counts if v not in col.codes]
            near = {v: c for v, _ in odd for c in col.codes if v.strip().lower().replace(" ", "_") == c}
            if odd:
                proposal.unmapped_values[col.name] = [(v, n) for v, n in odd if v not in near]
                proposal.near_values[col.name] = near
                if not proposal.unmapped_values[col.name]:
                    del proposal.unmapped_values[col.name]
        elif col.type == "date" and pa.types.is_string(values.type):
            reading = read_dates(values)
            if not pc.all(reading.readable).as_py():
                texts = [v for v in pc.unique(values).to_pylist() if v]
                proposal.date_patterns[col.name] = date_patterns(texts)
        elif col.type == "boolean" and pa.types.is_string(values.type):
            reading = read_booleans(values)
            if not pc.all(reading.readable).as_py():
                bad = pc.filter(values, pc.invert(reading.readable))
                proposal.unmapped_values[col.name] = _distinct_counts(bad)
    return proposal


def _toml_text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _render(folder: Path, proposals: dict[str, TableProposal], unplaced: list[str]) -> str:
    out = [
        f"# Starting mapping profile for {folder.name}, written by `rosc map init`.",
        "# Check every line: matches were made ignoring case, spaces and punctuation, and nothing",
        "# here is applied until you load with it (`rosc check DIR --mapping THIS_FILE` first).",
        "",
        "[profile]",
        f"name = {_toml_text(folder.name)}",
    ]
    if unplaced:
        out.append(f"# files not placed in any table: {', '.join(unplaced)}")
    for table in TABLE_ORDER:
        p = proposals[table]
        out.append("")
        if p.source is None:
            optional = " (optional: leave it out if the export has none)" if table in OPTIONAL_TABLES else ""
            out += [f"# [tables.{table}]  no file matched: name it here{optional}", '# file = "..."']
            continue
        out.append(f"[tables.{table}]")
        out.append(f"file = {_toml_text(p.source.path.name)}")
        if p.source.sheet:
            out.append(f"sheet = {_toml_text(p.source.sheet)}")
        if p.encoding:
            out.append(f"encoding = {_toml_text(p.encoding)}  # detected by charset-normalizer: check it")
        patterns = {tuple(v) for v in p.date_patterns.values()}
        if len(patterns) == 1 and len(next(iter(patterns))) == 1:
            out.append(f"date_format = {_toml_text(next(iter(patterns))[0])}  # every date reads so")
        elif p.date_patterns:
            for column, found in p.date_patterns.items():
                out.append(
                    f"# {column}: dates read as {' or '.join(found) or 'no known pattern'}: set date_format"
                )
        out.append("")
        out.append(f"[tables.{table}.columns]  # contract column = the export's column")
        for col in TABLES[table].columns:
            if col.name in p.matched:
                out.append(f"{col.name} = {_toml_text(p.matched[col.name])}")
            else:
                need = "required" if col.required else "optional"
                out.append(f'# {col.name} = ""  # {need}: no column matched')
        if p.unmatched_export:
            out.append(f"# export columns not matched: {', '.join(p.unmatched_export)}")
        for column in dict.fromkeys([*p.near_values, *p.unmapped_values]):
            out.append("")
            out.append(f"[tables.{table}.values.{column}]  # the export's value = the contract's value")
            for value, code in p.near_values.get(column, {}).items():
                out.append(f"{_toml_text(value)} = {_toml_text(code)}  # the code but for case or spaces")
            codes = TABLES[table].column(column).codes
            target = f"one of: {', '.join(codes)}" if codes else "true or false"
            for value, count in p.unmapped_values.get(column, []):
                out.append(f'# {_toml_text(value)} = ""  # {count:,} rows; map to {target}')
    return "\n".join(out) + "\n"


def init_profile(folder: str | Path) -> Proposal:
    """A starting profile for the export in `folder` (see the module docstring)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExtractError("not a folder", file=folder)
    placed, unplaced = _place(_sources(folder))
    proposals = {
        table: _propose(table, *placed[table]) if table in placed else TableProposal(table)
        for table in TABLE_ORDER
    }
    proposal = Proposal(folder, proposals, unplaced)
    proposal.toml = _render(folder, proposals, unplaced)
    return proposal
