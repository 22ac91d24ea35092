"""Kaplan–Meier: a hand-worked example, lifelines agreement and edges."""

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from pipelines.stats import (
    KM_COLUMNS,
    Z95,
    kaplan_meier,
    kaplan_meier_from_counts,
    median_survival,
    survival_at,
    z_for_level,
)

# Six episodes (days, discharged-incomplete?):
#   t=2 event; t=3 event and a censoring; t=5 event; t=6 censoring; t=8 event.
# By hand, S(t) = S(t−)(1 − d/n), n = number with time ≥ t:
#   t=2: n=6, d=1 → 5/6;  t=3: n=5, d=1 → 5/6 · 4/5 = 2/3;  t=5: n=3, d=1 → 2/3 · 2/3 = 4/9;
#   t=6: n=2, d=0 → 4/9;  t=8: n=1, d=1 → 0.
# Greenwood sums Σ d/(n(n−d)): 1/30, 1/30 + 1/20 = 1/12, 1/12 + 1/6 = 1/4, 1/4, undefined (S = 0).
HAND_TIMES = [2, 3, 3, 5, 6, 8]
HAND_EVENTS = [1, 1, 0, 1, 0, 1]


def loglog_band(survival: float, greenwood: float, z: float) -> tuple[float, float]:
    """exp(−exp(log(−log S) ± z sqrt(V) / |log S|)), written out independently of the module."""
    theta = math.log(-math.log(survival))
    sigma = math.sqrt(greenwood) / abs(math.log(survival))
    return math.exp(-math.exp(theta + z * sigma)), math.exp(-math.exp(theta - z * sigma))


def test_hand_worked_example() -> None:
    km = kaplan_meier(HAND_TIMES, HAND_EVENTS)
    assert list(km.columns) == KM_COLUMNS
    assert km["t"].tolist() == [2, 3, 5, 6, 8]
    assert km["n_at_risk"].tolist() == [6, 5, 3, 2, 1]
    assert km["events"].tolist() == [1, 1, 1, 0, 1]
    assert km["censored"].tolist() == [0, 1, 0, 1, 0]
    np.testing.assert_allclose(km["survival"], [5 / 6, 2 / 3, 4 / 9, 4 / 9, 0.0], atol=1e-15)
    for row, greenwood in zip(range(4), [1 / 30, 1 / 12, 1 / 4, 1 / 4], strict=True):
        low, high = loglog_band(km["survival"][row], greenwood, Z95)
        assert km["ci_low"][row] == pytest.approx(low, rel=1e-12)
        assert km["ci_high"][row] == pytest.approx(high, rel=1e-12)
        assert km["ci_low"][row] < km["survival"][row] < km["ci_high"][row]
    assert np.isnan(km["ci_low"][4]) and np.isnan(km["ci_high"][4])  # S = 0: band undefined
    assert median_survival(km) == 5.0
    assert survival_at(km, 1.9) == 1.0
    assert survival_at(km, 3) == pytest.approx(2 / 3)
    assert survival_at(km, 4.5) == pytest.approx(2 / 3)
    assert survival_at(km, 100) == 0.0
    np.testing.assert_allclose(survival_at(km, [0, 2, 7.9]), [1.0, 5 / 6, 4 / 9])


def test_counts_form_is_the_same_estimate() -> None:
    counts = pd.DataFrame(
        {"t": [8, 2, 3, 5, 6, 9], "events": [1, 1, 1, 1, 0, 0], "censored": [0, 0, 1, 0, 1, 0]}
    )
    pd.testing.assert_frame_equal(kaplan_meier_from_counts(counts), kaplan_meier(HAND_TIMES, HAND_EVENTS))


def exact_median(times: np.ndarray, events: np.ndarray) -> float | None:
    survival = Fraction(1)
    for t in np.unique(times):
        at_risk = int((times >= t).sum())
        deaths = int(events[times == t].sum())
        survival *= 1 - Fraction(deaths, at_risk)
        if survival <= Fraction(1, 2):
            return float(t)
    return None


@pytest.mark.parametrize("seed", range(12))
def test_matches_lifelines_with_ties_and_censoring(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(5, 400))
    times = rng.integers(0, int(rng.integers(3, 60)), size=size)  # few distinct times → many ties
    events = rng.random(size) < rng.uniform(0.2, 0.9)
    z = z_for_level(0.95)  # lifelines uses the exact normal quantile

    km = kaplan_meier(times, events, z=z)
    fitter = KaplanMeierFitter().fit(times, events, ci_labels=["low", "high"])
    expected = fitter.survival_function_["KM_estimate"].reindex(km["t"]).to_numpy()
    band = fitter.confidence_interval_.reindex(km["t"])
    np.testing.assert_allclose(km["survival"], expected, rtol=1e-10, atol=1e-12)

    defined = km["survival"].to_numpy() > 0
    np.testing.assert_allclose(km["ci_low"][defined], band["low"][defined], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(km["ci_high"][defined], band["high"][defined], rtol=1e-8, atol=1e-12)
    assert km["ci_low"][~defined].isna().all() and km["ci_high"][~defined].isna().all()

    assert km["n_at_risk"].iloc[0] == size
    assert km["events"].sum() == events.sum() and km["censored"].sum() == (~events).sum()

    median = median_survival(km)
    assert median == exact_median(times, events)
    if not np.isclose(km["survival"], 0.5, atol=1e-9).any():  # away from an exact half, rounding agrees
        lifelines_median = fitter.median_survival_time_
        assert (median is None and math.isinf(lifelines_median)) or median == lifelines_median


def test_no_events_gives_flat_curve_and_no_median() -> None:
    km = kaplan_meier([1, 2, 2, 5], [False, False, False, False])
    assert (km["survival"] == 1.0).all()
    assert (km["ci_low"] == 1.0).all() and (km["ci_high"] == 1.0).all()
    assert median_survival(km) is None


def test_band_is_one_before_first_event() -> None:
    km = kaplan_meier([1, 2, 3, 4], [0, 1, 0, 1])
    assert km.loc[0, ["survival", "ci_low", "ci_high"]].tolist() == [1.0, 1.0, 1.0]


def test_empty_input() -> None:
    km = kaplan_meier([], [])
    assert list(km.columns) == KM_COLUMNS and km.empty
    assert median_survival(km) is None
    assert survival_at(km, 10) == 1.0


def test_invalid_input() -> None:
    with pytest.raises(ValueError):
        kaplan_meier([1, 2], [1])
    with pytest.raises(ValueError):
        kaplan_meier([-1, 2], [1, 0])
    with pytest.raises(ValueError):
        kaplan_meier_from_counts(pd.DataFrame({"t": [1], "events": [1]}))


def test_grouped_counts_give_each_group_its_own_curve() -> None:
    rng = np.random.default_rng(11)
    rows = []
    for group in ("a", "b", "c"):
        times = rng.integers(0, 40, size=60)
        events = rng.random(60) < 0.6
        per_time = pd.DataFrame({"t": times, "events": events.astype(int), "censored": (~events).astype(int)})
        rows.append(per_time.groupby("t", as_index=False).sum().assign(group=group))
    counts = pd.concat(rows, ignore_index=True).sample(frac=1.0, random_state=3)  # order must not matter

    grouped = kaplan_meier_from_counts(counts, by=["group"])

    assert list(grouped.columns) == ["group", *KM_COLUMNS]
    for group, part in grouped.groupby("group"):
        alone = kaplan_meier_from_counts(counts[counts["group"] == group])
        pd.testing.assert_frame_equal(part[KM_COLUMNS].reset_index(drop=True), alone)
