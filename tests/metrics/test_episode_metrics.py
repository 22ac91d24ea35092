"""Episode-based metrics on a hand-worked extract: retention, early exit, waits, time in treatment.

Period 2024-01-01 … 2024-12-31; as_of defaults to 2025-12-31 (episode RZ's referral, the latest date).
S = 2024-02-01; "day n" = S + n days (day 84 = 2024-04-25).

| episode | person born | programme | start      | discharge      | reason           | wait |
|---------|-------------|-----------|------------|----------------|------------------|------|
| R1      | 2000 (24)   | PG1       | S          | day 84         | dropped_out      | 21   |
| R2      | 1999 (25)   | PG1       | S          | day 83         | dropped_out      | 22   |
| R3      | 2010 (14)   | PG1       | S          | open           |                  | 0    |
| R4      | null        | PG1       | S          | day 30         | completed (succ) | 0    |
| R5      | 1959 (65)   | PG1       | S          | day 40         | transferred      | 0    |
| R6      | 1960 (64)   | PG1       | S          | day 50         | died             | 0    |
| R7      | 1980 (44)   | PG1       | S          | day 100        | transferred      | 0    |
| R8      | 1980        | PG1       | 2023-12-31 | open           | (before period)  |      |
| R9      | 1980        | PG1       | never      | 2024-03-01     | declined         |      |
| R10     | 1980 (44)   | PG2       | 2024-01-15 | open           |                  | 0    |
| R11     | 1980 (44)   | PG1       | 2024-03-01 | +10 days       | declined         | 0    |
| R12     | 1980 (44)   | PG1       | 2024-05-10 | open           |                  | 0    |
| RZ      | 1980        | PG1       | never (referral 2025-12-31)  |                  |      |
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipelines.metrics import compute_metric, extract_as_of
from pipelines.stats import Z95, kaplan_meier, wilson_interval
from tests.metrics.builders import d, episode, only_row, perturbed

S = d("2024-02-01")
FROM, TO = "2024-01-01", "2024-12-31"

EPISODES = [
    episode(
        "R1",
        "p01",
        referral=d("2024-02-01", -21),
        start=S,
        discharge=d("2024-02-01", 84),
        reason="dropped_out",
    ),
    episode(
        "R2",
        "p02",
        referral=d("2024-02-01", -22),
        start=S,
        discharge=d("2024-02-01", 83),
        reason="dropped_out",
    ),
    episode("R3", "p03", start=S),
    episode("R4", "p04", start=S, discharge=d("2024-02-01", 30), reason="completed_drug_free"),
    episode("R5", "p05", start=S, discharge=d("2024-02-01", 40), reason="transferred_not_in_custody"),
    episode("R6", "p06", start=S, discharge=d("2024-02-01", 50), reason="died"),
    episode("R7", "p07", start=S, discharge=d("2024-02-01", 100), reason="transferred_in_custody"),
    episode("R8", "p08", start=d("2023-12-31")),
    episode("R9", "p09", referral=d("2024-02-01"), discharge=d("2024-03-01"), reason="declined"),
    episode("R10", "p10", programme="PG2", start=d("2024-01-15")),
    episode("R11", "p11", start=d("2024-03-01"), discharge=d("2024-03-01", 10), reason="declined"),
    episode("R12", "p12", start=d("2024-05-10")),
    episode("RZ", "p13", referral=d("2025-12-31")),
]
PEOPLE = {
    "p01": {"birth_year": 2000, "sex": "male"},
    "p02": {"birth_year": 1999},
    "p03": {"birth_year": 2010},
    "p04": {"birth_year": None},
    "p05": {"birth_year": 1959},
    "p06": {"birth_year": 1960},
}


@pytest.fixture(scope="module")
def warehouse(make_warehouse):
    return make_warehouse(episodes=EPISODES, people=PEOPLE)


def metric(warehouse, name, **kw):
    kw.setdefault("suppress", False)
    return compute_metric(warehouse, name, kw.pop("start", FROM), kw.pop("end", TO), **kw)


def test_default_as_of_is_the_latest_date(warehouse) -> None:
    assert extract_as_of(warehouse) == d("2025-12-31")


def test_episode_facts(warehouse) -> None:
    facts = warehouse.sql("SELECT * FROM episode_facts ORDER BY episode_id").set_index("episode_id")
    assert facts.loc["R1", "wait_days"] == 21 and facts.loc["R2", "wait_days"] == 22
    assert not facts.loc["R1", "discharged_before_day_84"] and facts.loc["R2", "discharged_before_day_84"]
    assert not facts.loc["R3", "discharged_before_day_84"]  # open: never null
    assert facts.loc["R1", "area"] == "E08000035" and facts.loc["R10", "provider"] == "PV2"
    assert facts.loc["R10", "setting"] == "residential_rehab"
    assert facts.loc["R4", "outcome_group"] == "successful" and facts.loc["R6", "outcome_group"] == "died"
    # Age from year(start or referral) − birth year: 24, 25, 14 (→ unknown), null (→ unknown), 65, 64.
    assert facts.loc[["R1", "R2", "R3", "R4", "R5", "R6", "R7"], "age_band"].tolist() == [
        "18-24",
        "25-29",
        "unknown",
        "unknown",
        "65+",
        "55-64",
        "40-44",
    ]
    assert facts.loc["R9", "age_band"] == "40-44"  # never started: referral year 2024


def test_retention_12wk(warehouse) -> None:
    # Denominator: R1, R2, R3, R4, R7, R10, R11, R12 = 8 (R5, R6 transferred/died before day 84 left
    # out; R7 transferred on day 100 stays; R8 starts before the period; R9 never started).
    # Numerator: R1 (discharged on day 84 counts as retained), R3, R4 (successful before day 84), R7,
    # R10, R12 = 6. Not retained: R2 (day 83), R11 (day 10).
    row = only_row(metric(warehouse, "retention_12wk"))
    assert (row["numerator"], row["denominator"]) == (6, 8)
    assert row["value"] == pytest.approx(0.75)
    low, high = wilson_interval(6, 8)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert row["suppressed"] is False or row["suppressed"] == False  # noqa: E712


def test_retention_needs_84_days_of_follow_up(warehouse) -> None:
    # as_of = S + 83: every S start has S + 84 > as_of and leaves; R10 (2024-01-15 + 84 = 2024-04-08) and
    # R11 (2024-03-01 + 84 = 2024-05-24 > as_of) → only R10, open → 1 / 1.
    row = only_row(metric(warehouse, "retention_12wk", as_of=d("2024-02-01", 83)))
    assert (row["numerator"], row["denominator"]) == (1, 1)
    # One day later the S starts come in: R1, R2, R3, R4, R7, R10 (R11 still out) → 5 / 6.
    row = only_row(metric(warehouse, "retention_12wk", as_of=d("2024-02-01", 84)))
    assert (row["numerator"], row["denominator"]) == (5, 6)


def test_retention_by_programme_and_quarter(warehouse) -> None:
    # PG1: R1, R2, R3, R4, R7, R11, R12 → 5 / 7; PG2: R10 → 1 / 1.
    frame = metric(warehouse, "retention_12wk", by=["programme"])
    assert frame[["programme", "numerator", "denominator"]].values.tolist() == [["PG1", 5, 7], ["PG2", 1, 1]]
    # By quarter of start_date: Q1 all but R12 → 5 / 7; Q2: R12 → 1 / 1.
    frame = metric(warehouse, "retention_12wk", by="quarter")
    assert frame[["quarter", "numerator", "denominator"]].values.tolist() == [
        ["2024-Q1", 5, 7],
        ["2024-Q2", 1, 1],
    ]
    # Both, in the order asked for, completed to the grid: PG2 had no start in Q2 → 0 / 0, value missing.
    frame = metric(warehouse, "retention_12wk", by=["quarter", "programme"])
    assert list(frame.columns[:2]) == ["quarter", "programme"]
    assert frame[["quarter", "programme", "numerator", "denominator"]].values.tolist() == [
        ["2024-Q1", "PG1", 4, 6],
        ["2024-Q1", "PG2", 1, 1],
        ["2024-Q2", "PG1", 1, 1],
        ["2024-Q2", "PG2", 0, 0],
    ]
    assert pd.isna(frame["value"].iloc[3]) and not frame["suppressed"].iloc[3]


def test_filters(warehouse) -> None:
    row = only_row(metric(warehouse, "retention_12wk", filters={"programme": ["PG2"]}))
    assert (row["numerator"], row["denominator"]) == (1, 1)
    row = only_row(metric(warehouse, "retention_12wk", filters={"quarter": "2024-Q2"}))
    assert (row["numerator"], row["denominator"]) == (1, 1)
    row = only_row(metric(warehouse, "retention_12wk", filters={"setting": ["community"], "sex": ["male"]}))
    assert (row["numerator"], row["denominator"]) == (1, 1)  # R1 only
    row = only_row(metric(warehouse, "retention_12wk", filters={"programme": []}))
    assert (row["numerator"], row["denominator"]) == (0, 0) and math.isnan(row["value"])


def test_early_unplanned_exit(warehouse) -> None:
    # Denominator: started in 2024 with 84 days of follow-up: R1–R7, R10, R11, R12 = 10 (transfers and
    # deaths stay in). Numerator: incomplete before day 84: R2 (day 83), R11 (day 10) = 2. R1 left on day 84.
    row = only_row(metric(warehouse, "early_unplanned_exit"))
    assert (row["numerator"], row["denominator"]) == (2, 10)


def test_waiting_over_3_weeks_and_age_band(warehouse) -> None:
    # Started in 2024: R1–R7, R10, R11, R12 = 10; waited > 21 days: R2 (22) only; R1 waited exactly 21.
    row = only_row(metric(warehouse, "waiting_over_3_weeks"))
    assert (row["numerator"], row["denominator"]) == (1, 10)
    frame = metric(warehouse, "waiting_over_3_weeks", by="age_band")
    assert frame[["age_band", "numerator", "denominator"]].values.tolist() == [
        ["18-24", 0, 1],  # R1
        ["25-29", 1, 1],  # R2
        ["40-44", 0, 4],  # R7, R10, R11, R12
        ["55-64", 0, 1],  # R6
        ["65+", 0, 1],  # R5
        ["unknown", 0, 2],  # R3 (aged 14), R4 (no birth year)
    ]


def test_median_wait_days(warehouse) -> None:
    # Waits: 21, 22 and eight 0s → median 0. n = 10: ranks round(5 − 1.96·√10/2) = 2 and
    # round(1 + 5 + 1.96·√10/2) = 9 of the sorted waits [0 ×8, 21, 22] → interval (0, 21).
    row = only_row(metric(warehouse, "median_wait_days"))
    assert row["value"] == 0 and row["denominator"] == 10 and pd.isna(row["numerator"])
    assert (row["ci_low"], row["ci_high"]) == (0, 21)


def test_time_in_treatment(warehouse) -> None:
    # Times (E = incomplete discharge, C = censored): R11 10E, R4 30C, R5 40C, R6 50C, R2 83E, R1 84E,
    # R7 100C, R12 600C (to as_of), R3 699C, R10 716C.
    # S(10) = 9/10; S(83) = 0.9 · 5/6 = 0.75; S(84) = 0.75 · 4/5 = 0.6.
    km = metric(warehouse, "time_in_treatment")
    assert km["t"].tolist() == [10, 30, 40, 50, 83, 84, 100, 600, 699, 716]
    assert km["n_at_risk"].tolist() == [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    assert km.loc[km["t"] == 84, "survival"].item() == pytest.approx(0.6)
    assert km["survival"].iloc[-1] == pytest.approx(0.6)
    expected = kaplan_meier([10, 30, 40, 50, 83, 84, 100, 600, 699, 716], [1, 0, 0, 0, 1, 1, 0, 0, 0, 0])
    np.testing.assert_allclose(km["ci_low"], expected["ci_low"])
    # Shared: on the 28-day grid (10 → 28; 30, 40, 50 → 56; 83, 84 → 84; 100 → 112; 600 → 616; 699 → 700;
    # 716 → 728), with a row at every grid time from 0 to 728. The number at risk at t is the episodes whose
    # grid time is ≥ t, perturbed by their keys; the events so far the incomplete discharges by t, perturbed
    # by theirs, and a step's events their rise; the survival is the product over the steps; the tail is
    # cut from the first row under 10 at risk.
    shared = metric(warehouse, "time_in_treatment", suppress=True)
    grid = {
        "R11": 28,
        "R4": 56,
        "R5": 56,
        "R6": 56,
        "R2": 84,
        "R1": 84,
        "R7": 112,
        "R12": 616,
        "R3": 700,
        "R10": 728,
    }
    event = {"R11", "R2", "R1"}
    keys = dict(warehouse.cursor().execute("SELECT episode_id, record_key FROM episodes").fetchall())
    assert shared["t"].tolist() == list(range(0, 729, 28))
    cut, survival, events_before = False, 1.0, 0
    for row in shared.itertuples():
        at_risk = [e for e, t in grid.items() if t >= row.t]
        shown_at_risk = perturbed(len(at_risk), sum(keys[e] for e in at_risk))
        so_far = [e for e, t in grid.items() if t <= row.t and e in event]
        events_so_far = max(perturbed(len(so_far), sum(keys[e] for e in so_far)), events_before)
        step = min(events_so_far - events_before, shown_at_risk)
        survival *= 1 - step / shown_at_risk if shown_at_risk else 1
        events_before = events_so_far
        cut = cut or shown_at_risk < 10
        assert row.suppressed == cut, row.t
        assert pd.isna(row.events) and pd.isna(row.censored)  # steps are not shown when shared
        if cut:
            assert row.suppressed_reason == "tail of the curve" and pd.isna(row.n_at_risk)
            continue
        assert row.n_at_risk == shown_at_risk
        assert row.survival == pytest.approx(survival)


def test_time_in_treatment_discharges_after_as_of_are_censored(warehouse) -> None:
    # as_of = S + 83: R12 starts later (out). R1 (discharged day 84) and R7 are open at as_of → censored
    # at 83 with R3 and R2's event; R10 censored at 100. Nine episodes: S(10) = 8/9; at t = 83: n = 5,
    # d = 1, c = 3 → S = 8/9 · 4/5 = 32/45.
    km = metric(warehouse, "time_in_treatment", as_of=d("2024-02-01", 83))
    assert km["t"].tolist() == [10, 30, 40, 50, 83, 100]
    row = km[km["t"] == 83].iloc[0]
    assert (row["n_at_risk"], row["events"], row["censored"]) == (5, 1, 3)
    assert row["survival"] == pytest.approx(32 / 45)


def test_time_in_treatment_by_programme(warehouse) -> None:
    km = metric(warehouse, "time_in_treatment", by="programme")
    pg2 = km[km["programme"] == "PG2"]
    assert pg2[["t", "n_at_risk", "events", "censored"]].values.tolist() == [[716, 1, 0, 1]]
    shared = metric(warehouse, "time_in_treatment", by="programme", suppress=True)
    assert "PG2" not in set(shared["programme"])  # 1 episode: under 20, left out as an empty group is


def test_mean_interval_uses_z95() -> None:
    assert Z95 == pytest.approx(1.959964)


def test_grouped_kaplan_meier_matches_stats() -> None:
    # The vectorised grouped estimator must give, group by group, exactly what
    # stats.kaplan_meier_from_counts gives (including groups that end in S = 0).
    from pipelines.metrics.api import kaplan_meier_by_group
    from pipelines.stats import kaplan_meier_from_counts

    rng = np.random.default_rng(7)
    frames = []
    for programme in ("PG1", "PG2", "PG3"):
        for quarter in ("2024-Q1", "2024-Q2"):
            t = np.sort(rng.choice(np.arange(0, 400), size=rng.integers(1, 40), replace=False))
            events = rng.integers(0, 4, size=len(t))
            censored = np.where(events == 0, rng.integers(1, 3, size=len(t)), rng.integers(0, 3, size=len(t)))
            frames.append(
                pd.DataFrame(
                    {
                        "programme": programme,
                        "quarter": quarter,
                        "t": t,
                        "events": events,
                        "censored": censored,
                    }
                )
            )
    frames.append(
        pd.DataFrame(
            {"programme": "PG4", "quarter": "2024-Q1", "t": [3, 5], "events": [1, 2], "censored": [0, 0]}
        )
    )  # everyone has the event
    counts = pd.concat(frames, ignore_index=True)
    grouped = kaplan_meier_by_group(counts, ["programme", "quarter"])
    for (programme, quarter), part in counts.groupby(["programme", "quarter"]):
        expected = kaplan_meier_from_counts(part[["t", "events", "censored"]])
        got = grouped[(grouped["programme"] == programme) & (grouped["quarter"] == quarter)]
        pd.testing.assert_frame_equal(
            got.drop(columns=["programme", "quarter"]).reset_index(drop=True), expected, check_dtype=False
        )
