"""ROSC outcomes pipelines: the extract contract, its validation and loading into DuckDB, and the
metric layer shared by the dashboard, the notebooks and the `rosc` command line."""

from pipelines.warehouse import Warehouse, open_warehouse

__all__ = ["Warehouse", "open_warehouse"]
