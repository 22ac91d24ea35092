"""Benchmark: reading and loading the same extract as real systems write it.

Writes the committed 3,000-person sample (`data/sample/`) as an Excel workbook (one sheet per table),
as Excel's CSV on Windows (cp1252, dd/mm/yyyy) and as the NDTMS-style export of
`data/examples/ndtms.toml`, with the writers of the realistic-exports corpus (`tests/exports/writers.py`),
then times, for each and for the contract-exact CSV files, reading every table through the source
adapters (`pipelines.checks.read_extracts`) and a whole `load_extracts` into a fresh warehouse.
Each measurement is the median of `--repeat` runs in this process.

    .venv/bin/python benchmarks/bench_sources.py --repeat 3

Prints a table and writes benchmarks/out/bench_sources.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(ROOT))

from pipelines.checks import read_extracts  # noqa: E402
from pipelines.load import load_extracts  # noqa: E402
from pipelines.progress import Progress  # noqa: E402
from pipelines.sources import ReadOptions, load_profile, locate_extract  # noqa: E402
from tests.exports.writers import (  # noqa: E402
    NDTMS_PROFILE,
    write_ndtms_style,
    write_windows_csv,
    write_workbook,
)

SAMPLE = ROOT / "data" / "sample"
AS_OF = date.fromisoformat(json.loads((SAMPLE / "extract.json").read_text())["as_of"])


def _median_seconds(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    results = {}
    with tempfile.TemporaryDirectory(dir=OUT) as scratch:
        root = Path(scratch)
        ndtms = load_profile(NDTMS_PROFILE)
        cases = {
            "contract CSV": (SAMPLE, ReadOptions(), None),
            "Excel workbook (.xlsx)": (write_workbook(SAMPLE, root / "xlsx"), ReadOptions(), None),
            "Excel CSV on Windows": (
                write_windows_csv(SAMPLE, root / "windows"),
                ReadOptions(date_format="%d/%m/%Y", encoding="cp1252"),
                None,
            ),
            "NDTMS-style, mapped": (write_ndtms_style(SAMPLE, root / "ndtms"), ReadOptions(), ndtms),
        }
        for name, (folder, options, profile) in cases.items():
            extract = locate_extract(folder, profile)

            def read(extract=extract, options=options) -> None:
                with Progress(True, None, 0) as progress:
                    read_extracts([extract], options, progress, AS_OF)

            def load(folder=folder, options=options, profile=profile) -> None:
                db = Path(tempfile.mkdtemp(dir=root)) / "warehouse.duckdb"
                result = load_extracts(
                    [folder], db, options=options, profile=profile, as_of=AS_OF, max_rejected=0
                )
                assert result.rows_rejected == 0, folder

            results[name] = {
                "read_seconds": _median_seconds(read, args.repeat),
                "load_seconds": _median_seconds(load, args.repeat),
                "bytes": sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file()),
            }
    print(f"{'the 3,000-person sample as':<26} {'files':>9} {'read':>8} {'load':>8}")
    for name, r in results.items():
        print(f"{name:<26} {r['bytes'] / 1e6:>7.1f}MB {r['read_seconds']:>7.2f}s {r['load_seconds']:>7.2f}s")
    (OUT / "bench_sources.json").write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
