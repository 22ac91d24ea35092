"""Programmes compared on case mix: ``compute_metric(..., by=["programme"], adjust=True)``
(`pipelines.metrics.adjustment`), on hand-built extracts.

Three community programmes (so setting does not stand in for the programme) see opiate clients, who
retain 60%, and alcohol clients, who retain 90%, in different proportions. Each episode is one person's
only episode, starting in 2024-01-01 … 2024-03-30; retained ones are open at as_of 2025-06-30, the others
drop out on day 40. Expected counts are checked against statsmodels fitted directly to the cells, ratio
intervals against Byar's formula and the exact chi-square limits, labels against scipy's Poisson tails.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from click.testing import CliRunner
from scipy import stats

from pipelines.cli import main
from pipelines.metrics import ADJUSTMENT_COLUMNS, compute_metric
from pipelines.stats import funnel_significance
from tests.metrics.builders import d, episode

START, END, AS_OF = d("2024-01-01"), d("2024-03-31"), d("2025-06-30")
COMMUNITY = [
    {
        "programme_id": f"PG{k}",
        "provider_id": "PV1",
        "programme_name": f"Community {k}",
        "setting": "community",
    }
    for k in (1, 2, 3, 4)
]
PRIMARY = {"alcohol": "alcohol", "opiate": "heroin"}


def cells_episodes(cells: list[tuple[str, str, int, int]]) -> list[dict]:
    """Episodes for cells (programme, substance group, episodes, retained)."""
    rows = []
    for number, (programme, group, n, retained) in enumerate(cells):
        for i in range(n):
            key = f"{number}n{i:04d}"
            start = START + timedelta(days=i % 90)
            stays = i < retained
            rows.append(
                episode(
                    f"E{key}",
                    f"P{key}",
                    programme=programme,
                    start=start,
                    discharge=None if stays else start + timedelta(days=40),
                    reason=None if stays else "dropped_out",
                    substance_group=group,
                    primary=PRIMARY[group],
                )
            )
    return rows


def statsmodels_expected(cells: list[tuple[str, str, int, int]]) -> pd.Series:
    """E per programme: the sum over its records of the probabilities of logit(outcome) ~ substance
    fitted to every record (indirect standardisation by hand)."""
    frame = pd.DataFrame(
        [
            {"programme": programme, "substance": group, "outcome": int(i < retained)}
            for programme, group, n, retained in cells
            for i in range(n)
        ]
    )
    model = smf.glm("outcome ~ C(substance)", data=frame, family=sm.families.Binomial()).fit()
    return frame.assign(p=model.predict(frame)).groupby("programme")["p"].sum()


def byar(observed: float, z: float = 1.959964) -> tuple[float, float]:
    """Byar's approximation to the 95% limits of a Poisson count (Breslow & Day 1987)."""
    o = observed
    low = o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3
    high = (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * np.sqrt(o + 1))) ** 3
    return low, high


def poisson_label(observed: float, expected: float) -> str:
    """The funnel label from the Poisson tails of O given E (scipy)."""
    upper = stats.poisson.sf(observed - 1, expected)
    lower = stats.poisson.cdf(observed, expected)
    if upper < 0.001:
        return "high_99.8"
    if upper < 0.025:
        return "high_95"
    if lower < 0.001:
        return "low_99.8"
    if lower < 0.025:
        return "low_95"
    return "not_significant"


#: No programme effect: every programme retains 60% of opiate and 90% of alcohol clients. Crude: PG1
#: 135/200 = 0.675, PG2 165/200 = 0.825, PG3 150/200 = 0.75.
NO_EFFECT = [
    ("PG1", "opiate", 150, 90),
    ("PG1", "alcohol", 50, 45),
    ("PG2", "opiate", 50, 30),
    ("PG2", "alcohol", 150, 135),
    ("PG3", "opiate", 100, 60),
    ("PG3", "alcohol", 100, 90),
]
#: PG3 retains worse within both groups (40% and 70%), and is bigger.
PG3_WORSE = [*NO_EFFECT[:4], ("PG3", "opiate", 200, 80), ("PG3", "alcohol", 200, 140)]


@pytest.fixture(scope="module")
def no_effect(make_warehouse):
    return make_warehouse(episodes=cells_episodes(NO_EFFECT), programmes=COMMUNITY)


@pytest.fixture(scope="module")
def pg3_worse(make_warehouse):
    return make_warehouse(episodes=cells_episodes(PG3_WORSE), programmes=COMMUNITY)


def adjusted(warehouse, metric: str = "retention_12wk", **options) -> pd.DataFrame:
    return compute_metric(
        warehouse, metric, START, END, as_of=AS_OF, by=["programme"], adjust=True, **options
    )


def test_case_mix_explains_the_crude_differences(no_effect) -> None:
    table = adjusted(no_effect, suppress=False).set_index("programme")
    assert list(table.columns[-len(ADJUSTMENT_COLUMNS) :]) == ADJUSTMENT_COLUMNS
    shown = table.loc[["PG1", "PG2", "PG3"]]
    assert shown["value"].tolist() == pytest.approx([0.675, 0.825, 0.75])
    # On raw rates PG1 is below the funnel and PG2 above it ...
    crude = funnel_significance(shown["numerator"].astype(float), shown["denominator"].astype(float), 0.75)
    assert crude.tolist() == ["low_95", "high_95", "not_significant"]
    # ... but each sees what its case mix predicts.
    assert shown["expected"].tolist() == pytest.approx(shown["numerator"].astype(float).tolist())
    assert shown["ratio"].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert shown["significance"].tolist() == ["not_significant"] * 3
    assert shown["adjusted_value"].tolist() == pytest.approx([0.75] * 3)
    assert "PG4" not in table.index  # exact results list what is there
    shared = adjusted(no_effect).set_index("programme")  # shared ones every programme
    assert shared.loc["PG4", "denominator"] == 0 and np.isnan(shared.loc["PG4", "expected"])
    assert shared.loc["PG4", "adjustment_note"] == "no records: no expected count"
    assert table.attrs["adjusted"] and table.attrs["warnings"] == []
    assert table.attrs["adjusted_for"] == ["substance_group"]


def test_exact_expected_counts_ratios_and_labels_against_statsmodels_and_byar(pg3_worse) -> None:
    table = adjusted(pg3_worse, suppress=False).set_index("programme").loc[["PG1", "PG2", "PG3"]]
    expected = statsmodels_expected(PG3_WORSE)
    assert table["expected"].tolist() == pytest.approx(expected.loc[["PG1", "PG2", "PG3"]].tolist(), rel=1e-9)
    observed = table["numerator"].astype(float)
    assert table["ratio"].tolist() == pytest.approx((observed / table["expected"]).tolist())
    for programme, line in table.iterrows():
        low, high = byar(float(line["numerator"]))  # every O here is ≥ 10: Byar's limits, E fixed
        assert (line["ratio_ci_low"], line["ratio_ci_high"]) == pytest.approx(
            (low / line["expected"], high / line["expected"])
        )
        assert line["significance"] == poisson_label(float(line["numerator"]), float(line["expected"])), (
            programme
        )
    assert table.loc["PG3", "ratio"] < 1 and table.loc["PG3", "significance"].startswith("low")
    pooled = observed.sum() / table["denominator"].astype(float).sum()
    assert table["adjusted_value"].tolist() == pytest.approx((table["ratio"] * pooled).tolist())


def test_shared_expected_counts_follow_the_perturbed_observed_total(pg3_worse) -> None:
    exact = adjusted(pg3_worse, suppress=False).set_index("programme").loc[["PG1", "PG2", "PG3"]]
    shared = adjusted(pg3_worse).set_index("programme").loc[["PG1", "PG2", "PG3"]]
    assert shared.attrs["disclosure"] == "perturbation"
    assert (shared["numerator"] != exact["numerator"]).any()  # perturbed
    # One decimal, adding up to the shown observed total (not the exact one the fit adds up to) ...
    assert (shared["expected"] * 10).round(6).mod(1).eq(0).all()
    assert shared["expected"].sum() == pytest.approx(shared["numerator"].sum(), abs=0.05 * 3)
    # ... in the proportions of the model's expected counts.
    share_exact = exact["expected"] / exact["expected"].sum()
    share_shown = shared["expected"] / shared["expected"].sum()
    assert share_shown.tolist() == pytest.approx(share_exact.tolist(), abs=0.001)
    assert shared["ratio"].tolist() == pytest.approx(
        (shared["numerator"] / shared["expected"]).astype(float).tolist()
    )


def test_small_programmes_get_no_expected_count_when_shared(make_warehouse) -> None:
    cells = [*NO_EFFECT, ("PG4", "opiate", 6, 6)]
    warehouse = make_warehouse(episodes=cells_episodes(cells), programmes=COMMUNITY)
    shared = adjusted(warehouse).set_index("programme")
    line = shared.loc["PG4"]
    assert np.isnan(line["expected"]) and np.isnan(line["ratio"]) and line["significance"] is None
    assert line["suppressed"] or "fewer than 10 records" in line["adjustment_note"]
    exact = adjusted(warehouse, suppress=False).set_index("programme")
    # Exact: its six records' probability is the opiate clients' share retained, (90 + 30 + 60 + 6) / 306.
    assert exact.loc["PG4", "expected"] == pytest.approx(6 * 186 / 306, rel=1e-6)


def test_a_model_that_cannot_be_fitted_warns_instead_of_giving_numbers(make_warehouse) -> None:
    cells = [
        ("PG1", "opiate", 8, 6),
        ("PG1", "alcohol", 8, 7),
        ("PG2", "opiate", 8, 5),
        ("PG2", "alcohol", 8, 8),
    ]
    warehouse = make_warehouse(episodes=cells_episodes(cells), programmes=COMMUNITY)
    table = adjusted(warehouse, suppress=False)
    assert (
        table["expected"].isna().all() and table["ratio"].isna().all() and table["significance"].isna().all()
    )
    assert len(table.attrs["warnings"]) == 1 and "not estimable" in table.attrs["warnings"][0]
    has_records = table["programme"].isin(["PG1", "PG2"])
    assert table.loc[has_records, "adjustment_note"].str.startswith("no expected count: not estimable").all()
    assert table["numerator"].notna().all()  # the observed counts are still shown


def test_representation_is_adjusted_per_person_and_programme(make_warehouse) -> None:
    """People discharged successfully on 2024-02-01 from PG1 (opiate clients, 40% re-present on
    D + 60) or PG2 (alcohol clients, 10%), 60 in each substance group of each programme."""
    discharge = d("2024-02-01")
    rows, cells = [], []
    for programme, group, represented in (
        ("PG1", "opiate", 24),
        ("PG1", "alcohol", 6),
        ("PG2", "opiate", 24),
        ("PG2", "alcohol", 6),
    ):
        cells.append((programme, group, 60, represented))
        for i in range(60):
            person = f"P{programme}{group}{i:02d}"
            rows.append(
                episode(
                    f"E{person}",
                    person,
                    programme=programme,
                    start=d("2023-10-01"),
                    discharge=discharge,
                    reason="completed_drug_free",
                    substance_group=group,
                    primary=PRIMARY[group],
                )
            )
            if i < represented:
                rows.append(
                    episode(f"N{person}", person, programme="PG3", referral=discharge + timedelta(days=60))
                )
    warehouse = make_warehouse(episodes=rows, programmes=COMMUNITY)
    table = (
        adjusted(warehouse, "representation_6m", suppress=False).set_index("programme").loc[["PG1", "PG2"]]
    )
    assert table["numerator"].tolist() == [30, 30] and table["denominator"].tolist() == [120, 120]
    assert table["expected"].tolist() == pytest.approx(statsmodels_expected(cells).tolist())
    assert table["ratio"].tolist() == pytest.approx([1.0, 1.0])


def test_refusals(no_effect) -> None:
    with pytest.raises(ValueError, match="case-mix adjustment is defined for"):
        compute_metric(no_effect, "waiting_over_3_weeks", START, END, by=["programme"], adjust=True)
    with pytest.raises(ValueError, match="use by=\\['programme'\\]"):
        compute_metric(no_effect, "retention_12wk", START, END, by=["setting"], adjust=True)
    with pytest.raises(ValueError, match="keys=True and adjust=True"):
        compute_metric(
            no_effect, "retention_12wk", START, END, by=["programme"], adjust=True, keys=True, suppress=False
        )


def test_rosc_metric_adjust(no_effect, make_warehouse) -> None:
    runner = CliRunner()
    common = ["--from", START.isoformat(), "--to", END.isoformat(), "--as-of", AS_OF.isoformat()]
    result = runner.invoke(
        main,
        ["metric", "retention_12wk", "--db", str(no_effect.path), "--by", "programme", "--adjust", *common],
    )
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0].split(",")
    assert header[-len(ADJUSTMENT_COLUMNS) :] == ADJUSTMENT_COLUMNS
    assert result.stderr == ""
    small = make_warehouse(
        episodes=cells_episodes([("PG1", "opiate", 8, 6), ("PG2", "alcohol", 8, 5)]), programmes=COMMUNITY
    )
    failed = runner.invoke(
        main, ["metric", "retention_12wk", "--db", str(small.path), "--by", "programme", "--adjust", *common]
    )
    assert failed.exit_code == 0, failed.output
    assert failed.stderr.splitlines()[-1].startswith(
        "warning: retention_12wk: case-mix adjustment not estimable"
    )
    refused = runner.invoke(
        main, ["metric", "retention_12wk", "--db", str(no_effect.path), "--adjust", *common]
    )
    assert refused.exit_code != 0 and "by=['programme']" in refused.output
