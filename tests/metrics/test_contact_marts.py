"""The contact metrics from the pre-aggregated marts (contact_months, contact_person_months) give exactly
what they gave when they scanned every contact (the templates of main before issue 14, kept in
``tests/metrics/reference_sql``): exact counts with their key sums (``suppress=False, keys=True``) and
the shared, perturbed and suppressed tables, for whole-month periods (the marts alone) and periods that
are not whole months (the marts plus the partial months' contacts), broken down and filtered, and as
monthly series. On the committed 3,000-person sample, and (slow) on a generated 200,000-person
warehouse."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import pipelines.metrics.query as query
from pipelines.metrics import compute_metric, get_metric, metric_series
from pipelines.warehouse import open_warehouse

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_SQL = Path(__file__).with_name("reference_sql")
CONTACT_METRICS = ("peer_contact_share", "peer_minutes_share", "peer_reach")

#: (start, end, by, filters): whole financial years, quarters and months (the dashboard's periods), and
#: periods that start or end inside a month (the API's), with breakdowns and filters of every kind.
CASES = [
    (date(2025, 4, 1), date(2026, 3, 31), None, None),
    (date(2025, 4, 1), date(2026, 3, 31), ["programme", "quarter"], None),
    (date(2025, 4, 1), date(2026, 3, 31), ["month"], {"setting": ["community"]}),
    (date(2025, 10, 1), date(2025, 12, 31), ["substance_group", "sex"], None),
    (date(2026, 2, 1), date(2026, 2, 28), ["age_band"], {"sex": ["female"]}),
    (date(2024, 4, 1), date(2025, 3, 31), ["area", "provider"], {"substance_group": ["opiate"]}),
    (date(2025, 1, 15), date(2025, 3, 10), ["programme", "month"], None),
    (date(2025, 2, 3), date(2025, 2, 20), None, {"setting": ["community"]}),
    (date(2024, 12, 20), date(2025, 1, 31), ["quarter", "setting"], {"age_band": ["35-39"]}),
    (date(2023, 6, 2), date(2025, 6, 30), ["sex"], {"month": ["2024-01", "2025-06"]}),
]


@contextlib.contextmanager
def contact_metrics_scanning_every_contact() -> Iterator[None]:
    """The metric layer with the contact metrics' templates of before the marts."""
    current = query.read_sql

    def read_sql(*parts: str) -> str:
        if parts[0] == "metrics" and parts[-1].removesuffix(".sql") in CONTACT_METRICS:
            return (REFERENCE_SQL / parts[-1]).read_text(encoding="utf-8")
        return current(*parts)

    query._build_metric_query.cache_clear()
    query.read_sql = read_sql
    try:
        yield
    finally:
        query.read_sql = current
        query._build_metric_query.cache_clear()


def both_ways(run) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the result from the marts, the result scanning every contact)."""
    from_marts = run()
    with contact_metrics_scanning_every_contact():
        scanned = run()
    return from_marts, scanned


def check_identical(warehouse) -> int:
    compared = 0
    for name in CONTACT_METRICS:
        for start, end, by, filters in CASES:
            for options in ({"suppress": False, "keys": True}, {}):
                new, old = both_ways(
                    lambda n=name, s=start, e=end, b=by, f=filters, o=options: compute_metric(
                        warehouse, n, s, e, by=b, filters=f, **o
                    )
                )
                assert len(old) > 0
                pd.testing.assert_frame_equal(new, old, check_exact=True)
                assert new.attrs == old.attrs
                compared += 1
        for filters in (None, {"setting": ["community"]}):
            for options in ({"suppress": False}, {}):
                for by in (None, ["programme"]):
                    new, old = both_ways(
                        lambda n=name, f=filters, o=options, b=by: metric_series(
                            warehouse, n, date(2024, 4, 1), date(2026, 3, 31), by=b, filters=f, **o
                        )
                    )
                    pd.testing.assert_frame_equal(new, old, check_exact=True)
                    compared += 1
    return compared


@pytest.fixture(scope="module")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory):
    from pipelines.load import load_extracts

    db = tmp_path_factory.mktemp("contact-marts") / "rosc.duckdb"
    load_extracts([ROOT / "data" / "sample"], db, quiet=True)
    opened = open_warehouse(db)
    yield opened
    opened.close()


def test_marts_give_the_same_results_on_the_sample(sample_warehouse) -> None:
    assert check_identical(sample_warehouse) == 3 * (2 * len(CASES) + 8)


@pytest.mark.slow
def test_marts_give_the_same_results_on_200000_people(tmp_path_factory: pytest.TempPathFactory) -> None:
    from pipelines.generate import generate_extract
    from pipelines.load import load_extracts

    root = tmp_path_factory.mktemp("contact-marts-200k")
    generate_extract(root / "extract", people=200_000, seed=20260331, fmt="parquet")
    load_extracts([root / "extract"], root / "rosc.duckdb", quiet=True)
    with open_warehouse(root / "rosc.duckdb") as warehouse:
        assert check_identical(warehouse) == 3 * (2 * len(CASES) + 8)


def test_whole_months_never_read_the_contacts() -> None:
    """For whole months (every period the dashboard asks for) the contact metrics read only the marts;
    a period that is not whole months also reads the contacts of its partial months."""
    for name in CONTACT_METRICS:
        metric = get_metric(name)
        for series in (False, True):
            whole = query.build_metric_query(
                metric, ("programme",), ("sex",), series=series, whole_months=True
            )
            partial = query.build_metric_query(metric, ("programme",), ("sex",), series=series)
            assert "FROM contact_facts" not in whole.sql
            assert "FROM contact_months" in whole.sql or "FROM contact_person_months" in whole.sql
            assert "FROM contact_facts" in partial.sql


def test_whole_months() -> None:
    assert query.is_whole_months(date(2025, 4, 1), date(2026, 3, 31))
    assert query.is_whole_months(date(2024, 2, 1), date(2024, 2, 29))
    assert not query.is_whole_months(date(2024, 2, 1), date(2024, 2, 28))
    assert not query.is_whole_months(date(2024, 2, 2), date(2024, 2, 29))
