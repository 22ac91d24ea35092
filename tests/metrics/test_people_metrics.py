"""People-based metrics on a hand-worked extract: in treatment, completion, re-presentation, deaths.

Period 2024-01-01 … 2024-06-30, as_of 2025-06-30 (the referral of episode Z, the latest date).

| person | episode | programme | referral / start        | discharge  | reason                     |
|--------|---------|-----------|-------------------------|------------|----------------------------|
| P1     | E1      | PG1       | start 2023-06-01        | 2024-03-01 | completed_drug_free        |
| P1     | E1b     | PG2       | referral D + 182 = 2024-08-30, never started         |            |
| P2     | E2      | PG1       | start 2023-09-01        | 2024-04-01 | completed_alcohol_free     |
| P2     | E2b     | PG1       | referral D + 183 = 2024-10-01, never started         |            |
| P3     | E3      | PG1       | start 2023-01-01        | 2024-02-01 | completed_drug_free        |
| P3     | E3b     | PG1       | start 2024-02-10        | 2024-05-01 | completed_occasional_user  |
| P4     | E4      | PG2       | start 2024-03-01        | open       |                            |
| P5     | E5      | PG1       | start 2023-01-01        | 2023-12-31 | dropped_out                |
| P6     | E6      | PG1       | start 2024-07-01        | open       |                            |
| P7     | E7      | PG2       | start 2024-01-01        | 2024-01-01 | died                       |
| P8     | E8      | PG1       | start 2024-06-30        | open       |                            |
| P9     | E9      | PG1       | referral 2024-02-01, never started | 2024-03-01 | declined        |
| P10    | E10     | PG1       | start 2023-03-01        | 2024-06-15 | died                       |
| P11    | E11     | PG2       | start 2024-01-10        | 2024-02-01 | transferred_not_in_custody |
| P11    | E11b    | PG1       | start 2024-02-01        | open       |                            |
| PZ     | Z       | PG1       | referral 2025-06-30, never started                   |            |

In treatment (start ≤ 2024-06-30 and discharge null or ≥ 2024-01-01): P1, P2, P3, P4, P7, P8, P10, P11
= 8 people. P5 left before the period, P6 starts after it, P9 never started.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.metrics import compute_metric, metric_series
from tests.metrics.builders import d, episode, only_row

FROM, TO = "2024-01-01", "2024-06-30"

EPISODES = [
    episode("E1", "P1", start=d("2023-06-01"), discharge=d("2024-03-01"), reason="completed_drug_free"),
    episode("E1b", "P1", programme="PG2", referral=d("2024-03-01", 182)),
    episode("E2", "P2", start=d("2023-09-01"), discharge=d("2024-04-01"), reason="completed_alcohol_free"),
    episode("E2b", "P2", referral=d("2024-04-01", 183)),
    episode("E3", "P3", start=d("2023-01-01"), discharge=d("2024-02-01"), reason="completed_drug_free"),
    episode(
        "E3b", "P3", start=d("2024-02-10"), discharge=d("2024-05-01"), reason="completed_occasional_user"
    ),
    episode("E4", "P4", programme="PG2", start=d("2024-03-01")),
    episode("E5", "P5", start=d("2023-01-01"), discharge=d("2023-12-31"), reason="dropped_out"),
    episode("E6", "P6", start=d("2024-07-01")),
    episode("E7", "P7", programme="PG2", start=d("2024-01-01"), discharge=d("2024-01-01"), reason="died"),
    episode("E8", "P8", start=d("2024-06-30")),
    episode("E9", "P9", referral=d("2024-02-01"), discharge=d("2024-03-01"), reason="declined"),
    episode("E10", "P10", start=d("2023-03-01"), discharge=d("2024-06-15"), reason="died"),
    episode(
        "E11",
        "P11",
        programme="PG2",
        start=d("2024-01-10"),
        discharge=d("2024-02-01"),
        reason="transferred_not_in_custody",
    ),
    episode("E11b", "P11", start=d("2024-02-01")),
    episode("Z", "PZ", referral=d("2025-06-30")),
]


@pytest.fixture(scope="module")
def warehouse(make_warehouse):
    return make_warehouse(episodes=EPISODES)


def metric(warehouse, name, **kw):
    kw.setdefault("suppress", False)
    return compute_metric(warehouse, name, kw.pop("start", FROM), kw.pop("end", TO), **kw)


def test_next_referral_any_programme(warehouse) -> None:
    facts = warehouse.sql("SELECT episode_id, next_referral_date, days_to_next_referral FROM episode_facts")
    facts = facts.set_index("episode_id")
    assert facts.loc["E1", "days_to_next_referral"] == 182  # E1b is in another programme
    assert facts.loc["E3", "next_referral_date"] == pd.Timestamp("2024-02-10")
    assert pd.isna(facts.loc["E11", "next_referral_date"])  # E11b referred the same day: not after
    assert pd.isna(facts.loc["E3b", "next_referral_date"])
    assert pd.isna(facts.loc["E4", "next_referral_date"])  # open


def test_in_treatment(warehouse) -> None:
    row = only_row(metric(warehouse, "in_treatment"))
    assert row["numerator"] == 8 and row["value"] == 8
    # By programme, people are counted in each programme they were in: PG1 P1, P2, P3, P8, P10, P11 (E11b)
    # = 6; PG2 P4, P7, P11 (E11) = 3 (E1b in PG2 never started).
    frame = metric(warehouse, "in_treatment", by="programme")
    assert frame[["programme", "numerator"]].values.tolist() == [["PG1", 6], ["PG2", 3]]
    assert frame["denominator"].isna().all()
    # By month of the first day in treatment within the period: January P1, P2, P3, P7, P10, P11 (P11's
    # earliest episode starts 2024-01-10); March P4; June P8.
    frame = metric(warehouse, "in_treatment", by="month")
    assert frame[["month", "numerator"]].values.tolist() == [["2024-01", 6], ["2024-03", 1], ["2024-06", 1]]


def test_in_treatment_series_counts_each_month(warehouse) -> None:
    # Month by month: Jan P1 P2 P3 P7 P10 P11 = 6; Feb P1 P2 P3 P10 P11 = 5 (P7 died 1 Jan);
    # Mar P1 (discharged 1 Mar) P2 P3 P4 P10 P11 = 6; Apr P2 P3 P4 P10 P11 = 5; May P3 P4 P10 P11 = 4;
    # Jun P4 P8 P10 P11 = 4.
    series = metric_series(warehouse, "in_treatment", FROM, TO, suppress=False)
    assert series[["month", "numerator"]].values.tolist() == [
        ["2024-01", 6],
        ["2024-02", 5],
        ["2024-03", 6],
        ["2024-04", 5],
        ["2024-05", 4],
        ["2024-06", 4],
    ]


def test_successful_completion(warehouse) -> None:
    # Discharged in the period: E1, E2, E3, E3b (successful), E7, E10 (died), E9 (declined), E11 → 4 / 8.
    row = only_row(metric(warehouse, "successful_completion"))
    assert (row["numerator"], row["denominator"]) == (4, 8)


def test_representation_6m(warehouse) -> None:
    # Successful discharges in the period: P1 (D 2024-03-01, next referral on day 182 → counts),
    # P2 (D 2024-04-01, next referral on day 183 → does not), P3 (latest D = 2024-05-01, none after it;
    # the referral 9 days after the earlier D 2024-02-01 does not count) → 1 / 3.
    row = only_row(metric(warehouse, "representation_6m"))
    assert (row["numerator"], row["denominator"]) == (1, 3)
    # D + 182 ≤ as_of: with as_of = P3's D + 181 P3 leaves the cohort → 1 / 2.
    row = only_row(metric(warehouse, "representation_6m", as_of=d("2024-05-01", 181)))
    assert (row["numerator"], row["denominator"]) == (1, 2)
    # By month of D.
    frame = metric(warehouse, "representation_6m", by="month")
    assert frame[["month", "numerator", "denominator"]].values.tolist() == [
        ["2024-03", 1, 1],
        ["2024-04", 0, 1],
        ["2024-05", 0, 1],
    ]


def test_completion_no_representation(warehouse) -> None:
    # Denominator: the 8 people in treatment. Numerator: P2 and P3 (latest D with no referral in
    # (D, D + 182]); P1 re-presented on day 182 → 2 / 8.
    row = only_row(metric(warehouse, "completion_no_representation"))
    assert (row["numerator"], row["denominator"]) == (2, 8)
    # By month: numerator people by D (P2 April, P3 May), the rest by their in-treatment date.
    frame = metric(warehouse, "completion_no_representation", by="month")
    assert frame[["month", "numerator", "denominator"]].values.tolist() == [
        ["2024-01", 0, 4],  # P1, P7, P10, P11
        ["2024-03", 0, 1],  # P4
        ["2024-04", 1, 1],  # P2
        ["2024-05", 1, 1],  # P3
        ["2024-06", 0, 1],  # P8
    ]


def test_completion_no_representation_needs_follow_up(warehouse) -> None:
    # to + 182 must be ≤ as_of: 2024-06-30 + 182 = 2024-12-29.
    metric(warehouse, "completion_no_representation", as_of=d("2024-12-29"))
    with pytest.raises(ValueError, match=r"to \+ 182"):
        metric(warehouse, "completion_no_representation", as_of=d("2024-12-28"))
    with pytest.raises(ValueError, match="only defined"):
        metric(warehouse, "completion_no_representation", end="2024-12-31")


def test_deaths_in_treatment(warehouse) -> None:
    # P7 (died 2024-01-01, the first day) and P10 (2024-06-15) of the 8 in treatment.
    row = only_row(metric(warehouse, "deaths_in_treatment"))
    assert (row["numerator"], row["denominator"]) == (2, 8)
    frame = metric(warehouse, "deaths_in_treatment", by="programme")
    # PG1: P10 of P1, P2, P3, P8, P10, P11; PG2: P7 of P4, P7, P11.
    assert frame[["programme", "numerator", "denominator"]].values.tolist() == [["PG1", 1, 6], ["PG2", 1, 3]]


def test_time_to_representation(warehouse) -> None:
    # P1: event at 182; P2: event at 183; P3: no referral after its latest D, censored at
    # as_of − D = 2025-06-30 − 2024-05-01 = 425. S: 2/3 at 182, 1/3 at 183, 1/3 at 425.
    km = metric(warehouse, "time_to_representation")
    assert km[["t", "n_at_risk", "events", "censored"]].values.tolist() == [
        [182, 3, 1, 0],
        [183, 2, 1, 0],
        [425, 1, 0, 1],
    ]
    assert km["survival"].tolist() == pytest.approx([2 / 3, 1 / 3, 1 / 3])
    # Shared: every row has fewer than 5 at risk.
    assert metric(warehouse, "time_to_representation", suppress=True)["suppressed"].all()
