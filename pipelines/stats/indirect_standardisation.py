"""Indirect standardisation of a binary outcome for comparing units (programmes) on case mix.

docs/metrics.md v2, "case-mix-adjusted comparison of programmes":

- A logistic model of the outcome on the case-mix covariates (not the unit) is fitted over the records
  of all units shown (`pipelines.stats.case_mix.fit_logistic`). A unit's expected count E is the sum of
  its records' predicted probabilities; its observed count O is its numerator. (With an intercept, the
  maximum-likelihood fit makes Σ E = Σ O over all units.)
- Ratio O/E with a confidence interval for a Poisson count O, E taken as fixed, as PHEindicatormethods'
  ``calculate_ISRatio`` does: exact limits from the chi-square distribution when O < 10, Byar's
  approximation otherwise (Breslow & Day 1987, vol. II; Armitage & Berry 2002).
- Adjusted value = (O/E) × pooled value, the pooled value being Σ O / Σ records of the units shown.
- Funnel: the ratio against E, with limits around 1 from the Poisson distribution of O given E, at 95%
  and 99.8%; a unit is labelled with the crude funnel's labels (`pipelines.stats.funnel`).

Expected counts are model sums, not people: they are returned unrounded and are shown to one decimal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special, stats

from pipelines.stats.case_mix import (
    CASE_MIX_COVARIATES,
    DEFAULT_MIN_EVENTS_PER_PARAMETER,
    ModelFailure,
    fit_logistic,
    outcome_as_binary,
)
from pipelines.stats.funnel import (
    FUNNEL_LEVELS,
    HIGH_95,
    HIGH_99_8,
    LOW_95,
    LOW_99_8,
    NOT_SIGNIFICANT,
    level_suffix,
)
from pipelines.stats.wilson import z_for_level

BYAR_MIN_OBSERVED = 10
"""Below this observed count the ratio interval is exact (chi-square), from it Byar's (PHE's rule)."""

EXACT = "exact"
BYAR = "byar"

STANDARDISATION_COLUMNS = [
    "unit",
    "denominator",
    "observed",
    "expected",
    "ratio",
    "ratio_ci_low",
    "ratio_ci_high",
    "ratio_ci_method",
    "pooled_value",
    "adjusted_value",
    "adjusted_ci_low",
    "adjusted_ci_high",
    "significance",
]


def poisson_count_interval(
    observed: npt.ArrayLike, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Confidence interval for the mean of a Poisson count, as PHEindicatormethods computes it.

    For O < 10 the exact limits (Armitage & Berry 2002), with α = 1 − level::

        low  = χ²_{α/2}(2 O) / 2          (0 when O = 0)
        high = χ²_{1−α/2}(2 O + 2) / 2

    For O ≥ 10 Byar's approximation (Breslow & Day 1987) with z = Φ⁻¹(1 − α/2)::

        low  = O (1 − 1/(9 O) − z / (3 √O))³
        high = (O + 1) (1 − 1/(9 (O + 1)) + z / (3 √(O + 1)))³

    Returns (low, high, method) arrays, method ``"exact"`` or ``"byar"``; NaN for a missing count.
    Raises ValueError for a negative count.
    """
    o = np.asarray(observed, dtype=float).reshape(-1)
    if np.any(o < 0):
        raise ValueError("observed counts must be non-negative")
    alpha = 1.0 - level
    z = z_for_level(level)
    exact = o < BYAR_MIN_OBSERVED
    with np.errstate(invalid="ignore", divide="ignore"):
        exact_low = np.where(o > 0, stats.chi2.ppf(alpha / 2, 2 * np.maximum(o, 1e-300)) / 2, 0.0)
        exact_high = stats.chi2.ppf(1 - alpha / 2, 2 * o + 2) / 2
        o_safe = np.where(exact, BYAR_MIN_OBSERVED, o)
        byar_low = o_safe * (1 - 1 / (9 * o_safe) - z / (3 * np.sqrt(o_safe))) ** 3
        byar_high = (o_safe + 1) * (1 - 1 / (9 * (o_safe + 1)) + z / (3 * np.sqrt(o_safe + 1))) ** 3
    low = np.where(exact, exact_low, byar_low)
    high = np.where(exact, exact_high, byar_high)
    method = np.where(exact, EXACT, BYAR).astype(object)
    missing = np.isnan(o)
    low[missing], high[missing], method[missing] = np.nan, np.nan, None
    return low, high, method


def standardised_ratio_interval(
    observed: npt.ArrayLike, expected: npt.ArrayLike, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interval for the ratio O/E: `poisson_count_interval` of O divided by E (E treated as fixed).

    PHEindicatormethods ``calculate_ISRatio`` (refvalue 1). Returns (low, high, method); NaN where E ≤ 0
    or is missing.
    """
    e = np.asarray(expected, dtype=float).reshape(-1)
    low, high, method = poisson_count_interval(observed, level)
    defined = e > 0
    e_safe = np.where(defined, e, 1.0)
    return np.where(defined, low / e_safe, np.nan), np.where(defined, high / e_safe, np.nan), method


def ratio_funnel_limits(expected: npt.ArrayLike, levels: tuple[float, ...] = FUNNEL_LEVELS) -> pd.DataFrame:
    """Funnel limits for the ratio O/E around 1 at each expected count E, from O ~ Poisson(E).

    For a two-sided level with α = 1 − level, the upper limit is u/E and the lower limit l/E, where u
    and l + 1 solve, in the continuous shape a of the regularised lower incomplete gamma function P::

        P(u, E)     = α/2        (for whole k ≥ 1, P(k, E) = Pr(O ≥ k | E))
        P(l + 1, E) = 1 − α/2    (for whole k ≥ 0, P(k + 1, E) = Pr(O > k | E))

    so a whole count k lies above the upper limit exactly when Pr(O ≥ k | E) < α/2 and below the lower
    limit exactly when Pr(O ≤ k | E) < α/2: the exact Poisson test, drawn as a smooth line. At the E
    where a whole count k sits on a limit, the limit is k/E, which is PHEindicatormethods'
    ``calculate_funnel_limits(statistic = "ratio")`` table. A lower limit below 0 is clipped to 0 (no
    unit can fall below it).

    Returns ``expected`` then ``low_<level>, high_<level>`` per level (``low_95, high_95, low_99_8,
    high_99_8``). E ≤ 0 or missing gives NaN limits.
    """
    e = np.asarray(expected, dtype=float).reshape(-1)
    defined = e > 0
    e_safe = np.where(defined, e, 1.0)
    result: dict[str, np.ndarray] = {"expected": e}
    for level in levels:
        alpha = 1.0 - level
        suffix = level_suffix(level)
        # gdtrib(1, p, x) is the shape b with P(b, x) = p (scipy's gamma CDF with rate 1 at x).
        upper = special.gdtrib(1.0, alpha / 2, e_safe)
        lower = special.gdtrib(1.0, 1.0 - alpha / 2, e_safe) - 1.0
        result[f"low_{suffix}"] = np.where(defined, np.clip(lower, 0.0, None) / e_safe, np.nan)
        result[f"high_{suffix}"] = np.where(defined, upper / e_safe, np.nan)
    return pd.DataFrame(result)


def ratio_funnel_curve(
    e_min: float, e_max: float, points: int = 200, levels: tuple[float, ...] = FUNNEL_LEVELS
) -> pd.DataFrame:
    """Ratio funnel lines for plotting: `ratio_funnel_limits` on a geometric grid of expected counts
    from ``e_min`` to ``e_max`` (both included exactly)."""
    if e_min <= 0 or e_max < e_min:
        raise ValueError("need 0 < e_min <= e_max")
    if points < 2:
        raise ValueError("need at least two points")
    grid = np.geomspace(e_min, e_max, points)
    grid[0], grid[-1] = e_min, e_max
    return ratio_funnel_limits(grid, levels)


def ratio_funnel_significance(
    observed: npt.ArrayLike | pd.Series, expected: npt.ArrayLike | pd.Series
) -> pd.Series:
    """Label each unit by where O/E falls against the Poisson funnel limits of `ratio_funnel_limits`.

    With O ~ Poisson(E): ``high_99.8`` if Pr(O' ≥ O) < 0.001, else ``high_95`` if < 0.025, else
    ``low_99.8`` if Pr(O' ≤ O) < 0.001, else ``low_95`` if < 0.025, else ``not_significant``. This is
    the position of the point against the limits (a point exactly on a limit is inside), and agrees with
    PHEindicatormethods' ``assign_funnel_significance(statistic = "ratio")`` on its test data. Units
    with no expected count (E ≤ 0 or missing) or a missing O get a missing label.

    Returns a Series aligned with ``observed`` (its index when it is a Series).
    """
    index = observed.index if isinstance(observed, pd.Series) else None
    o = np.asarray(observed, dtype=float).reshape(-1)
    e = np.asarray(expected, dtype=float).reshape(-1)
    if o.shape != e.shape:
        raise ValueError("observed and expected must have the same length")
    defined = (e > 0) & ~np.isnan(o)
    if np.any(o[defined] < 0):
        raise ValueError("observed counts must be non-negative")
    o_safe, e_safe = np.where(defined, o, 0.0), np.where(defined, e, 1.0)
    upper_tail = np.where(o_safe > 0, stats.poisson.sf(o_safe - 1, e_safe), 1.0)  # Pr(O' ≥ O)
    lower_tail = stats.poisson.cdf(o_safe, e_safe)  # Pr(O' ≤ O)
    labels = np.select(
        [
            ~defined,
            upper_tail < (1 - FUNNEL_LEVELS[1]) / 2,
            upper_tail < (1 - FUNNEL_LEVELS[0]) / 2,
            lower_tail < (1 - FUNNEL_LEVELS[1]) / 2,
            lower_tail < (1 - FUNNEL_LEVELS[0]) / 2,
        ],
        [None, HIGH_99_8, HIGH_95, LOW_99_8, LOW_95],
        default=NOT_SIGNIFICANT,
    )
    return pd.Series(labels, index=index, name="significance", dtype=object)


def standardise(units: pd.DataFrame, pooled_value: float | None = None, level: float = 0.95) -> pd.DataFrame:
    """Ratio, interval, adjusted value and funnel label from per-unit observed and expected counts.

    ``units`` has columns ``unit``, ``denominator`` (records), ``observed`` and ``expected``.
    ``pooled_value`` defaults to Σ observed / Σ denominator. Returns `STANDARDISATION_COLUMNS`:
    ratio = O/E; its interval by `standardised_ratio_interval`; adjusted value and interval = ratio and
    its interval × pooled value (not clipped: an adjusted value above 1 is possible under indirect
    standardisation and is left as computed); the label by `ratio_funnel_significance`.
    """
    missing = {"unit", "denominator", "observed", "expected"} - set(units.columns)
    if missing:
        raise ValueError(f"unit table lacks columns {sorted(missing)}")
    o = units["observed"].to_numpy(dtype=float)
    e = units["expected"].to_numpy(dtype=float)
    n = units["denominator"].to_numpy(dtype=float)
    if pooled_value is None:
        pooled_value = float(o.sum() / n.sum()) if n.sum() > 0 else float("nan")
    defined = e > 0
    ratio = np.divide(o, e, out=np.full_like(o, np.nan), where=defined)
    low, high, method = standardised_ratio_interval(o, e, level)
    method = np.where(defined, method, None)
    return pd.DataFrame(
        {
            "unit": units["unit"].to_numpy(),
            "denominator": units["denominator"].to_numpy(),
            "observed": units["observed"].to_numpy(),
            "expected": e,
            "ratio": ratio,
            "ratio_ci_low": low,
            "ratio_ci_high": high,
            "ratio_ci_method": method,
            "pooled_value": pooled_value,
            "adjusted_value": ratio * pooled_value,
            "adjusted_ci_low": low * pooled_value,
            "adjusted_ci_high": high * pooled_value,
            "significance": ratio_funnel_significance(o, e).to_numpy(),
        },
        columns=STANDARDISATION_COLUMNS,
    )


@dataclass(frozen=True)
class IndirectStandardisation:
    """Result of `indirect_standardisation`.

    ``table`` has one row per unit with `STANDARDISATION_COLUMNS`. When the model could not be fitted,
    ``reason`` (and ``code``, one of `pipelines.stats.case_mix.FAILURE_CODES`) say why and the
    model-based columns (expected onwards, except ``pooled_value``) are NaN/missing: observed counts and
    denominators are still given. ``adjusted_for`` lists the covariates in the model, ``notes`` anything
    left out or unusual.
    """

    table: pd.DataFrame
    adjusted_for: tuple[str, ...]
    reason: str | None = None
    code: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def estimable(self) -> bool:
        """True when the model was fitted and the table has expected counts."""
        return self.reason is None


def indirect_standardisation(
    records: pd.DataFrame,
    *,
    unit: str,
    outcome: str = "outcome",
    covariates: Sequence[str] = CASE_MIX_COVARIATES,
    level: float = 0.95,
    min_events_per_parameter: float = DEFAULT_MIN_EVENTS_PER_PARAMETER,
) -> IndirectStandardisation:
    """Indirectly standardise a 0/1 outcome across units (e.g. programmes) for case mix.

    ``records`` has one row per record of the metric's cohort: the ``unit`` column, the 0/1 ``outcome``
    (the metric's numerator) and the categorical ``covariates``. The model of the outcome on the
    covariates (not the unit) is fitted over all records; E per unit is the sum of its records'
    predicted probabilities; the rest is `standardise`. Units are sorted by their label.

    If the model cannot be fitted, the result carries the reason and no expected counts, ratios,
    adjusted values or labels.
    """
    covariates = list(covariates)
    if unit not in records.columns:
        raise ValueError(f"records lack the unit column {unit!r}")
    if records[unit].isna().any():
        raise ValueError(f"column {unit!r} has missing values")
    y = outcome_as_binary(records[outcome], outcome)
    frame = pd.DataFrame({"unit": records[unit].to_numpy(), "y": y})
    fit = fit_logistic(records, outcome, covariates, min_events_per_parameter=min_events_per_parameter)
    if isinstance(fit, ModelFailure):
        frame["p"] = np.nan
    else:
        frame["p"] = fit.fitted
    per_unit = (
        frame.groupby("unit", sort=True)
        .agg(denominator=("y", "size"), observed=("y", "sum"), expected=("p", "sum"))
        .reset_index()
    )
    per_unit["denominator"] = per_unit["denominator"].astype(int)
    per_unit["observed"] = per_unit["observed"].astype(int)
    if isinstance(fit, ModelFailure):
        per_unit["expected"] = np.nan
        table = standardise(per_unit, level=level)
        return IndirectStandardisation(
            table, tuple(covariates), f"not estimable: {fit.reason}", fit.code, fit.notes
        )
    table = standardise(per_unit, level=level)
    notes = list(fit.notes)
    above_one = table.loc[table["adjusted_value"] > 1, "unit"].tolist()
    if above_one:
        notes.append(
            f"adjusted values above 1 for {', '.join(map(str, above_one))}: O/E × pooled value is not "
            "bounded by 1 under indirect standardisation"
        )
    return IndirectStandardisation(
        table, tuple(c for c in covariates if c not in fit.dropped), notes=tuple(notes)
    )
