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
from tests.metrics.builders import d, episode, only_row, shown_count

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


WAITED = "start_date BETWEEN DATE '{0}-01-01' AND DATE '{0}-12-31' AND start_date - referral_date > 21"
STARTED = "start_date BETWEEN DATE '{0}-01-01' AND DATE '{0}-12-31'"


def test_shared_counts_are_perturbed_by_their_records_keys(warehouse) -> None:
    # 2024: 12 of 25 episodes waited. What is shown is each count plus the perturbation table's value for
    # it and its records' keys, worked out here from the episodes themselves.
    numerator = shown_count(warehouse, "episodes", WAITED.format(2024))
    denominator = shown_count(warehouse, "episodes", STARTED.format(2024))
    frame = compute_metric(warehouse, "waiting_over_3_weeks", "2024-01-01", "2024-12-31")
    row = only_row(frame)
    assert (row["numerator"], row["denominator"]) == (min(numerator, denominator), denominator)
    assert frame.attrs["disclosure"] == "perturbation"
    # The rate and its Wilson interval come from the shown counts, so they say nothing more.
    assert row["value"] == pytest.approx(row["numerator"] / row["denominator"])
    low, high = proportion_confint(row["numerator"], row["denominator"], alpha=0.05, method="wilson")
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    # Analysts with record-level access see the exact counts.
    exact = only_row(
        compute_metric(warehouse, "waiting_over_3_weeks", "2024-01-01", "2024-12-31", suppress=False)
    )
    assert (exact["numerator"], exact["denominator"], exact["suppressed"]) == (12, 25, False)
    assert (numerator, denominator) != (12, 25)  # this salt's keys move them (else the test shows nothing)


def test_a_small_perturbed_complement_is_suppressed_never_zero(warehouse) -> None:
    # 2023: 18 of 20 waited: the perturbed counts stand 20 − 18 = 2 apart give or take their noise.
    numerator = shown_count(warehouse, "episodes", WAITED.format(2023))
    denominator = shown_count(warehouse, "episodes", STARTED.format(2023))
    complement = denominator - min(numerator, denominator)
    row = only_row(compute_metric(warehouse, "waiting_over_3_weeks", "2023-01-01", "2023-12-31"))
    assert 1 <= complement <= 4  # so with this salt the rule has something to suppress
    assert row["suppressed"] and row["suppressed_reason"] == "small count"
    for column in ("numerator", "denominator", "value", "ci_low", "ci_high"):
        assert pd.isna(row[column]), column
    # The threshold is a setting: with threshold 2 only a complement of 1 is suppressed.
    row = only_row(compute_metric(warehouse, "waiting_over_3_weeks", "2023-01-01", "2023-12-31", threshold=2))
    assert row["suppressed"] == (complement == 1)


def test_no_shown_count_is_1_to_4_and_the_same_people_show_the_same_count(warehouse) -> None:
    # People in treatment in 2024: PG1 30, PG2 3, PG3 12. PG2's 3 shows as 0 or 5, never as 3, and never
    # as "suppressed": counts are never 1–4 after perturbation, so nothing is hidden.
    frame = compute_metric(warehouse, "in_treatment", "2024-01-01", "2024-12-31", by="programme")
    assert not frame["suppressed"].any()
    assert not frame["numerator"].between(1, 4).any()
    in_2024 = (
        "person_id IN (SELECT person_id FROM episodes WHERE programme_id = $p "
        "AND start_date <= DATE '2024-12-31' "
        "AND (discharge_date IS NULL OR discharge_date >= DATE '2024-01-01'))"
    )
    for programme, shown in zip(frame["programme"], frame["numerator"], strict=True):
        assert shown == shown_count(warehouse, "people", in_2024, {"p": programme}), programme
        # The same people asked for another way (a filter, not a breakdown) get the same noise.
        alone = only_row(
            compute_metric(
                warehouse, "in_treatment", "2024-01-01", "2024-12-31", filters={"programme": [programme]}
            )
        )
        assert alone["numerator"] == shown


def test_a_row_is_hidden_for_its_own_perturbed_counts_only(warehouse) -> None:
    # By programme and quarter, the perturbed 2023 complement of PG1 (18 of 20) is small, so that row is
    # hidden as a small count; no other row is hidden to protect it (no secondary suppression under
    # perturbation), so each row is hidden exactly when the same cell, asked for as the headline of
    # the view filtered to it, is hidden.
    frame = compute_metric(
        warehouse, "waiting_over_3_weeks", "2023-01-01", "2024-12-31", by=["programme", "quarter"]
    )
    hidden = frame[frame["suppressed"]]
    assert len(hidden) >= 1 and hidden[["numerator", "denominator", "value"]].isna().all().all()
    assert set(hidden["suppressed_reason"]) == {"small count"}
    for row in frame.itertuples():
        year, q = int(row.quarter[:4]), int(row.quarter[-1])
        first = pd.Timestamp(year, 3 * q - 2, 1)
        last = first + pd.offsets.QuarterEnd(0)
        alone = only_row(
            compute_metric(
                warehouse,
                "waiting_over_3_weeks",
                first.date(),
                last.date(),
                filters={"programme": [row.programme]},
            )
        )
        assert bool(alone["suppressed"]) == bool(row.suppressed), (row.programme, row.quarter)
        if not row.suppressed and row.denominator > 0:
            assert (alone["numerator"], alone["denominator"]) == (row.numerator, row.denominator)
    counts = compute_metric(
        warehouse,
        "waiting_over_3_weeks",
        "2023-01-01",
        "2024-12-31",
        by=["programme", "quarter"],
        suppress=False,
    )
    # Shared, every programme × every quarter of the period has a row (empty ones as zeros, so a missing
    # row never tells 0 from a perturbed 1-4); exact, only the cells with records.
    programmes = sorted(warehouse.sql("SELECT programme_id FROM stg_programmes")["programme_id"])
    quarters = [f"{y}-Q{q}" for y in (2023, 2024) for q in (1, 2, 3, 4)]
    assert list(zip(frame["programme"], frame["quarter"], strict=True)) == [
        (p, q) for p in programmes for q in quarters
    ]
    exact_cells = set(zip(counts["programme"], counts["quarter"], strict=True))
    assert exact_cells <= set(zip(frame["programme"], frame["quarter"], strict=True)) and len(counts) < len(
        frame
    )


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
    assert list(frame.columns) == [
        "numerator",
        "denominator",
        "value",
        "ci_low",
        "ci_high",
        "suppressed",
        "suppressed_reason",
    ]
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
        "relapse_tests",
        "time_to_relapse",
        "new_presentations",
        "continuity_of_care",
        "exit_reason_mix",
    }
    assert set(available_metrics()) == expected
    improvements = {m: describe_metric(m)["improvement"] for m in expected}
    assert improvements["retention_12wk"] == "up" and improvements["early_unplanned_exit"] == "down"
    assert improvements["representation_6m"] == "down" and improvements["deaths_in_treatment"] == "down"
    assert improvements["waiting_over_3_weeks"] == "down" and improvements["peer_contact_share"] == "up"
    assert improvements["in_treatment"] is None
    assert improvements["relapse_tests"] == "down" and improvements["time_to_relapse"] == "up"
    relapse = {"grace_weeks": 3, "run_length": 4, "window_weeks": 24}  # METRICS.md v2's defaults
    assert describe_metric("relapse_tests")["parameters"] == describe_metric("time_to_relapse")["parameters"]
    assert describe_metric("relapse_tests")["parameters"] == relapse
    assert describe_metric("retention_12wk")["parameters"] == {}
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
    assert dimension_labels(warehouse, "sex")["unknown"] == "Not known"  # a fixed vocabulary's labels
    assert dimension_labels(warehouse, "quarter") == {}  # its codes are its labels
    with pytest.raises(ValueError):
        dimension_labels(warehouse, "colour")
