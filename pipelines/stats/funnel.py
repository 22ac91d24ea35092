"""Funnel-plot control limits for comparing proportions across units (programmes, providers, areas).

docs/metrics.md, "Comparing programmes and tracking trends": the target is the pooled proportion
Σ numerators / Σ denominators of the units shown, and the 95% and 99.8% control limits for a
denominator n are the proportions p whose two-sided Wilson interval at n has the target as its bound —
the "inverted Wilson" method of England's public-health indicators (PHE Fingertips technical guidance;
``sigma_adjustment`` in the PHEindicatormethods R package).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from pipelines.stats.wilson import z_for_level

FUNNEL_LEVELS = (0.95, 0.998)

HIGH_99_8 = "high_99.8"
HIGH_95 = "high_95"
LOW_95 = "low_95"
LOW_99_8 = "low_99.8"
NOT_SIGNIFICANT = "not_significant"
SIGNIFICANCE_LABELS = (HIGH_99_8, HIGH_95, LOW_95, LOW_99_8, NOT_SIGNIFICANT)


def level_suffix(level: float) -> str:
    """Column suffix for a coverage level: 0.95 → ``"95"``, 0.998 → ``"99_8"``."""
    return f"{round(level * 100, 6):g}".replace(".", "_")


def funnel_limits(
    denominators: npt.ArrayLike, target: float, levels: tuple[float, ...] = FUNNEL_LEVELS
) -> pd.DataFrame:
    """Inverted-Wilson funnel control limits around ``target`` for each denominator.

    For a denominator n and a two-sided level with normal quantile z, the limits are the proportions p
    whose Wilson score interval at n has the target T as its upper bound (lower limit) or its lower
    bound (upper limit). The Wilson bounds π of an observed p solve (p − π)² = z² π (1 − π) / n, so
    putting π = T gives the closed form::

        limit = T ∓ z · sqrt(T (1 − T) / n)

    which is what the quadratic in PHEindicatormethods' ``sigma_adjustment`` (Fingertips technical
    guidance) reduces to. (It is not the Wilson interval *of* T at n, which solves the same equation with
    the roles of p and T swapped.) Limits are clipped to [0, 1]; a lower limit clipped to 0 means no
    unit of that size can fall below it. See also Spiegelhalter (2005), Statistics in Medicine
    24:1185–1202, on funnel plots for institutional comparison.

    Returns columns ``denominator``, then ``low_<level>, high_<level>`` per level (``low_95, high_95,
    low_99_8, high_99_8`` by default). A denominator ≤ 0 or missing gives NaN limits.
    """
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"target must be a proportion in [0, 1], got {target!r}")
    n = np.asarray(denominators, dtype=float).reshape(-1)
    defined = n > 0
    n_safe = np.where(defined, n, 1.0)
    spread = np.sqrt(target * (1.0 - target) / n_safe)
    result: dict[str, np.ndarray] = {"denominator": n}
    for level in levels:
        z = z_for_level(level)
        suffix = level_suffix(level)
        result[f"low_{suffix}"] = np.where(defined, np.clip(target - z * spread, 0.0, 1.0), np.nan)
        result[f"high_{suffix}"] = np.where(defined, np.clip(target + z * spread, 0.0, 1.0), np.nan)
    return pd.DataFrame(result)


def funnel_curve(
    target: float, n_min: float, n_max: float, points: int = 200, levels: tuple[float, ...] = FUNNEL_LEVELS
) -> pd.DataFrame:
    """Funnel limit lines for plotting: `funnel_limits` on a grid of denominators.

    The grid is geometric (even on a log axis, dense where the funnel bends), has ``points`` values and
    includes both ``n_min`` and ``n_max`` exactly. Columns as in `funnel_limits`.
    """
    if n_min <= 0 or n_max < n_min:
        raise ValueError("need 0 < n_min <= n_max")
    if points < 2:
        raise ValueError("need at least two points")
    grid = np.geomspace(n_min, n_max, points)
    grid[0], grid[-1] = n_min, n_max
    return funnel_limits(grid, target, levels)


def funnel_significance(
    numerators: npt.ArrayLike | pd.Series,
    denominators: npt.ArrayLike | pd.Series,
    target: float | None = None,
) -> pd.Series:
    """Label each unit by where its proportion falls against the inverted-Wilson funnel limits.

    ``target`` defaults to the pooled proportion Σ numerators / Σ denominators over the units with a
    denominator > 0. A unit whose proportion x / n is strictly above the 99.8% upper limit is
    ``high_99.8``, else strictly above the 95% upper limit ``high_95``, else strictly below the 99.8%
    lower limit ``low_99.8``, else strictly below the 95% lower limit ``low_95``, else
    ``not_significant`` (a unit exactly on a limit is inside it, as in PHEindicatormethods'
    ``phe_funnel_significance``). Units with no proportion (denominator 0 or missing, or a missing
    numerator) get a missing label.

    Returns a Series aligned with ``numerators`` (its index when it is a Series).
    """
    index = numerators.index if isinstance(numerators, pd.Series) else None
    x = np.asarray(numerators, dtype=float).reshape(-1)
    n = np.asarray(denominators, dtype=float).reshape(-1)
    if x.shape != n.shape:
        raise ValueError("numerators and denominators must have the same length")
    defined = (n > 0) & ~np.isnan(x)
    if np.any(x[defined] < 0) or np.any(x[defined] > n[defined]):
        raise ValueError("numerators must lie between 0 and their denominators")
    if target is None:
        if not defined.any():
            raise ValueError("no unit has a denominator > 0, so there is no pooled target")
        target = float(x[defined].sum() / n[defined].sum())
    limits = funnel_limits(n, target, FUNNEL_LEVELS)
    p = np.divide(x, n, out=np.full_like(x, np.nan), where=defined)
    labels = np.select(
        [
            ~defined,
            p > limits["high_99_8"].to_numpy(),
            p > limits["high_95"].to_numpy(),
            p < limits["low_99_8"].to_numpy(),
            p < limits["low_95"].to_numpy(),
        ],
        [None, HIGH_99_8, HIGH_95, LOW_99_8, LOW_95],
        default=NOT_SIGNIFICANT,
    )
    return pd.Series(labels, index=index, name="significance", dtype=object)
