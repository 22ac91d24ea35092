"""Abstinence at review and the TOP / recovery-capital changes on hand-worked assessment pairs.

Period 2024-01-01 … 2024-12-31. Each row: episode (primary substance, start), its assessments.

- A1 heroin, start 2024-02-01: start 20 days opiates, qol 8; review 2024-05-01 5 days, qol 12; exit
  2024-08-01 0 days, qol 14 → latest = exit, abstinent; qol change +6.
- A2 crack, 2024-03-01: start days_crack 10 (days_opiates 15 is not its substance), qol 10; review
  2024-06-01 days_crack 3, qol 9 → not abstinent; qol −1.
- A3 benzodiazepine, 2024-03-01: start qol 5, review qol 10 → no days column (left out of abstinence);
  qol +5 (the changes do not need a substance column).
- A4 alcohol, 2024-03-01: start days_alcohol 0 → not > 0, left out; qol null at start → no qol change.
- A5 cannabis, 2024-04-01: start assessment only → no pair.
- A6 amphetamine, 2024-05-01: start 12 days and a review the same day (not later) → no pair; a
  post_exit assessment with 0 days is not a review.
- A7 cocaine, 2024-02-15: start 8 days, qol 10; review 2024-04-15 0 days; review 2024-06-15 2 days,
  qol 10 → latest review shows 2 → not abstinent; qol 0.
- A8 heroin, start 2023-12-01 (before the period): start 10 days, review 0 → out of the cohort.
- A9 other_opioid, 2024-01-10: start 4 days, review with days_opiates missing → denominator only.
- A10 illicit_methadone, 2024-06-01: first start 0 days (2024-06-01), second start 10 days
  (2024-06-10), review 0 → the first start counts, 0 → left out.

abstinence_at_review: A1, A2, A7, A9 → 1 / 4.
qol_change: A1 +6, A2 −1, A3 +5, A7 0 → n 4, sum 10, mean 2.5, sd = √(37/3).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pipelines.metrics import compute_metric
from pipelines.stats import Z95
from tests.metrics.builders import assessment, d, episode, only_row

EPISODES = [
    episode("A1", "a1", start=d("2024-02-01"), primary="heroin"),
    episode("A2", "a2", start=d("2024-03-01"), primary="crack", substance_group="non_opiate"),
    episode("A3", "a3", start=d("2024-03-01"), primary="benzodiazepine", substance_group="non_opiate"),
    episode("A4", "a4", start=d("2024-03-01"), primary="alcohol", substance_group="alcohol"),
    episode("A5", "a5", start=d("2024-04-01"), primary="cannabis", substance_group="non_opiate"),
    episode("A6", "a6", start=d("2024-05-01"), primary="amphetamine", substance_group="non_opiate"),
    episode("A7", "a7", start=d("2024-02-15"), primary="cocaine", substance_group="non_opiate"),
    episode("A8", "a8", start=d("2023-12-01"), primary="heroin"),
    episode("A9", "a9", start=d("2024-01-10"), primary="other_opioid"),
    episode("A10", "a10", start=d("2024-06-01"), primary="illicit_methadone"),
]
ASSESSMENTS = [
    assessment("s1", "A1", "a1", d("2024-02-01"), "start", days_opiates=20, quality_of_life=8),
    assessment("r1", "A1", "a1", d("2024-05-01"), "review", days_opiates=5, quality_of_life=12),
    assessment("x1", "A1", "a1", d("2024-08-01"), "exit", days_opiates=0, quality_of_life=14),
    assessment(
        "s2", "A2", "a2", d("2024-03-01"), "start", days_crack=10, days_opiates=15, quality_of_life=10
    ),
    assessment("r2", "A2", "a2", d("2024-06-01"), "review", days_crack=3, days_opiates=0, quality_of_life=9),
    assessment("s3", "A3", "a3", d("2024-03-01"), "start", days_opiates=10, quality_of_life=5),
    assessment("r3", "A3", "a3", d("2024-06-01"), "review", days_opiates=0, quality_of_life=10),
    assessment("s4", "A4", "a4", d("2024-03-01"), "start", days_alcohol=0),
    assessment("r4", "A4", "a4", d("2024-06-01"), "review", days_alcohol=0, quality_of_life=12),
    assessment("s5", "A5", "a5", d("2024-04-01"), "start", days_cannabis=20),
    assessment("s6", "A6", "a6", d("2024-05-01"), "start", days_amphetamine=12),
    assessment("r6", "A6", "a6", d("2024-05-01"), "review", days_amphetamine=0),
    assessment("p6", "A6", "a6", d("2024-09-01"), "post_exit", days_amphetamine=0),
    assessment("s7", "A7", "a7", d("2024-02-15"), "start", days_cocaine=8, quality_of_life=10),
    assessment("r7a", "A7", "a7", d("2024-04-15"), "review", days_cocaine=0),
    assessment("r7b", "A7", "a7", d("2024-06-15"), "review", days_cocaine=2, quality_of_life=10),
    assessment("s8", "A8", "a8", d("2023-12-01"), "start", days_opiates=10, quality_of_life=5),
    assessment("r8", "A8", "a8", d("2024-03-01"), "review", days_opiates=0, quality_of_life=15),
    assessment("s9", "A9", "a9", d("2024-01-10"), "start", days_opiates=4),
    assessment("r9", "A9", "a9", d("2024-04-10"), "review"),
    assessment("s10a", "A10", "a10", d("2024-06-01"), "start", days_opiates=0),
    assessment("s10b", "A10", "a10", d("2024-06-10"), "start", days_opiates=10),
    assessment("r10", "A10", "a10", d("2024-09-01"), "review", days_opiates=0),
]


@pytest.fixture(scope="module")
def warehouse(make_warehouse):
    return make_warehouse(episodes=EPISODES, assessments=ASSESSMENTS)


def metric(warehouse, name, **kw):
    kw.setdefault("suppress", False)
    return compute_metric(warehouse, name, "2024-01-01", "2024-12-31", **kw)


def test_assessment_pairs(warehouse) -> None:
    pairs = warehouse.sql("SELECT * FROM assessment_pair_facts").set_index("episode_id")
    assert sorted(pairs.index) == sorted(["A1", "A2", "A3", "A4", "A7", "A8", "A9", "A10"])
    assert pairs.loc["A1", "latest_assessment_id"] == "x1"
    assert pairs.loc["A7", "latest_assessment_id"] == "r7b"
    assert pairs.loc["A10", "start_assessment_id"] == "s10a"
    assert (pairs.loc["A2", "substance_days_start"], pairs.loc["A2", "substance_days_latest"]) == (10, 3)
    assert pd.isna(pairs.loc["A3", "substance_days_start"])  # benzodiazepine: no days column


def test_abstinence_at_review(warehouse) -> None:
    row = only_row(metric(warehouse, "abstinence_at_review"))
    assert (row["numerator"], row["denominator"]) == (1, 4)
    frame = metric(warehouse, "abstinence_at_review", by="substance_group")
    # non_opiate: A2, A7 → 0 / 2; opiate: A1, A9 → 1 / 2.
    assert frame[["substance_group", "numerator", "denominator"]].values.tolist() == [
        ["non_opiate", 0, 2],
        ["opiate", 1, 2],
    ]


def test_qol_change(warehouse) -> None:
    row = only_row(metric(warehouse, "qol_change"))
    assert (row["numerator"], row["denominator"]) == (10, 4)
    assert row["value"] == pytest.approx(2.5)
    half = Z95 * math.sqrt(37 / 3) / math.sqrt(4)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(2.5 - half), pytest.approx(2.5 + half))
    # Four records: suppressed when shared.
    assert only_row(metric(warehouse, "qol_change", suppress=True))["suppressed"]


def test_other_changes_with_no_scores(warehouse) -> None:
    for name in ("psych_health_change", "phys_health_change", "recovery_capital_change"):
        row = only_row(metric(warehouse, name))
        assert row["denominator"] == 0 and math.isnan(row["value"])
