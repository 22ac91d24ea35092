"""continuity_of_care (METRICS.md v2, prison → community) on a hand-worked extract.

Releases from HMP One (PR1, prison): each person's prison episode is discharged on D = 2024-02-01 and
what happens next is in the table. Period 2024-01-01 … 2024-03-31, as_of 2024-04-10.

| person | prison discharge | then | cohort | numerator |
|---|---|---|---|---|
| A | D, transferred_not_in_custody | community episode starting on D (day 0) | yes | yes |
| B | D, transferred_not_in_custody | community start on day 21 | yes | yes |
| C | D, transferred_not_in_custody | community start on day 22 | yes | no |
| D | D, transferred_not_in_custody | an episode in another prison (PR2) from day 5 | yes | no |
| E | D, transferred_not_in_custody | recovery community (PG3) from day 10 | yes | yes |
| F | D, transferred_in_custody | community start on day 3 | no |  |
| G | 2024-03-25 (D + 21 > as_of) | community start on day 2 | no |  |
| H | D, transferred_not_in_custody | a community episode open since 2024-01-10 only | yes | no |
| I | D, transferred_not_in_custody | community referral on day 3, start on day 25 | yes | no |
| K | D, transferred_not_in_custody | community referral on day 2, never started | yes | no |

Cohort 8 (F is not a release, G has no 21 days of follow-up), numerator 3 (A, B, E): 3/8.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines.metrics import compute_metric
from tests.metrics.builders import PROGRAMMES, d, episode, shown_count

D, AS_OF = d("2024-02-01"), d("2024-04-10")
PRISONS = [
    {"programme_id": "PR1", "provider_id": "PV1", "programme_name": "HMP One", "setting": "prison"},
    {"programme_id": "PR2", "provider_id": "PV1", "programme_name": "HMP Two", "setting": "prison"},
]


def after(days: int):
    return D + timedelta(days=days)


def released(person: str, reason: str = "transferred_not_in_custody", on=D) -> dict:
    return episode(
        f"R{person}", f"P{person}", programme="PR1", start=d("2023-06-01"), discharge=on, reason=reason
    )


EPISODES = [
    released("A"),
    episode("NA", "PA", start=after(0)),
    released("B"),
    episode("NB", "PB", start=after(21)),
    released("C"),
    episode("NC", "PC", start=after(22)),
    released("D"),
    episode("ND", "PD", programme="PR2", start=after(5)),
    released("E"),
    episode("NE", "PE", programme="PG3", start=after(10)),
    released("F", reason="transferred_in_custody"),
    episode("NF", "PF", start=after(3)),
    released("G", on=d("2024-03-25")),
    episode("NG", "PG", start=d("2024-03-27")),
    released("H"),
    episode("NH", "PH", start=d("2024-01-10")),
    released("I"),
    episode("NI", "PI", referral=after(3), start=after(25)),
    released("K"),
    episode("NK", "PK", referral=after(2)),
]


@pytest.fixture(scope="module")
def warehouse(make_warehouse):
    return make_warehouse(episodes=EPISODES, programmes=[*PROGRAMMES, *PRISONS])


def test_edges_by_hand(warehouse) -> None:
    exact = compute_metric(
        warehouse, "continuity_of_care", "2024-01-01", "2024-03-31", as_of=AS_OF, suppress=False
    )
    assert (exact.loc[0, "numerator"], exact.loc[0, "denominator"]) == (3, 8)
    assert exact.loc[0, "value"] == pytest.approx(3 / 8)


def test_breakdown_is_by_the_prison_released_from(warehouse) -> None:
    by = compute_metric(
        warehouse,
        "continuity_of_care",
        "2024-01-01",
        "2024-03-31",
        as_of=AS_OF,
        by=["programme"],
        suppress=False,
    )
    assert by[["programme", "numerator", "denominator"]].values.tolist() == [["PR1", 3, 8]]


def test_shared_counts_are_perturbed_by_the_prison_episodes_keys(warehouse) -> None:
    shared = compute_metric(warehouse, "continuity_of_care", "2024-01-01", "2024-03-31", as_of=AS_OF)
    cohort = "episode_id IN ('RA', 'RB', 'RC', 'RD', 'RE', 'RH', 'RI', 'RK')"
    assert shared.loc[0, "denominator"] == shown_count(warehouse, "episodes", cohort)
    if not shared.loc[0, "suppressed"]:
        assert shared.loc[0, "numerator"] == shown_count(
            warehouse, "episodes", "episode_id IN ('RA', 'RB', 'RE')"
        )


def test_month_of_release(warehouse) -> None:
    by_month = compute_metric(
        warehouse, "continuity_of_care", "2024-01-01", "2024-03-31", as_of=AS_OF, by=["month"], suppress=False
    )
    assert by_month[["month", "denominator"]].values.tolist() == [["2024-02", 8]]
