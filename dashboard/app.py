"""Build the Dash app for one warehouse file.

The app is a URL router over the page modules in `dashboard.pages` (one module per page, each with its
own layout and callbacks). The router and its callbacks are registered on the app object itself,
not in Dash's process-wide callback list, so several apps (one per test, say) can live in one process.

Filters live in the URL's query string. One callback keeps the filter controls, the query string and
the filter store in step: opening a link sets the controls; changing a control rewrites the query
string (without reloading the page) and the store, and every chart listens to the store. The period is
whole months only (`dashboard.filters`); whatever of a link or a control could not be used as given is
named in a notice under the filter line.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, ctx, html, no_update

from dashboard import ids
from dashboard.board_pack import install_board_pack, pack_href
from dashboard.callback_requests import install_callback_checks
from dashboard.components import Chart, register_chart, register_downloads
from dashboard.errors import guarded, install_request_errors, report_callback_error
from dashboard.filters import (
    FILTER_DIMENSIONS,
    FilterReading,
    decode_query,
    default_state,
    describe_filters,
    encode_query,
    read_controls,
    state_of,
)
from dashboard.headers import install_security_headers
from dashboard.layout import FILTER_IDS, nav_id, shell
from dashboard.pages import ALL_PAGES, NAV_PAGES, overview, programme, programmes
from dashboard.pages.common import missing_notice
from dashboard.periods import DataSpan
from dashboard.queries import DashboardData
from dashboard.signin import install_sign_in, sign_in_config

PACKAGE_DIR = Path(__file__).resolve().parent
log = logging.getLogger("dashboard")


#: Paths people type or remember for a page, beside its own (compared without case, "_" read as "-").
PAGE_ALIASES: dict[str, str] = {
    "/overview": "/",
    "/home": "/",
    "/support": "/support-mix",
    "/supportmix": "/support-mix",
    "/peer-support": "/support-mix",
    "/mix": "/support-mix",
    "/programme": "/programmes",
    "/funnel": "/programmes",
    "/relapses": "/relapse",
    "/data-quality": "/data",
    "/quality": "/data",
}


def resolve_page(pathname: str | None) -> tuple[Any, dict[str, str]]:
    """The page module for a path, and its path parameters (the programme id on a programme page).
    Page paths are matched without case and with "_" read as "-", and common aliases resolve
    (`PAGE_ALIASES`: /support is the Support mix page); a programme id is kept as written."""
    path = (pathname or "/").rstrip("/") or "/"
    prefix = programme.PATH.rstrip("/") + "/"
    if path.lower().startswith(prefix):
        return programme, {"programme_id": path[len(prefix) :]}
    path = path.lower().replace("_", "-")
    path = PAGE_ALIASES.get(path, path)
    for page in NAV_PAGES:
        if path == page.PATH.rstrip("/") or (page.PATH == "/" and path == "/"):
            return page, {}
    return None, {}


def not_found(pathname: str) -> html.Div:
    return html.Div(
        [
            html.H1("Page not found", className="h4"),
            html.P(["Nothing lives at ", html.Code(pathname), ". Choose a page above."]),
        ]
    )


def create_app(
    db_path: str | os.PathLike[str],
    *,
    warm: bool = False,
    users_file: str | os.PathLike[str] | None = None,
    benchmarks: str | os.PathLike[str] | None = None,
) -> Dash:
    """The dashboard for the warehouse at ``db_path`` (opened read-only; `WarehouseNotFound` if missing).

    With ``warm``, the Overview's tiles for the default view are computed before the app is returned,
    so the first visitor does not wait for them (a second or two at start-up instead).
    Sign-in is on with a users file (``users_file`` or ``ROSC_USERS``) or an OpenID Connect provider
    (``ROSC_OIDC``): see `dashboard.signin`; what each role sees is `dashboard.auth`'s.
    ``benchmarks`` is a benchmarks file replacing the shipped England values (`pipelines.benchmarks`;
    a bad file raises `pipelines.benchmarks.BenchmarkFileError` naming its file, line and column).
    """
    sign_in = sign_in_config(users_file, db_path=db_path)  # refuses to start on a bad sign-in setting
    data = DashboardData(db_path, benchmarks=benchmarks)
    if warm:
        overview.warm(data, default_state(data.as_of(), data.dates()[0]))
    app = Dash(
        __name__,
        assets_folder=str(PACKAGE_DIR / "assets"),
        title="ROSC outcomes",
        suppress_callback_exceptions=True,  # page components come and go with the route
        serve_locally=True,
        update_title=None,
        on_error=report_callback_error,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.layout = lambda: shell(data)
    app.server.config["ROSC_DB"] = str(Path(db_path))
    install_request_errors(app)  # a malformed callback request is a 400, not a bare 500
    install_sign_in(app, data, sign_in)
    install_callback_checks(app)  # a request must match its callback exactly, and the person's scope
    install_board_pack(app, data)  # /board-pack.pdf: the PDF of the view, through the same scope
    _register_router(app, data)
    _register_filters(app, data)
    charts: dict[str, Chart] = {}
    for page in ALL_PAGES:
        page.register(app, data)
        for chart in page.CHARTS.values():
            if chart.name in charts:
                raise ValueError(f"two charts are called {chart.name!r}")
            charts[chart.name] = chart
            register_chart(app, data, chart)
    register_downloads(app, data, charts)
    # Last: the policy lists the hash of every inline script, clientside callbacks included.
    install_security_headers(
        app,
        https=bool(sign_in and sign_in.https),
        secure_cookie=bool(sign_in and sign_in.secure_cookie),
        no_store=sign_in is not None,
    )
    app.dashboard_data = data  # type: ignore[attr-defined]  # for tests and the benchmark
    return app


def _register_router(app: Dash, data: DashboardData) -> None:
    @app.callback(
        Output(ids.PAGE, "children"),
        Input(ids.URL, "pathname"),
        State(ids.URL, "search"),
    )
    @guarded(lambda alert: alert, where="page")
    def route(pathname: str | None, search: str | None) -> Any:
        page, params = resolve_page(pathname)
        if page is None:
            return not_found(pathname or "/")
        body = page.layout(data, search=search or "", **params)
        notice = missing_notice(data, page.NEEDS)
        return body if notice is None else html.Div([notice, body])

    # Navigation needs no data: it runs in the browser and costs the server nothing (issue 14).
    app.clientside_callback(
        nav_script(),
        *[Output(nav_id(p), "href") for p in NAV_PAGES],
        *[Output(nav_id(p), "active") for p in NAV_PAGES],
        Input(ids.URL, "pathname"),
        Input(ids.URL, "search"),
    )


def nav_links(pathname: str | None, search: str | None) -> list:
    """The navigation's links (each page's path with the current query string, so filters carry over)
    and which one is active, for a path: what `nav_script` computes in the browser, by `resolve_page`."""
    page, _ = resolve_page(pathname)
    if page is programme:
        page = programmes  # a programme's page sits under Programmes
    hrefs = [p.PATH + (search or "") for p in NAV_PAGES]
    return [*hrefs, *[p is page for p in NAV_PAGES]]


def nav_script() -> str:
    """`nav_links` as a clientside callback (JavaScript), written from the same page paths and aliases
    (`resolve_page`'s rules: no case, "_" as "-", a programme's page under Programmes)."""
    paths = [p.PATH for p in NAV_PAGES]
    return rf"""
        function(pathname, search) {{
            const paths = {json.dumps(paths)};
            const aliases = {json.dumps(PAGE_ALIASES, sort_keys=True)};
            const programmePrefix = {json.dumps(programme.PATH.rstrip("/") + "/")};
            const underProgrammes = {NAV_PAGES.index(programmes)};
            let path = (pathname || "/").replace(/\/+$/, "") || "/";
            let active = -1;
            if (path.toLowerCase().startsWith(programmePrefix)) {{
                active = underProgrammes;
            }} else {{
                path = path.toLowerCase().replace(/_/g, "-");
                if (Object.prototype.hasOwnProperty.call(aliases, path)) {{ path = aliases[path]; }}
                active = paths.findIndex(p => path === (p.replace(/\/+$/, "") || "/"));
            }}
            const hrefs = paths.map(p => p + (search || ""));
            return hrefs.concat(paths.map((p, i) => i === active));
        }}
        """


def filter_notice(notices: tuple[str, ...]) -> Any:
    """The notice under the filter line: each thing of the link or the controls that could not be used
    as given, and what the page shows instead (nothing when everything was used)."""
    if not notices:
        return None
    return dbc.Alert(
        [
            html.Strong("Not everything asked for could be shown as given:"),
            html.Ul([html.Li(n) for n in notices], className="mb-0"),
        ],
        color="warning",
        className="filter-notice small py-1 px-2 mb-1",
    )


def _register_filters(app: Dash, data: DashboardData) -> None:
    dims = list(FILTER_IDS)

    @app.callback(
        Output(ids.PERIOD_PRESET, "value"),
        *[Output(FILTER_IDS[d], "value") for d in dims],
        Output(ids.URL, "search"),
        Output(ids.FILTER_STATE, "data"),
        Output(ids.ACTIVE_FILTERS, "children"),
        Output(ids.FILTER_NOTICE, "children"),
        Output(ids.BOARD_PACK, "href"),
        Input(ids.URL, "search"),
        Input(ids.PERIOD_PRESET, "value"),
        *[Input(FILTER_IDS[d], "value") for d in dims],
        Input(ids.RESET_FILTERS, "n_clicks"),
    )
    def sync(search: str | None, choice: Any, *rest: Any) -> list:
        """Keep the URL, the filter bar and the filter store in step. Every way in (the URL, the
        period, a dropdown, a crafted request) goes through `decode_query` or `read_controls`, so the
        store only ever holds a period the dashboard answers, inside the data, and one value or all of
        each dimension, and the notice says what was changed."""
        values, _reset = rest[:-1], rest[-1]
        trigger = ctx.triggered_id
        span = DataSpan.of(*data.dates())
        options = data.filter_options()
        if trigger == ids.RESET_FILTERS:
            reading = FilterReading(state_of(span.default()))
            new_search: Any = encode_query(reading.state)
        elif trigger in (None, ids.URL):
            reading = decode_query(search, span, options)
            new_search = no_update
        else:
            current = decode_query(search, span, options).state
            reading = read_controls(
                "period" if trigger == ids.PERIOD_PRESET else None,
                choice,
                dict(zip(dims, values, strict=True)),
                span,
                current,
                options,
            )
            new_search = encode_query(reading.state)
            if new_search == (search or ""):
                new_search = no_update
        state = reading.state
        period = state.period
        # A choice just made stays chosen when it gives this period (the rolling 12 months can be the
        # financial year); otherwise the first choice that is the period.
        chosen = span.choice(choice) if trigger == ids.PERIOD_PRESET else None
        if chosen is not None and chosen.period == period:
            period_value = chosen.key
        else:
            period_value = span.key_for(period)
        controls: list[Any] = [period_value]
        for d, sent in zip(dims, values, strict=True):
            chosen_values = getattr(state, d)
            wanted = chosen_values[0] if chosen_values else None
            from_url = trigger in (None, ids.URL, ids.RESET_FILTERS)
            controls.append(wanted if from_url or sent != wanted else no_update)
        describe = "Showing " + describe_filters(state, data.labels(), span)
        notice = filter_notice(reading.notices)
        return [*controls, new_search, state.to_store(), describe, notice, pack_href(state)]


def _check_dims() -> None:  # the filter bar offers exactly the filter dimensions
    if tuple(FILTER_IDS) != FILTER_DIMENSIONS:
        raise RuntimeError("dashboard.layout.FILTER_IDS and dashboard.filters.FILTER_DIMENSIONS disagree")


_check_dims()

__all__ = ["create_app", "resolve_page"]
