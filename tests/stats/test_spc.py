"""XmR charts: each Making Data Count rule on a constructed series, directions and missing periods."""

import numpy as np
import pandas as pd
import pytest

from pipelines.stats import SPC_COLUMNS, spc_signal, xmr

# Fifteen points of routine variation: mean 10.73, limits 5.41 to 16.05; no rule fires.
COMMON = [10, 12, 9, 11, 10, 13, 9, 11, 12, 10, 9, 12, 11, 10, 12]


def special_points(table: pd.DataFrame) -> list[int]:
    return table.index[table["special_cause"]].tolist()


def test_common_cause_series() -> None:
    table = xmr(COMMON, improvement="up")
    assert list(table.columns) == SPC_COLUMNS
    assert not table["special_cause"].any()
    assert (table["variation"] == "common_cause").all()
    assert (table["rule"] == "").all()
    assert spc_signal(table) == "common_cause"


def test_limits_are_mean_plus_minus_2_66_mean_moving_range() -> None:
    table = xmr(COMMON)
    mean = np.mean(COMMON)
    mean_moving_range = np.mean(np.abs(np.diff(COMMON)))
    assert table["mean"].iloc[0] == pytest.approx(mean)
    assert table["upper"].iloc[0] == pytest.approx(mean + 2.66 * mean_moving_range)
    assert table["lower"].iloc[0] == pytest.approx(mean - 2.66 * mean_moving_range)
    assert table["near_upper"].iloc[0] == pytest.approx(mean + 2 / 3 * 2.66 * mean_moving_range)
    assert table["near_lower"].iloc[0] == pytest.approx(mean - 2 / 3 * 2.66 * mean_moving_range)
    assert np.isnan(table["moving_range"].iloc[0])
    np.testing.assert_allclose(table["moving_range"].iloc[1:], np.abs(np.diff(COMMON)))


def test_outside_limits_and_direction() -> None:
    series = [*COMMON, 25]  # upper limit becomes 18.9
    up = xmr(series, improvement="up")
    assert special_points(up) == [15]
    assert up.loc[15, "rule"] == "outside_limits"
    assert up.loc[15, "variation"] == "improvement"
    assert spc_signal(up) == "improving"
    down = xmr(series, improvement="down")
    assert down.loc[15, "variation"] == "concern"
    assert spc_signal(down) == "concerning"
    neutral = xmr(series)
    assert neutral.loc[15, "variation"] == "neither"
    assert spc_signal(neutral) == "special_cause"


def test_shift_marks_all_seven_points() -> None:
    series = [10, 12, 9, 11, 10, 12, 9, 11, 12, 10, 11.6, 12.4, 11.9, 12.6, 11.8, 12.2, 11.7, 10, 9, 11]
    table = xmr(series, improvement="down")
    assert special_points(table) == list(range(10, 17))
    assert (table.loc[10:16, "rule"] == "shift").all()
    assert (table.loc[10:16, "variation"] == "concern").all()  # higher is worse here
    assert spc_signal(table) == "common_cause"  # the latest point is routine


def test_six_in_a_row_is_not_a_shift() -> None:
    series = [10, 12, 9, 11, 10, 12, 9, 11, 12, 10, 11.6, 12.4, 11.9, 12.6, 11.8, 12.2, 10, 9, 11]
    assert not xmr(series)["special_cause"].any()


def test_point_on_the_mean_breaks_a_shift() -> None:
    # The other 24 points average 9.75; with 9.75 in the middle the mean is exactly 9.75 and splits
    # thirteen high points into two runs of six. Nudged above the mean, it joins them into a shift.
    before, high, after = [8, 6, 9, 7, 8, 6], [11, 13, 12, 11, 13, 12], [7, 9, 6, 8, 7, 9]
    on_mean = xmr([*before, *high, 9.75, *high, *after])
    assert on_mean["mean"].iloc[0] == 9.75
    assert not on_mean["special_cause"].any()
    nudged = xmr([*before, *high, 9.76, *high, *after])
    assert special_points(nudged) == list(range(6, 19))
    assert (nudged.loc[6:18, "rule"] == "shift").all()


def test_trend_marks_all_seven_points() -> None:
    series = [10, 12, 9, 11, 10, 12, 9, 11, 8.4, 8.8, 9.6, 10.2, 10.9, 11.3, 11.9, 10, 9, 11, 10]
    up = xmr(series, improvement="up")
    assert special_points(up) == list(range(8, 15))
    assert (up.loc[8:14, "rule"] == "trend").all()
    # A rising trend is improvement when up is better, even for its points below the mean.
    assert (up.loc[8:14, "variation"] == "improvement").all()
    falling = xmr(series[::-1], improvement="up")
    assert special_points(falling) == list(range(4, 11))
    assert (falling.loc[4:10, "variation"] == "concern").all()


def test_equal_values_break_a_trend() -> None:
    series = [10, 12, 9, 11, 10, 12, 9, 11, 8.4, 8.8, 9.6, 10.2, 10.2, 11.3, 11.9, 10, 9, 11, 10]
    assert "trend" not in set(xmr(series)["rule"])


def test_two_of_three_beyond_two_sigma() -> None:
    # Near upper limit 15.12, upper limit 17.10: 15.5, 12, 15.5 has two of three beyond it.
    series = [*COMMON, 10, 11, 15.5, 12, 15.5, 11, 10, 11]
    table = xmr(series, improvement="down")
    assert special_points(table) == [17, 19]  # the point in between is not marked
    assert (table.loc[[17, 19], "rule"] == "two_of_three").all()
    assert (table.loc[[17, 19], "variation"] == "concern").all()
    consecutive = xmr([*COMMON, 10, 11, 15.5, 15.5, 11, 10, 11], improvement="up")
    assert special_points(consecutive) == [17, 18]
    assert (consecutive.loc[[17, 18], "variation"] == "improvement").all()


def test_one_point_beyond_two_sigma_is_not_special() -> None:
    assert not xmr([*COMMON, 10, 11, 15.5, 12, 11, 10, 11])["special_cause"].any()


def test_several_rules_are_all_named() -> None:
    # Two high points drag the mean to 12.7, so the twelve routine points before them form a low shift.
    series = [10, 12, 9, 11, 10, 13, 9, 11, 12, 10, 9, 12, 11, 10, 12, 11, 10, 11, 30, 31]
    table = xmr(series, improvement="up")
    assert special_points(table) == list(range(6, 20))
    assert (table.loc[6:17, "rule"] == "shift").all()
    assert (table.loc[6:17, "variation"] == "concern").all()
    assert (table.loc[18:19, "rule"] == "outside_limits,two_of_three").all()
    assert (table.loc[18:19, "variation"] == "improvement").all()


def test_missing_periods_are_skipped_but_kept() -> None:
    values = pd.Series([*COMMON[:5], np.nan, *COMMON[5:], 25, np.nan], index=range(100, 118))
    table = xmr(values, improvement="up")
    assert table.index.tolist() == list(range(100, 118))
    dense = xmr([*COMMON, 25], improvement="up")
    assert table["mean"].iloc[0] == pytest.approx(dense["mean"].iloc[0])
    assert table["upper"].iloc[0] == pytest.approx(dense["upper"].iloc[0])
    assert np.isnan(table.loc[105, "moving_range"])
    assert table.loc[106, "moving_range"] == abs(COMMON[5] - COMMON[4])  # joins the points either side
    assert not table.loc[[105, 117], "special_cause"].any()
    assert table.loc[[105, 117], "variation"].isna().all()
    assert table.loc[116, "variation"] == "improvement"
    assert spc_signal(table) == "improving"  # trailing missing period passed over


def test_short_and_empty_series() -> None:
    single = xmr([5.0])
    assert np.isnan(single["upper"].iloc[0]) and not single["special_cause"].any()
    empty = xmr([])
    assert empty.empty and list(empty.columns) == SPC_COLUMNS
    assert spc_signal(empty) == "common_cause"
    assert not xmr([np.nan, np.nan])["special_cause"].any()
    flat = xmr([3.0] * 10)
    assert not flat["special_cause"].any()


def test_rejects_unknown_direction() -> None:
    with pytest.raises(ValueError):
        xmr(COMMON, improvement="higher")
