"""Indirect standardisation: a hand-computed case, PHEindicatormethods' test data, scipy's Poisson."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from pipelines.stats import (
    HIGH_95,
    HIGH_99_8,
    LOW_95,
    LOW_99_8,
    NOT_SIGNIFICANT,
    STANDARDISATION_COLUMNS,
    indirect_standardisation,
    poisson_count_interval,
    ratio_funnel_curve,
    ratio_funnel_limits,
    ratio_funnel_significance,
    standardise,
    standardised_ratio_interval,
)

GOLDEN = Path(__file__).parent / "golden"
PHE_LABELS = {
    "High (0.001)": HIGH_99_8,
    "High (0.025)": HIGH_95,
    "Low (0.001)": LOW_99_8,
    "Low (0.025)": LOW_95,
    "Not significant": NOT_SIGNIFICANT,
}


def records_from_cells(cells: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    """Records from (programme, age band, records, of which with the outcome) cells."""
    rows = []
    for programme, age_band, records, events in cells:
        rows += [
            {"programme": programme, "age_band": age_band, "outcome": int(k < events)} for k in range(records)
        ]
    return pd.DataFrame(rows)


# Hand-computed case. Pooled over both programmes, 60 of 100 young and 20 of 100 older people have the
# outcome, and a model with age band alone predicts exactly those shares (0.6 and 0.2):
#   A: 80 young, 20 older → E = 80·0.6 + 20·0.2 = 52, O = 52 + 2 = 54, O/E = 54/52
#   B: 20 young, 80 older → E = 20·0.6 + 80·0.2 = 28, O = 8 + 18 = 26, O/E = 26/28
#   pooled value = 80/200 = 0.4; adjusted = 0.4·54/52 = 0.41538..., 0.4·26/28 = 0.37142...
HAND_CELLS = [("A", "18-24", 80, 52), ("A", "65+", 20, 2), ("B", "18-24", 20, 8), ("B", "65+", 80, 18)]


def byar(observed: float, z: float) -> tuple[float, float]:
    """Byar's limits for a Poisson count, transcribed from PHEindicatormethods R/utils.R."""
    low = observed * (1 - 1 / (9 * observed) - z / (3 * math.sqrt(observed))) ** 3
    high = (observed + 1) * (1 - 1 / (9 * (observed + 1)) + z / (3 * math.sqrt(observed + 1))) ** 3
    return low, high


def test_hand_computed_case() -> None:
    result = indirect_standardisation(
        records_from_cells(HAND_CELLS), unit="programme", covariates=["age_band"]
    )
    assert result.estimable and result.adjusted_for == ("age_band",)
    table = result.table
    assert list(table.columns) == STANDARDISATION_COLUMNS
    assert table["unit"].tolist() == ["A", "B"]
    assert table["denominator"].tolist() == [100, 100]
    assert table["observed"].tolist() == [54, 26]
    np.testing.assert_allclose(table["expected"], [52.0, 28.0], rtol=1e-9)
    np.testing.assert_allclose(table["ratio"], [54 / 52, 26 / 28], rtol=1e-9)
    np.testing.assert_allclose(table["pooled_value"], 0.4)
    np.testing.assert_allclose(table["adjusted_value"], [0.4 * 54 / 52, 0.4 * 26 / 28], rtol=1e-9)
    z = 1.959963984540054
    for row, observed, expected in zip(table.itertuples(), [54, 26], [52.0, 28.0], strict=True):
        low, high = byar(observed, z)
        assert row.ratio_ci_method == "byar"
        assert row.ratio_ci_low == pytest.approx(low / expected, rel=1e-9)
        assert row.ratio_ci_high == pytest.approx(high / expected, rel=1e-9)
        assert row.adjusted_ci_low == pytest.approx(0.4 * low / expected, rel=1e-9)
        assert row.significance == NOT_SIGNIFICANT


def test_expected_counts_equal_statsmodels_predictions_summed() -> None:
    rng = np.random.default_rng(42)
    n = 3000
    records = pd.DataFrame(
        {
            "programme": rng.choice(["north", "south", "east", "west"], n),
            "substance_group": rng.choice(["opiate", "non_opiate", "alcohol"], n),
            "injecting_status": rng.choice(["never", "previously", "currently"], n),
        }
    )
    risk = (
        0.4
        + 0.8 * (records["substance_group"] == "alcohol")
        - 0.9 * (records["injecting_status"] == "currently")
    )
    records["outcome"] = (rng.random(n) < 1 / (1 + np.exp(-risk))).astype(int)
    result = indirect_standardisation(
        records, unit="programme", covariates=["substance_group", "injecting_status"]
    )
    model = smf.logit("outcome ~ C(substance_group) + C(injecting_status)", data=records).fit(disp=False)
    expected = records.assign(p=model.predict(records)).groupby("programme")["p"].sum()
    np.testing.assert_allclose(result.table.set_index("unit")["expected"], expected, rtol=1e-9)
    # the score equation for the intercept: Σ E = Σ O over all units
    assert result.table["expected"].sum() == pytest.approx(result.table["observed"].sum(), rel=1e-9)


def test_standardised_ratios_match_phe_isratio_test_results() -> None:
    golden = pd.read_csv(GOLDEN / "phe_isratio_results.csv")
    low95, high95, method = standardised_ratio_interval(golden["observed"], golden["expected"], 0.95)
    low998, high998, _ = standardised_ratio_interval(golden["observed"], golden["expected"], 0.998)
    np.testing.assert_allclose(golden["observed"] / golden["expected"], golden["value"], rtol=1e-12)
    np.testing.assert_allclose(low95, golden["lower95_0cl"], rtol=1e-9)
    np.testing.assert_allclose(high95, golden["upper95_0cl"], rtol=1e-9)
    np.testing.assert_allclose(low998, golden["lower99_8cl"], rtol=1e-9)
    np.testing.assert_allclose(high998, golden["upper99_8cl"], rtol=1e-9)
    assert list(method) == golden["method"].map({"Byars": "byar", "Exact": "exact"}).tolist()


def test_byar_limits_match_phe_test_data() -> None:
    golden = pd.read_csv(GOLDEN / "phe_byars.csv")
    for level, rows in golden.groupby("confidence"):
        low, high, method = poisson_count_interval(rows["x"], level)
        assert set(method) == {"byar"}
        np.testing.assert_allclose(low, rows["lowercl"], rtol=1e-9)
        np.testing.assert_allclose(high, rows["uppercl"], rtol=1e-9)


def test_exact_limits_for_small_counts_against_scipy() -> None:
    observed = np.arange(10)
    low, high, method = poisson_count_interval(observed, 0.95)
    assert set(method) == {"exact"}
    assert low[0] == 0.0
    for o, lo, hi in zip(observed, low, high, strict=True):
        # the exact limits are the means at which O is just significant in each tail
        if o > 0:
            assert stats.poisson.sf(o - 1, lo) == pytest.approx(0.025, rel=1e-8)
        assert stats.poisson.cdf(o, hi) == pytest.approx(0.025, rel=1e-8)


def test_ratio_funnel_limits_match_phe_funnel_table() -> None:
    golden = pd.read_csv(GOLDEN / "phe_funnel_ratio_limits.csv")
    observed = golden["observed_events"].to_numpy(dtype=float)
    # At each tabulated expected count, the observed count sits exactly on that limit. PHE finds the
    # expected counts by bisection to 1e-7 on the scale v = E / (1 + O + E), which for O = 1 and
    # E = 0.001 is a relative error of about 1e-4 in E; hence the tolerance (counts are whole numbers).
    for column, limit in [
        ("lower_2s_exp_events", "low_95"),
        ("upper_2s_exp_events", "high_95"),
        ("lower_3s_exp_events", "low_99_8"),
        ("upper_3s_exp_events", "high_99_8"),
    ]:
        expected = golden[column].to_numpy()
        limits = ratio_funnel_limits(expected)
        np.testing.assert_allclose(limits[limit] * expected, observed, rtol=2e-6, atol=2e-4)


@pytest.mark.parametrize("expected", [0.02, 0.3, 1.0, 2.5, 7.3, 19.9, 60.0, 250.0, 1234.5])
def test_ratio_funnel_limits_against_scipy_poisson(expected: float) -> None:
    limits = ratio_funnel_limits([expected]).iloc[0]
    counts = np.arange(0, int(expected * 3 + 30))
    upper_tail = stats.poisson.sf(counts - 1, expected)  # Pr(O' ≥ k)
    lower_tail = stats.poisson.cdf(counts, expected)  # Pr(O' ≤ k)
    for suffix, alpha in [("95", 0.05), ("99_8", 0.002)]:
        above = counts / expected > limits[f"high_{suffix}"]
        below = counts / expected < limits[f"low_{suffix}"]
        np.testing.assert_array_equal(above, (counts >= 1) & (upper_tail < alpha / 2))
        np.testing.assert_array_equal(below, lower_tail < alpha / 2)
    assert limits["low_99_8"] <= limits["low_95"] < 1 < limits["high_95"] <= limits["high_99_8"]


def test_ratio_funnel_significance_matches_phe_labels_and_the_limits() -> None:
    golden = pd.read_csv(GOLDEN / "phe_funnel_ratio_significance.csv")
    labels = ratio_funnel_significance(golden["obs"], golden["expected"])
    assert labels.tolist() == golden["significance"].map(PHE_LABELS).tolist()
    # and each label is the point's position against the limits drawn
    limits = ratio_funnel_limits(golden["expected"])
    ratio = golden["obs"] / golden["expected"]
    by_position = np.select(
        [
            ratio > limits["high_99_8"],
            ratio > limits["high_95"],
            ratio < limits["low_99_8"],
            ratio < limits["low_95"],
        ],
        [HIGH_99_8, HIGH_95, LOW_99_8, LOW_95],
        default=NOT_SIGNIFICANT,
    )
    assert labels.tolist() == by_position.tolist()


def test_significance_edges() -> None:
    labels = ratio_funnel_significance(pd.Series([0, 0, 5, 3], index=list("wxyz")), [10.0, 0.5, 0.0, np.nan])
    assert labels.index.tolist() == list("wxyz")
    assert labels["w"] == LOW_99_8  # Pr(O' = 0 | 10) = 4.5e-5
    assert labels["x"] == NOT_SIGNIFICANT
    assert labels["y"] is None and labels["z"] is None


def test_ratio_funnel_curve_grid() -> None:
    curve = ratio_funnel_curve(0.5, 500.0, points=50)
    assert len(curve) == 50 and curve["expected"].iloc[0] == 0.5 and curve["expected"].iloc[-1] == 500.0
    assert (curve["high_95"].diff().dropna() < 0).all()  # the funnel narrows as E grows
    with pytest.raises(ValueError):
        ratio_funnel_curve(0, 10)


def test_standardise_from_counts_leaves_adjusted_values_unclipped() -> None:
    table = standardise(
        pd.DataFrame(
            {"unit": ["a", "b"], "denominator": [10, 990], "observed": [10, 490], "expected": [4.0, 496.0]}
        )
    )
    assert table["pooled_value"].iloc[0] == pytest.approx(0.5)
    assert table["adjusted_value"].iloc[0] == pytest.approx(1.25)  # 10/4 × 0.5: above 1, left as computed
    assert table["ratio_ci_method"].tolist() == ["byar", "byar"]


def test_model_that_cannot_be_fitted_gives_no_expected_counts() -> None:
    # too few events: 2 parameters (three age bands) need 20 of the rarer outcome, there are 6
    records = records_from_cells(
        [("A", "18-24", 50, 48), ("A", "25-29", 50, 49), ("B", "65+", 50, 47), ("B", "18-24", 50, 50)]
    )
    result = indirect_standardisation(records, unit="programme", covariates=["age_band"])
    assert not result.estimable and result.code == "too_few_events"
    assert "has 6 records" in result.reason
    assert result.table["observed"].tolist() == [97, 97]
    assert result.table["denominator"].tolist() == [100, 100]
    model_columns = ["expected", "ratio", "ratio_ci_low", "ratio_ci_high", "adjusted_value", "significance"]
    assert result.table[model_columns].isna().all().all()


def test_separation_gives_no_expected_counts() -> None:
    records = records_from_cells(
        [("A", "18-24", 100, 60), ("A", "65+", 50, 0), ("B", "18-24", 100, 40), ("B", "65+", 30, 0)]
    )
    result = indirect_standardisation(records, unit="programme", covariates=["age_band"])
    assert result.code == "level_without_outcome_variation"
    assert "age_band = 65+" in result.reason
    assert result.table["expected"].isna().all()
