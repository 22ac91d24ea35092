"""Realistic exports of one contract extract: the same facts, written as real systems write them.

Each writer takes a contract-exact extract folder and writes the same records another way:
- `write_pandas_defaults`: what `pd.read_csv` then `df.to_csv()` / `df.to_parquet()` give with their
  defaults (an index column, booleans True/False, nullable integers as 1965.0, dates as datetime64);
- `write_windows_csv`: Excel's "CSV" on Windows: Windows-1252 text, CRLF line ends, dd/mm/yyyy dates,
  TRUE/FALSE booleans;
- `write_workbook`: an .xlsx workbook (one sheet per table, or one workbook per table) with real date,
  number and boolean cells, via XlsxWriter;
- `write_ndtms_style`: an NDTMS-style export (one file per level, its own column names and codes, UK
  dates, Windows-1252, "NULL" for no value), the inverse of `data/examples/ndtms.toml`.
Loading any of them with the right options gives the warehouse the contract-exact extract gives
(`tests/sources/test_realistic_exports.py`).

`python -m tests.exports.writers` rewrites the committed example `data/examples/ndtms/` from a
generated extract (`EXAMPLE_PEOPLE` people, seed `EXAMPLE_SEED`).
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from pipelines.contract import OPTIONAL_TABLES, TABLE_ORDER, TABLES

ROOT = Path(__file__).resolve().parents[2]
NDTMS_PROFILE = ROOT / "data" / "examples" / "ndtms.toml"
NDTMS_EXAMPLE = ROOT / "data" / "examples" / "ndtms"
EXAMPLE_PEOPLE = 150
EXAMPLE_SEED = 20261201

#: Names with a pound sign and an accented letter, which Windows-1252 writes as single bytes.
ACCENTED_NAMES = {0: "Café Recovery Hub", 1: "£1 Breakfast Club Recovery Community"}


def tables_in(folder: Path) -> list[str]:
    """The contract tables a contract-exact CSV extract holds: every required one, and an optional one
    (drug_tests) when its file is there."""
    return [t for t in TABLE_ORDER if t not in OPTIONAL_TABLES or (folder / f"{t}.csv").exists()]


def contract_frames(folder: Path) -> dict[str, pd.DataFrame]:
    """Every table of a contract-exact CSV extract, as text (None for an empty field)."""
    frames = {}
    for table in tables_in(folder):
        frame = pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)
        frames[table] = frame.astype(object).where(frame != "", None)
    return frames


def with_accents(folder: Path) -> Path:
    """Rename the first two providers so the extract holds a pound sign and an accented letter."""
    path = folder / "providers.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for position, name in ACCENTED_NAMES.items():
        frame.loc[position, "provider_name"] = name
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    return folder


def _as_of(folder: Path) -> str:
    return json.loads((folder / "extract.json").read_text())["as_of"]


def write_pandas_defaults(folder: Path, out: Path, fmt: str) -> Path:
    """The extract read with pandas' defaults and written back with them (`to_csv()`, `to_parquet()`)."""
    out.mkdir(parents=True, exist_ok=True)
    for table in tables_in(folder):
        frame = pd.read_csv(folder / f"{table}.csv")
        for column in TABLES[table].date_columns:
            frame[column] = pd.to_datetime(frame[column])
        if fmt == "csv":
            frame.to_csv(out / f"{table}.csv")
        else:
            frame.to_parquet(out / f"{table}.parquet")
    (out / "extract.json").write_text(json.dumps({"as_of": _as_of(folder), "contract_version": 1}))
    return out


def _uk_date(text: str | None, pattern: str = "%d/%m/%Y") -> str | None:
    return None if text is None else date.fromisoformat(text).strftime(pattern)


def _write_csv(path: Path, header: list[str], rows: list[list], encoding: str, null: str = "") -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[null if v is None else v for v in row] for row in rows])
    path.write_bytes(buffer.getvalue().encode(encoding))


def write_windows_csv(folder: Path, out: Path) -> Path:
    """Excel's 'CSV' on Windows: cp1252, CRLF, dd/mm/yyyy dates, TRUE/FALSE booleans."""
    out.mkdir(parents=True, exist_ok=True)
    for table, frame in contract_frames(folder).items():
        spec = TABLES[table]
        rows = []
        for record in frame.itertuples(index=False):
            row = []
            for col, value in zip(spec.columns, record, strict=True):
                if col.type == "date":
                    value = _uk_date(value)
                elif col.type == "boolean" and value is not None:
                    value = value.upper()
                row.append(value)
            rows.append(row)
        _write_csv(out / f"{table}.csv", spec.column_names, rows, "cp1252")
    (out / "extract.json").write_text(json.dumps({"as_of": _as_of(folder), "contract_version": 1}))
    return out


def write_workbook(folder: Path, out: Path, *, one_workbook: bool = True) -> Path:
    """An .xlsx export with typed cells: `extract.xlsx` with a sheet per table, or `<table>.xlsx`."""
    import xlsxwriter

    out.mkdir(parents=True, exist_ok=True)
    books = {}

    def book(name: str):
        if name not in books:
            books[name] = xlsxwriter.Workbook(str(out / name), {"constant_memory": True})
        return books[name]

    for table, frame in contract_frames(folder).items():
        workbook = book("extract.xlsx" if one_workbook else f"{table}.xlsx")
        date_cell = workbook.add_format({"num_format": "dd/mm/yyyy"})
        sheet = workbook.add_worksheet(table if one_workbook else "Sheet1")
        spec = TABLES[table]
        sheet.write_row(0, 0, spec.column_names)
        for r, record in enumerate(frame.itertuples(index=False), start=1):
            for c, (col, value) in enumerate(zip(spec.columns, record, strict=True)):
                if value is None:
                    continue
                if col.type == "date":
                    sheet.write_datetime(r, c, datetime.fromisoformat(value), date_cell)
                elif col.type == "integer":
                    sheet.write_number(r, c, int(value))
                elif col.type == "boolean":
                    sheet.write_boolean(r, c, value == "true")
                else:
                    sheet.write_string(r, c, value)
    for workbook in books.values():
        workbook.close()
    (out / "extract.json").write_text(json.dumps({"as_of": _as_of(folder), "contract_version": 1}))
    return out


def ndtms_profile() -> dict:
    with NDTMS_PROFILE.open("rb") as f:
        return tomllib.load(f)


def write_ndtms_style(folder: Path, out: Path) -> Path:
    """The extract as the NDTMS-style system of `data/examples/ndtms.toml` exports it (no extract.json)."""
    profile = ndtms_profile()
    out.mkdir(parents=True, exist_ok=True)
    for table, frame in contract_frames(folder).items():
        spec = TABLES[table]
        mapping = profile["tables"][table]
        null = "NULL" if "NULL" in mapping.get("null_values", []) else ""
        # The export's codes: the first listed for each contract value, but for ethnic groups every code
        # of the group in turn (several export codes read as one contract code).
        codes: dict[str, dict[str, list[str]]] = {}
        for column, values in mapping.get("values", {}).items():
            for export_value, contract_value in values.items():
                codes.setdefault(column, {}).setdefault(contract_value, []).append(export_value)
        rows = []
        for number, record in enumerate(frame.itertuples(index=False)):
            row = []
            for col, value in zip(spec.columns, record, strict=True):
                if value is not None and col.name in codes:
                    choices = codes[col.name][value]
                    value = choices[number % len(choices)]
                elif value is not None and col.type == "date":
                    value = _uk_date(value, profile["profile"]["date_format"])
                elif value is not None and col.type == "boolean":
                    value = "Y" if value == "true" else "N"
                row.append(value)
            rows.append(row)
        header = [mapping["columns"][c] for c in spec.column_names]
        _write_csv(out / mapping["file"], header, rows, profile["profile"]["encoding"], null)
    return out


def main() -> None:  # pragma: no cover - regenerates the committed example
    import shutil
    import tempfile

    from pipelines.generate import generate_extract

    with tempfile.TemporaryDirectory() as tmp:
        contract = Path(tmp) / "contract"
        generate_extract(contract, people=EXAMPLE_PEOPLE, seed=EXAMPLE_SEED)
        with_accents(contract)
        shutil.rmtree(NDTMS_EXAMPLE, ignore_errors=True)
        write_ndtms_style(contract, NDTMS_EXAMPLE)
    print(f"wrote {NDTMS_EXAMPLE}")


if __name__ == "__main__":  # pragma: no cover
    main()
