"""The result cache the dashboard's workers share (`dashboard.result_cache`).

Two `DashboardData` on one warehouse stand for two gunicorn workers: what one computed the other serves
without querying (the metric layer is made to fail in the second, so only the cache can answer), the
answer is the metric layer's own (compared with `compute_metric` on a fresh handle), a service lead's
scoped answer is never served to a commissioner nor the other way round, and a new load (another file
swapped in at the same path) is answered from the new file while the older file's entries are deleted.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from flask import Flask, g

import pipelines.metrics
from dashboard.auth import Scope
from dashboard.filters import default_state
from dashboard.queries import SUPPRESSION_THRESHOLD, DashboardData
from dashboard.result_cache import MISSING, ResultCache, UnsafeCacheFile, default_path, open_result_cache
from pipelines.metrics import compute_metric
from pipelines.warehouse import file_identity, open_warehouse

METRIC = "retention_12wk"


@pytest.fixture()
def warehouse(tmp_path: Path) -> Path:
    from pipelines.generate import generate_extract
    from pipelines.load import load_extracts

    generate_extract(tmp_path / "extract-a", people=300, seed=11)
    db = tmp_path / "rosc.duckdb"
    load_extracts([tmp_path / "extract-a"], db, quiet=True)
    return db


def _fresh(db: Path, start: date, end: date, by: list[str], filters: dict | None = None) -> pd.DataFrame:
    """The metric layer's answer from a new handle, no cache anywhere."""
    warehouse = open_warehouse(db)
    try:
        return compute_metric(
            warehouse,
            METRIC,
            start,
            end,
            by=by,
            filters=filters,
            suppress=True,
            threshold=SUPPRESSION_THRESHOLD,
        )
    finally:
        warehouse.close()


def _refuse_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the metric layer was asked: the shared cache did not answer")

    monkeypatch.setattr(pipelines.metrics, "compute_metric", refuse)


def test_a_second_worker_is_answered_from_the_shared_cache(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "results.sqlite3"
    first = DashboardData(warehouse, shared_cache=shared)
    state = default_state(first.as_of(), first.dates()[0])
    computed = first.metric(METRIC, state.start, state.end, by=["programme"])
    assert first.shared is not None and first.shared.entries() >= 1
    expected = _fresh(warehouse, state.start, state.end, ["programme"])
    pd.testing.assert_frame_equal(computed, expected)

    second = DashboardData(warehouse, shared_cache=shared)
    _refuse_queries(monkeypatch)
    served = second.metric(METRIC, state.start, state.end, by=["programme"])
    pd.testing.assert_frame_equal(served, expected)
    assert served.attrs == expected.attrs  # what was asked, the disclosure applied, travel with it
    with pytest.raises(AssertionError, match="shared cache did not answer"):
        second.metric(METRIC, state.start, state.end, by=["setting"])  # not asked before: computed
    first.close()
    second.close()


def test_a_scoped_answer_is_only_served_to_the_same_scope(warehouse: Path, tmp_path: Path) -> None:
    shared = tmp_path / "results.sqlite3"
    lead_worker = DashboardData(warehouse, shared_cache=shared)
    state = default_state(lead_worker.as_of(), lead_worker.dates()[0])
    everything = _fresh(warehouse, state.start, state.end, ["programme"])
    programmes = sorted(everything["programme"].astype(str))
    assert len(programmes) >= 3
    own = programmes[0]
    lead = Scope(programmes=frozenset({own}))

    app = Flask(__name__)
    with app.test_request_context():
        g.rosc_scope = lead
        lead_view = lead_worker.metric(METRIC, state.start, state.end, by=["programme"])
    assert list(lead_view["programme"].astype(str)) == [own]
    pd.testing.assert_frame_equal(
        lead_view, _fresh(warehouse, state.start, state.end, ["programme"], {"programme": [own]})
    )

    # Another worker, a commissioner, the same request: the whole table, not the lead's cached one.
    commissioner_worker = DashboardData(warehouse, shared_cache=shared)
    with app.test_request_context():
        whole = commissioner_worker.metric(METRIC, state.start, state.end, by=["programme"])
    pd.testing.assert_frame_equal(whole, everything)

    # And a third worker serving the lead after the commissioner: still the lead's programme only.
    third = DashboardData(warehouse, shared_cache=shared)
    with app.test_request_context():
        g.rosc_scope = lead
        again = third.metric(METRIC, state.start, state.end, by=["programme"])
    pd.testing.assert_frame_equal(again, lead_view)
    for data in (lead_worker, commissioner_worker, third):
        data.close()


def test_a_new_load_is_never_served_from_the_older_file(warehouse: Path, tmp_path: Path) -> None:
    from pipelines.generate import generate_extract
    from pipelines.load import load_extracts

    shared = tmp_path / "results.sqlite3"
    worker = DashboardData(warehouse, shared_cache=shared)
    state = default_state(worker.as_of(), worker.dates()[0])
    before = worker.metric(METRIC, state.start, state.end)
    identity_before = file_identity(warehouse)
    assert worker.shared is not None
    stored_before = worker.shared.entries()
    assert stored_before >= 1

    generate_extract(tmp_path / "extract-b", people=900, seed=12)
    load_extracts([tmp_path / "extract-b"], warehouse, quiet=True, force=True)
    assert file_identity(warehouse) != identity_before  # the load swapped in another file
    # The worker that cached the older file's answer, then one that never saw it (in one process these
    # share DuckDB's database instance, so the first must have moved to the new file before the
    # independent handle opens: it does so on its next query, as a gunicorn worker would).
    after = worker.metric(METRIC, state.start, state.end)
    other = DashboardData(warehouse, shared_cache=shared)
    from_other = other.metric(METRIC, state.start, state.end)
    expected = _fresh(warehouse, state.start, state.end, [])
    assert int(expected["denominator"].iloc[0]) != int(before["denominator"].iloc[0])
    pd.testing.assert_frame_equal(after, expected)
    pd.testing.assert_frame_equal(from_other, expected)
    # The older file's entries are gone: every entry left is the new file's.
    cache = ResultCache(shared)
    with sqlite3.connect(shared) as db:
        identities = {row[0] for row in db.execute("SELECT warehouse FROM results")}
    assert identities == {repr(file_identity(warehouse))}
    assert cache.get(repr(identity_before), ("metric", METRIC)) is MISSING
    for data in (worker, other):
        data.close()
    cache.close()


def test_the_cache_file_is_private_and_refused_otherwise(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite3"
    cache = ResultCache(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    cache.put("w1", ("k",), {"a": 1})
    assert cache.get("w1", ("k",)) == {"a": 1}
    assert cache.get("w1", ("other",)) is MISSING
    cache.close()
    os.chmod(path, 0o666)  # anyone could now plant a pickle in it
    with pytest.raises(UnsafeCacheFile):
        ResultCache(path)
    assert open_result_cache(path) is None  # the dashboard goes on, caching in its own process


def test_where_the_cache_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROSC_RESULT_CACHE", raising=False)
    assert default_path(tmp_path / "w.duckdb") == tmp_path / "w.duckdb.results.sqlite3"
    monkeypatch.setenv("ROSC_RESULT_CACHE", str(tmp_path / "elsewhere.sqlite3"))
    assert default_path(tmp_path / "w.duckdb") == tmp_path / "elsewhere.sqlite3"
    monkeypatch.setenv("ROSC_RESULT_CACHE", "off")
    assert default_path(tmp_path / "w.duckdb") is None
