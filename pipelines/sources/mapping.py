"""Mapping profiles: how an export with its own file names, column names and codes becomes the contract.

A profile is a TOML file (`rosc load DIR --mapping system.toml`). Everything in it is optional; a table
the profile does not name is looked for under its contract name, as without a profile.

```toml
[profile]
name = "NDTMS-style export"
date_format = "%d/%m/%Y"     # for every table, unless a table says otherwise
encoding = "cp1252"          # for every CSV, unless a table says otherwise

[tables.episodes]
file = "EPISODE.csv"         # or a workbook: file = "export.xlsx", sheet = "Episodes"
null_values = ["NULL", "N/A"]  # written for "no value" in this file (every column)

[tables.episodes.columns]    # contract column = the export's column (one export column may feed several)
episode_id = "EPISODID"
referral_date = "REFLD"

[tables.episodes.values.discharge_reason]   # the export's value = the contract's value ("" = null)
"80" = "completed_drug_free"

[tables.episodes.constants]  # contract column = one value for every row (no column in the export)
ost = false
```

What a profile promises:
- Contract columns it does not map are taken from an export column of exactly their name, if any.
- A value map replaces the values it lists; any other value passes through unchanged and must then
  be a contract value (so a half-finished map never turns an unknown code into a known one).
- The quarantine report quotes the export's own column names and values, so a rejected row can be
  found in the file it came from.
- The profile's text is part of the load's fingerprint: the same files with another profile are
  another extract.
Mistakes in the profile itself (an unknown table or column, a value that is not text) stop the load
with a message naming the profile and the setting.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.contract import TABLES
from pipelines.sources.base import ExtractError, check_date_format

_TABLE_KEYS = frozenset(
    {"file", "sheet", "columns", "values", "constants", "null_values", "date_format", "encoding"}
)
_PROFILE_KEYS = frozenset({"name", "date_format", "encoding", "description"})


@dataclass(frozen=True)
class TableMapping:
    """How one contract table is found and renamed (see the module docstring)."""

    table: str
    file: str | None = None
    sheet: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    null_values: tuple[str, ...] = ()
    date_format: str | None = None
    encoding: str | None = None

    def setting(self, *parts: str) -> str:
        """How a message names a place in the profile: `[tables.episodes.values.sex]`."""
        return "[" + ".".join(("tables", self.table, *parts)) + "]"


@dataclass(frozen=True)
class MappingProfile:
    """A loaded, checked mapping profile."""

    path: Path
    name: str
    tables: dict[str, TableMapping]
    date_format: str | None = None
    encoding: str | None = None
    sha256: str = ""

    def for_table(self, table: str) -> TableMapping | None:
        return self.tables.get(table)


def _text(value: object, where: str, path: Path) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ExtractError(f"{where} must be text, a number or true/false, not {type(value).__name__}", file=path)


def _date_format(value: object, where: str, path: Path) -> str | None:
    """A profile's date_format, checked: None when absent, ExtractError naming `where` when wrong."""
    if value is None:
        return None
    try:
        check_date_format(str(value))
    except ValueError as error:
        raise ExtractError(f"{where} {error}", file=path) from None
    return str(value)


def _table_mapping(table: str, entry: object, path: Path) -> TableMapping:
    where = f"[tables.{table}]"
    if not isinstance(entry, dict):
        raise ExtractError(f"{where} must be a table of settings", file=path)
    unknown = sorted(set(entry) - _TABLE_KEYS)
    if unknown:
        raise ExtractError(
            f"{where} has unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(_TABLE_KEYS))}",
            file=path,
        )
    contract = TABLES[table].column_names

    def contract_columns(key: str) -> dict:
        section = entry.get(key, {})
        if not isinstance(section, dict):
            raise ExtractError(f"{where[:-1]}.{key}] must be a table", file=path)
        wrong = [c for c in section if c not in contract]
        if wrong:
            raise ExtractError(
                f"{where[:-1]}.{key}] names {', '.join(wrong)}, which {'is' if len(wrong) == 1 else 'are'} "
                f"not column(s) of {table} (its columns: {', '.join(contract)})",
                file=path,
            )
        return section

    columns = {
        c: _text(v, f"{where[:-1]}.columns] {c}", path) for c, v in contract_columns("columns").items()
    }
    values: dict[str, dict[str, str]] = {}
    for column, mapping in contract_columns("values").items():
        if not isinstance(mapping, dict):
            raise ExtractError(f"{where[:-1]}.values.{column}] must be a table of value = value", file=path)
        values[column] = {
            str(k): _text(v, f"{where[:-1]}.values.{column}] {k!r}", path) for k, v in mapping.items()
        }
    constants = {
        c: _text(v, f"{where[:-1]}.constants] {c}", path) for c, v in contract_columns("constants").items()
    }
    both = sorted(set(columns) & set(constants))
    if both:
        raise ExtractError(f"{where} maps {', '.join(both)} both to a column and to a constant", file=path)
    nulls = entry.get("null_values", [])
    if not isinstance(nulls, list) or not all(isinstance(v, str) for v in nulls):
        raise ExtractError(f"{where} null_values must be a list of texts", file=path)
    date_format = _date_format(entry.get("date_format"), where, path)
    file = entry.get("file")
    sheet = entry.get("sheet")
    if sheet is not None and file is None:
        raise ExtractError(f"{where} names a sheet but no file (the workbook)", file=path)
    return TableMapping(
        table=table,
        file=None if file is None else str(file),
        sheet=None if sheet is None else str(sheet),
        columns=columns,
        values=values,
        constants=constants,
        null_values=tuple(nulls),
        date_format=date_format,
        encoding=None if entry.get("encoding") is None else str(entry["encoding"]),
    )


def load_profile(path: str | Path) -> MappingProfile:
    """Read and check a mapping profile; ExtractError naming the profile and the setting if it is wrong."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        content = tomllib.loads(raw.decode("utf-8-sig"))
    except OSError as error:
        raise ExtractError(f"cannot read the mapping profile: {error.strerror or error}", file=path) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ExtractError(f"not a valid TOML mapping profile: {error}", file=path) from None
    unknown = sorted(set(content) - {"profile", "tables"})
    if unknown:
        raise ExtractError(
            f"unknown section(s) {', '.join(unknown)}; a profile has [profile] and [tables.*]", file=path
        )
    profile = content.get("profile", {})
    if not isinstance(profile, dict) or set(profile) - _PROFILE_KEYS:
        raise ExtractError(f"[profile] may hold only {', '.join(sorted(_PROFILE_KEYS))}", file=path)
    tables = content.get("tables", {})
    wrong = sorted(set(tables) - set(TABLES))
    if wrong:
        raise ExtractError(
            f"[tables.{wrong[0]}] is not a contract table (tables: {', '.join(TABLES)})", file=path
        )
    return MappingProfile(
        path=path,
        name=str(profile.get("name", path.stem)),
        tables={t: _table_mapping(t, entry, path) for t, entry in tables.items()},
        date_format=_date_format(profile.get("date_format"), "[profile]", path),
        encoding=None if profile.get("encoding") is None else str(profile["encoding"]),
        sha256=hashlib.sha256(raw).hexdigest(),
    )
