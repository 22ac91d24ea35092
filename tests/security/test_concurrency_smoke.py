"""Concurrent users, short form: the load script against gunicorn with 2 workers, 5 clients for 5 s, on
the small test warehouse, with no errors. The full run (20 clients, 60 s) is
``benchmarks/bench_concurrency.py``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_concurrency.py"


@pytest.mark.slow
def test_two_workers_answer_five_clients_without_errors(warehouse_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench_concurrency.json"
    command = [
        sys.executable,
        str(SCRIPT),
        str(warehouse_path),
        "--seconds",
        "5",
        "--clients",
        "5",
        "--workers",
        "2",
        "--max-requests",
        "5000",
        "--out",
        str(out),
    ]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["errors"] == 0 and report["errors_by_type"] == {}
    assert report["workers"] == 2 and report["clients"] == 5
    kinds = report["latency"]["by_kind"]
    assert {"page", "sync", "router", "chart"} <= set(kinds), kinds
    assert report["requests"] >= 20 and kinds["chart"]["n"] >= 5
    overall = report["latency"]["overall"]
    assert 0 < overall["p50_ms"] <= overall["p95_ms"] <= overall["p99_ms"] <= overall["max_ms"]
