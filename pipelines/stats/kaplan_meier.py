"""Kaplan–Meier survival estimates with a log(−log) Greenwood band.

Used for the time-to-event metrics of docs/metrics.md ("Time to event"): `time_in_treatment` and
`time_to_representation`. The record-level form (`kaplan_meier`) and the aggregated form
(`kaplan_meier_from_counts`, fed by a DuckDB ``GROUP BY t``) share one implementation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from pipelines.stats.wilson import Z95

KM_COLUMNS = ["t", "n_at_risk", "events", "censored", "survival", "ci_low", "ci_high"]
"""Columns of every Kaplan–Meier table, in order."""

_MEDIAN_TOLERANCE = 1e-12


def kaplan_meier_from_counts(table: pd.DataFrame, z: float = Z95, by: Sequence[str] = ()) -> pd.DataFrame:
    """Kaplan–Meier estimate from counts of events and censorings per time, optionally per group.

    ``table`` has columns ``t`` (time, e.g. days), ``events`` and ``censored`` (counts at that time), as a
    ``GROUP BY t`` produces, plus the grouping columns named in ``by`` (one curve per group, as a
    ``GROUP BY programme, t`` produces). Duplicate times are summed; times with no events and no
    censorings are dropped. Returns the ``by`` columns then ``t, n_at_risk, events, censored, survival,
    ci_low, ci_high``: one row per group and distinct observed time, sorted by group then time.

    Definition (Kaplan & Meier 1958): n_t = number whose time is ≥ t (a reverse cumulative sum of
    events + censored), d_t = events at t, and S(t) = S(t−) × (1 − d_t / n_t), so censorings at t are
    still at risk for events at t.

    Band (Kalbfleisch & Prentice 2002, §1.4; the default "exponential Greenwood" band of lifelines'
    ``KaplanMeierFitter``): with Greenwood's (1926) sum V(t) = Σ_{t_i ≤ t} d_i / (n_i (n_i − d_i)) and
    σ(t) = sqrt(V(t)) / |log S(t)|, the bounds are exp(−exp(log(−log S(t)) ± z σ(t))), i.e.
    ``ci_low = S^exp(z σ)`` and ``ci_high = S^exp(−z σ)``.

    Edges: where S(t) = 1 (before the first event) the band is (1, 1); where S(t) = 0 (everyone left at
    risk had the event) the log(−log) band is undefined and both bounds are NaN.

    Groups are computed together with grouped cumulative sums, so a breakdown into a hundred groups
    costs one pass rather than a hundred calls.
    """
    by = list(by)
    missing = {"t", "events", "censored", *by} - set(table.columns)
    if missing:
        raise ValueError(f"count table lacks columns {sorted(missing)}")
    counts = table[[*by, "t", "events", "censored"]]
    if counts["t"].isna().any():
        raise ValueError("times must not be missing")
    if (counts[["events", "censored"]] < 0).any().any():
        raise ValueError("event and censoring counts must be non-negative")
    if (counts["t"] < 0).any():
        raise ValueError("times must be non-negative")

    counts = (
        counts.groupby([*by, "t"], sort=True, as_index=False, dropna=False)[["events", "censored"]]
        .sum()
        .astype({"events": "int64", "censored": "int64"})
    )
    counts = counts[(counts["events"] + counts["censored"]) > 0].reset_index(drop=True)
    if by:
        group = counts.groupby(by, sort=False, dropna=False).ngroup().to_numpy()
    else:
        group = np.zeros(len(counts), dtype=np.int64)

    events = counts["events"].to_numpy(dtype=float)
    leaving = (counts["events"] + counts["censored"]).to_numpy(dtype=np.int64)
    at_risk = pd.Series(leaving[::-1]).groupby(group[::-1], sort=False).cumsum().to_numpy()[::-1]
    survival, ci_low, ci_high = _estimate(at_risk.astype(float), events, group, z)

    result = counts[by].copy()
    result["t"] = counts["t"].to_numpy()
    result["n_at_risk"] = at_risk.astype("int64")
    result["events"] = counts["events"].to_numpy(dtype="int64")
    result["censored"] = counts["censored"].to_numpy(dtype="int64")
    result["survival"] = survival
    result["ci_low"] = ci_low
    result["ci_high"] = ci_high
    return result


def survival_from_risk_sets(
    n_at_risk: npt.ArrayLike, events: npt.ArrayLike, group: npt.ArrayLike | None = None, z: float = Z95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """S(t) and its log(−log) Greenwood band from given numbers at risk and events, row by row in time
    order within each group (``group``: one label per row, rows of a group together; None for one
    curve). The estimator of `kaplan_meier_from_counts` for risk sets that are not a reverse cumulative
    sum of the rows, e.g. rounded counts. Returns (survival, ci_low, ci_high)."""
    n = np.asarray(n_at_risk, dtype=float)
    d = np.asarray(events, dtype=float)
    if group is None:
        labels = np.zeros(len(n), dtype=np.int64)
    else:
        labels = pd.factorize(pd.Series(np.asarray(group, dtype=object)))[0]
    return _estimate(n, d, labels, z)


def _estimate(
    n: np.ndarray, events: np.ndarray, group: np.ndarray, z: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    factor = pd.Series(1.0 - np.divide(events, n, out=np.zeros_like(n), where=n > 0))
    survival = np.clip(factor.groupby(group, sort=False).cumprod().to_numpy(), 0.0, 1.0)

    # Greenwood terms are undefined where d = n; S is 0 from there on and the band is NaN anyway.
    has_room = n > events
    terms = pd.Series(np.divide(events, n * (n - events), out=np.zeros_like(n), where=has_room))
    greenwood = terms.groupby(group, sort=False).cumsum().to_numpy()

    ci_low = np.full_like(survival, np.nan)
    ci_high = np.full_like(survival, np.nan)
    ci_low[survival == 1.0] = 1.0
    ci_high[survival == 1.0] = 1.0
    interior = (survival > 0.0) & (survival < 1.0)
    log_s = np.log(survival[interior])
    sigma = np.sqrt(greenwood[interior]) / np.abs(log_s)
    # S ** exp(±zσ) equals exp(−exp(log(−log S) ± zσ)).
    ci_low[interior] = np.exp(log_s * np.exp(z * sigma))
    ci_high[interior] = np.exp(log_s * np.exp(-z * sigma))
    return survival, ci_low, ci_high


def kaplan_meier(times: npt.ArrayLike, events: npt.ArrayLike, z: float = Z95) -> pd.DataFrame:
    """Kaplan–Meier estimate from one time and one event flag per subject.

    ``times`` are follow-up times (e.g. days from start to discharge, or to ``as_of`` when open);
    ``events`` are true (or 1) where the time ends in the event and false (0) where it is censored.
    Counts events and censorings per distinct time and calls `kaplan_meier_from_counts`, which holds the
    definition (Kaplan & Meier 1958; Greenwood 1926; Kalbfleisch & Prentice log(−log) band).
    """
    time_values = np.asarray(times, dtype=float)
    event_values = np.asarray(events)
    if time_values.shape != event_values.shape or time_values.ndim != 1:
        raise ValueError("times and events must be one-dimensional and of the same length")
    if pd.isna(event_values).any():
        raise ValueError("event flags must not be missing")
    event_flags = event_values.astype(bool)
    counts = pd.DataFrame(
        {
            "t": np.asarray(times),
            "events": event_flags.astype("int64"),
            "censored": (~event_flags).astype("int64"),
        }
    )
    return kaplan_meier_from_counts(counts, z=z)


def median_survival(km_table: pd.DataFrame) -> float | None:
    """Median time to event: the smallest t with S(t) ≤ 0.5 (docs/metrics.md, "Time to event").

    Returns None when the curve never reaches one half ("not reached"). A survival within 1e-12 of 0.5
    counts as reaching it, so floating-point rounding of an exact half does not move the median.
    """
    reached = km_table["survival"].to_numpy(dtype=float) <= 0.5 + _MEDIAN_TOLERANCE
    if not reached.any():
        return None
    return float(km_table["t"].to_numpy()[np.argmax(reached)])


def survival_at(km_table: pd.DataFrame, t: npt.ArrayLike) -> float | np.ndarray:
    """Survival S(t) read off the Kaplan–Meier step function.

    S(t) is the survival of the last row whose time is ≤ t (the curve is right-continuous), and 1.0
    before the first row. Scalar ``t`` gives a float, array-like ``t`` an array; a missing t gives NaN.
    """
    times = km_table["t"].to_numpy(dtype=float)
    survival = km_table["survival"].to_numpy(dtype=float)
    query = np.asarray(t, dtype=float)
    position = np.searchsorted(times, np.nan_to_num(query, nan=-math.inf), side="right") - 1
    values = np.where(position >= 0, survival[np.clip(position, 0, None)] if len(survival) else 1.0, 1.0)
    values = np.where(np.isnan(query), np.nan, values)
    if np.ndim(t) == 0:
        return float(values)
    return values
