"""Wilson score interval: golden cases, statsmodels agreement and edges."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from pipelines.stats import Z95, wilson_interval, z_for_level

GOLDEN = Path(__file__).parent / "golden" / "wilson_newcombe1998.csv"


def test_newcombe_1998_worked_examples() -> None:
    golden = pd.read_csv(GOLDEN, comment="#")
    low, high = wilson_interval(golden["numerator"], golden["denominator"], z=1.96)
    np.testing.assert_allclose(low, golden["low"], atol=5e-5)
    np.testing.assert_allclose(high, golden["high"], atol=5e-5)


def test_scalar_input_gives_floats() -> None:
    low, high = wilson_interval(81, 263)
    assert isinstance(low, float) and isinstance(high, float)
    assert low == pytest.approx(0.2553, abs=5e-5)
    assert high == pytest.approx(0.3662, abs=5e-5)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=1, max_value=100_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))
)
def test_matches_statsmodels(case: tuple[int, int]) -> None:
    x, n = case
    z = z_for_level(0.95)
    expected_low, expected_high = proportion_confint(x, n, alpha=0.05, method="wilson")
    low, high = wilson_interval(x, n, z=z)
    assert low == pytest.approx(expected_low, abs=1e-12)
    assert high == pytest.approx(expected_high, abs=1e-12)


def test_vectorised_matches_statsmodels_on_seeded_data() -> None:
    rng = np.random.default_rng(20240501)
    n = rng.integers(1, 5_000, size=500)
    x = rng.integers(0, n + 1)
    expected_low, expected_high = proportion_confint(x, n, alpha=0.05, method="wilson")
    low, high = wilson_interval(pd.Series(x), pd.Series(n), z=z_for_level(0.95))
    np.testing.assert_allclose(low, expected_low, atol=1e-12)
    np.testing.assert_allclose(high, expected_high, atol=1e-12)


def test_edges() -> None:
    low, high = wilson_interval(np.array([0, 5, 0, np.nan]), np.array([5, 5, 0, 10]))
    assert low[0] == 0.0 and high[1] == 1.0
    assert np.isnan(low[2]) and np.isnan(high[2])
    assert np.isnan(low[3]) and np.isnan(high[3])
    assert np.isnan(wilson_interval(0, 0)[0])
    with pytest.raises(ValueError):
        wilson_interval(6, 5)
    with pytest.raises(ValueError):
        wilson_interval(-1, 5)


def test_z_for_level() -> None:
    assert z_for_level(0.95) == pytest.approx(Z95, abs=1e-6)
    assert z_for_level(0.998) == pytest.approx(3.090232, abs=1e-6)
    with pytest.raises(ValueError):
        z_for_level(1.0)
