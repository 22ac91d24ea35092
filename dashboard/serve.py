"""`rosc serve`: the dashboard under gunicorn, a production WSGI server, rather than Flask's development
server (one request at a time, not for use beyond a laptop).

Each worker process makes its own app after the fork (`dashboard.app.create_app`): its own read-only
DuckDB connection (DuckDB allows many read-only processes on one file) and its own in-process cache, with
the result cache file all workers share (`dashboard.result_cache`) beside the warehouse.

One thread per worker by default: on this 2-core machine, 20 clients against 2 workers of 4 threads had
a p95 twice that of 2 single-threaded workers (2.6 s against 1.3 s, 200,000 people): cheap requests were
answered sooner, but the metric callbacks fought over the two cores and the GIL. ``--threads`` gives
gunicorn's threaded workers where there are more cores.

Bound to 127.0.0.1 unless told otherwise: the dashboard has no TLS of its own, so anything wider belongs
behind a reverse proxy that has.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

#: gunicorn's worker timeout: a first view at 2M people takes a few seconds; the default 30 s is kept
#: well clear of, yet a stuck worker is still replaced.
WORKER_TIMEOUT = 120


class DashboardServer(BaseApplication):
    """gunicorn running the dashboard of one warehouse, configured from arguments, not a config file."""

    def __init__(
        self, db: Path, options: dict[str, Any], warm: bool = True, benchmarks: Path | None = None
    ) -> None:
        self.db = db
        self.options = options
        self.warm = warm
        self.benchmarks = benchmarks
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):  # in each worker, after the fork
        from dashboard.app import create_app

        # The dashboard's own log (errors, sign-ins, refused requests) goes to gunicorn's error log.
        gunicorn_log, dashboard_log = logging.getLogger("gunicorn.error"), logging.getLogger("dashboard")
        if gunicorn_log.handlers and not dashboard_log.handlers:
            dashboard_log.handlers = list(gunicorn_log.handlers)
            dashboard_log.setLevel(logging.INFO)
        return create_app(self.db, warm=self.warm, benchmarks=self.benchmarks).server


def server_options(host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    """The gunicorn settings `rosc serve` runs with."""
    if workers < 1 or threads < 1:
        raise ValueError("workers and threads must be at least 1")
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": WORKER_TIMEOUT,
        "control_socket_disable": True,  # no Unix control socket left in the working folder
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "rosc-dashboard",
    }


def serve_dashboard(
    db: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 8050,
    workers: int = 2,
    threads: int = 1,
    warm: bool = True,
    benchmarks: str | os.PathLike[str] | None = None,
) -> None:
    """Serve the dashboard of the warehouse at ``db`` with gunicorn until interrupted; ``benchmarks``
    replaces the shipped England values (`pipelines.benchmarks`)."""
    options = server_options(host, port, workers, threads)
    DashboardServer(Path(db), options, warm=warm, benchmarks=Path(benchmarks) if benchmarks else None).run()
