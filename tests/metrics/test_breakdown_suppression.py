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
from tests.metrics.builders import d, episode

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

    shown = compute_metric(warehouse, "successful_completion", FROM, TO, by=["sex", "quarter"])
    assert shown[["sex", "quarter"]].values.tolist() == truth[["sex", "quarter"]].values.tolist()
    suppressed = {(r.sex, r.quarter) for r in shown.itertuples() if r.suppressed}
    assert suppressed == {
        ("other", "2025-Q1"),
        ("other", "2025-Q2"),
        ("unknown", "2025-Q1"),
        ("unknown", "2025-Q2"),
    }
    assert shown.loc[~shown["suppressed"], "numerator"].notna().all()
    assert shown.loc[shown["suppressed"], ["numerator", "denominator", "value"]].isna().all().all()

    # Nothing suppressed can be worked out: every positive count of a hidden cell can take more than one
    # value given what is shown and the totals.
    for cell, ranges in _hidden_ranges(truth, shown).items():
        numerator, denominator = CELLS.get(cell, (0, 0))
        for name, true_value in (
            ("numerator", numerator),
            ("denominator", denominator),
            ("complement", denominator - numerator),
        ):
            low, high = ranges[name]
            assert low <= true_value <= high, (cell, name)
            if true_value > 0:
                assert low < high, f"{cell} {name} = {true_value} is recoverable"


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
        "rounded_to": 5,
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
    # Every episode starts in the period (2025-01-16 or 2025-04-15) and ends on day 30: one row per sex
    # at t = 30 with the whole group at risk (female 38, male 47, other 5, unknown 2). Unknown's row is
    # suppressed (2 at risk) but stays, with its t and every count and estimate missing.
    full = compute_metric(warehouse, "time_in_treatment", FROM, TO, by="sex", suppress=False)
    shown = compute_metric(warehouse, "time_in_treatment", FROM, TO, by="sex", rounding=None)
    assert len(shown) == len(full)
    assert shown["t"].tolist() == full["t"].tolist()
    tail = shown[shown["sex"] == "unknown"].iloc[0]
    assert tail["suppressed"] and tail["t"] == 30
    assert pd.isna(tail["survival"]) and pd.isna(tail["n_at_risk"])
    kept = shown[shown["sex"] == "female"].iloc[0]
    assert not kept["suppressed"] and kept["n_at_risk"] == 38
    # Shared (rounded): day 30 is on the 28-day grid at 56, 38 at risk shows as 40; the tail stays.
    rounded = compute_metric(warehouse, "time_in_treatment", FROM, TO, by="sex")
    assert rounded["t"].tolist() == [56] * len(full)
    assert rounded["suppressed"].tolist() == shown["suppressed"].tolist()
    assert rounded.loc[rounded["sex"] == "female", "n_at_risk"].item() == 40
