"""Disclosure control: primary rule edges, secondary suppression, and an exact attacker's check.

The attacker check solves, for each suppressed entry, min and max of its count over all non-negative
tables that agree with every visible entry and total (scipy.optimize.linprog); a suppressed count is
protected when that range has positive width.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from pipelines.stats import apply_suppression, primary_suppress, suppress_table

GROUPS_2D = ["programme", "quarter"]


def two_way_table(cells: np.ndarray, **extra: np.ndarray) -> pd.DataFrame:
    """Cells, row totals, column totals and the grand total as rows (None marks a total, as ROLLUP does)."""
    rows, cols = cells.shape
    keys: list[tuple[str | None, str | None, tuple[int, int] | None]] = []
    for i in range(rows):
        keys += [(f"P{i}", f"Q{j}", (i, j)) for j in range(cols)] + [(f"P{i}", None, None)]
    keys += [(None, f"Q{j}", None) for j in range(cols)] + [(None, None, None)]

    def value(matrix: np.ndarray, key: tuple[str | None, str | None, tuple[int, int] | None]) -> int:
        programme, quarter, cell = key
        if cell is not None:
            return int(matrix[cell])
        if programme is not None:
            return int(matrix[int(programme[1:])].sum())
        if quarter is not None:
            return int(matrix[:, int(quarter[1:])].sum())
        return int(matrix.sum())

    data = {
        "programme": [k[0] for k in keys],
        "quarter": [k[1] for k in keys],
        "count": [value(cells, k) for k in keys],
    }
    for name, matrix in extra.items():
        data[name] = [value(matrix, k) for k in keys]
    return pd.DataFrame(data)


def line_equations(df: pd.DataFrame, group_cols: list[str]) -> list[np.ndarray]:
    """Coefficient vectors (one per table line): interior entries +1, that line's total −1."""
    totals = df[group_cols].isna()
    equations = []
    if len(group_cols) == 1:
        equations.append(np.where(totals.iloc[:, 0], -1.0, 1.0))
        return equations
    first, second = group_cols
    for label in df.loc[~totals[first], first].unique():
        in_line = (df[first] == label).to_numpy()
        equations.append(np.where(in_line & totals[second].to_numpy(), -1.0, np.where(in_line, 1.0, 0.0)))
    for label in df.loc[~totals[second], second].unique():
        in_line = (df[second] == label).to_numpy()
        equations.append(np.where(in_line & totals[first].to_numpy(), -1.0, np.where(in_line, 1.0, 0.0)))
    grand = (totals[first] & totals[second]).to_numpy()
    row_totals = (totals[second] & ~totals[first]).to_numpy()
    col_totals = (totals[first] & ~totals[second]).to_numpy()
    equations.append(np.where(row_totals, 1.0, np.where(grand, -1.0, 0.0)))
    equations.append(np.where(col_totals, 1.0, np.where(grand, -1.0, 0.0)))
    return equations


def feasible_ranges(values: np.ndarray, hidden: np.ndarray, equations: list[np.ndarray]) -> np.ndarray:
    """[min, max] of each hidden entry over non-negative solutions matching visible entries and lines."""
    unknown = np.flatnonzero(hidden)
    a_eq = np.array([eq[unknown] for eq in equations])
    b_eq = np.array([-(eq[~hidden] @ values[~hidden]) for eq in equations])
    ranges = np.empty((len(unknown), 2))
    for k in range(len(unknown)):
        objective = np.zeros(len(unknown))
        objective[k] = 1.0
        low = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        high = linprog(-objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        assert low.status == 0 and high.status in (0, 3)
        ranges[k] = (low.fun, np.inf if high.status == 3 else -high.fun)
    return ranges


def assert_protected(
    df: pd.DataFrame, hidden: np.ndarray, group_cols: list[str], column: str = "count"
) -> None:
    values = df[column].to_numpy(dtype=float)
    ranges = feasible_ranges(values, hidden, line_equations(df, group_cols))
    for entry, (low, high) in zip(np.flatnonzero(hidden), ranges, strict=True):
        assert low - 1e-7 <= values[entry] <= high + 1e-7  # the truth is feasible: the check is sound
        assert high - low > 1e-7, f"row {entry} ({df.iloc[entry].to_dict()}) can be worked out"


# Primary rule ------------------------------------------------------------------------------------


def test_primary_numerator_edges() -> None:
    numerators = np.arange(7)
    assert primary_suppress(numerators, np.full(7, 100)).tolist() == [
        False,
        True,
        True,
        True,
        True,
        False,
        False,
    ]
    assert primary_suppress(numerators).tolist() == [False, True, True, True, True, False, False]


def test_primary_denominator_and_complement_edges() -> None:
    assert primary_suppress([0, 0, 0], [0, 4, 5]).tolist() == [False, True, False]
    # complement = denominator − numerator: 0 kept, 1–4 suppressed, 5 kept
    assert primary_suppress([100, 99, 96, 95], [100, 100, 100, 100]).tolist() == [False, True, True, False]


def test_primary_threshold_is_a_setting() -> None:
    assert primary_suppress([4, 9, 10], [100, 100, 100], threshold=10).tolist() == [True, True, False]
    assert not primary_suppress([1, 2], [3, 3], threshold=None).any()
    assert not primary_suppress([1, 2], [3, 3], threshold=1).any()
    assert not primary_suppress([np.nan], [np.nan]).any()


# Secondary rule: one-way tables ------------------------------------------------------------------


def test_one_way_breakdown_with_total() -> None:
    df = pd.DataFrame(
        {
            "setting": ["community", "inpatient", "prison", "recovery", "young", None],
            "count": [3, 10, 20, 0, 7, 40],
        }
    )
    mask = suppress_table(df, ["count"], ["setting"])
    assert mask.name == "suppressed" and mask.index.equals(df.index)
    # 3 is primary; 7 is the next smallest non-zero cell of the line; the zero is left alone.
    assert mask.tolist() == [True, False, False, False, True, False]
    assert_protected(df, mask.to_numpy(), ["setting"])


def test_one_way_total_implied_when_absent() -> None:
    df = pd.DataFrame({"setting": ["a", "b", "c", "d"], "count": [3, 10, 20, 7]})
    assert suppress_table(df, ["count"], ["setting"]).tolist() == [True, False, False, True]
    assert suppress_table(df, ["count"], ["setting"], implied_totals=False).tolist() == [
        True,
        False,
        False,
        False,
    ]


def test_one_way_small_total_is_suppressed() -> None:
    df = pd.DataFrame({"sex": ["female", "male", "unknown", "All"], "count": [2, 0, 1, 3]})
    assert suppress_table(df, ["count"], ["sex"], total_label="All").tolist() == [True, False, True, True]


def test_one_way_proportions_use_complements() -> None:
    df = pd.DataFrame(
        {
            "provider": ["A", "B", "C", "D", None],
            "numerator": [48, 30, 12, 40, 130],
            "denominator": [50, 60, 40, 80, 230],
        }
    )
    # A's complement is 2, so A is hidden; C has the smallest denominator left, so it goes with it.
    mask = suppress_table(
        df, ["numerator", "denominator"], ["provider"], pairs=[("numerator", "denominator")]
    )
    assert mask.tolist() == [True, False, True, False, False]
    hidden = mask.to_numpy()
    assert_protected(df, hidden, ["provider"], "numerator")
    assert_protected(
        df.assign(complement=df["denominator"] - df["numerator"]), hidden, ["provider"], "complement"
    )


# Secondary rule: two-way tables ------------------------------------------------------------------


def test_two_way_line_rule() -> None:
    cells = np.array([[3, 12, 20], [15, 8, 30], [25, 40, 50]])
    df = two_way_table(cells)
    mask = suppress_table(df, ["count"], GROUPS_2D)
    hidden = set(df.loc[mask, ["programme", "quarter"]].itertuples(index=False, name=None))
    # 3 at (P0, Q0); its row partner is 12 and its column partner 15; 8 closes the rectangle.
    assert hidden == {("P0", "Q0"), ("P0", "Q1"), ("P1", "Q0"), ("P1", "Q1")}
    assert_protected(df, mask.to_numpy(), GROUPS_2D)


def test_two_way_needs_more_than_the_line_rule() -> None:
    # Found by search: the line-by-line rule alone hides P0Q2, P0 total, P1Q0, P1Q1, P1Q2, P2Q2, P2 total,
    # Q0 total and Q1 total — every line has two hidden entries, yet P1Q2 (15) is then pinned: the other
    # entries of the Q2 column are known or pinned by their own rows. Hiding the Q2 total frees it.
    cells = np.array([[0, 0, 6], [1, 20, 15], [0, 0, 8]])
    df = two_way_table(cells)
    line_rule_only = np.zeros(len(df), dtype=bool)
    line_rule_only[[2, 3, 4, 5, 6, 10, 11, 12, 13]] = True
    ranges = feasible_ranges(df["count"].to_numpy(dtype=float), line_rule_only, line_equations(df, GROUPS_2D))
    assert ranges[4, 0] == ranges[4, 1] == 15  # P1Q2 is worked out exactly
    mask = suppress_table(df, ["count"], GROUPS_2D).to_numpy()
    assert (mask & ~line_rule_only).tolist().count(True) == 1 and mask[14]  # the Q2 total joins
    assert_protected(df, mask, GROUPS_2D)


def test_nothing_small_nothing_suppressed() -> None:
    df = two_way_table(np.array([[5, 12], [0, 30]]))
    assert not suppress_table(df, ["count"], GROUPS_2D).any()


def test_threshold_off() -> None:
    df = two_way_table(np.array([[1, 12], [2, 30]]))
    assert not suppress_table(df, ["count"], GROUPS_2D, threshold=None).any()


def test_invalid_tables() -> None:
    df = pd.DataFrame({"setting": ["a", "a"], "count": [3, 10]})
    with pytest.raises(ValueError):
        suppress_table(df, ["count"], ["setting"])
    with pytest.raises(ValueError):
        suppress_table(pd.DataFrame({"a": [1], "b": [1], "c": [1], "count": [1]}), ["count"], ["a", "b", "c"])
    with pytest.raises(ValueError):
        suppress_table(pd.DataFrame({"setting": ["a"], "count": [np.nan]}), ["count"], ["setting"])


# The attacker's check on random tables -----------------------------------------------------------

small_counts = st.sampled_from([0, 0, 1, 2, 3, 4, 5, 6, 8, 11, 17, 30])


@settings(max_examples=100, deadline=None)
@given(
    st.tuples(st.integers(1, 4), st.integers(2, 5)).flatmap(
        lambda shape: st.lists(small_counts, min_size=shape[0] * shape[1], max_size=shape[0] * shape[1]).map(
            lambda flat: np.array(flat).reshape(shape)
        )
    )
)
def test_no_suppressed_cell_can_be_worked_out_two_way(cells: np.ndarray) -> None:
    df = two_way_table(cells)
    mask = suppress_table(df, ["count"], GROUPS_2D).to_numpy()
    assert mask[primary_suppress(df["count"])].all()
    if mask.any():
        assert_protected(df, mask, GROUPS_2D)


@settings(max_examples=100, deadline=None)
@given(st.lists(small_counts, min_size=1, max_size=8))
def test_no_suppressed_cell_can_be_worked_out_one_way(counts: list[int]) -> None:
    df = pd.DataFrame(
        {"age_band": [f"band{i}" for i in range(len(counts))] + [None], "count": [*counts, sum(counts)]}
    )
    mask = suppress_table(df, ["count"], ["age_band"]).to_numpy()
    assert mask[primary_suppress(df["count"])].all()
    if mask.any():
        assert_protected(df, mask, ["age_band"])


@settings(max_examples=50, deadline=None)
@given(
    st.tuples(st.integers(2, 4), st.integers(2, 4)).flatmap(
        lambda shape: st.tuples(
            st.lists(small_counts, min_size=shape[0] * shape[1], max_size=shape[0] * shape[1]),
            st.lists(small_counts, min_size=shape[0] * shape[1], max_size=shape[0] * shape[1]),
        ).map(lambda pair: (np.array(pair[0]).reshape(shape), np.array(pair[1]).reshape(shape)))
    )
)
def test_proportion_tables_protect_numerators_and_complements(
    matrices: tuple[np.ndarray, np.ndarray],
) -> None:
    numerators, complements = matrices
    df = two_way_table(numerators, denominator=numerators + complements)
    df = df.rename(columns={"count": "numerator"})
    mask = suppress_table(
        df, ["numerator", "denominator"], GROUPS_2D, pairs=[("numerator", "denominator")]
    ).to_numpy()
    assert mask[primary_suppress(df["numerator"], df["denominator"])].all()
    df["complement"] = df["denominator"] - df["numerator"]
    equations = line_equations(df, GROUPS_2D)
    # The denominator is numerator + complement, so it is protected whenever either of them is.
    for column in ["numerator", "complement"]:
        values = df[column].to_numpy(dtype=float)
        if not mask.any():
            continue
        ranges = feasible_ranges(values, mask, equations)
        for entry, (low, high) in zip(np.flatnonzero(mask), ranges, strict=True):
            # A zero may be pinned at zero (zero is not disclosive); any positive count must not be.
            assert values[entry] == 0 or high - low > 1e-7


# Applying a mask ---------------------------------------------------------------------------------


def test_apply_suppression_blanks_never_zeroes() -> None:
    df = pd.DataFrame(
        {
            "setting": ["a", "b", "c"],
            "numerator": [3, 10, 20],
            "denominator": [9, 40, 50],
            "value": [1 / 3, 0.25, 0.4],
        }
    )
    mask = pd.Series([True, False, True], index=df.index)
    out = apply_suppression(df, mask, ["numerator", "denominator", "value"])
    assert out["suppressed"].tolist() == [True, False, True]
    assert out.loc[[0, 2], ["numerator", "denominator", "value"]].isna().all().all()
    assert out.loc[1, "numerator"] == 10 and out.loc[1, "value"] == 0.25
    assert df["numerator"].tolist() == [3, 10, 20]  # the input is left alone
    again = apply_suppression(out, np.array([False, True, False]), ["value"])
    assert again["suppressed"].tolist() == [True, True, True]  # never undone
