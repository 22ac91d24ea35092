"""Benchmark: how the product's costs grow with the number of people (issue 14).

For each size (default 200,000, 1,000,000 and 2,000,000 people) it generates a Parquet extract (or uses
one given with ``--extract N=DIR``) under ``--scratch`` (default /tmp/bench-scale), then measures, each
step in its own child process so its peak memory is its own (``resource.getrusage(RUSAGE_SELF)
.ru_maxrss``):

1. **Load**: ``load_extracts`` into a fresh warehouse, against DuckDB alone reading the same Parquet into
   tables (``CREATE TABLE t AS SELECT * FROM read_parquet``), alternating, ``--repeat`` times each;
   medians, the ratio of medians, and the load's peak RSS (target: ratio <= 1.5 at 200k and 1M; peak
   < 3 GB at 2M).
2. **Metrics**: every metric by programme for one financial-year quarter (the latest whose follow-up
   ``as_of`` allows), as the dashboard asks (perturbed and suppressed): the first call and the median of
   ``--runs`` more (target < 0.5 s at 2M).
3. **Dashboard**: ``benchmarks/bench_dashboard.py`` on the loaded warehouse (one gunicorn worker, a fresh
   shared result cache): filter-change p50/p95 over ``--requests`` callbacks (target p95 < 0.3 s at 200k,
   < 1 s at 2M), and the first page loads.

Writes ``benchmarks/out/bench_scale.json`` and a Markdown table ``benchmarks/out/bench_scale.md`` (for the
README), with the load average (``os.getloadavg``) before and after each size: the machine is shared.
Extracts and warehouses it generated are deleted after each size unless ``--keep``.

    .venv/bin/python benchmarks/bench_scale.py --sizes 200000 --extract 200000=/tmp/bench200k
    .venv/bin/python benchmarks/bench_scale.py --sizes 200000,1000000,2000000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from bench_load import DUCKDB_ALONE, LOAD  # noqa: E402  (the same two child programs as bench_load)

GENERATE = r"""
import json, resource, sys, time
from pathlib import Path
from pipelines.generate import generate_extract
started = time.perf_counter()
generate_extract(Path(sys.argv[1]), people=int(sys.argv[2]), seed=int(sys.argv[3]), fmt="parquet")
print(json.dumps({"seconds": time.perf_counter() - started,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

METRICS = r"""
import json, resource, statistics, sys, time
from datetime import timedelta
from pathlib import Path
from dashboard.periods import Month, financial_quarter, financial_year_of
from pipelines.metrics import available_metrics, compute_metric, extract_as_of, get_metric
from pipelines.warehouse import open_warehouse

db, runs = Path(sys.argv[1]), int(sys.argv[2])
warehouse = open_warehouse(db)
as_of = extract_as_of(warehouse.cursor())
out = {}
for name in available_metrics():
    latest = as_of - timedelta(days=get_metric(name).needs_follow_up_days)
    month = Month.of(latest)
    year = financial_year_of(month)
    quarters = [financial_quarter(y, q) for y in (year, year - 1) for q in (4, 3, 2, 1)]
    period = next(p for p in quarters if p.end <= latest)
    started = time.perf_counter()
    table = compute_metric(warehouse, name, period.start, period.end, by=["programme"])
    first = time.perf_counter() - started
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        compute_metric(warehouse, name, period.start, period.end, by=["programme"])
        times.append(time.perf_counter() - started)
    out[name] = {"period": f"{period.start}..{period.end}", "rows": len(table), "first_seconds": first,
                 "median_seconds": statistics.median(times), "max_seconds": max(times)}
warehouse.close()
print(json.dumps({"metrics": out, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

LOAD_RATIO_TARGET = 1.5
PEAK_MB_TARGET = 3 * 1024
METRIC_SECONDS_TARGET = 0.5


def _child(code: str, *args: object, env: dict[str, str] | None = None) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def measure_size(people: int, extract: Path | None, args: argparse.Namespace) -> dict:
    """Every measurement of one size."""
    row: dict = {"people": people, "load_average_before": load_average()}
    scratch = args.scratch / f"{people}"
    scratch.mkdir(parents=True, exist_ok=True)
    generated = extract is None
    if extract is None:
        extract = scratch / "extract"
        if not (extract / "extract.json").exists():
            print(f"[{people:,}] generating into {extract} ...", flush=True)
            row["generate"] = _child(GENERATE, extract, people, args.seed)
    if not any(extract.glob("*.parquet")):
        raise SystemExit(f"{extract}: no Parquet files")
    row["extract"] = str(extract)
    row["extract_mb"] = round(sum(p.stat().st_size for p in extract.glob("*.parquet")) / 2**20)

    duckdb_runs, load_runs = [], []
    db = scratch / "warehouse.duckdb"
    for i in range(args.repeat):
        print(f"[{people:,}] DuckDB alone, run {i + 1} ...", flush=True)
        alone = scratch / "duckdb-alone.duckdb"
        duckdb_runs.append(_child(DUCKDB_ALONE, extract, alone))
        alone.unlink(missing_ok=True)
        print(f"[{people:,}] load_extracts, run {i + 1} ...", flush=True)
        for leftover in scratch.glob("warehouse.duckdb*"):
            leftover.unlink()
        load_runs.append(_child(LOAD, extract, db))
    row["duckdb_alone_seconds"] = statistics.median(r["seconds"] for r in duckdb_runs)
    row["load_seconds"] = statistics.median(r["seconds"] for r in load_runs)
    row["load_runs_seconds"] = [r["seconds"] for r in load_runs]
    row["duckdb_alone_runs_seconds"] = [r["seconds"] for r in duckdb_runs]
    row["load_ratio"] = row["load_seconds"] / row["duckdb_alone_seconds"]
    row["load_peak_rss_mb"] = max(r["peak_rss_mb"] for r in load_runs)
    row["duckdb_alone_peak_rss_mb"] = max(r["peak_rss_mb"] for r in duckdb_runs)
    row["load_phases_seconds"] = load_runs[-1]["timings"]
    row["rows"] = load_runs[-1]["loaded"]
    row["warehouse_mb"] = round(db.stat().st_size / 2**20)

    print(f"[{people:,}] metrics by programme x quarter ...", flush=True)
    metrics = _child(METRICS, db, args.runs, env={"ROSC_RESULT_CACHE": "off"})
    row["metrics"] = metrics["metrics"]
    row["metrics_peak_rss_mb"] = metrics["peak_rss_mb"]

    if args.requests:
        print(f"[{people:,}] dashboard, one worker, {args.requests} filter changes ...", flush=True)
        numbers = scratch / "bench_dashboard.json"
        cache = scratch / "results.sqlite3"
        for leftover in scratch.glob("results.sqlite3*"):
            leftover.unlink()
        subprocess.run(
            [sys.executable, str(HERE / "bench_dashboard.py"), str(db), "--requests", str(args.requests)]
            + ["--json", str(numbers)],
            cwd=ROOT,
            check=False,  # it exits 1 when its own targets are not met; the numbers are what count here
            env={**os.environ, "ROSC_RESULT_CACHE": str(cache)},
            stdout=sys.stdout,
        )
        row["dashboard"] = json.loads(numbers.read_text(encoding="utf-8")) if numbers.exists() else None
    row["load_average_after"] = load_average()
    if not args.keep:
        if generated:
            shutil.rmtree(scratch)
        else:
            for path in scratch.glob("*"):
                path.unlink()
    return row


def markdown(rows: list[dict]) -> str:
    """The table for the README: one column per size."""
    sizes = [f"{r['people']:,} people" for r in rows]

    def line(label: str, cells: list[str]) -> str:
        return f"| {label} | " + " | ".join(cells) + " |"

    def seconds(value: float | None) -> str:
        return "–" if value is None else (f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.0f} ms")

    out = [line("", sizes), "|---|" + "---:|" * len(rows)]
    out.append(line("contacts", [f"{r['rows'].get('contacts', 0):,}" for r in rows]))
    out.append(line("load (median)", [seconds(r["load_seconds"]) for r in rows]))
    out.append(line("DuckDB alone (median)", [seconds(r["duckdb_alone_seconds"]) for r in rows]))
    out.append(line("load ratio (target ≤ 1.5)", [f"{r['load_ratio']:.2f}×" for r in rows]))
    out.append(
        line("load peak RSS (target < 3 GB)", [f"{r['load_peak_rss_mb'] / 1024:.2f} GB" for r in rows])
    )
    out.append(line("warehouse file", [f"{r['warehouse_mb']:,} MB" for r in rows]))
    names = list(rows[0]["metrics"])
    slowest = [max(r["metrics"].values(), key=lambda m: m["median_seconds"])["median_seconds"] for r in rows]
    out.append(line("slowest metric by programme × quarter (target < 0.5 s)", [seconds(s) for s in slowest]))
    for name in names:
        out.append(line(f"`{name}`", [seconds(r["metrics"][name]["median_seconds"]) for r in rows]))

    def dash(key: str) -> list[str]:
        return [seconds(r["dashboard"][key]) if r.get("dashboard") else "–" for r in rows]

    out.append(line("filter change p50, one worker", dash("filter_change_p50_seconds")))
    out.append(
        line(
            "filter change p95, one worker (target < 0.3 s at 200k, < 1 s at 2M)",
            dash("filter_change_p95_seconds"),
        )
    )
    out.append(line("first Overview, default view", dash("first_load_seconds")))
    out.append(line("first Overview, a view nothing has cached", dash("first_load_uncached_seconds")))
    out.append(
        line(
            "load average before → after",
            [f"{r['load_average_before']} → {r['load_average_after']}" for r in rows],
        )
    )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="200000,1000000,2000000", help="people per size, comma-separated")
    parser.add_argument(
        "--extract", action="append", default=[], help="N=DIR: an existing extract of N people"
    )
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/bench-scale"))
    parser.add_argument("--seed", type=int, default=20260331)
    parser.add_argument("--repeat", type=int, default=1, help="load and DuckDB-alone runs each (alternating)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each metric after the first")
    parser.add_argument("--requests", type=int, default=100, help="dashboard filter changes (0: skip)")
    parser.add_argument("--keep", action="store_true", help="keep generated extracts and warehouses")
    parser.add_argument("--out", type=Path, default=OUT / "bench_scale.json")
    args = parser.parse_args(argv)

    given = {int(n): Path(d) for n, d in (item.split("=", 1) for item in args.extract)}
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for people in sizes:
        rows.append(measure_size(people, given.get(people), args))
        result = {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "sizes": rows,
        }
        args.out.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")  # after each size
        table = markdown(rows)
        args.out.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
