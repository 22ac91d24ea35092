"""Labels, in one place (issue 12): every code of the contract's fixed vocabularies has a label, tables get
a name column beside each code column, `rosc metric` prints them, and the dashboard's filters, legends
and tables use the same words."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pipelines import contract
from pipelines.cli import main
from pipelines.metrics import (
    CODE_LABELS,
    all_labels,
    code_label,
    compute_metric,
    dimension_labels,
    with_names,
)
from pipelines.metrics.registry import AGE_BANDS

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.load import load_extracts

    db = tmp_path_factory.mktemp("labels") / "rosc.duckdb"
    load_extracts([SAMPLE], db, quiet=True)
    return db


def test_every_code_of_every_fixed_vocabulary_has_its_own_label() -> None:
    vocabularies = {
        "setting": contract.SETTINGS,
        "substance_group": contract.SUBSTANCE_GROUPS,
        "sex": contract.SEXES,
        "age_band": AGE_BANDS,
        "discharge_reason": contract.DISCHARGE_REASONS,
        "outcome_group": tuple(dict.fromkeys(contract.OUTCOME_GROUPS.values())),
        "delivered_by": contract.DELIVERED_BY,
        "support_type": contract.SUPPORT_TYPES,
    }
    for dimension, codes in vocabularies.items():
        assert set(CODE_LABELS[dimension]) == set(codes), dimension
        labels = [CODE_LABELS[dimension][c] for c in codes]
        assert len(set(labels)) == len(labels), dimension  # no two codes read the same
        assert all("_" not in text for text in labels), dimension
    # OHID's words for the substance groups and the exit outcomes.
    assert CODE_LABELS["substance_group"]["non_opiate"] == "Non-opiate only"
    assert CODE_LABELS["substance_group"]["alcohol"] == "Alcohol only"
    assert CODE_LABELS["outcome_group"]["successful"] == "Successful completion"


def test_a_code_without_a_label_is_shown_as_written_never_guessed() -> None:
    assert code_label("setting", "inpatient_detox") == "Inpatient detox"
    assert code_label("setting", "hospital_wing") == "hospital_wing"
    assert code_label("month", "2025-04") == "2025-04"


def test_names_of_programmes_providers_and_areas_come_from_the_warehouse(sample_db: Path) -> None:
    from pipelines.warehouse import open_warehouse

    warehouse = open_warehouse(sample_db)
    programmes = warehouse.sql(
        "SELECT programme_id, programme_name, area_code, area_name FROM stg_programmes"
    )
    names = dimension_labels(warehouse, "programme")
    assert names == dict(zip(programmes["programme_id"], programmes["programme_name"], strict=True))
    assert all_labels(warehouse)["area"] == dict(
        zip(programmes["area_code"], programmes["area_name"], strict=True)
    )
    table = compute_metric(
        warehouse, "retention_12wk", "2025-04-01", "2026-03-31", by=["programme", "setting"]
    )
    named = with_names(table, warehouse)
    assert list(named.columns[:4]) == ["programme", "programme_name", "setting", "setting_name"]
    assert named["programme_name"].tolist() == [names[p] for p in table["programme"]]
    assert named["setting_name"].tolist() == [CODE_LABELS["setting"][s] for s in table["setting"]]
    assert named.attrs == table.attrs and len(named) == len(table)


def test_rosc_metric_prints_a_name_beside_each_code(sample_db: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "metric",
            "successful_completion",
            "--db",
            str(sample_db),
            "--from",
            "2025-04-01",
            "--to",
            "2026-03-31",
            "--by",
            "programme,substance_group",
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.output))
    assert list(table.columns[:4]) == [
        "programme",
        "programme_name",
        "substance_group",
        "substance_group_name",
    ]
    assert set(table["substance_group_name"]) == {
        "Opiate",
        "Non-opiate only",
        "Non-opiate and alcohol",
        "Alcohol only",
    }
    assert table["programme_name"].notna().all() and not table["programme_name"].str.match(r"PG\d").any()
