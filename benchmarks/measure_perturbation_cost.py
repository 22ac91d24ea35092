"""What cell-key perturbation costs in accuracy: shared values against exact ones, on a real warehouse.

    .venv/bin/python benchmarks/measure_perturbation_cost.py WAREHOUSE.duckdb

For every proportion metric, over the year ending at as_of (for completion_no_representation, the year
ending 182 days before), it computes the metric exactly (``suppress=False``) and as shared
(``suppress=True``: perturbed, then suppressed), for the whole system, by programme (the funnel plot)
and by programme × quarter, and
reports, over the cells shown, the mean and the largest absolute difference of the rate in percentage
points and of the denominator, and how many cells were suppressed. Writes
benchmarks/out/perturbation_cost.csv.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pipelines.metrics import available_metrics, compute_metric, extract_as_of, get_metric  # noqa: E402
from pipelines.warehouse import open_warehouse  # noqa: E402


def measure(warehouse, name: str, by: list[str]) -> dict[str, object]:
    metric = get_metric(name)
    as_of = extract_as_of(warehouse)
    end = as_of - timedelta(days=max(metric.needs_follow_up_days, 84 if "84" in metric.definition else 0))
    start = end - timedelta(days=364)
    exact = compute_metric(warehouse, name, start, end, by=by or None, suppress=False)
    shared = compute_metric(warehouse, name, start, end, by=by or None)
    shown = ~shared["suppressed"].to_numpy() & (shared["denominator"].fillna(0).to_numpy() > 0)
    shown &= exact["denominator"].to_numpy() > 0
    rate = (shared["value"].to_numpy(dtype=float) - exact["value"].to_numpy(dtype=float))[shown] * 100
    den = (shared["denominator"].to_numpy(dtype=float) - exact["denominator"].to_numpy(dtype=float))[shown]
    size = exact["denominator"].to_numpy(dtype=float)[shown]
    return {
        "metric": name,
        "by": " × ".join(by) or "whole system",
        "cells": len(shared),
        "suppressed": int(shared["suppressed"].sum()),
        "median denominator": float(np.median(size)) if len(size) else np.nan,
        "mean |Δ rate| (points)": float(np.mean(np.abs(rate))) if len(rate) else np.nan,
        "max |Δ rate| (points)": float(np.max(np.abs(rate))) if len(rate) else np.nan,
        "mean |Δ denominator|": float(np.mean(np.abs(den))) if len(den) else np.nan,
        "max |Δ denominator|": float(np.max(np.abs(den))) if len(den) else np.nan,
    }


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("warehouse", type=Path)
    args = parser.parse_args(argv)
    warehouse = open_warehouse(args.warehouse)
    rows = []
    try:
        for name in available_metrics():
            if get_metric(name).statistic != "proportion":
                continue
            for by in ([], ["programme"], ["programme", "quarter"]):
                rows.append(measure(warehouse, name, by))
    finally:
        warehouse.close()
    table = pd.DataFrame(rows)
    (HERE / "out").mkdir(exist_ok=True)
    table.to_csv(HERE / "out" / "perturbation_cost.csv", index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 2):
        print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
