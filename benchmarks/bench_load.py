"""Benchmark: `load_extracts` against DuckDB alone reading the same Parquet files.

The acceptance target: loading an extract of 200,000 people (~400,000 episodes, ~8 million
contacts) in Parquet takes at most 3× the time DuckDB takes to read the same files into tables
(`CREATE TABLE t AS SELECT * FROM read_parquet(...)`, one fresh database), with peak memory under
4 GB. Each side runs in its own Python process, which reports its wall time and peak RSS
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`).

    .venv/bin/python benchmarks/bench_load.py                 # generates benchmarks/out/extract-200k-parquet
    .venv/bin/python benchmarks/bench_load.py /tmp/bench200k  # an existing extract folder
    .venv/bin/python benchmarks/bench_load.py --repeat 3      # median of three runs each

Prints a small table and writes the numbers to benchmarks/out/bench_load.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
ROOT = HERE.parent

DUCKDB_ALONE = r"""
import json, resource, sys, time
import duckdb
from pipelines.contract import REQUIRED_TABLES
extract, db = sys.argv[1], sys.argv[2]
started = time.perf_counter()
con = duckdb.connect(db)
for table in REQUIRED_TABLES:
    con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{extract}/{table}.parquet')")
con.execute("CHECKPOINT")
con.close()
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

LOAD = r"""
import json, resource, sys, time
from pathlib import Path
from pipelines.load import load_extracts
extract, db = sys.argv[1], sys.argv[2]
started = time.perf_counter()
result = load_extracts([Path(extract)], Path(db), quiet=True)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "timings": result.timings, "loaded": result.loaded, "rejected": result.rejected}))
"""


def _run(code: str, extract: Path, db: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code, str(extract), str(db)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def ensure_extract(path: Path | None, people: int, seed: int) -> Path:
    """The extract to benchmark: `path`, or a generated Parquet extract of `people` people."""
    if path is not None:
        return path
    target = OUT / f"extract-{people // 1000}k-parquet"
    if not (target / "extract.json").exists():
        from pipelines.generate import generate_extract

        print(f"generating {people:,} people into {target} ...", flush=True)
        generate_extract(target, people=people, seed=seed, fmt="parquet")
    return target


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("extract", nargs="?", type=Path, help="extract folder (Parquet)")
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=20260331)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)

    extract = ensure_extract(args.extract, args.people, args.seed)
    OUT.mkdir(parents=True, exist_ok=True)
    duckdb_runs, load_runs = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(dir=OUT) as scratch:
            duckdb_runs.append(_run(DUCKDB_ALONE, extract, Path(scratch) / "duckdb-alone.duckdb"))
        with tempfile.TemporaryDirectory(dir=OUT) as scratch:
            load_runs.append(_run(LOAD, extract, Path(scratch) / "warehouse.duckdb"))

    duckdb_seconds = statistics.median(r["seconds"] for r in duckdb_runs)
    load_seconds = statistics.median(r["seconds"] for r in load_runs)
    last = load_runs[-1]
    derived_seconds = last["timings"].get("building", 0.0)
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "extract": str(extract),
        "rows": last["loaded"],
        "rejected": last["rejected"],
        "repeat": args.repeat,
        "duckdb_alone_seconds": round(duckdb_seconds, 2),
        "load_seconds": round(load_seconds, 2),
        "duckdb_alone_runs_seconds": [round(r["seconds"], 2) for r in duckdb_runs],
        "load_runs_seconds": [round(r["seconds"], 2) for r in load_runs],
        "ratio": round(load_seconds / duckdb_seconds, 2),
        "load_without_derived_seconds": round(load_seconds - derived_seconds, 2),
        "ratio_without_derived": round((load_seconds - derived_seconds) / duckdb_seconds, 2),
        "load_peak_rss_mb": round(max(r["peak_rss_mb"] for r in load_runs)),
        "duckdb_alone_peak_rss_mb": round(max(r["peak_rss_mb"] for r in duckdb_runs)),
        "load_phases_seconds": {k: round(v, 2) for k, v in last["timings"].items()},
        "target": "load_seconds <= 3 x duckdb_alone_seconds, load_peak_rss_mb < 4096",
    }
    result["meets_target"] = result["ratio"] <= 3 and result["load_peak_rss_mb"] < 4096

    rows = [
        (
            "DuckDB alone (CTAS from read_parquet)",
            f"{duckdb_seconds:8.2f} s",
            f"{result['duckdb_alone_peak_rss_mb']:>6,} MB",
        ),
        ("load_extracts", f"{load_seconds:8.2f} s", f"{result['load_peak_rss_mb']:>6,} MB"),
        ("  of which derived tables", f"{derived_seconds:8.2f} s", ""),
        ("ratio (target <= 3)", f"{result['ratio']:8.2f}", ""),
        ("ratio without derived tables", f"{result['ratio_without_derived']:8.2f}", ""),
    ]
    print(f"extract: {extract}  ({sum(result['rows'].values()):,} rows)")
    for label, a, b in rows:
        print(f"  {label:<40} {a:>12} {b:>10}")
    print(
        "  runs: DuckDB alone "
        + ", ".join(f"{s:.2f}" for s in result["duckdb_alone_runs_seconds"])
        + " s; load_extracts "
        + ", ".join(f"{s:.2f}" for s in result["load_runs_seconds"])
        + " s"
    )
    print("  phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in result["load_phases_seconds"].items()))
    (OUT / "bench_load.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT / 'bench_load.json'}")
    return result


if __name__ == "__main__":
    main()
