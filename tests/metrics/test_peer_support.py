"""The peer_support dimension and the exit-reason mix, on a hand-worked extract.

Attended peer contacts of the person (any programme, or none) count; professional, unattended, before-start
and after-discharge contacts do not. Retention period 2024-01-01 … 2024-03-31; as_of 2025-06-30 (the
referral of episode Z). Day n = start_date + n.

| episode | prog | start      | discharge, reason      | peer contacts (attended unless noted)  | 28d | ep  |
|---------|------|------------|------------------------|----------------------------------------|-----|-----|
| A1 (PA) | PG1  | 2024-01-10 | open                   | day 27                                 | yes | yes |
| B1 (PB) | PG1  | 2024-01-10 | open                   | day 28                                 | no  | yes |
| C1 (PC) | PG1  | 2024-01-10 | 2024-02-20 dropped_out | day 5 not attended; professional day 3 | no  | no  |
| D1 (PD) | PG1  | 2024-02-01 | 2024-02-11 dropped_out | day 20 (after the discharge)           | no  | no  |
| E1 (PE) | PG1  | 2024-02-01 | 2024-03-15 dropped_out | day 2, outside any episode, PG3        | yes | yes |
| F1 (PF) | PG1  | 2024-03-01 | 2024-04-15 drug_free   | day 0                                  | yes | yes |
| G1 (PG) | PG2  | 2024-02-15 | 2024-03-01 transferred | day −1 (before the start)              | no  | no  |
| H1 (PH) | PG1  | 2023-12-01 | 2024-05-01 drug_free   | 2024-05-10 (after D)                   | no  | no  |
| I1 (PI) | PG1  | 2023-06-01 | 2024-02-01 alcohol_free | 2023-07-01 (day 30)                    | no  | yes |
| I2 (PI) | PG1  | 2024-04-01 | 2024-06-01 drug_free   | none                                   | no  | no  |

Reasons: drug_free = completed_drug_free, alcohol_free = completed_alcohol_free, transferred =
transferred_not_in_custody. 28d = peer_contact_first_28d, ep = peer_contact_in_episode. Never started:
F2 (PF) referred 2024-07-01, I3 (PI) referred 2024-09-01, Z (PZ) referred 2025-06-30.

retention_12wk (cohort A1 B1 C1 D1 E1 F1; G1 left out, transferred before day 84):
  with peer support A1 ✓, E1 ✗, F1 ✓ (successful before day 84) = 2/3; without B1 ✓, C1 ✗, D1 ✗ = 1/3.
early_unplanned_exit (cohort adds G1): with E1 = 1/3; without C1, D1 = 2/4.
representation_6m, 2024-01-01 … 2024-12-31 (D + 182 ≤ as_of): PF D = 2024-04-15 (F1, peer in episode),
  F2 referred within 182 days → with 1/1; PH D = 2024-05-01 (contact after D does not count), no
  re-presentation; PI D = 2024-06-01 (I2, no peer contact — I1's does not count), I3 within 182 days
  → without 1/2.
Discharges 2024-01-01 … 2024-06-30: PG1 incomplete C1 D1 E1 = 3, successful F1 H1 I1 I2 = 4; PG2
  transferred G1 = 1.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pipelines.metrics import compute_metric, compute_mix, metric_sql
from tests.metrics.builders import contact, d, episode, shown_count

EPISODES = [
    episode("A1", "PA", start=d("2024-01-10")),
    episode("B1", "PB", start=d("2024-01-10")),
    episode("C1", "PC", start=d("2024-01-10"), discharge=d("2024-02-20"), reason="dropped_out"),
    episode("D1", "PD", start=d("2024-02-01"), discharge=d("2024-02-11"), reason="dropped_out"),
    episode("E1", "PE", start=d("2024-02-01"), discharge=d("2024-03-15"), reason="dropped_out"),
    episode("F1", "PF", start=d("2024-03-01"), discharge=d("2024-04-15"), reason="completed_drug_free"),
    episode("F2", "PF", referral=d("2024-07-01")),
    episode(
        "G1",
        "PG",
        programme="PG2",
        start=d("2024-02-15"),
        discharge=d("2024-03-01"),
        reason="transferred_not_in_custody",
    ),
    episode("H1", "PH", start=d("2023-12-01"), discharge=d("2024-05-01"), reason="completed_drug_free"),
    episode("I1", "PI", start=d("2023-06-01"), discharge=d("2024-02-01"), reason="completed_alcohol_free"),
    episode("I2", "PI", start=d("2024-04-01"), discharge=d("2024-06-01"), reason="completed_drug_free"),
    episode("I3", "PI", referral=d("2024-09-01")),
    episode("Z", "PZ", referral=d("2025-06-30")),
]
CONTACTS = [
    contact("cA", "PA", d("2024-01-10", 27), by="peer", episode_id="A1"),
    contact("cB", "PB", d("2024-01-10", 28), by="peer", episode_id="B1"),
    contact("cC1", "PC", d("2024-01-10", 5), by="peer", attended=False, episode_id="C1"),
    contact("cC2", "PC", d("2024-01-10", 3), episode_id="C1"),
    contact("cD", "PD", d("2024-02-01", 20), by="peer"),
    contact("cE", "PE", d("2024-02-01", 2), by="peer", programme="PG3"),
    contact("cF", "PF", d("2024-03-01"), by="peer", episode_id="F1"),
    contact("cG", "PG", d("2024-02-14"), by="peer", programme="PG2"),
    contact("cH", "PH", d("2024-05-10"), by="peer"),
    contact("cI", "PI", d("2023-07-01"), by="peer", episode_id="I1"),
]
WITH, WITHOUT = "with_peer_support", "without_peer_support"


@pytest.fixture(scope="module")
def warehouse(make_warehouse):
    return make_warehouse(episodes=EPISODES, contacts=CONTACTS)


def by_group(table: pd.DataFrame) -> dict[str, tuple[int, int]]:
    return {r.peer_support: (int(r.numerator), int(r.denominator)) for r in table.itertuples()}


def test_episode_flags(warehouse) -> None:
    flags = warehouse.sql(
        "SELECT episode_id, peer_contact_first_28d, peer_contact_in_episode FROM episode_facts"
    ).set_index("episode_id")
    first_28d = {e for e, v in flags["peer_contact_first_28d"].items() if v}
    in_episode = {e for e, v in flags["peer_contact_in_episode"].items() if v}
    assert first_28d == {"A1", "E1", "F1"}
    assert in_episode == {"A1", "B1", "E1", "F1", "I1"}
    assert flags.notna().all().all()  # never null: never-started episodes are false


def test_retention_and_early_exit_by_peer_support(warehouse) -> None:
    options = dict(by="peer_support", suppress=False)
    retention = compute_metric(warehouse, "retention_12wk", "2024-01-01", "2024-03-31", **options)
    assert by_group(retention) == {WITH: (2, 3), WITHOUT: (1, 3)}
    early = compute_metric(warehouse, "early_unplanned_exit", "2024-01-01", "2024-03-31", **options)
    assert by_group(early) == {WITH: (1, 3), WITHOUT: (2, 4)}
    # The grouping leaves the metric unchanged: the groups add up to the whole.
    whole = compute_metric(warehouse, "retention_12wk", "2024-01-01", "2024-03-31", suppress=False)
    assert (int(whole["numerator"].iloc[0]), int(whole["denominator"].iloc[0])) == (3, 6)


def test_peer_support_as_a_filter_and_with_another_breakdown(warehouse) -> None:
    only_with = compute_metric(
        warehouse,
        "early_unplanned_exit",
        "2024-01-01",
        "2024-03-31",
        by="programme",
        filters={"peer_support": [WITH]},
        suppress=False,
    )
    assert dict(zip(only_with["programme"], only_with["denominator"], strict=True)) == {"PG1": 3}
    two_way = compute_metric(
        warehouse,
        "early_unplanned_exit",
        "2024-01-01",
        "2024-03-31",
        by=["programme", "peer_support"],
        suppress=False,
    )
    cells = {(r.programme, r.peer_support): int(r.denominator) for r in two_way.itertuples()}
    assert cells == {("PG1", WITH): 3, ("PG1", WITHOUT): 3, ("PG2", WITH): 0, ("PG2", WITHOUT): 1}


def test_representation_by_peer_support_during_the_episode_ending_at_d(warehouse) -> None:
    table = compute_metric(
        warehouse, "representation_6m", "2024-01-01", "2024-12-31", by="peer_support", suppress=False
    )
    assert by_group(table) == {WITH: (1, 1), WITHOUT: (1, 2)}
    survival = compute_metric(
        warehouse, "time_to_representation", "2024-01-01", "2024-12-31", by="peer_support", suppress=False
    )
    first = survival.groupby("peer_support")["n_at_risk"].max().to_dict()
    assert first == {WITH: 1, WITHOUT: 2}


def test_time_in_treatment_by_peer_support(warehouse) -> None:
    km = compute_metric(
        warehouse, "time_in_treatment", "2024-01-01", "2024-03-31", by="peer_support", suppress=False
    )
    at_risk = km.groupby("peer_support")["n_at_risk"].max().to_dict()
    events = km.groupby("peer_support")["events"].sum().to_dict()
    assert at_risk == {WITH: 3, WITHOUT: 4}  # A1 E1 F1; B1 C1 D1 G1
    assert events == {WITH: 1, WITHOUT: 2}  # E1; C1 D1 (G1's transfer is censored)
    with_row = km[(km["peer_support"] == WITH) & (km["events"] > 0)].iloc[0]
    assert with_row["t"] == 43 and math.isclose(with_row["survival"], 2 / 3)


def test_peer_support_is_refused_by_metrics_that_do_not_define_it(warehouse) -> None:
    with pytest.raises(ValueError, match="no 'peer_support' dimension.*retention_12wk"):
        compute_metric(warehouse, "successful_completion", "2024-01-01", "2024-03-31", by="peer_support")
    with pytest.raises(ValueError, match="no 'peer_support' dimension"):
        metric_sql("in_treatment", filters={"peer_support": [WITH]})
    with pytest.raises(ValueError, match="no 'outcome_group' dimension"):
        metric_sql("retention_12wk", by="outcome_group")


def test_exit_reason_mix(warehouse) -> None:
    mix = compute_mix(
        warehouse,
        "exit_reason_mix",
        "2024-01-01",
        "2024-06-30",
        part="outcome_group",
        by="programme",
        suppress=False,
    )
    cells = {(r.programme, r.outcome_group): (int(r.count), int(r.total)) for r in mix.itertuples()}
    assert cells == {
        ("PG1", "incomplete"): (3, 7),
        ("PG1", "successful"): (4, 7),
        ("PG1", "transferred"): (0, 7),
        ("PG1", "died"): (0, 7),  # every category is shown, empty ones too
        ("PG2", "incomplete"): (0, 1),
        ("PG2", "successful"): (0, 1),
        ("PG2", "transferred"): (1, 1),
        ("PG2", "died"): (0, 1),
    }
    share = mix.set_index(["programme", "outcome_group"])["share"]
    assert math.isclose(share["PG1", "successful"], 4 / 7) and share["PG2", "transferred"] == 1.0
    reasons = compute_metric(
        warehouse, "exit_reason_mix", "2024-01-01", "2024-06-30", by="discharge_reason", suppress=False
    )
    assert dict(zip(reasons["discharge_reason"], reasons["numerator"], strict=True)) == {
        "completed_alcohol_free": 1,
        "completed_drug_free": 3,
        "dropped_out": 3,
        "transferred_not_in_custody": 1,
    }


def test_exit_reason_mix_is_perturbed_and_shows_every_category(warehouse) -> None:
    mix = compute_mix(
        warehouse, "exit_reason_mix", "2024-01-01", "2024-06-30", part="outcome_group", by="programme"
    )
    # Every programme, with a discharge or not (PG3 has none), gets a row for every outcome group, empty
    # ones included, so an empty category or programme is never told by a missing row; each count is its
    # discharges perturbed by their keys (never 1–4), and each total the programme's discharges perturbed
    # by theirs.
    groups = ["successful", "transferred", "incomplete", "died"]
    assert mix["programme"].tolist() == ["PG1"] * 4 + ["PG2"] * 4 + ["PG3"] * 4
    assert mix["outcome_group"].tolist() == groups * 3
    discharged = "discharge_date BETWEEN DATE '2024-01-01' AND DATE '2024-06-30' AND programme_id = $p"
    reasons = {
        "successful": "LIKE 'completed%'",
        "transferred": "LIKE 'transferred%'",
        "died": "= 'died'",
        "incomplete": "IN ('dropped_out', 'treatment_withdrawn', 'declined', 'retained_in_custody', 'other')",
    }
    for row in mix.itertuples():
        expected = shown_count(
            warehouse,
            "episodes",
            f"{discharged} AND discharge_reason {reasons[row.outcome_group]}",
            {"p": row.programme},
        )
        total = shown_count(warehouse, "episodes", discharged, {"p": row.programme})
        assert row.total == total and not 1 <= expected <= 4, row
        # Hidden exactly when the rest of its programme's shown total is 1-4 (a proportion's rule).
        rest = total - min(expected, total)
        assert row.suppressed == (1 <= rest <= 4), row
        if row.suppressed:
            assert pd.isna(row.count) and pd.isna(row.share) and row.suppressed_reason == "small count"
        else:
            assert row.count == expected, row
    overall = compute_mix(
        warehouse, "exit_reason_mix", "2024-01-01", "2024-06-30", part="outcome_group", suppress=False
    )
    assert dict(zip(overall["outcome_group"], overall["count"], strict=True)) == {
        "incomplete": 3,
        "successful": 4,
        "transferred": 1,
        "died": 0,
    }
    assert overall["total"].eq(8).all()
