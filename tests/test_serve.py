"""`rosc serve` runs the dashboard under gunicorn with the workers and threads asked for, on 127.0.0.1 by
default: the real command is started, answers pages, and its process tree is gunicorn's master with that
many workers, every one listening on loopback only."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests
from click.testing import CliRunner

import pipelines.cli as cli
from dashboard.serve import server_options


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.generate import generate_extract
    from pipelines.load import load_extracts

    root = tmp_path_factory.mktemp("serve")
    generate_extract(root / "extract", people=200, seed=5)
    load_extracts([root / "extract"], root / "rosc.duckdb", quiet=True)
    return root / "rosc.duckdb"


@pytest.mark.slow
def test_rosc_serve_is_gunicorn_with_the_workers_asked_for(warehouse: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "ROSC_RESULT_CACHE": str(tmp_path / "results.sqlite3")}
    command = [sys.executable, "-m", "pipelines.cli", "serve", "--db", str(warehouse), "--port", str(port)]
    command += ["--workers", "3", "--threads", "2"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and status != 200:
            assert process.poll() is None, "rosc serve exited"
            try:
                status = requests.get(f"http://127.0.0.1:{port}/_dash-layout", timeout=5).status_code
            except requests.ConnectionError:
                time.sleep(0.3)
        assert status == 200
        master = psutil.Process(process.pid)
        workers = master.children()
        assert len(workers) == 3
        listening = [c for c in master.net_connections() if c.status == psutil.CONN_LISTEN]
        assert [c.laddr for c in listening] == [("127.0.0.1", port)]
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200 and "ROSC outcomes" in page.text
        # Every worker shares the result cache file beside the warehouse, made private to the app's user.
        assert (tmp_path / "results.sqlite3").stat().st_mode & 0o777 == 0o600
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    assert "gunicorn" in output.lower() and "3 workers x 2 threads" in output


def test_the_server_settings(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = server_options("127.0.0.1", 8050, workers=2, threads=4)
    assert options["bind"] == "127.0.0.1:8050" and options["workers"] == 2 and options["threads"] == 4
    assert options["worker_class"] == "gthread"  # threads need gunicorn's threaded worker
    assert server_options("127.0.0.1", 8050, workers=1, threads=1)["worker_class"] == "sync"
    with pytest.raises(ValueError):
        server_options("127.0.0.1", 8050, workers=0, threads=1)

    import dashboard.serve

    asked: list[dict] = []
    monkeypatch.setattr(dashboard.serve, "serve_dashboard", lambda db, **kw: asked.append({"db": db, **kw}))
    result = CliRunner().invoke(cli.main, ["serve", "--db", str(warehouse)])
    assert result.exit_code == 0, result.output
    defaults = {"host": "127.0.0.1", "port": 8050, "workers": 2, "threads": 1, "benchmarks": None}
    assert asked == [{"db": warehouse, **defaults}]
    result = CliRunner().invoke(cli.main, ["serve", "--db", str(warehouse.parent / "missing.duckdb")])
    assert result.exit_code != 0 and "missing.duckdb" in result.output and len(asked) == 1
