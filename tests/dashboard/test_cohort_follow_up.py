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
        "continuity_of_care": ("releases", 21),
    }
    assert describe_metric("retention_12wk")["cohort_follow_up"] == ["starts", 84]
    assert describe_metric("successful_completion")["cohort_follow_up"] is None


# The sample has no drug tests, and too few prison releases to show a cut; continuity_of_care's is
# tested on hand-built releases (tests/metrics/test_continuity_of_care.py).
@pytest.mark.parametrize("name", [n for n in CUT if n not in ("relapse_tests", "continuity_of_care")])
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


def test_a_tile_cut_short_by_follow_up_says_which_starts_it_covers(data, state) -> None:
    """Issue 12: `--to 2026-01-06` and `--to 2026-02-28` gave the same 810/995 with no word said. The tile
    of the financial year now says it covers starts to as_of − 84 only, and its counts are exactly the
    headline of the period cut there (computed apart, through the metric layer)."""
    from dataclasses import replace

    from dashboard.headlines import NO_ONE, tile_summary
    from dashboard.pages.overview import render_tile
    from dashboard.periods import format_day

    as_of = data.as_of()
    last = as_of - timedelta(days=84)
    assert state.start <= last < state.end
    for metric in ("retention_12wk", "early_unplanned_exit"):
        tile, _, _ = tile_summary(data, metric, state)
        assert tile.cohort_note == f"covers starts to {format_day(last)} only: 84 days of follow-up needed"
        cut = compute_metric(data.warehouse, metric, state.start, last, as_of=as_of).iloc[0]
        assert tile.counts == f"{int(cut['numerator']):,} of {int(cut['denominator']):,}"
        assert tile.cohort_note in str(render_tile(tile, {}))
    # A metric without the cut, and a period wholly followed up, say nothing.
    assert tile_summary(data, "successful_completion", state)[0].cohort_note == ""
    earlier = replace(
        state,
        start=state.start.replace(year=state.start.year - 1),
        end=state.end.replace(year=state.end.year - 1),
    )
    assert tile_summary(data, "retention_12wk", earlier)[0].cohort_note == ""
    # The last month: nobody followed up yet, said so, and no rate is called suppressed.
    month = replace(state, start=as_of.replace(day=1), end=as_of)
    tile, _, _ = tile_summary(data, "retention_12wk", month)
    assert tile.cohort_note == "no starts of the period have 84 days of follow-up yet"
    assert tile.value == NO_ONE and tile.suppressed_reason == ""
