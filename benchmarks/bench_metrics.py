"""Benchmark the metric layer: every metric by programme × quarter over a year, against its bare SQL.

Usage::

    .venv/bin/python benchmarks/bench_metrics.py WAREHOUSE.duckdb [--runs 5] [--csv out.csv]

For each metric it times `compute_metric(..., by=["programme", "quarter"])` (SQL, fetch, Wilson / KM,
disclosure control) and the bare DuckDB query the same call runs (the same SQL text and parameters,
fetched into pandas, without the Python post-processing), each as the median of ``--runs`` runs after one
warm-up, and reports time, bare time and their ratio. Targets: < 0.5 s per metric and ≤ 2× the bare SQL.

The period is the year ending at the warehouse's as_of (for completion_no_representation, the year
ending 182 days earlier, as the metric needs that follow-up).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

from pipelines.metrics import available_metrics, compute_metric, extract_as_of, get_metric
from pipelines.metrics.query import build_metric_query
from pipelines.stats import Z95
from pipelines.warehouse import open_warehouse

BY = ["programme", "quarter"]
TARGET_SECONDS = 0.5
TARGET_RATIO = 2.0


def _median_time(run, runs: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--csv", type=Path, default=None)
    args = parser.parse_args(argv)

    warehouse = open_warehouse(args.warehouse)
    cursor = warehouse.cursor()
    as_of = extract_as_of(cursor)
    counts = {
        t: cursor.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("people", "episodes", "contacts", "assessments")
    }
    print(f"warehouse {args.warehouse}: as_of {as_of}; " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    print(f"by {BY}, median of {args.runs} runs\n")
    print(f"{'metric':<30} {'rows':>6} {'time s':>8} {'bare s':>8} {'ratio':>6}  ok   {'no-suppr s':>10}")

    rows = []
    for name in available_metrics():
        metric = get_metric(name)
        end = as_of - timedelta(days=metric.needs_follow_up_days)
        start = end.replace(year=end.year - 1) + timedelta(days=1)
        query = build_metric_query(metric, BY)
        params = query.parameters({"period_start": start, "period_end": end, "as_of": as_of, "z": Z95})

        result = compute_metric(warehouse, name, start, end, by=BY)
        api_time = _median_time(
            lambda n=name, s=start, e=end: compute_metric(warehouse, n, s, e, by=BY), args.runs
        )
        unsuppressed_time = _median_time(
            lambda n=name, s=start, e=end: compute_metric(warehouse, n, s, e, by=BY, suppress=False),
            args.runs,
        )
        bare_time = _median_time(lambda q=query, p=params: cursor.execute(q.sql, p).df(), args.runs)
        ratio = api_time / bare_time
        ok = api_time < TARGET_SECONDS and ratio <= TARGET_RATIO
        rows.append(
            {
                "metric": name,
                "rows": len(result),
                "seconds": api_time,
                "bare_seconds": bare_time,
                "ratio": ratio,
                "ok": ok,
                "unsuppressed_seconds": unsuppressed_time,
            }
        )
        print(
            f"{name:<30} {len(result):>6} {api_time:>8.3f} {bare_time:>8.3f} {ratio:>6.2f}  "
            f"{'yes' if ok else 'NO ':<3}  {unsuppressed_time:>10.3f}"
        )

    if args.csv:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.csv, index=False)
    warehouse.close()
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
