"""Funnel limits: inverted-Wilson closed form against a root-finder and PHE's formula; labels."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from pipelines.stats import (
    HIGH_95,
    HIGH_99_8,
    LOW_95,
    LOW_99_8,
    NOT_SIGNIFICANT,
    funnel_curve,
    funnel_limits,
    funnel_significance,
    wilson_interval,
    z_for_level,
)

DENOMINATORS = [1, 3, 10, 27, 50, 100, 333, 1_000, 25_000]
TARGETS = [0.01, 0.2, 0.5, 0.73, 0.97]
LEVELS = {"95": 0.95, "99_8": 0.998}


def inverted_wilson(n: float, target: float, z: float) -> tuple[float, float]:
    """Root-find the proportions whose Wilson interval at n has the target as its upper / lower bound."""

    def upper_bound_minus_target(p: float) -> float:
        return wilson_interval(p * n, n, z=z)[1] - target

    def lower_bound_minus_target(p: float) -> float:
        return wilson_interval(p * n, n, z=z)[0] - target

    # The Wilson upper bound rises with p; if it is above the target even at p = 0, no p qualifies.
    low = (
        0.0
        if upper_bound_minus_target(0.0) >= 0
        else brentq(upper_bound_minus_target, 0.0, target, xtol=1e-14)
    )
    high = (
        1.0
        if lower_bound_minus_target(1.0) <= 0
        else brentq(lower_bound_minus_target, target, 1.0, xtol=1e-14)
    )
    return low, high


def phe_sigma_adjustment(p: float, population: float, average: float, side: str) -> float:
    """PHEindicatormethods R/Funnels.R ``sigma_adjustment`` (multiplier 1), transcribed line by line."""
    q2 = z_for_level(2 * p - 1) ** 2
    first_part = average * (population / q2 + 1)
    adj = math.sqrt(
        (-8 * average * (population / q2 + 1)) ** 2
        - 64
        * (1 / q2 + 1 / population)
        * average
        * (population * (average * (population / q2 + 2) - 1) + q2 * (average - 1))
    )
    last_part = 1 / q2 + 1 / population
    count = (first_part - adj / 8) / last_part if side == "low" else (first_part + adj / 8) / last_part
    return count / population


@pytest.mark.parametrize("target", TARGETS)
def test_closed_form_inverts_the_wilson_interval(target: float) -> None:
    limits = funnel_limits(DENOMINATORS, target)
    assert list(limits.columns) == ["denominator", "low_95", "high_95", "low_99_8", "high_99_8"]
    for row in limits.itertuples(index=False):
        for suffix, level in LEVELS.items():
            z = z_for_level(level)
            low, high = inverted_wilson(row.denominator, target, z)
            assert getattr(row, f"low_{suffix}") == pytest.approx(low, abs=1e-10)
            assert getattr(row, f"high_{suffix}") == pytest.approx(high, abs=1e-10)
            # and the defining property, where the limit is not clipped
            if 0 < low:
                assert wilson_interval(low * row.denominator, row.denominator, z=z)[1] == pytest.approx(
                    target
                )
            if high < 1:
                assert wilson_interval(high * row.denominator, row.denominator, z=z)[0] == pytest.approx(
                    target
                )


@pytest.mark.parametrize("target", [0.2, 0.5, 0.73])
def test_agrees_with_phe_indicator_methods(target: float) -> None:
    limits = funnel_limits([50, 100, 1_000, 25_000], target)
    for row in limits.itertuples(index=False):
        assert row.low_95 == pytest.approx(
            max(0, phe_sigma_adjustment(0.975, row.denominator, target, "low"))
        )
        assert row.high_95 == pytest.approx(
            min(1, phe_sigma_adjustment(0.975, row.denominator, target, "high"))
        )
        assert row.low_99_8 == pytest.approx(
            max(0, phe_sigma_adjustment(0.999, row.denominator, target, "low"))
        )
        assert row.high_99_8 == pytest.approx(
            min(1, phe_sigma_adjustment(0.999, row.denominator, target, "high"))
        )


def test_limits_are_not_the_wilson_interval_of_the_target() -> None:
    # A tempting shortcut, and wrong: the Wilson interval *of* the target solves the mirror equation.
    low_of_target, _ = wilson_interval(0.3 * 50, 50, z=z_for_level(0.95))
    assert funnel_limits([50], 0.3)["low_95"][0] != pytest.approx(low_of_target, abs=1e-3)


def test_undefined_denominators_and_bad_target() -> None:
    limits = funnel_limits([0, np.nan], 0.4)
    assert limits.drop(columns="denominator").isna().all().all()
    with pytest.raises(ValueError):
        funnel_limits([10], 1.2)


def test_significance_labels() -> None:
    # Target 0.5, n = 100: 95% limits 0.5 ± 1.96 × 0.05 = (0.402, 0.598);
    # 99.8% limits 0.5 ± 3.09 × 0.05 = (0.345, 0.655).
    numerators = [70, 62, 50, 38, 30, 59, 41]
    denominators = [100] * 7
    expected = [HIGH_99_8, HIGH_95, NOT_SIGNIFICANT, LOW_95, LOW_99_8, NOT_SIGNIFICANT, NOT_SIGNIFICANT]
    assert funnel_significance(numerators, denominators, target=0.5).tolist() == expected
    # The pooled target of these units is 350 / 700 = 0.5, so the default gives the same labels.
    assert funnel_significance(numerators, denominators).tolist() == expected


def test_significance_pooled_target_and_missing_units() -> None:
    numerators = pd.Series([90, 10, 0, 5], index=["A", "B", "C", "D"])
    denominators = pd.Series([100, 100, 0, 10], index=["A", "B", "C", "D"])
    labels = funnel_significance(numerators, denominators)  # pooled: 105 / 210 = 0.5
    assert labels.index.tolist() == ["A", "B", "C", "D"]
    assert labels.tolist() == [HIGH_99_8, LOW_99_8, None, NOT_SIGNIFICANT]


def test_funnel_curve() -> None:
    curve = funnel_curve(0.3, 7, 4_000, points=50)
    assert len(curve) == 50
    assert curve["denominator"].iloc[0] == 7 and curve["denominator"].iloc[-1] == 4_000
    assert curve["denominator"].is_monotonic_increasing
    assert curve["high_99_8"].is_monotonic_decreasing and curve["low_99_8"].is_monotonic_increasing
    assert (curve["low_99_8"] <= curve["low_95"]).all() and (curve["high_95"] <= curve["high_99_8"]).all()
    with pytest.raises(ValueError):
        funnel_curve(0.3, 0, 10)
