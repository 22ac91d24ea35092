"""Fixtures of the dashboard tests: a small synthetic warehouse, built once per session."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # selenium 4.2 (pinned by dash[testing]) pulls in urllib3[secure], which warns when imported;
    # importing it here, once, keeps that import-time warning out of the tests (warnings are errors).
    warnings.simplefilter("ignore", DeprecationWarning)
    import dash  # noqa: F401

from dashboard.filters import FilterState, default_state  # noqa: E402
from dashboard.queries import DashboardData  # noqa: E402

PEOPLE = 800
SEED = 4


@pytest.fixture(scope="session")
def warehouse_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.generate import generate_extract
    from pipelines.load import load_extracts

    root = tmp_path_factory.mktemp("dashboard-warehouse")
    generate_extract(root / "extract", people=PEOPLE, seed=SEED)
    db = root / "rosc.duckdb"
    load_extracts([root / "extract"], db, quiet=True)
    return db


@pytest.fixture(scope="session")
def data(warehouse_path: Path) -> DashboardData:
    dashboard_data = DashboardData(warehouse_path)
    yield dashboard_data
    dashboard_data.close()


@pytest.fixture(scope="session")
def state(data: DashboardData) -> FilterState:
    return default_state(data.as_of(), data.dates()[0])  # financial year 2025-26
