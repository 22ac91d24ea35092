"""The app shell: header with navigation and the data-as-at date, the global filter bar, the line
naming the active filters, the error banner and the page slot."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import ids
from dashboard.filters import DIMENSION_LABELS
from dashboard.pages import NAV_PAGES
from dashboard.periods import DataSpan
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
                multi=False,  # one value or all (dashboard.filters: free unions undo the perturbation)
                placeholder=f"All ({label.lower()})",
                value=None,
                className="filter-dropdown",
            ),
        ],
        xs=12,
        sm=6,
        md=4,
        xl=2,
        className="mb-2",
    )


def period_controls(span: DataSpan) -> dbc.Col:
    """The period: one dropdown of the periods the dashboard answers (`DataSpan.choices`: the latest
    complete financial year, the rolling 12 months, each quarter, earlier financial years and each
    month), searchable by name. The sync callback of `dashboard.app` keeps it in step with the URL."""
    default = span.default()
    choices = [{"value": p.key, "label": p.label} for p in span.choices()]
    return dbc.Col(
        html.Div(
            [
                html.Label("Period", htmlFor=ids.PERIOD_PRESET, className="filter-label"),
                dcc.Dropdown(
                    id=ids.PERIOD_PRESET,
                    options=choices,
                    value=span.key_for(default),
                    clearable=False,
                    searchable=True,
                    className="filter-dropdown filter-preset",
                ),
            ],
            id=ids.PERIOD,
            role="group",
            **{"aria-label": "Period: a month, a quarter, a financial year or the latest 12 months"},
        ),
        xs=12,
        md=6,
        lg=4,
        xl=3,
        className="mb-2",
    )


def shell(data: DashboardData) -> html.Div:
    """The page frame, built afresh for each visit so a new load's dates and options show at once."""
    span = DataSpan.of(*data.dates())
    as_of = span.as_of
    options = data.filter_options()
    period = period_controls(span)
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
                    html.A(
                        "Board pack (PDF)",
                        id=ids.BOARD_PACK,
                        href="/board-pack.pdf",
                        className="ms-3 no-print board-pack-link",
                        title="Download the board pack of this view: every headline with its SPC chart, "
                        "the funnel plots, the exit and support mixes, definitions (takes a few seconds)",
                    ),
                ],
                className="d-flex align-items-baseline small text-muted",
            ),
            html.Div(id=ids.FILTER_NOTICE, role="status", **{"aria-live": "polite"}),
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
