"""extract_as_of keeps a Warehouse's as_of per file, and reads it afresh when a load swaps the file."""

from __future__ import annotations

import os

import duckdb

from pipelines.metrics import api
from pipelines.metrics.api import compute_metric, extract_as_of
from pipelines.warehouse import open_warehouse
from tests.metrics.builders import build, d, episode


def test_as_of_is_cached_per_file_and_refreshed_after_a_swap(tmp_path, monkeypatch) -> None:
    live = build(tmp_path / "rosc.duckdb", episodes=[episode("E1", "P1", start=d("2025-03-01"))])
    warehouse = open_warehouse(live)
    try:
        queries = []
        real_cursor = api._cursor
        monkeypatch.setattr(api, "_cursor", lambda source: queries.append(source) or real_cursor(source))

        assert extract_as_of(warehouse) == d("2025-03-01")
        asked = len(queries)
        assert extract_as_of(warehouse) == d("2025-03-01")
        assert len(queries) == asked  # answered from the cache, no query
        result = compute_metric(warehouse, "in_treatment", "2025-01-01", "2025-03-01", suppress=False)
        assert result.attrs["as_of"] == d("2025-03-01")

        # A load builds the new state in a sibling file and renames it over the live one.
        sibling = build(tmp_path / "next.duckdb", episodes=[episode("E1", "P1", start=d("2025-06-30"))])
        os.replace(sibling, live)
        assert extract_as_of(warehouse) == d("2025-06-30")
        assert compute_metric(warehouse, "in_treatment", "2025-01-01", "2025-03-01").attrs["as_of"] == d(
            "2025-06-30"
        )
    finally:
        warehouse.close()


def test_a_bare_connection_is_always_asked(tmp_path) -> None:
    path = build(tmp_path / "rosc.duckdb", episodes=[episode("E1", "P1", start=d("2025-03-01"))])
    con = duckdb.connect(str(path))
    try:
        assert extract_as_of(con) == d("2025-03-01")
        con.execute("UPDATE extract_dates SET as_of = DATE '2025-04-01'")
        assert extract_as_of(con) == d("2025-04-01")
    finally:
        con.close()
