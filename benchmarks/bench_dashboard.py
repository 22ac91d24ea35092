"""Benchmark the dashboard as a browser uses it: one gunicorn worker, loopback HTTP only.

Usage::

    .venv/bin/python benchmarks/bench_dashboard.py WAREHOUSE.duckdb [--requests 100] [--seed 1]

Starts ``gunicorn --no-control-socket -w 1 -b 127.0.0.1:<free port> dashboard.wsgi:server`` with
``ROSC_DB=WAREHOUSE``, then measures:

1. **First page load** on the cold server: ``GET /``, the layout and dependency requests, then every
   server callback the Overview page fires when it opens (the filter sync, the router, and the eight
   headline tiles, each with its SPC series; the navigation runs in the browser), sent one after
   another as one worker serves them. Target < 2 s.
2. **Filter changes**: ``--requests`` POSTs to ``/_dash-update-component``, each the body the browser
   sends for one chart or tile callback after a filter change, with a new random filter state every
   time (period, area, setting, substance group, sex, age band drawn from the warehouse's options),
   cycling through every chart and tile of every page. Reports p50 / p95 / max. Target p95 < 0.5 s.
3. For information, a whole page redrawn after a filter change (all its callbacks in sequence).

Every loop is bounded in count and time; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard import ids  # noqa: E402
from dashboard.callback_requests import callback_body  # noqa: E402
from dashboard.filters import FilterState, default_state, encode_query, state_of  # noqa: E402
from dashboard.periods import DataSpan  # noqa: E402

FIRST_LOAD_TARGET = 2.0
FILTER_P95_TARGET = 0.5
START_TIMEOUT = 180.0
REQUEST_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(base: str, path: str, body: dict | None = None) -> tuple[float, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base + path,
        data=data,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json"} if body is not None else {},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}")
    return time.perf_counter() - started, payload


def start_server(db: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "ROSC_DB": str(db)}
    gunicorn = [
        sys.executable,
        "-m",
        "gunicorn",
        "--no-control-socket",
        "-w",
        "1",
        "-b",
        f"127.0.0.1:{port}",
        "--timeout",
        "120",
        "--log-level",
        "warning",
        "dashboard.wsgi:server",
    ]
    process = subprocess.Popen(gunicorn, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:  # ready when the worker answers (it has booted and warmed up)
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-dependencies", timeout=5) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    stop_server(process)
    raise RuntimeError("gunicorn did not start in time")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def page_callbacks(app) -> dict[str, list[str]]:
    """Callback keys of the charts, tiles and tables of each page, as they fire after a filter change."""
    from dashboard.pages import ALL_PAGES

    out: dict[str, list[str]] = {}
    for page in ALL_PAGES:
        keys = []
        for name in page.CHARTS:
            keys += [k for k in app.callback_map if f'"chart":"{name}","type":"chart-graph"' in k]
        if page.__name__.endswith(".overview"):
            keys += [k for k in app.callback_map if '"type":"tile"' in k]
        if page.__name__.endswith(".programmes"):
            keys += [k for k in app.callback_map if k.startswith(f"..{ids.PROGRAMMES_TABLE}.")]
        if keys:
            out[page.__name__.rsplit(".", 1)[-1]] = keys
    return out


def random_state(rng: random.Random, options: dict, span: DataSpan) -> FilterState:
    """A view the filter bar offers (the dashboard refuses others since issue 16): a period among the
    latest twenty choices (months, quarters, financial years, rolling 12 months), sometimes narrowed to
    one value of a dimension or two."""
    base = state_of(rng.choice(span.choices()[:20]).period)
    values = {}
    for dimension, share in (
        ("area", 0.4),
        ("setting", 0.4),
        ("substance_group", 0.3),
        ("sex", 0.3),
        ("age_band", 0.2),
        ("provider", 0.1),
    ):
        if rng.random() < share:
            values[dimension] = [rng.choice(options[dimension])["value"]]
    return base.with_values(**values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers to this file")
    args = parser.parse_args()
    if not args.warehouse.exists():
        parser.error(f"{args.warehouse}: no such warehouse")
    requests = max(1, min(args.requests, 1000))

    # The app object in this process only builds request bodies (same callbacks, same ids).
    from dashboard.app import create_app

    local = create_app(args.warehouse)
    data = local.dashboard_data
    as_of = data.as_of()
    options = data.filter_options()
    default = default_state(as_of)
    span = DataSpan.of(*data.dates())
    pages = page_callbacks(local)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_server(args.warehouse, port)
    try:
        sync = next(k for k in local.callback_map if f"{ids.URL}.search" in k and ids.FILTER_STATE in k)
        router = next(k for k in local.callback_map if k.startswith(f"{ids.PAGE}."))

        def open_overview(search: str) -> float:
            """What a browser does to open the Overview at ``search``: page, layout, dependencies, then
            the filter sync, router, navigation and the eight tiles (each needs the state the sync made)."""
            started = time.perf_counter()
            http(base, "/" + search)
            http(base, "/_dash-layout")
            http(base, "/_dash-dependencies")
            _, reply = http(
                base,
                "/_dash-update-component",
                callback_body(local, sync, {f"{ids.URL}.search": search}, changed=[]),
            )
            state_data = json.loads(reply)["response"][ids.FILTER_STATE]["data"]
            # The router (the navigation is clientside: the browser computes it, the server never sees it).
            http(
                base,
                "/_dash-update-component",
                callback_body(
                    local, router, {f"{ids.URL}.pathname": "/", f"{ids.URL}.search": search}, changed=[]
                ),
            )
            for key in pages["overview"]:
                _, reply = http(
                    base,
                    "/_dash-update-component",
                    callback_body(local, key, {f"{ids.FILTER_STATE}.data": state_data}),
                )
                if b"Something went wrong" in reply:
                    raise RuntimeError("a tile answered with an error message")
            return time.perf_counter() - started

        # 1. First page load: the default view (as a fresh link opens it), then a view nobody has
        # asked for yet (nothing cached: every tile is computed while the user waits).
        first_load = open_overview("")
        uncached = default.with_values(
            setting=[options["setting"][0]["value"]], sex=[options["sex"][0]["value"]]
        )
        first_load_uncached = open_overview(encode_query(uncached))

        # 2. Filter changes: one callback per request, a new random filter state each time.
        rng = random.Random(args.seed)
        everything = [(page, key) for page, keys in pages.items() for key in keys]
        first_programme = options["programme"][0]["value"]
        controls = {
            f"{ids.PROGRAMME_ID}.data": first_programme,
            f"{ids.RETENTION_KM_BY}.value": "setting",
            f"{ids.RELAPSE_KM_BY}.value": "all",
            f"{ids.PROGRAMMES_INDICATOR}.value": "retention_12wk",
            f"{ids.PROGRAMME_TREND_METRIC}.value": "retention_12wk",
            f"{ids.PROGRAMMES_SORT}.value": "value_desc",
        }
        timings: list[tuple[float, str]] = []
        deadline = time.monotonic() + 600
        for i in range(requests):
            if time.monotonic() > deadline:
                break
            page, key = everything[i % len(everything)]
            state = random_state(rng, options, span)
            body = callback_body(
                local,
                key,
                {f"{ids.FILTER_STATE}.data": state.to_store(), **controls},
                changed=[f"{ids.FILTER_STATE}.data"],
            )
            elapsed, reply = http(base, "/_dash-update-component", body)
            if b"Something went wrong" in reply:
                raise RuntimeError(f"callback {key[:80]} answered with an error message")
            timings.append((elapsed, f"{page}: {key.split('.')[0][:70]}"))

        # 3. A whole page after a filter change (every callback of the page, in sequence).
        whole_pages = {}
        for page, keys in pages.items():
            state = random_state(rng, options, span)
            started = time.perf_counter()
            for key in keys:
                http(
                    base,
                    "/_dash-update-component",
                    callback_body(
                        local,
                        key,
                        {f"{ids.FILTER_STATE}.data": state.to_store(), **controls},
                        changed=[f"{ids.FILTER_STATE}.data"],
                    ),
                )
            whole_pages[page] = (time.perf_counter() - started, len(keys))
    finally:
        stop_server(process)
        data.close()

    seconds = [t for t, _ in timings]
    p50, p95 = statistics.median(seconds), percentile(seconds, 95)
    print(f"warehouse: {args.warehouse}  (as_of {as_of}, default view {encode_query(default)})")
    n_first = len(pages["overview"]) + 5
    print(
        f"first page load, default view (Overview, {n_first} requests): {first_load:.2f} s  "
        f"[target < {FIRST_LOAD_TARGET} s: {'met' if first_load < FIRST_LOAD_TARGET else 'NOT met'}]"
    )
    print(f"first page load, a view not yet cached ({encode_query(uncached)}): {first_load_uncached:.2f} s")
    print(
        f"filter-change requests: n={len(seconds)}  p50 {p50 * 1000:.0f} ms  p95 {p95 * 1000:.0f} ms  "
        f"max {max(seconds) * 1000:.0f} ms  [target p95 < {FILTER_P95_TARGET} s: "
        f"{'met' if p95 < FILTER_P95_TARGET else 'NOT met'}]"
    )
    print("slowest requests:")
    for elapsed, name in sorted(timings, reverse=True)[:5]:
        print(f"  {elapsed * 1000:7.0f} ms  {name}")
    print("whole page after a filter change (all its callbacks in sequence, one worker):")
    for page, (elapsed, n) in whole_pages.items():
        print(f"  {page:<12} {elapsed:6.2f} s  ({n} callbacks)")
    met = first_load < FIRST_LOAD_TARGET and p95 < FILTER_P95_TARGET
    if args.json:
        numbers = {
            "first_load_seconds": first_load,
            "first_load_uncached_seconds": first_load_uncached,
            "filter_change_requests": len(seconds),
            "filter_change_p50_seconds": p50,
            "filter_change_p95_seconds": p95,
            "filter_change_max_seconds": max(seconds),
            "whole_page_seconds": {page: elapsed for page, (elapsed, _) in whole_pages.items()},
        }
        args.json.write_text(json.dumps(numbers, indent=2), encoding="utf-8")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
