"""Benchmark the metric layer: every metric by programme × quarter over a year, against its bare SQL.

Usage::

    .venv/bin/python benchmarks/bench_metrics.py WAREHOUSE.duckdb [--runs 5] [--csv out.csv]

For each metric it times `compute_metric(..., by=["programme", "quarter"])` (SQL, fetch, Wilson / KM,
disclosure control) and the bare DuckDB query the same call runs (the same SQL text and parameters,
fetched into pandas, without the Python post-processing), each as the median of ``--runs`` runs after one
warm-up, and reports time, bare time and their ratio. Targets: < 0.5 s per metric and ≤ 2× the bare SQL.

The period is the year ending at the warehouse's as_of (for completion_no_representation, the year
ending 182 days earlier, as the metric needs that follow-up).

Then, for the people-based metrics, the 24-month `metric_series` the dashboard's SPC charts and tiles
ask for (one query for all months) against the same months computed one `compute_metric` call per month
(how the series used to be computed), unfiltered and filtered to one setting.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from pipelines.metrics import available_metrics, compute_metric, extract_as_of, get_metric, metric_series
from pipelines.metrics.query import build_metric_query
from pipelines.metrics.registry import resolve_parameters
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


def _month_by_month(warehouse, name: str, start: date, end: date, as_of: date, filters) -> None:
    """The months of a series as separate compute_metric calls (the reference the series is tested
    against in tests/metrics/test_series_one_query.py)."""
    follow_up = timedelta(days=get_metric(name).needs_follow_up_days)
    first = start
    while first <= end:
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        if last + follow_up <= as_of:
            compute_metric(warehouse, name, first, min(last, end), filters=filters)
        first = last + timedelta(days=1)


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
        defaults = resolve_parameters(metric)  # its own parameters (relapse_tests), at their defaults
        values = {"period_start": start, "period_end": end, "as_of": as_of, "z": Z95, **defaults}
        params = query.parameters(values)

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

    print(f"\n24-month series of people-based metrics, median of {args.runs} runs")
    print(f"{'metric':<30} {'filter':<20} {'one query s':>11} {'per month s':>11}")
    end = as_of.replace(day=1) - timedelta(days=1)
    start = date(end.year - 2, end.month, 1) + timedelta(days=32)
    start = start.replace(day=1)
    for name in ("in_treatment", "deaths_in_treatment", "completion_no_representation", "peer_reach"):
        for filters in (None, {"setting": ["community"]}):
            one = _median_time(
                lambda n=name, f=filters: metric_series(warehouse, n, start, end, filters=f), args.runs
            )
            per_month = _median_time(
                lambda n=name, f=filters: _month_by_month(warehouse, n, start, end, as_of, f), args.runs
            )
            label = ",".join(f"{k}={v[0]}" for k, v in (filters or {}).items()) or "-"
            print(f"{name:<30} {label:<20} {one:>11.3f} {per_month:>11.3f}")

    if args.csv:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.csv, index=False)
    warehouse.close()
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
