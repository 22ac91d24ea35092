"""The app shell: header with navigation and the data-as-at date, the global filter bar, the line
naming the active filters, the error banner and the page slot."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import ids
from dashboard.filters import DIMENSION_LABELS, default_state
from dashboard.pages import NAV_PAGES
from dashboard.queries import DashboardData

FILTER_IDS: dict[str, str] = {
    "area": ids.AREA,
    "provider": ids.PROVIDER,
    "programme": ids.PROGRAMME,
    "setting": ids.SETTING,
    "substance_group": ids.SUBSTANCE_GROUP,
    "sex": ids.SEX,
    "age_band": ids.AGE_BAND,
}


def nav_id(page: Any) -> str:
    return f"{ids.NAV}-{page.__name__.rsplit('.', 1)[-1]}"


def _filter(dimension: str, options: list[dict[str, str]]) -> dbc.Col:
    label = DIMENSION_LABELS[dimension]
    return dbc.Col(
        [
            html.Label(label, htmlFor=FILTER_IDS[dimension], className="filter-label"),
            dcc.Dropdown(
                id=FILTER_IDS[dimension],
                options=options,
                multi=True,
                placeholder=f"All ({label.lower()})",
                value=[],
                className="filter-dropdown",
            ),
        ],
        xs=12,
        sm=6,
        md=4,
        xl=3,
        className="mb-2",
    )


def shell(data: DashboardData) -> html.Div:
    """The page frame, built afresh for each visit so a new load's dates and options show at once."""
    first, as_of = data.dates()
    default = default_state(as_of)
    options = data.filter_options()
    period = dbc.Col(
        [
            html.Label("Period", htmlFor=ids.PERIOD, className="filter-label"),
            dcc.DatePickerRange(
                id=ids.PERIOD,
                start_date=default.start.isoformat(),
                end_date=default.end.isoformat(),
                min_date_allowed=first.isoformat(),
                max_date_allowed=as_of.isoformat(),
                display_format="D MMM YYYY",
                first_day_of_week=1,
                className="filter-period",
            ),
        ],
        xs=12,
        sm=6,
        md=4,
        xl=3,
        className="mb-2",
    )
    nav = dbc.Nav(
        [dbc.NavItem(dbc.NavLink(p.NAME, id=nav_id(p), href=p.PATH, className="px-2")) for p in NAV_PAGES],
        className="me-auto main-nav",
        navbar=True,
    )
    header = dbc.Navbar(
        dbc.Container(
            [
                html.A("ROSC outcomes", href="/", className="navbar-brand fw-semibold text-dark"),
                nav,
                html.Span(
                    [html.Span("Data as at "), html.Strong(f"{as_of:%d %b %Y}")],
                    id=ids.AS_AT,
                    className="as-at text-nowrap",
                ),
            ],
            fluid=True,
        ),
        color="light",
        className="border-bottom mb-2 py-1",
    )
    filters = dbc.Container(
        [
            dbc.Row([period, *[_filter(d, options[d]) for d in FILTER_IDS]], className="g-2"),
            html.Div(
                [
                    html.Span(id=ids.ACTIVE_FILTERS, className="active-filters"),
                    dbc.Button(
                        "Reset filters",
                        id=ids.RESET_FILTERS,
                        size="sm",
                        color="link",
                        className="ms-2 p-0 no-print",
                    ),
                ],
                className="d-flex align-items-baseline small text-muted",
            ),
        ],
        fluid=True,
        className="filter-bar mb-2",
    )
    return html.Div(
        [
            dcc.Location(id=ids.URL, refresh="callback-nav"),
            dcc.Store(id=ids.FILTER_STATE, storage_type="memory"),
            header,
            filters,
            dbc.Container(
                [html.Div(id=ids.GLOBAL_ERROR), html.Main(id=ids.PAGE, className="page")],
                fluid=True,
            ),
            html.Footer(
                dbc.Container(
                    html.P(
                        "Every count is perturbed (cell-key perturbation): a shown count of 8 or more "
                        "is within 3 of the true count, a shown 5 stands for 1 to 8 and a shown 0 for 0 "
                        "to 7; no count of 1–4 is ever shown. Rates and intervals are computed from the "
                        "perturbed counts; a cell that could still give a small count away is shown as "
                        "'suppressed', never as zero. Intervals are 95%. Hover over any point "
                        "for its numerator and denominator.",
                        className="small text-muted mb-2",
                    ),
                    fluid=True,
                )
            ),
        ]
    )
