"""metric_series of people-based metrics (one query for every month) equals compute_metric run month by
month, with and without a breakdown, filters and suppression, on a generated 1,500-person warehouse."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pandas as pd
import pytest

from pipelines.metrics import compute_metric, extract_as_of, get_metric, metric_series, metric_sql
from pipelines.metrics.api import RESULT_COLUMNS
from pipelines.warehouse import open_warehouse

PEOPLE_METRICS = (
    "in_treatment",
    "deaths_in_treatment",
    "completion_no_representation",
    "peer_reach",
    "representation_6m",
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory):
    from pipelines.generate import generate_extract
    from pipelines.load import load_extracts

    root = tmp_path_factory.mktemp("series")
    generate_extract(root / "extract", people=1500, seed=11)
    load_extracts([root / "extract"], root / "rosc.duckdb", quiet=True)
    opened = open_warehouse(root / "rosc.duckdb")
    yield opened
    opened.close()


def month_by_month(warehouse, name: str, start: date, end: date, **options) -> pd.DataFrame:
    """The reference: compute_metric on each calendar month (clipped to [start, end]) as its own period,
    skipping months without the follow-up the metric needs, concatenated."""
    metric, as_of = get_metric(name), extract_as_of(warehouse)
    parts, first = [], date(start.year, start.month, 1)
    while first <= end:
        last = date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])
        window = (max(first, start), min(last, end))
        first = last + timedelta(days=1)
        if window[1] + timedelta(days=metric.needs_follow_up_days) > as_of:
            continue
        part = compute_metric(warehouse, name, *window, **options)
        part.insert(0, "month", window[0].strftime("%Y-%m"))
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def labels_as_objects(table: pd.DataFrame) -> pd.DataFrame:
    """Breakdown labels as plain objects: concatenating months, one of them empty (an object column from
    DuckDB), turns pandas' string dtype into object, so the dtype of a label column is not compared."""
    labels = [c for c in table.columns if c not in ("month", *RESULT_COLUMNS)]
    return table.astype(dict.fromkeys(labels, object))


@pytest.mark.parametrize("name", PEOPLE_METRICS)
@pytest.mark.parametrize(
    "options",
    [
        {"suppress": False},
        {},
        {"by": ["sex"]},
        {"by": ["setting", "age_band"], "filters": {"sex": ["female"]}},
        {"filters": {"programme": ["PG01", "PG02", "PG03"]}, "suppress": False},
    ],
    ids=["unsuppressed", "suppressed", "by-sex", "two-way-filtered", "filtered"],
)
def test_series_equals_month_by_month(warehouse, name: str, options: dict) -> None:
    as_of = extract_as_of(warehouse)
    end = date(as_of.year, as_of.month, 1) - timedelta(days=1)
    start = date(end.year - 2, end.month, 1) + timedelta(days=10)  # a partial first month
    series = metric_series(warehouse, name, start, end, **options)
    expected = month_by_month(warehouse, name, start, end, **options)
    assert len(series) > 0
    pd.testing.assert_frame_equal(labels_as_objects(series), labels_as_objects(expected))


def test_series_by_peer_support_equals_month_by_month(warehouse) -> None:
    as_of = extract_as_of(warehouse)
    start, end = date(as_of.year - 2, 1, 1), date(as_of.year - 2, 12, 31)
    options = {"by": ["peer_support"], "suppress": False}
    series = metric_series(warehouse, "representation_6m", start, end, **options)
    expected = month_by_month(warehouse, "representation_6m", start, end, **options)
    pd.testing.assert_frame_equal(labels_as_objects(series), labels_as_objects(expected))
    assert set(series["peer_support"]) == {"with_peer_support", "without_peer_support"}


def test_series_query_joins_months_to_every_fact_table() -> None:
    from pipelines.metrics.query import build_metric_query

    for name in PEOPLE_METRICS:
        sql = build_metric_query(get_metric(name), ("sex",), ("programme",), series=True).sql
        assert "$period_start" not in sql.split("units AS (", 1)[1]  # each month's own bounds inside
        facts = sum(
            sql.count(f"FROM {table}")
            for table in ("episode_facts", "contact_facts", "contact_months", "contact_person_months")
        )
        assert sql.count("CROSS JOIN series_periods") == facts > 0
    assert "series_periods" not in metric_sql("in_treatment")
