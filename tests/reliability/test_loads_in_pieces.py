"""A load read, checked and written in pieces gives exactly what a load of whole files gives.

The loader reads a big file a piece at a time (`pipelines.checks.PIECE_ROWS` rows) so that its memory
does not grow with the extract. Here the piece is made tiny, so that every file of every case goes in
many pieces, and the outcome is compared with a load of the same extract in one piece: the same error
(type and message), or the same contract tables (record keys aside, as each warehouse has its salt),
the same quarantine rows and the same per-file counts. The load in pieces also looks every key set up
through DuckDB (`pipelines.schemas.KeyLookup`, used for big key sets), the whole load through pyarrow.

Every case of the bad-input corpus (CSV) is run so, and Parquet extracts whose problems sit in later
pieces: a key repeated far apart in a file not in key order, a repeat in a file in key order, bytes
that are not UTF-8 in a later row group, and a second folder upserting the first.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pipelines.checks as checks
import pipelines.schemas as schemas
import pipelines.sources.csv_file as csv_file
from pipelines.contract import TABLE_ORDER
from pipelines.generate import generate_extract
from pipelines.load import LoadRefused, load_extracts
from pipelines.record_keys import KEY_COLUMN
from pipelines.sources import ExtractError, ReadOptions
from tests.reliability.corpus import build_case, load_cases

CASES = load_cases()


def _outcome(extracts: list[Path], db: Path, **kwargs) -> dict:
    """What a load did, in a form two loads can be compared by."""
    try:
        result = load_extracts(extracts, db, max_rejected=1.0, **kwargs)
    except (ExtractError, LoadRefused) as error:
        return {"error": type(error).__name__, "message": str(error)}
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = {}
        for table in TABLE_ORDER:
            columns = [c for c, *_ in con.execute(f"DESCRIBE {table}").fetchall() if c != KEY_COLUMN]
            listed = ", ".join(columns)
            tables[table] = con.execute(f"SELECT {listed} FROM {table} ORDER BY ALL").fetchall()
        quarantine = con.execute(
            "SELECT table_name, file, line, column_name, rule, value, message, sheet, contract_column "
            "FROM quarantine ORDER BY ALL"
        ).fetchall()
        files = json.loads(con.execute("SELECT files FROM load_history ORDER BY load_id DESC").fetchone()[0])
    finally:
        con.close()
    return {
        "tables": tables,
        "quarantine": quarantine,
        "files": files,
        "loaded": result.loaded,
        "rejected": result.rejected,
        "closing": result.closing_line(),
    }


def _both_ways(
    monkeypatch, tmp_path: Path, extracts: list[Path], piece_rows: int, scan_block: int = 5, **kwargs
) -> tuple[dict, dict]:
    (tmp_path / "whole").mkdir()
    (tmp_path / "pieces").mkdir()
    whole = _outcome(extracts, tmp_path / "whole" / "warehouse.duckdb", **kwargs)
    monkeypatch.setattr(checks, "PIECE_ROWS", piece_rows)
    monkeypatch.setattr(schemas.KeyLookup, "BIG", 2)  # and key sets looked up through DuckDB
    monkeypatch.setattr(csv_file, "_KEEP_BYTES", 0)  # and every CSV scanned and streamed as a big one,
    monkeypatch.setattr(csv_file, "_BLOCK", scan_block)  # in blocks of 5 bytes,
    monkeypatch.setattr(csv_file, "_STREAM_BLOCK", 300)  # parsed 300 bytes at a time
    pieces = _outcome(extracts, tmp_path / "pieces" / "warehouse.duckdb", **kwargs)
    for outcome, folder in ((whole, "whole"), (pieces, "pieces")):
        for said in ("message", "closing"):
            if said in outcome:
                outcome[said] = (
                    outcome[said].replace(str(tmp_path / folder), "DB").replace(str(tmp_path), "TMP")
                )
    return whole, pieces


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_corpus_case_gives_the_same_outcome_in_pieces_of_two_rows(case, tmp_path, monkeypatch) -> None:
    extract = build_case(case, tmp_path / "extract")
    options = ReadOptions(date_format=case.date_format, encoding=case.encoding)
    whole, pieces = _both_ways(monkeypatch, tmp_path, [extract], 2, strict=case.strict, options=options)
    assert pieces == whole


def _generated(tmp_path_factory, fmt: str) -> Path:
    folder = tmp_path_factory.mktemp(fmt) / "extract"
    generate_extract(folder, people=300, seed=7, fmt=fmt)
    return folder


@pytest.fixture(scope="module")
def parquet_extract(tmp_path_factory) -> Path:
    return _generated(tmp_path_factory, "parquet")


def _copy(extract: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "extract"
    shutil.copytree(extract, folder)
    return folder


def _rewrite(folder: Path, table: str, change) -> None:
    path = folder / f"{table}.parquet"
    pq.write_table(change(pq.read_table(path)), path, row_group_size=500)


def test_a_parquet_extract_in_pieces_loads_the_same_rows(parquet_extract, tmp_path, monkeypatch) -> None:
    whole, pieces = _both_ways(monkeypatch, tmp_path, [parquet_extract], 997)
    assert "error" not in whole and sum(whole["loaded"].values()) > 10_000
    assert pieces == whole


def test_a_key_repeated_far_apart_in_a_file_out_of_order_is_rejected_at_both_lines(
    parquet_extract, tmp_path, monkeypatch
) -> None:
    folder = _copy(parquet_extract, tmp_path)

    def repeat_first_contact_last(contacts: pa.Table) -> pa.Table:
        contacts = contacts.take(list(range(contacts.num_rows - 1, -1, -1)))  # not in key order
        last = contacts.slice(0, 1)
        return pa.concat_tables([contacts, last])

    _rewrite(folder, "contacts", repeat_first_contact_last)
    whole, pieces = _both_ways(monkeypatch, tmp_path, [folder], 1000)
    assert pieces == whole
    unique = [q for q in whole["quarantine"] if q[4] == "unique"]
    rows = pq.read_metadata(folder / "contacts.parquet").num_rows
    assert sorted(q[2] for q in unique) == [2, rows + 1]  # the first row and the last (line = row + 1)


def test_a_repeat_in_a_file_in_key_order_is_found_across_pieces(
    parquet_extract, tmp_path, monkeypatch
) -> None:
    folder = _copy(parquet_extract, tmp_path)

    def sorted_with_a_repeat(contacts: pa.Table) -> pa.Table:
        contacts = contacts.sort_by("contact_id")
        return pa.concat_tables([contacts.slice(0, 1500), contacts.slice(1499, 1), contacts.slice(1500)])

    _rewrite(folder, "contacts", sorted_with_a_repeat)
    whole, pieces = _both_ways(monkeypatch, tmp_path, [folder], 1500)  # the repeat opens the second piece
    assert pieces == whole
    assert sorted(q[2] for q in whole["quarantine"] if q[4] == "unique") == [1501, 1502]


def test_bytes_not_utf8_in_a_later_piece_name_their_row(parquet_extract, tmp_path, monkeypatch) -> None:
    folder = _copy(parquet_extract, tmp_path)

    path = folder / "contacts.parquet"
    contacts = pq.read_table(path)
    values = [v.encode() for v in contacts.column("support_type").to_pylist()]
    values[2345] = b"\xff\xfe"
    at = contacts.column_names.index("support_type")
    pq.write_table(
        contacts.set_column(at, "support_type", pa.array(values, pa.binary())), path, row_group_size=500
    )
    whole, pieces = _both_ways(monkeypatch, tmp_path, [folder], 1000)
    assert pieces == whole
    assert whole["error"] == "ExtractError" and "row 2346" in whole["message"]  # rows count from 1


def test_a_second_folder_upserts_the_first_alike_in_pieces(parquet_extract, tmp_path, monkeypatch) -> None:
    second = tmp_path / "second"
    shutil.copytree(parquet_extract, second)

    def changed_minutes(contacts: pa.Table) -> pa.Table:
        half = contacts.slice(0, contacts.num_rows // 2)
        at = half.column_names.index("duration_minutes")
        return half.set_column(
            at, "duration_minutes", pa.array([7] * half.num_rows, half.schema.field(at).type)
        )

    _rewrite(second, "contacts", changed_minutes)
    whole, pieces = _both_ways(monkeypatch, tmp_path, [parquet_extract, second], 700)
    assert "error" not in whole
    assert pieces == whole


@pytest.fixture(scope="module")
def csv_extract(tmp_path_factory) -> Path:
    return _generated(tmp_path_factory, "csv")


@pytest.mark.parametrize("line_ends", ["\n", "\r\n"])
def test_a_csv_extract_streamed_in_pieces_loads_the_same_rows(
    csv_extract, tmp_path, monkeypatch, line_ends
) -> None:
    folder = _copy(csv_extract, tmp_path)
    for path in folder.glob("*.csv"):
        path.write_bytes(path.read_bytes().replace(b"\n", line_ends.encode()))
    whole, pieces = _both_ways(monkeypatch, tmp_path, [folder], 997, scan_block=4093)
    assert "error" not in whole and sum(whole["loaded"].values()) > 10_000
    assert pieces == whole


def test_quoted_line_breaks_and_blank_lines_late_in_a_streamed_csv_keep_exact_lines(
    csv_extract, tmp_path, monkeypatch
) -> None:
    folder = _copy(csv_extract, tmp_path)
    path = folder / "contacts.csv"
    lines = path.read_text().splitlines()
    at = len(lines) - 40
    header = lines[0].split(",")
    fields = lines[at].split(",")
    fields[header.index("support_type")] = '"not\na code"'  # a quoted field spanning two lines
    lines[at] = ",".join(fields)
    lines.insert(at - 5, "")  # and a blank line before it
    path.write_text("\n".join(lines) + "\n")
    whole, pieces = _both_ways(monkeypatch, tmp_path, [folder], 1000, scan_block=4093)
    assert pieces == whole
    code = [q for q in whole["quarantine"] if q[3] == "support_type"]
    assert [q[2] for q in code] == [at + 2]  # line at+1 of the list, one line further for the blank
