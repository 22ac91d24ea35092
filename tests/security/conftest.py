"""Fixtures of the security tests: the dashboard tests' small synthetic warehouse (built once per session)."""

from tests.dashboard.conftest import warehouse_path  # noqa: F401  (re-exported as a fixture)
