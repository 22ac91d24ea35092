"""Disclosure control, hostile inputs and the registry.

Extract: 25 episodes starting 2024-03-01 … waiting > 21 days or not, in three programmes:
PG1 10 episodes (5 waited), PG2 3 episodes (1 waited), PG3 12 episodes (6 waited); plus 20 episodes of
programme PG1 starting in 2023 of which 18 waited (the complement 20 − 18 = 2 is small).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from pipelines.derived import DERIVED_TABLES
from pipelines.metrics import (
    DIMENSIONS,
    available_metrics,
    compute_metric,
    describe_metric,
    metric_series,
    metric_sql,
)
from pipelines.metrics.registry import METRICS
from tests.metrics.builders import d, episode, only_row

HOSTILE = "x'; DROP TABLE episodes; --"


def _episodes() -> list[dict]:
    rows = []
    for programme, n, waited in (("PG1", 10, 5), ("PG2", 3, 1), ("PG3", 12, 6)):
        for i in range(n):
            wait = 30 if i < waited else 5
            rows.append(
                episode(
                    f"{programme}-{i}",
                    f"{programme}-p{i}",
                    programme=programme,
                    referral=d("2024-03-01", -wait),
                    start=d("2024-03-01"),
                )
            )
    for i in range(20):
        wait = 30 if i < 18 else 5
        rows.append(episode(f"old-{i}", f"old-p{i}", referral=d("2023-03-01", -wait), start=d("2023-03-01")))
    return rows


@pytest.fixture(scope="module")
def warehouse(make_warehouse):
    return make_warehouse(episodes=_episodes())


def test_small_counts_are_suppressed_never_zero(warehouse) -> None:
    # 2024: 25 episodes, 12 waited → shown, rounded to 5: 10 of 25.
    row = only_row(compute_metric(warehouse, "waiting_over_3_weeks", "2024-01-01", "2024-12-31"))
    assert (row["numerator"], row["denominator"], row["suppressed"]) == (10, 25, False)
    # 2023: 18 of 20 waited; the 2 who did not make it disclosive → suppressed.
    row = only_row(compute_metric(warehouse, "waiting_over_3_weeks", "2023-01-01", "2023-12-31"))
    assert row["suppressed"]
    for column in ("numerator", "denominator", "value", "ci_low", "ci_high"):
        assert pd.isna(row[column]), column
    # Analysts with record-level access.
    row = only_row(
        compute_metric(warehouse, "waiting_over_3_weeks", "2023-01-01", "2023-12-31", suppress=False)
    )
    assert (row["numerator"], row["denominator"], row["suppressed"]) == (18, 20, False)
    # The threshold is a setting: with threshold 2 only counts of 1 are suppressed.
    row = only_row(compute_metric(warehouse, "waiting_over_3_weeks", "2023-01-01", "2023-12-31", threshold=2))
    assert not row["suppressed"]


def test_shown_counts_are_rounded_and_rates_come_from_them(warehouse) -> None:
    # 2024: 12 of 25 waited. Shown: 10 of 25 (12 rounds to 10), so the rate is 10/25 = 40% with the
    # Wilson interval of 10/25, and nothing shown gives back the 12.
    row = only_row(compute_metric(warehouse, "waiting_over_3_weeks", "2024-01-01", "2024-12-31"))
    assert (row["numerator"], row["denominator"]) == (10, 25)
    assert row["value"] == pytest.approx(0.4)
    low, high = proportion_confint(10, 25, alpha=0.05, method="wilson")
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    # Rounding is a setting of its own: None (or 1) shows the exact counts, still suppressed.
    exact = only_row(
        compute_metric(warehouse, "waiting_over_3_weeks", "2024-01-01", "2024-12-31", rounding=None)
    )
    assert (exact["numerator"], exact["denominator"], exact["value"]) == (12, 25, pytest.approx(0.48))
    frame = compute_metric(warehouse, "waiting_over_3_weeks", "2024-01-01", "2024-12-31", rounding=1)
    assert frame.attrs["rounded_to"] is None and frame["numerator"].tolist() == [12]
    # Count metrics: people in treatment in 2024, PG1 has 30 and the whole system 45 (a multiple of 5
    # stays as it is); with base 10 they show as 30 and 50.
    count = compute_metric(warehouse, "in_treatment", "2024-01-01", "2024-12-31", by="programme", rounding=10)
    assert count["numerator"].iloc[0] == 30
    total = only_row(compute_metric(warehouse, "in_treatment", "2024-01-01", "2024-12-31", rounding=10))
    assert (total["numerator"], total["value"]) == (50, 50)


def test_count_metric_suppression(warehouse) -> None:
    # People in treatment in 2024 by programme: PG1 10 (+ the 2023 starts still open: 20) = 30, PG2 3,
    # PG3 12 → PG2 suppressed, and one more cell so it cannot be worked out from the total.
    frame = compute_metric(warehouse, "in_treatment", "2024-01-01", "2024-12-31", by="programme")
    assert frame["suppressed"].tolist() == [False, True, True]
    assert frame["numerator"].isna().tolist() == [False, True, True]
    assert frame["numerator"].iloc[0] == 30


def test_secondary_suppression(warehouse) -> None:
    # PG2 (1 of 3) is primary-suppressed; with the total (12 / 25) published, PG2 = total − PG1 − PG3,
    # so the smallest other cell (PG1, 10) is hidden too.
    frame = compute_metric(warehouse, "waiting_over_3_weeks", "2024-01-01", "2024-12-31", by="programme")
    assert frame["programme"].tolist() == ["PG1", "PG2", "PG3"]
    assert frame["suppressed"].tolist() == [True, True, False]
    hidden = frame[frame["suppressed"]]
    assert hidden[["numerator", "denominator", "value", "ci_low", "ci_high"]].isna().all().all()
    shown = frame[~frame["suppressed"]].iloc[0]
    assert (shown["numerator"], shown["denominator"]) == (5, 10)  # 6 of 12, rounded to 5
    # Two-way: programme × quarter keeps the hidden cells hidden in both directions.
    frame = compute_metric(
        warehouse, "waiting_over_3_weeks", "2023-01-01", "2024-12-31", by=["programme", "quarter"]
    )
    assert frame["suppressed"].sum() >= 2
    assert frame.loc[frame["suppressed"], "numerator"].isna().all()


def test_hostile_filter_values_are_parameters(warehouse) -> None:
    for name in available_metrics():
        end = "2024-06-30" if name == "completion_no_representation" else "2024-12-31"
        frame = compute_metric(
            warehouse,
            name,
            "2024-01-01",
            end,
            as_of="2025-12-31",
            filters={"programme": [HOSTILE], "month": [HOSTILE]},
            suppress=False,
        )
        if METRICS[name].kind == "survival":
            assert frame.empty
        else:
            assert frame["numerator"].fillna(0).eq(0).all() and len(frame) == 1
    assert warehouse.sql("SELECT count(*) AS n FROM episodes")["n"].item() == 45
    sql = metric_sql("retention_12wk", by=["programme"], filters={"programme": [HOSTILE]})
    assert HOSTILE not in sql and "$filter_programme" in sql


def test_hostile_filters_on_a_writable_connection(tmp_path) -> None:
    from tests.metrics.builders import build

    path = build(tmp_path / "rw.duckdb", episodes=_episodes())
    con = duckdb.connect(str(path))
    try:
        frame = compute_metric(
            con,
            "waiting_over_3_weeks",
            "2024-01-01",
            "2024-12-31",
            filters={"programme": [HOSTILE, "PG1'); DELETE FROM episodes; --"]},
            by="programme",
        )
        assert frame.empty
        assert con.execute("SELECT count(*) FROM episodes").fetchone()[0] == 45
    finally:
        con.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"by": ["programme; DROP TABLE episodes"]},
        {"by": ["episode_id"]},
        {"filters": {"1=1) OR (1": ["x"]}},
        {"by": ["programme", "programme"]},
    ],
)
def test_unknown_dimensions_are_refused(warehouse, kwargs) -> None:
    with pytest.raises(ValueError):
        compute_metric(warehouse, "retention_12wk", "2024-01-01", "2024-12-31", **kwargs)


def test_bad_arguments(warehouse) -> None:
    with pytest.raises(KeyError, match="unknown metric"):
        compute_metric(warehouse, "retention", "2024-01-01", "2024-12-31")
    with pytest.raises(ValueError, match="after it ends"):
        compute_metric(warehouse, "retention_12wk", "2024-12-31", "2024-01-01")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        compute_metric(warehouse, "retention_12wk", "31/12/2024", "2024-12-31")
    with pytest.raises(ValueError, match="no monthly series"):
        metric_series(warehouse, "time_in_treatment", "2024-01-01", "2024-12-31")


def test_series_fills_empty_months(warehouse) -> None:
    series = metric_series(warehouse, "waiting_over_3_weeks", "2024-01-01", "2024-04-30", suppress=False)
    assert series["month"].tolist() == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert series["denominator"].tolist() == [0, 0, 25, 0]
    assert series["numerator"].tolist() == [0, 0, 12, 0]
    assert not series["suppressed"].any()


def test_warehouse_metric_method(warehouse) -> None:
    frame = warehouse.metric("waiting_over_3_weeks", "2024-01-01", "2024-12-31", suppress=False)
    assert list(frame.columns) == ["numerator", "denominator", "value", "ci_low", "ci_high", "suppressed"]
    assert frame["numerator"].dtype == "Int64" and frame["suppressed"].dtype == np.bool_


def test_registry_covers_metrics_md() -> None:
    expected = {
        "in_treatment",
        "retention_12wk",
        "early_unplanned_exit",
        "successful_completion",
        "representation_6m",
        "completion_no_representation",
        "waiting_over_3_weeks",
        "peer_contact_share",
        "peer_minutes_share",
        "peer_reach",
        "abstinence_at_review",
        "deaths_in_treatment",
        "median_wait_days",
        "qol_change",
        "psych_health_change",
        "phys_health_change",
        "recovery_capital_change",
        "time_in_treatment",
        "time_to_representation",
        "exit_reason_mix",
    }
    assert set(available_metrics()) == expected
    improvements = {m: describe_metric(m)["improvement"] for m in expected}
    assert improvements["retention_12wk"] == "up" and improvements["early_unplanned_exit"] == "down"
    assert improvements["representation_6m"] == "down" and improvements["deaths_in_treatment"] == "down"
    assert improvements["waiting_over_3_weeks"] == "down" and improvements["peer_contact_share"] == "up"
    assert improvements["in_treatment"] is None
    for name in expected:
        described = describe_metric(name)
        assert described["kind"] in ("count", "proportion", "continuous", "survival")
        assert described["definition"] and described["unit"] and described["label"]
    assert set(DIMENSIONS) == {
        "programme",
        "provider",
        "area",
        "setting",
        "substance_group",
        "sex",
        "age_band",
        "month",
        "quarter",
        "peer_support",
        "outcome_group",
        "discharge_reason",
    }
    assert DERIVED_TABLES[-1] == "extract_dates"


def test_every_sql_file_starts_with_a_header() -> None:
    from importlib import resources

    root = resources.files("pipelines").joinpath("sql")
    files = [
        p for layer in ("staging", "intermediate", "marts", "metrics") for p in root.joinpath(layer).iterdir()
    ]
    assert len(files) >= 20
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert text.startswith("-- "), path.name
        assert "Grain" in text.split("\n\n")[0] or "grain" in text.split("\n\n")[0].lower(), path.name


def test_three_way_breakdown_and_labels(warehouse) -> None:
    from pipelines.metrics import dimension_labels

    frame = compute_metric(
        warehouse, "waiting_over_3_weeks", "2023-01-01", "2024-12-31", by=["programme", "quarter", "sex"]
    )
    assert list(frame.columns[:3]) == ["programme", "quarter", "sex"]
    assert frame.loc[frame["suppressed"], "numerator"].isna().all()
    assert dimension_labels(warehouse, "programme")["PG2"] == "Rehab"
    assert dimension_labels(warehouse, "area")["E08000035"] == "Leeds"
    assert dimension_labels(warehouse, "sex") == {}
