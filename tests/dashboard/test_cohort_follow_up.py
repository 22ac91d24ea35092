"""Cohorts cut short by follow-up (issue 12): the registry's ``cohort_follow_up`` is what the SQL does, and a
tile whose period ends too near as_of says which part of the period it covers."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from pipelines.metrics import compute_metric, describe_metric
from pipelines.metrics.api import extract_as_of
from pipelines.metrics.registry import METRICS

CUT = {name: m.cohort_follow_up for name, m in METRICS.items() if m.cohort_follow_up}


def test_the_metrics_that_keep_only_followed_up_records_say_so() -> None:
    assert CUT == {
        "retention_12wk": ("starts", 84),
        "early_unplanned_exit": ("starts", 84),
        "representation_6m": ("successful discharges", 182),
        "relapse_tests": ("referrals", 168),
    }
    assert describe_metric("retention_12wk")["cohort_follow_up"] == ["starts", 84]
    assert describe_metric("successful_completion")["cohort_follow_up"] is None


@pytest.mark.parametrize("name", [n for n in CUT if n != "relapse_tests"])  # the sample has no drug tests
def test_the_cohort_stops_exactly_the_stated_days_before_as_of(warehouse_path, name: str) -> None:
    """Counted exactly: a period running to as_of holds the same records as one running to as_of − days,
    and one day more of follow-up needed (ending a day earlier) can only lose records; the day after
    as_of − days adds none, whatever happened on it."""
    _, days = CUT[name]
    with duckdb.connect(str(warehouse_path), read_only=True) as con:
        as_of = extract_as_of(con)
        start = as_of - timedelta(days=days + 400)
        last = as_of - timedelta(days=days)

        def counts(end) -> tuple[int, int]:
            row = compute_metric(con, name, start, end, as_of=as_of, suppress=False).iloc[0]
            return int(row["numerator"]), int(row["denominator"])

        to_as_of, to_last = counts(as_of), counts(last)
        if METRICS[name].grain == "person":
            # A person whose latest successful discharge in the period falls in the last 182 days is
            # left out altogether (their earlier one is not their latest): the longer period has fewer.
            assert to_as_of[1] <= to_last[1] and to_last[1] > 50
        else:
            assert to_as_of == to_last and to_last[1] > 50
        # Records dated in (as_of − days, as_of] exist: the cut is real, not an empty stretch.
        later = compute_metric(
            con, name, start, as_of, as_of=as_of + timedelta(days=days), suppress=False
        ).iloc[0]
        assert int(later["denominator"]) > to_last[1]
