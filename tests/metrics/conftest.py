"""Fixtures of the metric tests: `make_warehouse` builds a hand-written extract into a warehouse file."""

from tests.metrics.builders import make_warehouse  # noqa: F401  (a module-scoped fixture)
