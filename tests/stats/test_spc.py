"""XmR charts: each Making Data Count rule on a constructed series, the points where NHSRplotthedots'
reading of a rule decides, directions, outlier screening and missing periods."""

import math
from fractions import Fraction

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
    assert up.loc[15, "special_cause_type"] == "Above UCL"
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
    # Near upper limit 15.12, upper limit 17.10: 15.5, 12, 15.5 has two of three beyond it, and all three
    # points above the mean (11.2).
    series = [*COMMON, 10, 11, 15.5, 12, 15.5, 11, 10, 11]
    table = xmr(series, improvement="down")
    assert table["mean"].iloc[0] < 12
    assert special_points(table) == [17, 19]  # the point in between is not marked
    assert (table.loc[[17, 19], "rule"] == "two_of_three").all()
    assert (table.loc[[17, 19], "special_cause_type"] == "2 in 3 Above CL").all()
    assert (table.loc[[17, 19], "variation"] == "concern").all()
    up = xmr(series, improvement="up")
    assert (up.loc[[17, 19], "variation"] == "improvement").all()


def test_two_of_three_needs_all_three_points_on_one_side_of_the_mean() -> None:
    # 15.5, 15.5 are beyond the near limit, but each window of three holding both also holds an 11,
    # below the mean: NHSRplotthedots (issue #143) calls that common cause.
    consecutive = xmr([*COMMON, 10, 11, 15.5, 15.5, 11, 10, 11], improvement="up")
    assert consecutive["mean"].iloc[0] > 11
    assert not consecutive["special_cause"].any()
    # Raise the 11 after them above the mean and the window 15.5, 15.5, 12 is all on one side.
    raised = xmr([*COMMON, 10, 11, 15.5, 15.5, 12, 10, 11], improvement="up")
    assert special_points(raised) == [17, 18]
    assert (raised.loc[[17, 18], "variation"] == "improvement").all()


def test_a_point_outside_the_limits_does_not_count_towards_two_of_three() -> None:
    # 22 is outside the limits (17.41) and 16 beyond the near limit (15.35), both above the mean with
    # the 12 before them: only one point counts towards 2 of 3, so 16 is common cause.
    series = [*COMMON, *COMMON, 12, 22, 16, 12, 10, 11]
    table = xmr(series, improvement="up")
    assert table["near_upper"].iloc[0] < 16 < table["upper"].iloc[0] < 22
    assert special_points(table) == [31]
    assert table.loc[31, "rule"] == "outside_limits"
    assert table.loc[31, "special_cause_type"] == "Above UCL"


def test_one_point_beyond_two_sigma_is_not_special() -> None:
    assert not xmr([*COMMON, 10, 11, 15.5, 12, 11, 10, 11])["special_cause"].any()


def test_several_rules_are_all_named() -> None:
    # Two high points drag the mean to 12.7, so the twelve routine points before them form a low shift.
    series = [10, 12, 9, 11, 10, 13, 9, 11, 12, 10, 9, 12, 11, 10, 12, 11, 10, 11, 30, 31]
    table = xmr(series, improvement="up")
    assert special_points(table) == list(range(6, 20))
    assert (table.loc[6:17, "rule"] == "shift").all()
    assert (table.loc[6:17, "special_cause_type"] == "7 Points Below CL").all()
    assert (table.loc[6:17, "variation"] == "concern").all()
    # Outside the limits, so not near-limit points: the 2-of-3 rule does not name them.
    assert (table.loc[18:19, "rule"] == "outside_limits").all()
    assert (table.loc[18:19, "variation"] == "improvement").all()


def test_a_point_in_a_trend_and_a_shift_takes_the_trend_direction() -> None:
    # 14 down to 11.6 fall for seven points (eight with the 10 after them), all above the mean of 11.1:
    # a falling trend inside a shift above the mean. Where higher is better, that is concern.
    series = [*COMMON, 14, 13.6, 13.2, 12.8, 12.4, 12, 11.6, *COMMON]
    table = xmr(series, improvement="up")
    assert special_points(table) == list(range(14, 23))
    assert (table.loc[15:21, "rule"] == "shift,trend").all()
    assert (table.loc[15:21, "special_cause_type"] == "7 Point Trend (Decreasing)").all()
    assert (table.loc[15:22, "variation"] == "concern").all()
    assert table.loc[14, "rule"] == "shift" and table.loc[14, "variation"] == "improvement"  # the 12 before


def test_outside_the_limits_decides_before_a_trend() -> None:
    series = [1, 2, 3, 4, 5, 6, 7, 6, 5, 4, 3, 2, 1]
    table = xmr(series, improvement="up")
    assert table["special_cause"].all()
    assert table["special_cause_type"].tolist() == [
        "Below LCL",
        *["7 Point Trend (Increasing)"] * 5,
        "Above UCL",
        *["7 Point Trend (Decreasing)"] * 5,
        "Below LCL",
    ]


def test_trend_point_before_another_trend_takes_the_step_to_it() -> None:
    # NHSRplotthedots gives a point in a trend the direction of its step to the next point when that
    # point is in a trend too. At 7, 7 the first rising trend ends and a second one starts, so the
    # first 7 gets the flat step and reads as decreasing: concern, where higher is better.
    table = xmr([1, 2, 3, 4, 5, 6, 7, 7, 8, 9, 10, 11, 12, 13], improvement="up")
    assert table.loc[4:9, "special_cause_type"].tolist() == [
        "7 Point Trend (Increasing)",
        "7 Point Trend (Increasing)",
        "7 Point Trend (Decreasing)",
        "7 Point Trend (Increasing)",
        "7 Point Trend (Increasing)",
        "7 Point Trend (Increasing)",
    ]
    assert table.loc[6, "variation"] == "concern"


def test_the_mean_is_r_s_so_a_point_on_it_is_found_the_same_way() -> None:
    # The exact mean of these 38 doubles rounds to the double just below -0.3: the point -0.3 is above
    # it and completes 7 points above the mean (as NHSRplotthedots finds). A sum rounded to double and
    # then divided gives -0.3 itself, which would put the point on the mean and break the run.
    series = [
        float(v)
        for v in (
            "0.8 0.3 0.1 0.1 -0.9 1.2 -1.0 -1.8 -0.4 -0.8 0.5 -0.3 -1.0 -1.1 -1.1 -1.6 -0.1 1.6 -0.9 "
            "-0.9 -0.3 -0.2 -0.1 1.3 -0.1 -0.0 -0.0 -1.1 -1.0 -2.2 -0.7 -0.8 -0.1 1.0 -2.1 0.7 1.7 -0.1"
        ).split()
    ]
    exact = float(sum(Fraction(v) for v in series) / len(series))
    table = xmr(series, improvement="up")
    assert table["mean"].iloc[0] == exact < -0.3
    assert math.fsum(series) / len(series) == -0.3
    assert special_points(table) == list(range(20, 27))
    assert (table.loc[20:26, "special_cause_type"] == "7 Points Above CL").all()


def test_outlier_screening_is_off_by_default() -> None:
    series = [*COMMON, 40, *COMMON]
    plain = xmr(series)
    screened = xmr(series, screen_outliers=True)
    moving_ranges = np.abs(np.diff(series))
    assert plain["upper"].iloc[0] == pytest.approx(np.mean(series) + 2.66 * moving_ranges.mean())
    assert not plain["moving_range_excluded"].any()
    # The two moving ranges into and out of the 40 (29 and 30) are above 3.267 x the mean moving range.
    assert moving_ranges.mean() * 3.267 < 29
    kept = moving_ranges[moving_ranges < 3.267 * moving_ranges.mean()]
    assert len(kept) == len(moving_ranges) - 2
    assert screened.index[screened["moving_range_excluded"]].tolist() == [15, 16]
    assert screened["upper"].iloc[0] == pytest.approx(np.mean(series) + 2.66 * kept.mean())
    assert screened["upper"].iloc[0] < plain["upper"].iloc[0]


def test_screening_a_flat_series_leaves_no_limits() -> None:
    # Every moving range is 0, none below 3.267 x 0: NHSRplotthedots then has no mean moving range.
    table = xmr([3.0] * 10, screen_outliers=True)
    assert table["moving_range_excluded"].iloc[1:].all()
    assert table["upper"].isna().all() and not table["special_cause"].any()


def test_trial_limits_below_13_points() -> None:
    assert xmr(COMMON[:12])["trial_limits"].all()
    assert not xmr(COMMON[:13])["trial_limits"].any()
    with_gaps = xmr([*COMMON[:12], np.nan, np.nan])
    assert with_gaps["trial_limits"].all()  # counted over the points with a value


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
    assert table.loc[[105, 117], "special_cause_type"].isna().all()
    assert not table["moving_range_excluded"].any()
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
