"""Peer-support metrics on a hand-worked extract of contacts. Period 2024-01-01 … 2024-03-31.

| contact | person | programme | date       | by           | attended | minutes | episode |
|---------|--------|-----------|------------|--------------|----------|---------|---------|
| c1      | C1     | PG1       | 2024-01-05 | professional | yes      | 60      | CE1     |
| c2      | C1     | PG1       | 2024-01-10 | peer         | yes      | 30      | —       |
| c3      | C1     | PG1       | 2024-01-15 | peer         | no (DNA) | 45      | —       |
| c4      | C1     | PG1       | 2024-02-01 | peer         | yes      | null    | —       |
| c5      | C2     | PG3       | 2024-02-10 | professional | yes      | 90      | —       |
| c6      | C2     | PG3       | 2024-03-31 | professional | yes      | null    | —       |
| c7      | C2     | PG3       | 2024-04-01 | peer         | yes      | 20      | — (after the period) |
| c8      | C3     | PG3       | 2024-03-01 | peer         | yes      | 15      | —       |
| c9      | C3     | PG3       | 2023-12-31 | professional | yes      | 50      | — (before the period) |
| c10     | C4     | PG1       | 2024-01-20 | professional | no       | 30      | —       |

Episodes: CE1 (C1, alcohol, referred and started 2023-12-01); CE2 (C2, opiate, referred 2024-03-15).
C1 was born in 2005 (aged 19 in 2024).
"""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.metrics import compute_metric
from tests.metrics.builders import contact, d, episode, only_row, shown_count, shown_sum

FROM, TO = "2024-01-01", "2024-03-31"

EPISODES = [
    episode("CE1", "C1", start=d("2023-12-01"), substance_group="alcohol", primary="alcohol"),
    episode("CE2", "C2", programme="PG3", referral=d("2024-03-15")),
]
CONTACTS = [
    contact("c1", "C1", d("2024-01-05"), minutes=60, episode_id="CE1"),
    contact("c2", "C1", d("2024-01-10"), by="peer", minutes=30),
    contact("c3", "C1", d("2024-01-15"), by="peer", attended=False, minutes=45),
    contact("c4", "C1", d("2024-02-01"), by="peer", minutes=None),
    contact("c5", "C2", d("2024-02-10"), programme="PG3", minutes=90),
    contact("c6", "C2", d("2024-03-31"), programme="PG3", minutes=None),
    contact("c7", "C2", d("2024-04-01"), programme="PG3", by="peer", minutes=20),
    contact("c8", "C3", d("2024-03-01"), programme="PG3", by="peer", minutes=15),
    contact("c9", "C3", d("2023-12-31"), programme="PG3", minutes=50),
    contact("c10", "C4", d("2024-01-20"), attended=False, minutes=30),
]


@pytest.fixture(scope="module")
def warehouse(make_warehouse):
    return make_warehouse(episodes=EPISODES, contacts=CONTACTS, people={"C1": {"birth_year": 2005}})


def metric(warehouse, name, **kw):
    kw.setdefault("suppress", False)
    return compute_metric(warehouse, name, FROM, TO, **kw)


def test_contact_facts(warehouse) -> None:
    facts = warehouse.sql("SELECT * FROM contact_facts").set_index("contact_id")
    # Substance group: linked episode (c1), else the person's latest episode referred by the contact date
    # (c2 → CE1; c6 → CE2), else unknown (c5 precedes CE2's referral; C3 has no episode).
    assert facts.loc[["c1", "c2", "c5", "c6", "c8"], "substance_group"].tolist() == [
        "alcohol",
        "alcohol",
        "unknown",
        "opiate",
        "unknown",
    ]
    assert facts.loc["c1", "age_band"] == "18-24"  # 2024 − 2005 = 19
    assert facts.loc["c5", "setting"] == "recovery_community" and facts.loc["c5", "area"] == "E08000032"
    # Every contact, attended or not, with its episode (null outside one) and its person's attributes.
    assert sorted(facts.index) == sorted(f"c{i}" for i in range(1, 11))
    assert facts.loc["c1", "episode_id"] == "CE1"
    assert facts["episode_id"].drop("c1").isna().all()
    assert (facts["sex"] == "female").all()
    assert facts.loc["c2", "age_band"] == "18-24" and facts.loc["c5", "age_band"] == "40-44"


def test_peer_contact_share(warehouse) -> None:
    # Attended in the period: c1, c2, c4, c5, c6, c8 = 6; by peers: c2, c4, c8 = 3.
    row = only_row(metric(warehouse, "peer_contact_share"))
    assert (row["numerator"], row["denominator"]) == (3, 6)
    frame = metric(warehouse, "peer_contact_share", by="programme")
    # PG1: c1, c2, c4 → 2 / 3; PG3: c5, c6, c8 → 1 / 3.
    assert frame[["programme", "numerator", "denominator"]].values.tolist() == [["PG1", 2, 3], ["PG3", 1, 3]]
    row = only_row(metric(warehouse, "peer_contact_share", filters={"substance_group": ["alcohol"]}))
    assert (row["numerator"], row["denominator"]) == (2, 3)  # C1's c1, c2, c4


def test_peer_minutes_share(warehouse) -> None:
    # Attended in the period with a duration: c1 60, c2 30, c5 90, c8 15 = 195 minutes (c4 and c6 have
    # none); by peers c2 30 + c8 15 = 45 → 45 / 195.
    row = only_row(metric(warehouse, "peer_minutes_share"))
    assert (row["numerator"], row["denominator"]) == (45, 195)
    assert row["value"] == pytest.approx(45 / 195)
    # Shared: the minutes are perturbed like counts (by the keys of the contacts behind them), and
    # disclosure control looks at the contacts behind the minutes, perturbed too (2 peer contacts of 4).
    shared = only_row(metric(warehouse, "peer_minutes_share", suppress=True))
    timed = (
        "attended AND duration_minutes IS NOT NULL "
        "AND contact_date BETWEEN DATE '2024-01-01' AND DATE '2024-03-31'"
    )
    by_peers = timed + " AND delivered_by = 'peer'"
    minutes = shown_sum(warehouse, "contacts", "duration_minutes", timed)
    peer_minutes = min(shown_sum(warehouse, "contacts", "duration_minutes", by_peers), minutes)
    contacts = shown_count(warehouse, "contacts", timed)
    complement = contacts - min(shown_count(warehouse, "contacts", by_peers), contacts)
    if 1 <= complement <= 4:
        assert shared["suppressed"] and shared["suppressed_reason"] == "small count"
        assert pd.isna(shared["numerator"]) and pd.isna(shared["value"])
    else:
        assert not shared["suppressed"]
        assert (shared["numerator"], shared["denominator"]) == (peer_minutes, minutes)
        assert shared["value"] == pytest.approx(peer_minutes / minutes)


def test_peer_reach(warehouse) -> None:
    # People with an attended contact in the period: C1, C2, C3 (C4 did not attend); with an attended peer
    # contact in it: C1 (c2), C3 (c8). C2's peer contact c7 falls after the period.
    row = only_row(metric(warehouse, "peer_reach"))
    assert (row["numerator"], row["denominator"]) == (2, 3)
    # By month: C1 by its first peer contact (January), C3 by c8 (March), C2 by its first contact (February).
    frame = metric(warehouse, "peer_reach", by="month")
    assert frame[["month", "numerator", "denominator"]].values.tolist() == [
        ["2024-01", 1, 1],
        ["2024-02", 0, 1],
        ["2024-03", 1, 1],
    ]
