"""Fixtures of the board-pack tests: the dashboard tests' small synthetic warehouse (800 people)."""

from tests.dashboard.conftest import data, state, warehouse_path  # noqa: F401  (re-exported as fixtures)
