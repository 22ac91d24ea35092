"""Crude and case-mix-adjusted differences in outcome share: hand-built cohorts, statsmodels, bootstrap."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy.special import expit
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from pipelines.stats import (
    ESTIMATE_COLUMNS,
    PEER_DOSE_BANDS,
    SHARE_COLUMNS,
    adjusted_difference,
    compare_by_exposure,
    crude_difference,
    dose_band,
    newcombe_difference_interval,
    outcome_shares_by_group,
)


def cohort_from_cells(cells: list[tuple[dict[str, str], int, int, int]]) -> pd.DataFrame:
    """Records from (covariates, exposed, records, of which with the outcome) cells, one person each."""
    rows = []
    for covariates, exposed, records, events in cells:
        for k in range(records):
            rows.append({**covariates, "exposed": exposed, "outcome": int(k < events)})
    frame = pd.DataFrame(rows)
    frame["person_id"] = np.arange(len(frame))
    return frame


# --- Newcombe's hybrid score interval -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"),
    [
        (56, 70, 48, 80),
        (9, 10, 3, 10),
        (6, 7, 2, 7),
        (5, 56, 0, 29),
        (0, 10, 0, 20),
        (10, 10, 0, 20),
        (7, 34, 1, 34),
    ],
)
def test_newcombe_interval_matches_statsmodels(x1: int, n1: int, x2: int, n2: int) -> None:
    low, high = newcombe_difference_interval(x1, n1, x2, n2)
    expected = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff", alpha=0.05)
    assert (low, high) == pytest.approx(expected, abs=1e-6)  # statsmodels uses z = 1.959964 too


def test_newcombe_interval_by_hand_and_published() -> None:
    # Fagerland, Lydersen & Laake (2015), Stat Methods Med Res 24:224-254, Table: 7/34 vs 1/34,
    # Newcombe hybrid score 0.019 to 0.34 (as quoted in statsmodels' tests).
    low, high = newcombe_difference_interval(7, 34, 1, 34)
    assert round(low, 3) == 0.019
    assert round(high, 2) == 0.34
    # By hand from the Wilson limits of 56/70 and 48/80 (z = 1.959964).
    z = 1.959964
    l1, u1 = proportion_confint(56, 70, alpha=0.05, method="wilson")
    l2, u2 = proportion_confint(48, 80, alpha=0.05, method="wilson")
    d = 56 / 70 - 48 / 80
    low, high = newcombe_difference_interval(56, 70, 48, 80)
    assert low == pytest.approx(d - math.hypot(56 / 70 - l1, u2 - 48 / 80), abs=1e-6)
    assert high == pytest.approx(d + math.hypot(u1 - 56 / 70, 48 / 80 - l2), abs=1e-6)
    assert z == pytest.approx(1.959964)
    assert math.isnan(newcombe_difference_interval(1, 0, 1, 2)[0])


# --- (a) no effect, peer support goes to people with a better prognosis -------------------------------


def test_no_effect_confounded_by_prognosis_exact_cells() -> None:
    # Within each injecting-status group the outcome share is the same with and without peer support
    # (0.9 for never injected, 0.5 for currently injecting), but 80% of the never-injected are exposed
    # against 20% of the injecting. Crude: 410/500 − 290/500 = 0.24. Adjusted: the logistic model with
    # an injecting-status term fits every cell exactly with an exposure coefficient of 0, so the
    # standardised difference is 0.
    records = cohort_from_cells(
        [
            ({"injecting_status": "never"}, 1, 400, 360),
            ({"injecting_status": "never"}, 0, 100, 90),
            ({"injecting_status": "currently"}, 1, 100, 50),
            ({"injecting_status": "currently"}, 0, 400, 200),
        ]
    )
    crude = crude_difference(records)
    assert crude.difference == pytest.approx(0.24)
    assert crude.ci_low > 0.15
    adjusted = adjusted_difference(records, covariates=["injecting_status"])
    assert adjusted.reason is None
    assert adjusted.difference == pytest.approx(0.0, abs=1e-9)
    assert adjusted.ci_low < 0 < adjusted.ci_high
    # standardised shares: 0.5·0.9 + 0.5·0.5 with everyone exposed and with no one exposed
    assert adjusted.exposed_value == pytest.approx(0.7, abs=1e-9)
    assert adjusted.unexposed_value == pytest.approx(0.7, abs=1e-9)
    assert adjusted.adjusted_for == ("injecting_status",)


def confounded_cohort(
    seed: int, n: int, exposure_log_odds: float, people: int | None = None, person_sd: float = 0.0
) -> tuple[pd.DataFrame, float]:
    """A cohort where good prognosis (alcohol, never injected, self-referred) raises both the chance of
    peer support and of the outcome; returns the records and the true marginal difference.

    With ``people`` the case mix and exposure belong to the person and each record belongs to a random
    person, whose outcomes share a normal person effect of sd ``person_sd`` (clustered records)."""
    rng = np.random.default_rng(seed)
    levels = {
        "substance_group": (["opiate", "non_opiate", "alcohol"], [0.5, 0.2, 0.3], [0.0, 0.6, 0.9]),
        "injecting_status": (["never", "previously", "currently"], [0.5, 0.3, 0.2], [0.0, -0.4, -1.0]),
        "referral_source": (["self", "gp", "criminal_justice"], [0.4, 0.3, 0.3], [0.0, -0.1, -0.7]),
    }
    m = n if people is None else people
    frame = pd.DataFrame({name: rng.choice(values, m, p=p) for name, (values, p, _) in levels.items()})
    prognosis = np.zeros(m)
    for name, (values, _, effects) in levels.items():
        prognosis += frame[name].map(dict(zip(values, effects, strict=True))).to_numpy()
    frame["exposed"] = (rng.random(m) < expit(-0.8 + 2.0 * prognosis)).astype(int)
    frame["person_id"] = np.arange(m)
    person_effect = np.zeros(m)
    if people is not None:
        person_effect = rng.normal(0.0, person_sd, m)
        chosen = rng.integers(0, m, n)
        frame, prognosis, person_effect = (
            frame.iloc[chosen].reset_index(drop=True),
            prognosis[chosen],
            person_effect[chosen],
        )
    frame["outcome"] = (
        rng.random(n) < expit(0.3 + prognosis + exposure_log_odds * frame["exposed"] + person_effect)
    ).astype(int)
    # True marginal difference over the covariate distribution (no person effect), by enumeration.
    truth = 0.0
    for combo in itertools.product(*[range(3)] * 3):
        weight, eta = 1.0, 0.3
        for (_, (_, p, effects)), k in zip(levels.items(), combo, strict=True):
            weight *= p[k]
            eta += effects[k]
        truth += weight * (expit(eta + exposure_log_odds) - expit(eta))
    return frame, truth


COVARIATES = ["substance_group", "injecting_status", "referral_source"]


def test_no_effect_confounded_by_prognosis_random_cohort() -> None:
    records, truth = confounded_cohort(seed=20260401, n=4000, exposure_log_odds=0.0)
    assert truth == 0.0
    crude = crude_difference(records)
    assert crude.difference > 0.08  # peer support looks good only because of who gets it
    assert crude.ci_low > 0.05
    adjusted = adjusted_difference(records, covariates=COVARIATES)
    assert adjusted.reason is None
    assert adjusted.ci_low < 0 < adjusted.ci_high
    assert abs(adjusted.difference) < 0.03


# --- (b) a planted effect is recovered ---------------------------------------------------------------


def test_planted_effect_is_recovered_within_its_interval() -> None:
    records, truth = confounded_cohort(seed=7, n=5000, exposure_log_odds=0.8)
    assert 0.1 < truth < 0.2
    adjusted = adjusted_difference(records, covariates=COVARIATES)
    assert adjusted.ci_low < truth < adjusted.ci_high
    assert adjusted.difference == pytest.approx(truth, abs=0.03)
    crude = crude_difference(records)
    assert crude.difference > truth + 0.05  # the crude difference overstates it


@pytest.mark.slow
def test_adjusted_interval_has_nominal_coverage() -> None:
    # 200 cohorts of 1,000 records with a planted effect: the 95% interval should cover the true
    # marginal difference about 95% of the time (binomial sd 1.5 points).
    covered = 0
    replicates = 200
    for seed in range(replicates):
        records, truth = confounded_cohort(seed=1000 + seed, n=1000, exposure_log_odds=0.8)
        estimate = adjusted_difference(records, covariates=COVARIATES)
        assert estimate.reason is None
        covered += estimate.ci_low < truth < estimate.ci_high
    assert 0.91 <= covered / replicates <= 0.985


# --- (c) against statsmodels directly -----------------------------------------------------------------


def test_adjusted_estimate_equals_statsmodels_standardisation() -> None:
    records, _ = confounded_cohort(seed=11, n=3000, exposure_log_odds=0.5)
    ours = adjusted_difference(records, covariates=COVARIATES)

    model = smf.logit(
        "outcome ~ exposed + C(substance_group) + C(injecting_status) + C(referral_source)", data=records
    ).fit(disp=False)
    p1 = model.predict(records.assign(exposed=1))
    p0 = model.predict(records.assign(exposed=0))
    assert ours.exposed_value == pytest.approx(p1.mean(), abs=1e-9)
    assert ours.unexposed_value == pytest.approx(p0.mean(), abs=1e-9)
    assert ours.difference == pytest.approx(p1.mean() - p0.mean(), abs=1e-9)

    # statsmodels' average discrete effect of the exposure dummy is the same number, and its
    # delta-method SE (conditional on the case mix, robust by person) is a lower bound for ours, which
    # also counts the sampling of the case mix it averages over.
    robust = smf.logit(
        "outcome ~ exposed + C(substance_group) + C(injecting_status) + C(referral_source)", data=records
    ).fit(disp=False, cov_type="cluster", cov_kwds={"groups": records["person_id"], "use_correction": False})
    margeff = robust.get_margeff(at="overall", dummy=True)
    exposed_at = list(margeff.summary_frame().index).index("exposed")
    assert margeff.margeff[exposed_at] == pytest.approx(ours.difference, abs=1e-9)
    ours_se = (ours.ci_high - ours.ci_low) / (2 * 1.959964)
    assert margeff.margeff_se[exposed_at] <= ours_se
    assert ours_se == pytest.approx(margeff.margeff_se[exposed_at], rel=0.15)


@pytest.mark.slow
def test_adjusted_interval_matches_a_bootstrap_over_people() -> None:
    # 2,400 episodes of 1,000 people whose case mix, exposure and a person effect are shared by their
    # episodes: the clustered delta-method SE should match the SE of a bootstrap over people computed
    # here with statsmodels directly (measured: 0.0334 against 0.0329), and treating the episodes as
    # independent would understate it (0.0245).
    records, _ = confounded_cohort(seed=3, n=2400, exposure_log_odds=0.5, people=1000, person_sd=1.5)
    ours = adjusted_difference(records, covariates=COVARIATES)
    ours_se = (ours.ci_high - ours.ci_low) / (2 * 1.959964)

    design = pd.get_dummies(records[COVARIATES], drop_first=True, dtype=float)
    design.insert(0, "exposed", records["exposed"].astype(float))
    design = sm.add_constant(design)
    by_person = {person: rows.index.to_numpy() for person, rows in records.groupby("person_id")}
    people = np.array(list(by_person))
    rng = np.random.default_rng(99)
    differences = []
    for _ in range(300):
        drawn = rng.choice(people, size=len(people), replace=True)
        rows = np.concatenate([by_person[p] for p in drawn])
        x, y = design.to_numpy()[rows], records["outcome"].to_numpy()[rows]
        params = sm.Logit(y, x).fit(disp=False).params
        x1, x0 = x.copy(), x.copy()
        x1[:, 1], x0[:, 1] = 1.0, 0.0
        differences.append(expit(x1 @ params).mean() - expit(x0 @ params).mean())
    bootstrap_se = float(np.std(differences, ddof=1))
    assert ours_se == pytest.approx(bootstrap_se, rel=0.15)
    naive = adjusted_difference(records.assign(person_id=np.arange(len(records))), covariates=COVARIATES)
    naive_se = (naive.ci_high - naive.ci_low) / (2 * 1.959964)
    assert naive_se < 0.8 * ours_se


# --- (f) no number where the model cannot be fitted ----------------------------------------------------


def test_separation_gives_a_reason_and_no_number() -> None:
    # Everyone referred by criminal justice left early, so that level has no outcome variation.
    records = cohort_from_cells(
        [
            ({"referral_source": "self"}, 1, 300, 240),
            ({"referral_source": "self"}, 0, 300, 200),
            ({"referral_source": "criminal_justice"}, 1, 20, 0),
            ({"referral_source": "criminal_justice"}, 0, 80, 0),
        ]
    )
    estimate = adjusted_difference(records, covariates=["referral_source"])
    assert not estimate.estimable
    assert "referral_source = criminal_justice" in estimate.reason
    assert "separation" in estimate.reason
    for number in (estimate.difference, estimate.ci_low, estimate.ci_high, estimate.exposed_value):
        assert math.isnan(number)
    table = compare_by_exposure(records, covariates=["referral_source"])
    assert list(table.columns) == ESTIMATE_COLUMNS
    assert table["estimate"].tolist() == ["crude", "adjusted"]
    assert table.loc[0, "reason"] is None or pd.isna(table.loc[0, "reason"])
    assert not math.isnan(table.loc[0, "difference"])
    assert math.isnan(table.loc[1, "difference"])
    assert "separation" in table.loc[1, "reason"]


def test_too_few_events_gives_a_reason_and_no_number() -> None:
    # 200 records, 12 of them without the outcome; 1 exposure + 2 + 2 level parameters need 50.
    records = cohort_from_cells(
        [
            ({"sex": "male", "setting": "community"}, 1, 60, 57),
            ({"sex": "female", "setting": "community"}, 0, 60, 56),
            ({"sex": "other", "setting": "prison"}, 1, 40, 37),
            ({"sex": "male", "setting": "residential_rehab"}, 0, 40, 38),
        ]
    )
    estimate = adjusted_difference(records, covariates=["sex", "setting"])
    assert not estimate.estimable
    assert "12 records" in estimate.reason and "5 parameters need 50" in estimate.reason
    assert math.isnan(estimate.difference)
    # the crude comparison needs no model and still has its number
    assert crude_difference(records).estimable


def test_no_unexposed_records() -> None:
    records = cohort_from_cells([({"sex": "male"}, 1, 50, 40), ({"sex": "female"}, 1, 50, 30)])
    crude = crude_difference(records)
    assert not crude.estimable and "no unexposed records" in crude.reason
    adjusted = adjusted_difference(records, covariates=["sex"])
    assert not adjusted.estimable and "all 100 records are exposed" in adjusted.reason


def test_constant_covariate_is_left_out_and_said() -> None:
    records = cohort_from_cells(
        [
            ({"sex": "male", "setting": "community"}, 1, 100, 70),
            ({"sex": "female", "setting": "community"}, 1, 100, 60),
            ({"sex": "male", "setting": "community"}, 0, 100, 50),
            ({"sex": "female", "setting": "community"}, 0, 100, 45),
        ]
    )
    estimate = adjusted_difference(records, covariates=["sex", "setting"])
    assert estimate.estimable
    assert estimate.adjusted_for == ("sex",)
    assert any("'setting' has one level" in note for note in estimate.notes)


def test_repeated_people_are_noted_for_the_crude_interval() -> None:
    records = cohort_from_cells([({"sex": "male"}, 1, 50, 40), ({"sex": "male"}, 0, 50, 30)])
    records["person_id"] = records["person_id"] // 2
    assert "50 people contribute more than one record" in crude_difference(records).notes[0]


# --- dose and timing shares ----------------------------------------------------------------------------


def test_dose_band() -> None:
    assert dose_band([0, 1, 2, 3, 17]).tolist() == ["0", "1-2", "1-2", "3+", "3+"]
    assert PEER_DOSE_BANDS == ("0", "1-2", "3+")
    with pytest.raises(ValueError):
        dose_band([1, -1])


def test_outcome_shares_by_group_against_statsmodels_wilson() -> None:
    records = cohort_from_cells(
        [({"dose": "0"}, 0, 120, 84), ({"dose": "1-2"}, 1, 30, 25), ({"dose": "3+"}, 1, 9, 9)]
    )
    shares = outcome_shares_by_group(records, "dose", order=["0", "1-2", "3+", "unused"])
    assert list(shares.columns) == SHARE_COLUMNS
    assert shares["group"].tolist() == ["0", "1-2", "3+", "unused"]
    assert shares["numerator"].tolist() == [84, 25, 9, 0]
    assert shares["denominator"].tolist() == [120, 30, 9, 0]
    for row in shares.iloc[:3].itertuples():
        low, high = proportion_confint(row.numerator, row.denominator, alpha=0.05, method="wilson")
        assert row.value == pytest.approx(row.numerator / row.denominator)
        assert (row.ci_low, row.ci_high) == pytest.approx((low, high), abs=1e-6)
    assert shares.iloc[3][["value", "ci_low", "ci_high"]].isna().all()
    with pytest.raises(ValueError, match="not in the given order"):
        outcome_shares_by_group(records, "dose", order=["0", "1-2"])
