"""WSGI entry point: ``ROSC_DB=rosc.duckdb gunicorn --no-control-socket -w 2 dashboard.wsgi:server``.

Each gunicorn worker imports this module and opens the warehouse read-only (DuckDB allows many
read-only processes on one file). ``ROSC_DB`` names the warehouse (default ``rosc.duckdb``); each
worker computes the default view's headline tiles as it starts unless ``ROSC_WARM=0``.
``ROSC_BENCHMARKS`` names a benchmarks file to use instead of the shipped England values.

Under gunicorn the dashboard's own log (errors, sign-ins, every refused request: the
``dashboard.access`` log) goes to gunicorn's error log, at INFO and above.
"""

from __future__ import annotations

import logging
import os

from dashboard.app import create_app

_gunicorn = logging.getLogger("gunicorn.error")
_dashboard = logging.getLogger("dashboard")
if _gunicorn.handlers and not _dashboard.handlers:
    _dashboard.handlers = list(_gunicorn.handlers)
    _dashboard.setLevel(logging.INFO)

app = create_app(
    os.environ.get("ROSC_DB", "rosc.duckdb"),
    warm=os.environ.get("ROSC_WARM", "1") != "0",
    benchmarks=os.environ.get("ROSC_BENCHMARKS") or None,
)
server = app.server
