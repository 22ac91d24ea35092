"""The Relapse page: relapse from drug tests next to re-presentation, each with its definition, and the
drug-test section hidden (with a notice saying why) when the warehouse holds no drug tests.

The session's synthetic warehouse has no drug tests (the generator simulates none). A second warehouse
is the same extract with weekly opiate tests added for every opiate episode (`_with_drug_tests`), so
that the drug-test charts have something to draw.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import ids
from dashboard.filters import FilterState, default_state
from dashboard.pages import relapse
from dashboard.pages.common import missing_notice
from dashboard.queries import DashboardData
from pipelines.load import load_extracts
from pipelines.metrics import compute_metric


def _with_drug_tests(extract: Path, out: Path, seed: int = 10) -> Path:
    """`extract` plus drug_tests.csv: for each opiate episode, an opiates test in each of its first 26
    weeks from referral (none after as_of), missed one week in five, positive with a chance that differs
    by programme."""
    shutil.copytree(extract, out)
    as_of = date.fromisoformat(json.loads((extract / "extract.json").read_text())["as_of"])
    episodes = pd.read_csv(extract / "episodes.csv", dtype=str)
    episodes = episodes[episodes["substance_group"] == "opiate"]
    rng = np.random.default_rng(seed)
    chance = {p: rng.uniform(0.1, 0.5) for p in sorted(episodes["programme_id"].unique())}
    rows = []
    for e in episodes.itertuples():
        referral = date.fromisoformat(e.referral_date)
        for week in range(26):
            when = referral + timedelta(days=7 * week + int(rng.integers(0, 7)))
            if when > as_of or rng.random() < 0.2:
                continue
            result = "positive" if rng.random() < chance[e.programme_id] else "negative"
            rows.append((f"{e.episode_id}-w{week}", e.person_id, e.episode_id, when.isoformat(), result))
    frame = pd.DataFrame(rows, columns=["test_id", "person_id", "episode_id", "test_date", "result"])
    frame.insert(4, "sample", "urine")
    frame.insert(5, "substance", "opiates")
    frame.to_csv(out / "drug_tests.csv", index=False)
    return out


@pytest.fixture(scope="module")
def tested(warehouse_path: Path, tmp_path_factory: pytest.TempPathFactory) -> DashboardData:
    root = tmp_path_factory.mktemp("relapse-page")
    extract = _with_drug_tests(warehouse_path.parent / "extract", root / "extract")
    db = root / "tested.duckdb"
    result = load_extracts([extract], db, quiet=True, max_rejected=0)
    assert result.loaded["drug_tests"] > 1000
    data = DashboardData(db)
    yield data
    data.close()


def _layout_text(data: DashboardData) -> str:
    return json.dumps(relapse.layout(data).to_plotly_json(), default=lambda o: o.to_plotly_json())


def _chart_id(name: str) -> str:
    return json.dumps(ids.chart(ids.CHART_GRAPH, name))[1:-1]  # as the layout's JSON writes the id


def test_without_drug_tests_the_page_shows_re_presentation_and_says_why(data: DashboardData) -> None:
    assert not relapse.has_drug_tests(data)
    text = _layout_text(data)
    assert "relapse_tests_by_programme" not in text and "time_to_relapse_km" not in text
    assert "representation_6m_spc" in text and "time_to_representation_km" in text
    assert "the English relapse proxy" in text  # re-presentation is labelled with its definition
    notice = json.dumps(missing_notice(data, relapse.NEEDS).to_plotly_json(), default=str)
    assert "This warehouse holds no drug tests, so relapse from drug tests" in notice


def test_with_drug_tests_both_definitions_stand_side_by_side(tested: DashboardData) -> None:
    assert relapse.has_drug_tests(tested)
    text = _layout_text(tested)
    for name in ("relapse_tests_by_programme", "time_to_relapse_km", "representation_6m_spc"):
        assert name in text, name
    assert relapse.TESTS_DEFINITION[:60] in text and relapse.REPRESENTATION_DEFINITION[:60] in text
    assert ids.RELAPSE_TESTS_KM_BY in text
    assert missing_notice(tested, relapse.NEEDS) is None  # nothing this page needs is missing
    # The Data page counts the drug tests too (and leaves an optional table out only when it is empty).
    assert "drug_tests" in set(tested.completeness()["table"])
    assert "drug_tests" in set(tested.latest_load_by_table()["table"])


def test_the_drug_test_charts_draw_from_the_shared_metric_tables(tested: DashboardData) -> None:
    state: FilterState = default_state(tested.as_of(), tested.dates()[0])
    chart = relapse.CHARTS["relapse_tests_by_programme"]
    table = chart.table(tested, state, {})
    shared = compute_metric(
        tested.warehouse, "relapse_tests", state.start, state.end, by=["programme"], threshold=5
    )
    pd.testing.assert_frame_equal(
        table.drop(columns=["programme_name"]).reset_index(drop=True), shared, check_dtype=False
    )
    shown = table.loc[~table["suppressed"] & (table["denominator"] >= 10)]
    assert len(shown) >= 2 and shown["value"].between(0, 1).all()
    for column in ("numerator", "denominator"):
        values = pd.to_numeric(table[column], errors="coerce").dropna()
        assert not ((values >= 1) & (values <= 4)).any()
    assert isinstance(chart.figure(tested, table, state, {}), go.Figure)

    km = relapse.CHARTS["time_to_relapse_km"]
    for split in ("all", "programme"):
        curve = km.table(tested, state, {ids.RELAPSE_TESTS_KM_BY: split})
        assert (curve["t"] % 28 == 0).all()  # shared curves are on the 28-day grid
        assert curve.loc[curve["t"] == 0, "n_at_risk"].min() >= 20
        km.figure(tested, curve, state, {ids.RELAPSE_TESTS_KM_BY: split}).to_json()
