"""XmR statistical-process-control charts, as in NHS England's "Making Data Count".

METRICS.md, "Comparing programmes and tracking trends": centre = mean, process limits = mean ± 2.66 ×
mean moving range, and four special-cause rules. Each metric says which direction is improvement; the
chart labels each point as improvement, concern or common-cause variation, and `spc_signal` sums up
the latest point for a dashboard tile.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

XMR_CONSTANT = 2.66
"""3 / d2 with d2 = 1.128, the bias constant for a moving range of two points."""

RUN_LENGTH = 7
"""Points in a row needed for a shift or a trend."""

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
]

OUTSIDE_LIMITS = "outside_limits"
SHIFT = "shift"
TREND = "trend"
TWO_OF_THREE = "two_of_three"
RULES = (OUTSIDE_LIMITS, SHIFT, TREND, TWO_OF_THREE)

Improvement = Literal["up", "down"] | None


def _mark_runs(flags: np.ndarray, min_length: int) -> np.ndarray:
    """Mark every element of each run of consecutive True values at least ``min_length`` long."""
    marked = np.zeros_like(flags, dtype=bool)
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


def _mark_two_of_three(beyond: np.ndarray) -> np.ndarray:
    """Mark the points beyond a near limit in any window of 3 with at least 2 such points."""
    marked = np.zeros_like(beyond, dtype=bool)
    for start in range(len(beyond) - 2):
        window = beyond[start : start + 3]
        if window.sum() >= 2:
            marked[start : start + 3] |= window
    return marked


def xmr(values: npt.ArrayLike | pd.Series, improvement: Improvement = None) -> pd.DataFrame:
    """XmR (individuals and moving range) chart with NHS "Making Data Count" special-cause rules.

    Definition (NHS England / NHS Improvement, "Making Data Count", 2019; Wheeler's XmR chart): over
    the points with a value, mean = their mean, moving range = |x_i − x_(i−1)| between successive
    points, upper/lower = mean ± 2.66 × mean moving range, near_upper/near_lower = mean ± ⅔ × (upper −
    mean), i.e. two sigma. A point is special cause when it belongs to any of:

    - ``outside_limits``: strictly above ``upper`` or below ``lower``;
    - ``shift``: 7 or more points in a row strictly on one side of the mean (a point exactly on the
      mean breaks the run); every point of the run is marked;
    - ``trend``: 7 or more points in a row, each strictly greater (or each strictly less) than the one
      before (an equal value breaks the run); every point of the run is marked;
    - ``two_of_three``: 2 or 3 of 3 points in a row strictly beyond the same near limit (points beyond
      the process limit count, as in the Western Electric rule); the points beyond it are marked.

    ``rule`` names the rules a point belongs to, comma-separated in that order ("" for none).
    ``variation`` is ``"improvement"`` or ``"concern"`` for special-cause points given ``improvement``
    ("up" when higher is better, "down" when lower is better), ``"neither"`` for special-cause points of
    a metric with no direction, and ``"common_cause"`` otherwise. A special-cause point's direction is
    its side of the mean when it breaks a side rule (outside_limits, shift, two_of_three), else the
    direction of its trend (its side of the mean if it turns between a rising and a falling trend).

    Missing values (suppressed periods) are left out of every calculation — runs and moving ranges
    join the points either side — but keep their row, with ``special_cause`` False and ``variation``
    missing. Limits need at least two values; Making Data Count advises 15 or more.

    The output has one row per input value, indexed like ``values`` when it is a Series.
    """
    if improvement not in ("up", "down", None):
        raise ValueError(f'improvement must be "up", "down" or None, got {improvement!r}')
    index = values.index if isinstance(values, pd.Series) else None
    series = np.asarray(values, dtype=float).reshape(-1)
    present = ~np.isnan(series)
    points = series[present]
    count = len(points)

    mean = float(points.mean()) if count else np.nan
    moving_ranges = np.abs(np.diff(points))
    mean_moving_range = float(moving_ranges.mean()) if count >= 2 else np.nan
    upper = mean + XMR_CONSTANT * mean_moving_range
    lower = mean - XMR_CONSTANT * mean_moving_range
    near_upper = mean + 2.0 / 3.0 * (upper - mean)
    near_lower = mean - 2.0 / 3.0 * (mean - lower)

    above = points > mean
    below = points < mean
    outside = (points > upper) | (points < lower)
    shift = _mark_runs(above, RUN_LENGTH) | _mark_runs(below, RUN_LENGTH)
    rising = _mark_trends(points, rising=True)
    falling = _mark_trends(points, rising=False)
    two_of_three_high = _mark_two_of_three(points > near_upper)
    two_of_three_low = _mark_two_of_three(points < near_lower)
    two_of_three = two_of_three_high | two_of_three_low
    trend = rising | falling
    fired = {OUTSIDE_LIMITS: outside, SHIFT: shift, TREND: trend, TWO_OF_THREE: two_of_three}

    special = outside | shift | trend | two_of_three
    side = np.sign(points - mean) if count else np.empty(0)
    side_rule = outside | shift | two_of_three
    trend_direction = np.where(rising & ~falling, 1.0, np.where(falling & ~rising, -1.0, side))
    direction = np.where(side_rule, side, trend_direction)

    if improvement is None:
        special_label = np.full(count, "neither", dtype=object)
    else:
        good = 1.0 if improvement == "up" else -1.0
        special_label = np.select(
            [direction == good, direction == -good], ["improvement", "concern"], default="neither"
        ).astype(object)
    variation_points = np.where(special, special_label, "common_cause").astype(object)
    rule_points = [",".join(name for name in RULES if fired[name][i]) for i in range(count)]

    special_cause = np.zeros(len(series), dtype=bool)
    special_cause[present] = special
    moving_range = np.full(len(series), np.nan)
    moving_range[np.flatnonzero(present)[1:]] = moving_ranges
    rule = np.full(len(series), "", dtype=object)
    rule[present] = rule_points
    variation = np.full(len(series), None, dtype=object)
    variation[present] = variation_points

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
        },
        columns=SPC_COLUMNS,
    ).set_axis(index if index is not None else pd.RangeIndex(len(series)))


def spc_signal(table: pd.DataFrame) -> str:
    """Sum up the latest point with a value of an `xmr` table for a dashboard tile.

    Returns ``"improving"`` when it is special-cause improvement, ``"concerning"`` when special-cause
    concern, ``"special_cause"`` when it is special cause on a metric with no direction, and
    ``"common_cause"`` otherwise (including a table with no values). Trailing suppressed periods are
    passed over, so the tile describes the latest point it can show.
    """
    shown = table[table["value"].notna()]
    if shown.empty:
        return "common_cause"
    last = shown.iloc[-1]
    if not last["special_cause"]:
        return "common_cause"
    return {"improvement": "improving", "concern": "concerning"}.get(last["variation"], "special_cause")
