"""Data: what is loaded and how complete it is, and the definitions of every metric.

Everything here is a count or a share (the load history, rejected rows counted by table and rule,
filled values by column); no rejected row itself is ever shown.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, html

from dashboard import ids
from dashboard.components import html_table
from dashboard.queries import DashboardData

PATH = "/data"
NAME = "Data"
#: The tables this page needs, and what on it is empty without them (a notice says so).
NEEDS: dict[str, str] = {}

CHARTS: dict = {}


def _card(title: str, body: Any, note: str = "") -> dbc.Col:
    return dbc.Col(
        dbc.Card(
            [
                dbc.CardHeader(html.H2(title, className="h6 mb-0")),
                dbc.CardBody([body, html.P(note, className="text-muted small mt-2 mb-0") if note else None]),
            ],
            className="h-100",
        ),
        lg=12,
        className="mb-3",
    )


def _printable(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d %H:%M")
        elif out[column].dtype == object:
            out[column] = out[column].map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)
    return out


def definitions_table(data: DashboardData) -> pd.DataFrame:
    rows = [
        {
            "metric": m.id,
            "label": m.label,
            "kind": m.kind,
            "better when": {"up": "higher", "down": "lower"}.get(m.direction or "", "no direction"),
            "unit": m.unit,
            "definition": m.definition,
        }
        for m in data.metrics().values()
    ]
    return pd.DataFrame(rows)


def completeness_view(data: DashboardData) -> pd.DataFrame:
    t = data.completeness()
    t["filled (%)"] = (t["share"] * 100).round(1)
    return t.drop(columns=["share"])


def layout(data: DashboardData, **_: Any) -> Any:
    first, as_of = data.dates()
    loads = _printable(data.load_history())
    rejected = data.rejected_by_rule()
    return html.Div(
        [
            html.H1("Data", className="h4"),
            html.P(
                f"Data from {first:%d %b %Y} to {as_of:%d %b %Y} "
                "(the data-as-at date: the latest date anywhere "
                "in the warehouse).",
                className="text-muted",
            ),
            dbc.Row([_card("Load history", html_table(loads, ids.DATA_LOADS))]),
            dbc.Row(
                [
                    _card(
                        "Latest load, by table",
                        html_table(data.latest_load_by_table(), ids.DATA_LATEST_LOAD),
                        note="Rows read from each table's file, loaded and rejected by the latest load, and "
                        "the rows the warehouse holds now (earlier loads' rows included). A table with no "
                        "rows leaves the charts that need it empty; each page says so.",
                    )
                ]
            ),
            dbc.Row(
                [
                    _card(
                        "Rows rejected at load, by table and rule",
                        html_table(rejected, ids.DATA_REJECTED)
                        if len(rejected)
                        else html.P("No rows were rejected.", className="mb-0"),
                        note="Counts only; the rejected rows stay in the warehouse's quarantine table.",
                    )
                ]
            ),
            dbc.Row(
                [
                    _card(
                        "Completeness of optional fields, by table",
                        html_table(completeness_view(data), ids.DATA_COMPLETENESS),
                        note="Share of rows with a value. Some fields are empty by design "
                        "(an open episode has no "
                        "discharge date).",
                    )
                ]
            ),
            dbc.Row(
                [
                    _card(
                        "Metric definitions",
                        html_table(definitions_table(data), ids.DATA_DEFINITIONS),
                        note="Every count in the dashboard and its downloads is perturbed "
                        "(cell-key perturbation), so no count of 1–4 is shown; means and medians are "
                        "shown only for 10 or more records, rounded.",
                    )
                ]
            ),
        ]
    )


def register(app: Dash, data: DashboardData) -> None:
    """The Data page is drawn with the layout; it has no callbacks of its own."""
