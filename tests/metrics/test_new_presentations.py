"""new_presentations (METRICS.md v2) on a hand-worked extract: distinct people with an episode starting
in the period who had no episode open (started and not discharged) on the day before that start.

Period 2025-01-01 ... 2025-03-31. An episode is open on day X when start_date ≤ X and its discharge_date
is null or ≥ X (a person is in treatment on their discharge day, as in_treatment counts).

| person | episodes (programme: start → discharge) | new presentation in the period? |
|---|---|---|
| n01 | PG1: 2025-01-10 → open | yes (nothing before) |
| n02 | PG1: 2024-06-01 → 2025-01-09; PG2: 2025-01-10 → open | no: the first was open on 01-09 ¹ |
| n03 | PG1: 2024-06-01 → 2025-01-08; PG1: 2025-01-10 → open | yes: discharged two days before |
| n04 | PG1: 2024-03-01 → open; PG2: 2025-02-01 → open | no: open elsewhere |
| n05 | PG1: referred 2024-12-01, never started; PG1: 2025-01-15 → open | yes: nothing was started |
| n06 | PG1: 2025-01-05 → 2025-01-20; PG1: 2025-03-01 → open | yes, both: counted once (January) |
| n07 | PG1: 2024-12-31 → open | no: started before the period |
| n08 | PG1 and PG2, both starting 2025-02-10 | yes: neither was open the day before; counted once |
| n09 | PG1: 2024-01-01 → 2025-02-14; PG2: 2025-02-14 → open | no: the first was open on 02-13 |
| n10 | PG3: 2025-04-01 → open | no: after the period |

¹ 2025-01-09 is its discharge day: a transfer, not a new presentation.

New presentations: n01, n03, n05, n06, n08 = 5. In PG2: n08 only (n02's, n04's and n09's PG2 starts are
not new) = 1; in PG1 all five. By month of the first new start: January n01, n03, n05, n06; February n08.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.metrics import compute_metric, metric_series
from tests.metrics.builders import d, episode, only_row, shown_count

FROM, TO = "2025-01-01", "2025-03-31"

EPISODES = [
    episode("N01", "n01", start=d("2025-01-10")),
    episode(
        "N02a", "n02", start=d("2024-06-01"), discharge=d("2025-01-09"), reason="transferred_not_in_custody"
    ),
    episode("N02b", "n02", start=d("2025-01-10"), programme="PG2"),
    episode("N03a", "n03", start=d("2024-06-01"), discharge=d("2025-01-08"), reason="dropped_out"),
    episode("N03b", "n03", start=d("2025-01-10")),
    episode("N04a", "n04", start=d("2024-03-01")),
    episode("N04b", "n04", start=d("2025-02-01"), programme="PG2"),
    episode("N05a", "n05", referral=d("2024-12-01")),
    episode("N05b", "n05", start=d("2025-01-15")),
    episode("N06a", "n06", start=d("2025-01-05"), discharge=d("2025-01-20"), reason="dropped_out"),
    episode("N06b", "n06", start=d("2025-03-01")),
    episode("N07", "n07", start=d("2024-12-31")),
    episode("N08a", "n08", start=d("2025-02-10")),
    episode("N08b", "n08", start=d("2025-02-10"), programme="PG2"),
    episode(
        "N09a", "n09", start=d("2024-01-01"), discharge=d("2025-02-14"), reason="transferred_not_in_custody"
    ),
    episode("N09b", "n09", start=d("2025-02-14"), programme="PG2"),
    episode("N10", "n10", start=d("2025-04-01"), programme="PG3"),
]
NEW = ["n01", "n03", "n05", "n06", "n08"]


@pytest.fixture(scope="module")
def warehouse(make_warehouse):
    return make_warehouse(episodes=EPISODES)


def _exact(warehouse, **kw):
    return compute_metric(warehouse, "new_presentations", FROM, TO, suppress=False, **kw)


def test_new_presentations_on_the_hand_worked_extract(warehouse) -> None:
    row = only_row(_exact(warehouse))
    assert (row["numerator"], row["value"]) == (5, 5)
    assert pd.isna(row["denominator"])  # a count, not a proportion


def test_an_open_episode_in_any_programme_counts_against_a_filtered_one(warehouse) -> None:
    assert only_row(_exact(warehouse, filters={"programme": "PG2"}))["numerator"] == 1
    by_programme = _exact(warehouse, by=["programme"]).set_index("programme")["numerator"].to_dict()
    assert by_programme == {"PG1": 5, "PG2": 1}  # PG1: n01, n03, n05, n06, n08


def test_month_of_the_first_new_start(warehouse) -> None:
    by_month = _exact(warehouse, by=["month"]).set_index("month")["numerator"].to_dict()
    assert by_month == {"2025-01": 4, "2025-02": 1}
    # Month by month, each month its own period: n06's March start is a new presentation too.
    series = metric_series(warehouse, "new_presentations", FROM, TO, suppress=False)
    assert series[["month", "numerator"]].values.tolist() == [["2025-01", 4], ["2025-02", 1], ["2025-03", 1]]


def test_the_shared_count_is_perturbed_by_the_peoples_keys(warehouse) -> None:
    frame = compute_metric(warehouse, "new_presentations", FROM, TO)
    people = "person_id IN (SELECT unnest($ids::VARCHAR[]))"
    expected = shown_count(warehouse, "people", people, {"ids": NEW})
    assert only_row(frame)["numerator"] == expected
    assert frame.attrs["disclosure"] == "perturbation"
