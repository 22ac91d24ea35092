"""XmR statistical-process-control charts, as in NHS England's "Making Data Count".

docs/metrics.md, "Comparing programmes and tracking trends": centre = mean, process limits = mean ± 2.66 ×
mean moving range, and four special-cause rules; where it is silent we follow NHSRplotthedots, the
NHS-R Community's reference implementation of Making Data Count (R package, version 0.2.2; functions
``ptd_spc_standard`` and ``ptd_calculate_point_type``). Each metric says which direction is
improvement; the chart labels each point as improvement, concern or common-cause variation, and
`spc_signal` sums up the latest point for a dashboard tile.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

XMR_CONSTANT = 2.66
"""3 / d2 with d2 = 1.128, the bias constant for a moving range of two points."""

NEAR_LIMIT_CONSTANT = 2 * (XMR_CONSTANT / 3)
"""Two sigma in mean moving ranges; written as NHSRplotthedots writes it, so limits match to the bit."""

OUTLIER_MOVING_RANGE_FACTOR = 3.267
"""D4 for moving ranges of two points: the upper range limit above which a moving range is an outlier."""

RUN_LENGTH = 7
"""Points in a row needed for a shift or a trend."""

TRIAL_LIMITS_BELOW = 13
"""Fewer points with a value than this and the limits are trial limits (NHSRplotthedots' default
``ptd_spc.warning_threshold``; its message and docs say 12, its code uses 13)."""

SPC_COLUMNS = [
    "value",
    "mean",
    "moving_range",
    "upper",
    "lower",
    "near_upper",
    "near_lower",
    "special_cause",
    "rule",
    "variation",
    "special_cause_type",
    "moving_range_excluded",
    "trial_limits",
]

OUTSIDE_LIMITS = "outside_limits"
SHIFT = "shift"
TREND = "trend"
TWO_OF_THREE = "two_of_three"
RULES = (OUTSIDE_LIMITS, SHIFT, TREND, TWO_OF_THREE)

COMMON_CAUSE_TYPE = "Common Cause"
"""NHSRplotthedots' ``special_cause_type`` of a point no rule marks."""

Improvement = Literal["up", "down"] | None


def _mark_runs(flags: np.ndarray, min_length: int) -> np.ndarray:
    """Mark every element of each run of consecutive True values at least ``min_length`` long."""
    marked = np.zeros(len(flags), dtype=bool)
    start = None
    for i, flag in enumerate([*flags.tolist(), False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start >= min_length:
                marked[start:i] = True
            start = None
    return marked


def _mark_trends(values: np.ndarray, rising: bool) -> np.ndarray:
    """Mark points in runs of ``RUN_LENGTH`` or more, each strictly above (or below) the one before."""
    marked = np.zeros(len(values), dtype=bool)
    if len(values) < 2:
        return marked
    steps = np.diff(values) > 0 if rising else np.diff(values) < 0
    # A run of k steps covers k + 1 points; mark the steps' run, then each step's two end points.
    step_runs = _mark_runs(steps, RUN_LENGTH - 1)
    marked[:-1] |= step_runs
    marked[1:] |= step_runs
    return marked


def _mark_two_of_three(near: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Mark the near-limit points of every window of 3 points in a row that are all on one side of the
    mean (none on it) and of which at least 2 are near-limit points."""
    marked = np.zeros(len(near), dtype=bool)
    for start in range(len(near) - 2):
        window = slice(start, start + 3)
        if abs(side[window].sum()) == 3 and near[window].sum() >= 2:
            marked[window] |= near[window]
    return marked


def _mean(values: np.ndarray) -> float:
    """The mean as R's ``mean()`` computes it, so that a point on NHSRplotthedots' mean is on ours.

    R adds the values left to right in extended precision (C ``long double``), divides by n, then adds
    the mean of the residuals, also in extended precision, and rounds once to double. numpy's
    ``longdouble`` is the same C type on the same platform. Points exactly on the mean break a shift,
    and with decimal data (rates such as 0.3) a last-bit difference decides whether a point is on it.
    """
    if not len(values):
        return math.nan
    extended = values.astype(np.longdouble)
    mean = np.cumsum(extended)[-1] / len(values)  # cumsum adds left to right, as R does
    if np.isfinite(mean):
        mean += np.cumsum(extended - mean)[-1] / len(values)
    return float(mean)


def xmr(
    values: npt.ArrayLike | pd.Series, improvement: Improvement = None, *, screen_outliers: bool = False
) -> pd.DataFrame:
    """XmR (individuals and moving range) chart with NHS "Making Data Count" special-cause rules.

    Definition (NHS England / NHS Improvement, "Making Data Count", 2019; Wheeler's XmR chart), with
    the details of NHSRplotthedots 0.2.2 (``ptd_spc_standard``, ``ptd_calculate_point_type``): over
    the points with a value, mean = their mean, moving range = |x_i − x_(i−1)| between successive
    points, upper/lower = mean ± 2.66 × mean moving range, near_upper/near_lower = mean ± 2 × (2.66 / 3)
    × mean moving range (two sigma). With ``screen_outliers`` (off by default; NHSRplotthedots'
    default is on) moving ranges not below 3.267 × the mean moving range are left out and the mean
    moving range is taken again over the rest (``moving_range_excluded`` marks them); if none is left
    (a flat series) there are no limits.

    A point is special cause when it belongs to any of (``rule`` names them, comma-separated in this
    order, "" for none):

    - ``outside_limits``: strictly above ``upper`` or below ``lower``;
    - ``shift``: 7 or more points in a row strictly on one side of the mean (a point exactly on the
      mean breaks the run); every point of the run is marked;
    - ``trend``: 7 or more points in a row, each strictly greater (or each strictly less) than the one
      before (an equal value breaks the run), wherever they are relative to the mean; every point of
      the run is marked;
    - ``two_of_three``: a point strictly beyond a near limit but not outside the process limits, in 3
      points in a row that are all strictly on the same side of the mean and of which at least 2 are
      such points. A point outside the limits does not count towards the 2, though it can be the
      third point.

    ``special_cause_type`` is NHSRplotthedots' label of the rule that decides the point's direction,
    taken in this order: outside the limits ("Above UCL", "Below LCL"), trend ("7 Point Trend
    (Increasing)" / "(Decreasing)"), two of three ("2 in 3 Above CL" / "Below CL"), shift ("7 Points
    Above CL" / "Below CL"), else "Common Cause". So a point in both a trend and a shift takes the
    trend's direction. A trend point's direction is that of its step to the next point when the next
    point is also in a trend, else of its step from the previous point; as in NHSRplotthedots, a step
    that does not rise reads as decreasing, which labels the last point of a rising trend "Decreasing"
    when a second trend starts right after it, after a fall or an equal value.

    ``variation`` is ``"improvement"`` or ``"concern"`` for special-cause points given ``improvement``
    ("up" when higher is better, "down" when lower is better; NHSRplotthedots' "increase" and
    "decrease"), ``"neither"`` for special-cause points of a metric with no direction
    (NHSRplotthedots' special_cause_neutral_high / _low: ``special_cause_type`` says which), and
    ``"common_cause"`` otherwise.

    ``trial_limits`` is True on every row when fewer than 13 points have a value: NHSRplotthedots
    still draws and applies the limits but warns that they are trial limits; Making Data Count advises
    15 or more. Limits need at least two values.

    Missing values (suppressed periods) are left out of every calculation: runs and moving ranges join
    the points either side (NHSRplotthedots requires a series without gaps, so this applies its rules
    to the series of points with a value). They keep their row, with ``special_cause`` False and
    ``variation`` and ``special_cause_type`` missing.

    The output has one row per input value, indexed like ``values`` when it is a Series.
    """
    if improvement not in ("up", "down", None):
        raise ValueError(f'improvement must be "up", "down" or None, got {improvement!r}')
    index = values.index if isinstance(values, pd.Series) else None
    series = np.asarray(values, dtype=float).reshape(-1)
    present = ~np.isnan(series)
    points = series[present]
    count = len(points)

    mean = _mean(points)
    moving_ranges = np.abs(np.diff(points))
    mean_moving_range = _mean(moving_ranges)
    excluded = np.zeros(len(moving_ranges), dtype=bool)
    if screen_outliers and len(moving_ranges):
        excluded = ~(moving_ranges < OUTLIER_MOVING_RANGE_FACTOR * mean_moving_range)
        mean_moving_range = _mean(moving_ranges[~excluded])
    upper = mean + XMR_CONSTANT * mean_moving_range
    lower = mean - XMR_CONSTANT * mean_moving_range
    near_upper = mean + NEAR_LIMIT_CONSTANT * mean_moving_range
    near_lower = mean - NEAR_LIMIT_CONSTANT * mean_moving_range

    # Comparisons with missing limits are False: no limits, no outside or near-limit points.
    side = np.sign(points - mean)
    outside = (points > upper) | (points < lower)
    near = ~outside & ((points > near_upper) | (points < near_lower))
    shift = _mark_runs(side > 0, RUN_LENGTH) | _mark_runs(side < 0, RUN_LENGTH)
    trend = _mark_trends(points, rising=True) | _mark_trends(points, rising=False)
    two_of_three = _mark_two_of_three(near, side)
    fired = {OUTSIDE_LIMITS: outside, SHIFT: shift, TREND: trend, TWO_OF_THREE: two_of_three}
    special = outside | shift | trend | two_of_three

    steps = np.sign(np.diff(points))
    step_from_previous = np.concatenate([[0.0], steps])[:count]
    step_to_next = np.concatenate([steps, [0.0]])[:count]  # the last point has no next step to use
    next_in_trend = np.concatenate([trend[1:], [False]])[:count]
    trend_rises = np.where(trend & next_in_trend, step_to_next, step_from_previous) == 1
    above = side > 0
    deciding = [outside, trend, two_of_three, shift]
    special_cause_type = np.select(
        deciding,
        [
            np.where(side == 1, "Above UCL", "Below LCL"),
            np.where(trend_rises, "7 Point Trend (Increasing)", "7 Point Trend (Decreasing)"),
            np.where(above, "2 in 3 Above CL", "2 in 3 Below CL"),
            np.where(above, "7 Points Above CL", "7 Points Below CL"),
        ],
        default=COMMON_CAUSE_TYPE,
    ).astype(object)
    higher = np.select(deciding, [side == 1, trend_rises, above, above], default=False)

    if improvement is None:
        special_label = np.full(count, "neither", dtype=object)
    else:
        improving = higher if improvement == "up" else ~higher
        special_label = np.where(improving, "improvement", "concern").astype(object)
    variation_points = np.where(special, special_label, "common_cause").astype(object)
    rule_points = [",".join(name for name in RULES if fired[name][i]) for i in range(count)]

    positions = np.flatnonzero(present)
    special_cause = np.zeros(len(series), dtype=bool)
    special_cause[present] = special
    moving_range = np.full(len(series), np.nan)
    moving_range[positions[1:]] = moving_ranges
    moving_range_excluded = np.zeros(len(series), dtype=bool)
    moving_range_excluded[positions[1:]] = excluded
    rule = np.full(len(series), "", dtype=object)
    rule[present] = rule_points
    variation = np.full(len(series), None, dtype=object)
    variation[present] = variation_points
    cause_type = np.full(len(series), None, dtype=object)
    cause_type[present] = special_cause_type

    return pd.DataFrame(
        {
            "value": series,
            "mean": mean,
            "moving_range": moving_range,
            "upper": upper,
            "lower": lower,
            "near_upper": near_upper,
            "near_lower": near_lower,
            "special_cause": special_cause,
            "rule": pd.Series(rule, dtype=object),
            "variation": pd.Series(variation, dtype=object),
            "special_cause_type": pd.Series(cause_type, dtype=object),
            "moving_range_excluded": moving_range_excluded,
            "trial_limits": count < TRIAL_LIMITS_BELOW,
        },
        columns=SPC_COLUMNS,
    ).set_axis(index if index is not None else pd.RangeIndex(len(series)))


def spc_signal(table: pd.DataFrame) -> str:
    """Sum up the latest point with a value of an `xmr` table for a dashboard tile.

    Returns ``"improving"`` when it is special-cause improvement, ``"concerning"`` when special-cause
    concern, ``"special_cause"`` when it is special cause on a metric with no direction, and
    ``"common_cause"`` otherwise (including a table with no values). Trailing suppressed periods are
    passed over, so the tile describes the latest point it can show (NHSRplotthedots' variation icon
    is the latest point's type too).
    """
    shown = table[table["value"].notna()]
    if shown.empty:
        return "common_cause"
    last = shown.iloc[-1]
    if not last["special_cause"]:
        return "common_cause"
    return {"improvement": "improving", "concern": "concerning"}.get(last["variation"], "special_cause")
