"""Concurrent users: the dashboard under gunicorn (2 workers) answering 20 clients at once, loopback only.

Usage::

    .venv/bin/python benchmarks/bench_concurrency.py [WAREHOUSE.duckdb] [--seconds 60] [--clients 20]
        [--workers 2] [--max-requests 200000] [--out benchmarks/out/bench_concurrency.json]

Without a warehouse, one is built from ``data/sample`` into ``benchmarks/out/sample.duckdb`` (once).
Starts ``gunicorn --no-control-socket -w WORKERS -b 127.0.0.1:<free port> dashboard.wsgi:server`` with
``ROSC_DB=WAREHOUSE`` and waits until every worker has loaded the app (a ``post_worker_init`` hook
marks each one) and the server answers. Then ``--clients`` threads, each with its own HTTP session,
browse for ``--seconds`` as people do: open a page (``GET /retention?...``, the layout and the callback
graph), let the page's server callbacks fire (filter sync, router, then every chart, tile or table
of the page, each a POST of the body the browser sends, built by `dashboard.callback_requests`), then
change a filter (the sync callback again, then the page's callbacks with the new state). Pages, periods
and filter values are drawn at random from the warehouse's own options, so some answers are cached and
many are computed.

An error is a non-2xx answer, a connection error or time-out, or a callback that answers with the
dashboard's error message. The script prints and writes (JSON) requests per second and the p50, p95 and
p99 latency overall and per kind of request, stops gunicorn, and exits 1 if there was any error.
Every loop is bounded by time and by ``--max-requests``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard import ids  # noqa: E402
from dashboard.callback_requests import callback_body  # noqa: E402
from dashboard.filters import FilterState, default_state, encode_query, state_of  # noqa: E402
from dashboard.periods import DataSpan  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
SAMPLE = ROOT / "data" / "sample"
ENDPOINT = "/_dash-update-component"
START_TIMEOUT = 240.0
REQUEST_TIMEOUT = 60.0
ERROR_TEXT = b"Something went wrong"

#: Written next to the ready markers; gunicorn runs it as its config file.
GUNICORN_HOOKS = '''
import os
from pathlib import Path


def post_worker_init(worker):
    """The worker has imported dashboard.wsgi (app built, tiles warmed): mark it ready."""
    Path(os.environ["BENCH_READY_DIR"], f"worker-{os.getpid()}").touch()
'''


# -- the server ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    base: str
    log_path: Path
    log_file: Any


def start_server(db: Path, port: int, workers: int, threads: int, scratch: Path) -> Server:
    ready = scratch / "ready"
    ready.mkdir()
    config = scratch / "gunicorn_hooks.py"
    config.write_text(GUNICORN_HOOKS, encoding="utf-8")
    log_path = scratch / "gunicorn.log"
    log_file = log_path.open("w", encoding="utf-8")
    env = {**os.environ, "ROSC_DB": str(db), "BENCH_READY_DIR": str(ready), "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--no-control-socket",
        "-c",
        str(config),
        "-w",
        str(workers),
        "--threads",
        str(threads),
        "-b",
        f"127.0.0.1:{port}",
        "--timeout",
        "120",
        "--log-level",
        "info",
        "dashboard.wsgi:server",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    server = Server(process, f"http://127.0.0.1:{port}", log_path, log_file)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_tail(server)
            stop_server(server)
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{tail}")
        if len(list(ready.iterdir())) >= workers:
            try:
                response = requests.get(server.base + "/_dash-dependencies", timeout=10)
                if response.status_code == 200:
                    return server
            except requests.RequestException:
                pass
        time.sleep(0.2)
    tail = log_tail(server)
    stop_server(server)
    raise RuntimeError(f"gunicorn did not start in {START_TIMEOUT:.0f} s:\n{tail}")


def stop_server(server: Server) -> None:
    process = server.process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    server.log_file.close()


def log_tail(server: Server, lines: int = 40) -> str:
    if not server.log_file.closed:
        server.log_file.flush()
    text = server.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


# -- what a browser asks for -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    callbacks: tuple[tuple[str, str], ...]  # (kind, callback key) fired when the page has a filter state


def site_pages(app: Any, programme_ids: list[str]) -> list[Page]:
    """Each page with the chart, tile and table callbacks it fires (the programme page for one programme)."""
    from dashboard.pages import ALL_PAGES

    pages = []
    for module in ALL_PAGES:
        name = module.__name__.rsplit(".", 1)[-1]
        keys: list[tuple[str, str]] = []
        for chart in module.CHARTS:
            keys += [("chart", k) for k in app.callback_map if f'"chart":"{chart}","type":"chart-graph"' in k]
        if name == "overview":
            keys += [("tile", k) for k in app.callback_map if '"type":"tile"' in k]
        if name == "programmes":
            keys += [("table", k) for k in app.callback_map if k.startswith(f"..{ids.PROGRAMMES_TABLE}.")]
        if name == "programme":
            for programme in programme_ids[:5]:
                pages.append(Page(name, module.PATH + programme, tuple(keys)))
            continue
        pages.append(Page(name, module.PATH, tuple(keys)))
    return pages


def random_state(rng: random.Random, options: dict[str, list[dict[str, str]]], span: DataSpan) -> FilterState:
    """A view someone might choose: the default year, or another period the filter bar offers (a recent
    quarter, month or year), sometimes filtered to one value of a dimension or two."""
    if rng.random() < 0.3:
        return default_state(span.as_of, span.first.first_day)
    base = state_of(rng.choice(span.choices()[:20]).period)
    values = {}
    for dimension, share in (
        ("area", 0.3),
        ("setting", 0.3),
        ("substance_group", 0.25),
        ("sex", 0.25),
        ("age_band", 0.15),
        ("provider", 0.1),
    ):
        if rng.random() < share:
            values[dimension] = [rng.choice(options[dimension])["value"]]
    return base.with_values(**values)


# -- the clients -----------------------------------------------------------------------------------------


@dataclass
class Results:
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: list[str] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Budget(Exception):
    """The run's time or request budget is spent."""


class Client:
    """One simulated user: its own session, random generator and share of the results."""

    def __init__(self, number: int, context: dict[str, Any], results: Results, deadline: float, cap: int):
        self.rng = random.Random(context["seed"] * 1000 + number)
        self.session = requests.Session()
        self.context = context
        self.results = results
        self.deadline = deadline
        self.cap = cap

    def request(self, kind: str, path: str, body: dict | None = None) -> bytes | None:
        results = self.results
        with results.lock:
            if time.monotonic() >= self.deadline or results.requests >= self.cap:
                raise Budget
            results.requests += 1
        url = self.context["base"] + path
        started = time.perf_counter()
        problem = None
        payload = None
        try:
            if body is None:
                response = self.session.get(url, timeout=REQUEST_TIMEOUT)
            else:
                response = self.session.post(url, json=body, timeout=REQUEST_TIMEOUT)
            payload = response.content
            if not 200 <= response.status_code < 300:
                problem = f"http_{response.status_code}"
            elif body is not None and ERROR_TEXT in payload:
                problem = "error_message"
        except requests.Timeout:
            problem = "timeout"
        except requests.ConnectionError:
            problem = "connection_error"
        except requests.RequestException:
            problem = "request_error"
        elapsed = time.perf_counter() - started
        with results.lock:
            results.timings[kind].append(elapsed)
            if problem:
                results.errors[problem] += 1
                if len(results.examples) < 10:
                    sent = json.dumps(body)[:300] if body else ""
                    results.examples.append(f"{problem}: {kind} {path} {sent}")
        return None if problem else payload

    def callback(self, kind: str, key: str, values: dict[str, Any], changed: list[str] | None = None):
        body = callback_body(self.context["app"], key, values, changed=changed)
        return self.request(kind, ENDPOINT, body)

    def visit(self) -> None:
        """Open a page at a random view, let its callbacks fire, then change one filter."""
        ctx, rng = self.context, self.rng
        page = rng.choice(ctx["pages"])
        state = random_state(rng, ctx["options"], DataSpan.of(*ctx["dates"]))
        search = encode_query(state)
        self.request("page", page.path + search)
        self.request("layout", "/_dash-layout")
        self.request("dependencies", "/_dash-dependencies")
        reply = self.callback("sync", ctx["sync"], {f"{ids.URL}.search": search}, changed=[])
        store = json.loads(reply)["response"][ids.FILTER_STATE]["data"] if reply else state.to_store()
        where = {f"{ids.URL}.pathname": page.path, f"{ids.URL}.search": search}
        self.callback("router", ctx["router"], where, changed=[])
        # The navigation is a clientside callback: the browser computes it, the server never sees it.
        controls = dict(ctx["controls"])
        if page.name == "programme":
            controls[f"{ids.PROGRAMME_ID}.data"] = page.path.rsplit("/", 1)[-1]
        self.fire(page, store, search, controls)

        # Change one filter, as a user does with a dropdown: the sync callback, then the page again.
        dimension = rng.choice(["area", "setting", "substance_group", "sex", "age_band", "provider"])
        changed_field = f"{ctx['filter_ids'][dimension]}.value"
        values = {
            f"{ids.URL}.search": search,
            f"{ids.PERIOD_PRESET}.value": DataSpan.of(*ctx["dates"]).key_for(state.period),
            **{
                f"{ctx['filter_ids'][d]}.value": next(iter(getattr(state, d)), None)
                for d in ctx["filter_ids"]
            },
            changed_field: rng.choice(ctx["options"][dimension])["value"],
        }
        reply = self.callback("sync", ctx["sync"], values, changed=[changed_field])
        if reply:
            response = json.loads(reply)["response"]
            store = response[ids.FILTER_STATE]["data"]
            search = response.get(ids.URL, {}).get("search", search)
        self.fire(page, store, search, controls)

    def fire(self, page: Page, store: dict, search: str, controls: dict[str, Any]) -> None:
        for kind, key in page.callbacks:
            values = {f"{ids.FILTER_STATE}.data": store, f"{ids.URL}.search": search, **controls}
            self.callback(kind, key, values)

    def run(self) -> None:
        try:
            while True:
                self.visit()
        except Budget:
            pass
        finally:
            self.session.close()


# -- the run -------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ms = [1000 * v for v in values]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1),
    }


def default_warehouse() -> Path:
    """benchmarks/out/sample.duckdb, loaded from data/sample the first time."""
    db = OUT / "sample.duckdb"
    if not db.exists():
        from pipelines.load import load_extracts

        OUT.mkdir(parents=True, exist_ok=True)
        print(f"building {db} from {SAMPLE} ...", flush=True)
        load_extracts([SAMPLE], db, quiet=True)
    return db


def run(
    db: Path,
    *,
    seconds: float,
    clients: int,
    workers: int,
    threads: int,
    max_requests: int,
    seed: int,
) -> dict[str, Any]:
    from dashboard.app import create_app
    from dashboard.layout import FILTER_IDS

    # This process builds request bodies from its own copy of the app (same callbacks, same ids).
    local = create_app(db)
    data = local.dashboard_data
    try:
        as_of = data.as_of()
        options = data.filter_options()
        programme_ids = [o["value"] for o in options["programme"]]
        context = {
            "app": local,
            "seed": seed,
            "as_of": as_of,
            "dates": data.dates(),
            "options": options,
            "filter_ids": dict(FILTER_IDS),
            "pages": site_pages(local, programme_ids),
            "sync": next(k for k in local.callback_map if f"{ids.URL}.search" in k and ids.FILTER_STATE in k),
            "router": next(k for k in local.callback_map if k.startswith(f"{ids.PAGE}.")),
            "controls": {
                f"{ids.PROGRAMME_ID}.data": programme_ids[0],
                f"{ids.RETENTION_KM_BY}.value": "setting",
                f"{ids.RELAPSE_KM_BY}.value": "all",
                f"{ids.PROGRAMMES_INDICATOR}.value": "retention_12wk",
                f"{ids.PROGRAMME_TREND_METRIC}.value": "retention_12wk",
                f"{ids.PROGRAMMES_SORT}.value": "value_desc",
            },
        }
        with tempfile.TemporaryDirectory(prefix="bench-concurrency-") as scratch:
            started_boot = time.perf_counter()
            server = start_server(db, free_port(), workers, threads, Path(scratch))
            boot = time.perf_counter() - started_boot
            try:
                context["base"] = server.base
                results = Results()
                started = time.monotonic()
                deadline = started + seconds
                pool = [
                    threading.Thread(
                        target=Client(i, context, results, deadline, max_requests).run, name=f"client-{i}"
                    )
                    for i in range(clients)
                ]
                for thread in pool:
                    thread.start()
                for thread in pool:
                    thread.join(timeout=seconds + REQUEST_TIMEOUT + 30)
                elapsed = time.monotonic() - started
                hung = sum(thread.is_alive() for thread in pool)
                if hung:
                    results.errors["client_hung"] += hung
                log = log_tail(server, 200)
            finally:
                stop_server(server)
    finally:
        data.close()

    everything = [t for values in results.timings.values() for t in values]
    restarts = log.count("WORKER TIMEOUT") + log.count("Worker exiting") + log.count("was sent SIG")
    if restarts:
        results.errors["worker_restart"] += restarts
    errors = sum(results.errors.values())
    return {
        "benchmark": "bench_concurrency",
        "warehouse": str(db),
        "warehouse_bytes": db.stat().st_size,
        "as_of": as_of.isoformat(),
        "server": f"gunicorn -w {workers} --threads {threads} (127.0.0.1)",
        "workers": workers,
        "threads": threads,
        "clients": clients,
        "seconds_requested": seconds,
        "seconds": round(elapsed, 2),
        "boot_seconds": round(boot, 2),
        "requests": len(everything),
        "requests_per_second": round(len(everything) / elapsed, 2) if elapsed else None,
        "errors": errors,
        "errors_by_type": dict(results.errors),
        "error_examples": results.examples,
        "latency": {
            "overall": summary(everything),
            "by_kind": {kind: summary(values) for kind, values in sorted(results.timings.items())},
        },
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "gunicorn_log_tail": log.splitlines()[-20:] if errors else [],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path, nargs="?", help="default: benchmarks/out/sample.duckdb")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (default 1)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after this many requests")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT / "bench_concurrency.json")
    args = parser.parse_args(argv)
    if args.warehouse is not None and not args.warehouse.exists():
        parser.error(f"{args.warehouse}: no such warehouse")
    if not 0 < args.seconds <= 3600:
        parser.error("--seconds must be in (0, 3600]")
    if not 1 <= args.clients <= 200 or not 1 <= args.workers <= 16 or not 1 <= args.threads <= 64:
        parser.error("--clients 1..200, --workers 1..16, --threads 1..64")
    db = (args.warehouse or default_warehouse()).resolve()

    report = run(
        db,
        seconds=args.seconds,
        clients=args.clients,
        workers=args.workers,
        threads=args.threads,
        max_requests=max(1, args.max_requests),
        seed=args.seed,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    overall = report["latency"]["overall"]
    print(f"warehouse {db} (as_of {report['as_of']}); {report['server']}; boot {report['boot_seconds']} s")
    print(
        f"{report['clients']} clients for {report['seconds']} s: {report['requests']} requests, "
        f"{report['requests_per_second']} req/s, errors {report['errors']} {report['errors_by_type'] or ''}"
    )
    print(f"{'kind':<13}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for kind, s in [("overall", overall), *report["latency"]["by_kind"].items()]:
        if s["n"]:
            print(f"{kind:<13}{s['n']:>7}{s['p50_ms']:>9}{s['p95_ms']:>9}{s['p99_ms']:>9}{s['max_ms']:>9}")
    for example in report["error_examples"]:
        print("  " + example)
    print(f"written to {args.out}")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
