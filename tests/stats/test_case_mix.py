"""Case-mix logistic models: the fit against statsmodels, and every reason a model is refused."""

import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from pipelines.stats import CASE_MIX_COVARIATES, FAILURE_CODES, LogisticFit, ModelFailure, fit_logistic
from pipelines.stats.case_mix import separating_direction


def cells(spec: list[tuple[dict[str, str], int, int]]) -> pd.DataFrame:
    """Records from (covariates, records, of which with the outcome) cells."""
    rows = []
    for covariates, records, events in spec:
        rows += [{**covariates, "outcome": int(k < events)} for k in range(records)]
    return pd.DataFrame(rows)


def test_fit_matches_statsmodels_formula() -> None:
    rng = np.random.default_rng(5)
    n = 2000
    records = pd.DataFrame(
        {
            "sex": rng.choice(["male", "female", "other"], n, p=[0.6, 0.35, 0.05]),
            "age_band": rng.choice(["18-24", "25-29", "30-34", "65+"], n),
            "exposed": rng.integers(0, 2, n),
        }
    )
    logit = (
        -0.2
        + 0.5 * (records["sex"] == "female")
        - 0.7 * (records["age_band"] == "65+")
        + 0.3 * records["exposed"]
    )
    records["outcome"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    fit = fit_logistic(records, "outcome", ["sex", "age_band"], exposure="exposed")
    assert isinstance(fit, LogisticFit)
    # reference levels are the most frequent ones
    assert fit.reference_levels["sex"] == "male"
    reference = smf.logit(
        "outcome ~ exposed + C(sex, Treatment('male')) + "
        f"C(age_band, Treatment({fit.reference_levels['age_band']!r}))",
        data=records,
    ).fit(disp=False)
    np.testing.assert_allclose(np.sort(fit.params), np.sort(reference.params.to_numpy()), atol=1e-8)
    np.testing.assert_allclose(fit.fitted, reference.predict(records), atol=1e-10)
    # bread is the inverse information: statsmodels' model-based covariance
    np.testing.assert_allclose(
        np.sort(np.diag(fit.bread)), np.sort(np.diag(reference.cov_params())), rtol=1e-6
    )
    # the score equations hold at the maximum
    np.testing.assert_allclose(fit.scores().sum(axis=0), 0.0, atol=1e-8)


def test_failure_codes_are_the_documented_ones() -> None:
    assert FAILURE_CODES == (
        "no_records",
        "no_outcome_variation",
        "no_exposure_contrast",
        "too_few_events",
        "level_without_outcome_variation",
        "collinear",
        "separation",
        "not_converged",
    )
    assert "injecting_status" in CASE_MIX_COVARIATES and "earlier_episode" in CASE_MIX_COVARIATES


def test_no_records_and_no_outcome_variation() -> None:
    empty = pd.DataFrame({"outcome": pd.Series([], dtype=int), "sex": pd.Series([], dtype=str)})
    assert fit_logistic(empty, "outcome", ["sex"]).code == "no_records"
    same = cells([({"sex": "male"}, 30, 30), ({"sex": "female"}, 20, 20)])
    failure = fit_logistic(same, "outcome", ["sex"])
    assert isinstance(failure, ModelFailure)
    assert failure.code == "no_outcome_variation" and "all 50 records have outcome 1" in failure.reason


def test_too_few_events() -> None:
    records = cells([({"sex": "male"}, 100, 95), ({"sex": "female"}, 100, 90), ({"sex": "other"}, 50, 47)])
    # 18 records without the outcome, 2 parameters: fine at 5 per parameter, refused at 10
    assert isinstance(fit_logistic(records, "outcome", ["sex"], min_events_per_parameter=5), LogisticFit)
    failure = fit_logistic(records, "outcome", ["sex"])
    assert failure.code == "too_few_events"
    assert "(outcome 0) has 18 records" in failure.reason and "2 parameters need 20" in failure.reason


def test_level_without_outcome_variation() -> None:
    records = cells([({"setting": "community"}, 200, 120), ({"setting": "prison"}, 40, 40)])
    failure = fit_logistic(records, "outcome", ["setting"])
    assert failure.code == "level_without_outcome_variation"
    assert "every one of the 40 records with setting = prison has outcome 1" in failure.reason


def test_collinear_covariates_are_named() -> None:
    # setting is determined by referral source here: prison ⇔ criminal_justice
    records = cells(
        [
            ({"setting": "community", "referral_source": "self"}, 100, 60),
            ({"setting": "community", "referral_source": "gp"}, 100, 50),
            ({"setting": "prison", "referral_source": "criminal_justice"}, 100, 30),
        ]
    )
    failure = fit_logistic(records, "outcome", ["setting", "referral_source"])
    assert failure.code == "collinear"
    assert "linearly dependent: setting[prison], referral_source[gp], referral_source[self]" in failure.reason


def test_separation_by_a_combination_of_covariates() -> None:
    # The outcome is 1 exactly when at least two of three yes/no covariates are yes: every level has
    # both outcomes, but a + b + c − 1.5 separates them, so the MLE does not exist.
    rows = []
    for a, b, c in itertools.product(["no", "yes"], repeat=3):
        outcome = int([a, b, c].count("yes") >= 2)
        rows += [{"a": a, "b": b, "c": c, "outcome": outcome}] * 10
    records = pd.DataFrame(rows)
    failure = fit_logistic(records, "outcome", ["a", "b", "c"])
    assert failure.code == "separation"
    assert all(name in failure.reason for name in ("a[", "b[", "c["))
    # one record against the rule breaks the separation and the model fits
    records.loc[0, "outcome"] = 1 - records.loc[0, "outcome"]
    records.loc[len(records) - 1, "outcome"] = 1 - records.loc[len(records) - 1, "outcome"]
    assert isinstance(
        fit_logistic(records, "outcome", ["a", "b", "c"], min_events_per_parameter=5), LogisticFit
    )


def test_separating_direction_complete_and_none() -> None:
    x = np.column_stack([np.ones(6), [0.0, 1, 2, 3, 4, 5]])
    y = np.array([0.0, 0, 0, 1, 1, 1])
    assert separating_direction(x, y) is not None
    y_mixed = np.array([0.0, 1, 0, 1, 0, 1])
    assert separating_direction(x, y_mixed) is None


def test_constant_covariate_is_dropped_with_a_note() -> None:
    records = cells(
        [({"sex": "male", "setting": "prison"}, 100, 40), ({"sex": "female", "setting": "prison"}, 100, 60)]
    )
    fit = fit_logistic(records, "outcome", ["sex", "setting"])
    assert isinstance(fit, LogisticFit)
    assert fit.dropped == ("setting",)
    assert fit.columns == ("intercept", "sex[male]") or fit.columns == ("intercept", "sex[female]")
    assert "'setting' has one level ('prison')" in fit.notes[0]


def test_bad_input_raises() -> None:
    records = cells([({"sex": "male"}, 100, 40), ({"sex": "female"}, 100, 60)])
    with_missing = records.astype({"sex": object})
    with_missing.loc[3, "sex"] = None
    with pytest.raises(ValueError, match="'sex' has 1 missing values"):
        fit_logistic(with_missing, "outcome", ["sex"])
    with pytest.raises(ValueError, match="only 0/1"):
        fit_logistic(records.assign(outcome=records["outcome"] * 2), "outcome", ["sex"])
    with pytest.raises(ValueError, match="lack columns"):
        fit_logistic(records, "outcome", ["age_band"])
