"""Two-way breakdowns: completion to the full grid before secondary suppression, and result context.

Extract: episodes discharged in 2025-01-01 … 2025-06-30 (successful_completion by sex × quarter of the
discharge date), each started 30 days before its discharge:

| sex     | 2025-Q1 (discharged 02-15) | 2025-Q2 (discharged 05-15) |
|---------|----------------------------|----------------------------|
| female  | 8 successful of 20         | 9 of 18                    |
| male    | 10 of 25                   | 12 of 22                   |
| other   | 1 of 3 (small)             | 0 of 2 (small)             |
| unknown | — (no episode)             | 1 of 2 (small)             |

Before completion the table had 7 rows: the unknown row's single entry looked pinned by its (published)
row total, and the repairs spread until every row was suppressed. Completed, unknown × Q1 is a 0 / 0
cell: the three small cells plus that empty cell are enough (unknown × Q2 = unknown's total − unknown × Q1,
so one of the two must be hidden, and hiding the empty one costs nothing), and female and male stay shown.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from pipelines.metrics import compute_metric, metric_series
from tests.metrics.builders import d, episode, shown_count

FROM, TO = "2025-01-01", "2025-06-30"
CELLS = {  # (sex, quarter): (successful, discharged)
    ("female", "2025-Q1"): (8, 20),
    ("female", "2025-Q2"): (9, 18),
    ("male", "2025-Q1"): (10, 25),
    ("male", "2025-Q2"): (12, 22),
    ("other", "2025-Q1"): (1, 3),
    ("other", "2025-Q2"): (0, 2),
    ("unknown", "2025-Q2"): (1, 2),
}
DISCHARGE = {"2025-Q1": d("2025-02-15"), "2025-Q2": d("2025-05-15")}


def _extract() -> tuple[list[dict], dict[str, dict]]:
    episodes, people = [], {}
    for (sex, quarter), (successful, discharged) in CELLS.items():
        for i in range(discharged):
            person = f"{sex}-{quarter}-{i}"
            people[person] = {"sex": sex}
            episodes.append(
                episode(
                    f"E-{person}",
                    person,
                    start=d(DISCHARGE[quarter].isoformat(), -30),
                    discharge=DISCHARGE[quarter],
                    reason="completed_drug_free" if i < successful else "dropped_out",
                )
            )
    return episodes, people


@pytest.fixture(scope="module")
def warehouse(make_warehouse):
    episodes, people = _extract()
    return make_warehouse(episodes=episodes, people=people)


def _hidden_ranges(truth: pd.DataFrame, shown: pd.DataFrame) -> dict[tuple[str, str], dict[str, tuple]]:
    """For each suppressed cell, the least and greatest numerator, denominator and complement a reader
    can get from the shown cells and the published totals (every row, column and the grand total).

    A linear programme over the hidden cells' numerators and denominators: each row's and column's
    hidden cells sum to its total minus its shown cells, and 0 ≤ numerator ≤ denominator.
    """
    hidden = shown.index[shown["suppressed"]].tolist()
    k = len(hidden)
    equalities, targets = [], []
    for column in ("sex", "quarter"):
        for label in truth[column].unique():
            in_line = [i for i, row in enumerate(hidden) if truth.loc[row, column] == label]
            if not in_line:
                continue
            for offset, quantity in ((0, "numerator"), (k, "denominator")):
                coefficients = np.zeros(2 * k)
                coefficients[[offset + i for i in in_line]] = 1
                equalities.append(coefficients)
                targets.append(truth.loc[[hidden[i] for i in in_line], quantity].sum())
    upper = np.hstack([np.eye(k), -np.eye(k)])  # numerator − denominator ≤ 0
    ranges = {}
    for i, row in enumerate(hidden):
        cell = (truth.loc[row, "sex"], truth.loc[row, "quarter"])
        ranges[cell] = {}
        for name, objective in (
            ("numerator", np.eye(2 * k)[i]),
            ("denominator", np.eye(2 * k)[k + i]),
            ("complement", np.eye(2 * k)[k + i] - np.eye(2 * k)[i]),
        ):
            bounds = []
            for sign in (1, -1):
                solved = linprog(
                    sign * objective, A_ub=upper, b_ub=np.zeros(k), A_eq=np.array(equalities), b_eq=targets
                )
                assert solved.status == 0, solved.message
                bounds.append(sign * solved.fun)
            ranges[cell][name] = (round(bounds[0], 6), round(bounds[1], 6))
    return ranges


def test_sex_by_quarter_suppresses_only_what_is_needed(warehouse) -> None:
    truth = compute_metric(
        warehouse, "successful_completion", FROM, TO, by=["sex", "quarter"], suppress=False
    )
    # Completed to the 4 × 2 grid; unknown × Q1 shows 0 / 0 with no value.
    assert len(truth) == 8
    empty = truth[(truth["sex"] == "unknown") & (truth["quarter"] == "2025-Q1")].iloc[0]
    assert (empty["numerator"], empty["denominator"]) == (0, 0) and pd.isna(empty["value"])
    for (sex, quarter), (numerator, denominator) in CELLS.items():
        row = truth[(truth["sex"] == sex) & (truth["quarter"] == quarter)].iloc[0]
        assert (row["numerator"], row["denominator"]) == (numerator, denominator)

    # Shared: every count perturbed by its own records' keys, so the small cells show as 0 or 5, never as
    # 1–4, and the empty cell as 0 / 0; what is suppressed (a perturbed complement of 1–4; nothing is
    # hidden to protect it) is decided on the perturbed counts, and cannot be worked out from the rest.
    shown = compute_metric(warehouse, "successful_completion", FROM, TO, by=["sex", "quarter"])
    assert shown[["sex", "quarter"]].values.tolist() == truth[["sex", "quarter"]].values.tolist()
    for row in shown.itertuples():
        cell = _cell(row.sex, row.quarter)
        expected_denominator = shown_count(warehouse, "episodes", cell, {"sex": row.sex})
        expected_numerator = shown_count(warehouse, "episodes", cell + SUCCESSFUL, {"sex": row.sex})
        if row.suppressed:
            assert pd.isna(row.numerator) and pd.isna(row.denominator)
            complement = expected_denominator - min(expected_numerator, expected_denominator)
            assert 1 <= complement <= 4 and row.suppressed_reason == "small count"  # primary only
        else:
            assert (row.numerator, row.denominator) == (
                min(expected_numerator, expected_denominator),
                expected_denominator,
            )
            assert not 1 <= row.numerator <= 4 and not 1 <= row.denominator <= 4
    empty = shown[(shown["sex"] == "unknown") & (shown["quarter"] == "2025-Q1")].iloc[0]
    assert empty["suppressed"] or (empty["numerator"], empty["denominator"]) == (0, 0)
    if shown["suppressed"].any():
        for cell, ranges in _hidden_ranges(_perturbed(shown, warehouse), shown).items():
            for name in ("numerator", "denominator", "complement"):
                low, high = ranges[name]
                assert low < high or low == 0, f"{cell} {name} is recoverable"


def _cell(sex: str, quarter: str) -> str:
    """The episodes of one sex discharged in one quarter (sex passed as $sex)."""
    first, last = {"2025-Q1": ("2025-01-01", "2025-03-31"), "2025-Q2": ("2025-04-01", "2025-06-30")}[quarter]
    return (
        f"discharge_date BETWEEN DATE '{first}' AND DATE '{last}' "
        "AND person_id IN (SELECT person_id FROM people WHERE sex = $sex)"
    )


SUCCESSFUL = " AND discharge_reason LIKE 'completed%'"


def _perturbed(shown: pd.DataFrame, warehouse) -> pd.DataFrame:
    """The table of perturbed counts the shown table was published from (hidden cells included), which is
    what a reader's totals are made of."""
    table = shown[["sex", "quarter"]].copy()
    table["numerator"] = [
        shown_count(warehouse, "episodes", _cell(r.sex, r.quarter) + SUCCESSFUL, {"sex": r.sex})
        for r in shown.itertuples()
    ]
    table["denominator"] = [
        shown_count(warehouse, "episodes", _cell(r.sex, r.quarter), {"sex": r.sex})
        for r in shown.itertuples()
    ]
    table["numerator"] = np.minimum(table["numerator"], table["denominator"])
    return table


def test_one_way_breakdowns_are_not_padded(warehouse) -> None:
    frame = compute_metric(warehouse, "successful_completion", FROM, TO, by="sex", suppress=False)
    assert frame["sex"].tolist() == ["female", "male", "other", "unknown"]


def test_results_carry_their_context(warehouse) -> None:
    frame = compute_metric(
        warehouse,
        "successful_completion",
        FROM,
        TO,
        by=["sex", "quarter"],
        filters={"programme": "PG1"},
        as_of="2025-12-31",
    )
    assert frame.attrs == {
        "metric": "successful_completion",
        "start": date(2025, 1, 1),
        "end": date(2025, 6, 30),
        "as_of": date(2025, 12, 31),
        "by": ["sex", "quarter"],
        "filters": {"programme": ["PG1"]},
        "suppressed_threshold": 5,
        "disclosure": "perturbation",
        "parameters": {},
    }
    frame = compute_metric(warehouse, "time_in_treatment", FROM, TO, suppress=False)
    assert frame.attrs["metric"] == "time_in_treatment"
    assert frame.attrs["as_of"] == date(2025, 5, 15)  # the latest date in the warehouse
    assert frame.attrs["by"] == [] and frame.attrs["filters"] == {}
    assert frame.attrs["suppressed_threshold"] is None
    frame = compute_metric(warehouse, "in_treatment", FROM, TO, by="sex", threshold=3)
    assert frame.attrs["suppressed_threshold"] == 3
    series = metric_series(warehouse, "successful_completion", FROM, TO, by="sex")
    assert series.attrs["by"] == ["month", "sex"] and series.attrs["end"] == date(2025, 6, 30)


def test_survival_tail_rows_keep_their_time(warehouse) -> None:
    # Every episode starts in the period and ends on day 30: exactly, one row per sex at t = 30 with the
    # whole group at risk (female 38, male 47, other 5, unknown 2).
    full = compute_metric(warehouse, "time_in_treatment", FROM, TO, by="sex", suppress=False)
    assert full["t"].tolist() == [30] * 4 and full["n_at_risk"].tolist() == [38, 47, 5, 2]
    # Shared: on the 28-day grid day 30 counts at 56, and every group gets every grid row (0, 28, 56)
    # whether or not anyone left then. At each t the whole group is at risk, so the number at risk is
    # the group's own episodes perturbed by their keys, the same at every t; the events by 56 are the
    # dropped-out episodes perturbed by theirs, so the survival drops there by that share. Groups under 20
    # at the start (other, unknown) are left out, as empty groups are.
    shared = compute_metric(warehouse, "time_in_treatment", FROM, TO, by="sex")
    assert shared["sex"].tolist() == ["female"] * 3 + ["male"] * 3  # other (5) and unknown (2) left out
    assert shared["t"].tolist() == [0, 28, 56] * 2
    for sex, group in shared.groupby("sex", sort=False):
        everyone = shown_count(
            warehouse,
            "episodes",
            "person_id IN (SELECT person_id FROM people WHERE sex = $sex)",
            {"sex": sex},
        )
        dropped = shown_count(
            warehouse,
            "episodes",
            "discharge_reason = 'dropped_out' "
            "AND person_id IN (SELECT person_id FROM people WHERE sex = $sex)",
            {"sex": sex},
        )
        assert not group["suppressed"].any()
        assert group["n_at_risk"].tolist() == [everyone] * 3
        assert group["events"].isna().all()  # a step's events are not shown when shared
        assert group["survival"].tolist() == pytest.approx([1, 1, 1 - min(dropped, everyone) / everyone])
