"""Wilson score intervals for proportions.

Every proportion the product reports (docs/metrics.md, "Proportions") carries a two-sided 95% Wilson score
interval with z = 1.959964. The interval is computed from the numerator and denominator, never from a
pre-computed rate, so any re-aggregation gets a correct interval.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import overload

import numpy as np
import numpy.typing as npt
import pandas as pd

Z95 = 1.959964
"""The z value of a two-sided 95% interval, as fixed in docs/metrics.md."""

ArrayLike = npt.ArrayLike | pd.Series


def z_for_level(level: float) -> float:
    """Return the standard normal quantile for a two-sided interval of coverage ``level``.

    z = Φ⁻¹(1 − (1 − level) / 2), e.g. 0.95 → 1.959964, 0.998 → 3.090232. Uses the standard library's
    ``statistics.NormalDist().inv_cdf`` (Wichura's AS241 algorithm).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")
    return NormalDist().inv_cdf(1.0 - (1.0 - level) / 2.0)


@overload
def wilson_interval(numerator: float, denominator: float, z: float = ...) -> tuple[float, float]: ...


@overload
def wilson_interval(
    numerator: ArrayLike, denominator: ArrayLike, z: float = ...
) -> tuple[np.ndarray, np.ndarray]: ...


def wilson_interval(
    numerator: ArrayLike, denominator: ArrayLike, z: float = Z95
) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
    """Two-sided Wilson score interval for the proportion numerator / denominator.

    Definition (Wilson 1927; method 3 of Newcombe 1998, without continuity correction), with x the
    numerator, n the denominator and p = x / n::

        centre = (x + z²/2) / (n + z²)
        half   = z · sqrt(x (n − x) / n + z²/4) / (n + z²)
        (low, high) = (centre − half, centre + half)

    The bounds are the two proportions π solving |p − π| = z · sqrt(π (1 − π) / n).

    Vectorised: scalars give a pair of floats, array-likes (lists, numpy arrays, pandas Series) give a
    pair of numpy arrays. A denominator of 0, or a missing numerator or denominator, gives NaN bounds.
    Bounds are clipped to [0, 1] so x = 0 gives exactly 0 and x = n exactly 1.

    Raises ValueError for negative counts or a numerator larger than its denominator.

    References: E. B. Wilson (1927), JASA 22:209–212; R. G. Newcombe (1998), Statistics in Medicine
    17:857–872.
    """
    scalar = np.ndim(numerator) == 0 and np.ndim(denominator) == 0
    x = np.asarray(numerator, dtype=float)
    n = np.asarray(denominator, dtype=float)
    x, n = np.broadcast_arrays(x, n)
    if np.any(x < 0) or np.any(n < 0):
        raise ValueError("numerators and denominators must be non-negative")
    if np.any(x > n):
        raise ValueError("a numerator is larger than its denominator")

    defined = n > 0  # False for NaN as well as 0
    n_safe = np.where(defined, n, 1.0)
    x_safe = np.where(defined, x, 0.0)
    z2 = z * z
    centre = (x_safe + z2 / 2.0) / (n_safe + z2)
    half = z * np.sqrt(x_safe * (n_safe - x_safe) / n_safe + z2 / 4.0) / (n_safe + z2)
    low = np.where(defined, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(defined, np.clip(centre + half, 0.0, 1.0), np.nan)
    if scalar:
        return float(low), float(high)
    return low, high
