"""The "Board pack" download: the board pack (`report`) of the view on screen, served as a PDF at
``/board-pack.pdf?from=YYYY-MM&to=YYYY-MM&<filter>=<value>``, the query string of the view's own link.

It is an ordinary GET behind the same sign-in guard as every page (`dashboard.signin`), and reads
through the same `DashboardData` and access scope as every callback: a service lead's pack covers their
own programmes, a link naming another programme, provider or area is refused with 403, and everything
refused is logged (`dashboard.auth.log_refusal`). The link is never settled the way a page's link is: a
period of a shape the dashboard does not answer, a filter value that is not an option or a second value
of a filter is refused with 400 and a message saying what is answered, so a pack never shows other
than what it was asked for.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from dash import Dash
from flask import Response, jsonify, request

from dashboard import auth
from dashboard.filters import DIMENSION_LABELS, FILTER_DIMENSIONS, FilterState, encode_query, state_of
from dashboard.periods import Month, Period
from dashboard.queries import DashboardData, ViewRefused

ROUTE = "/board-pack.pdf"


class PackRequestRefused(ValueError):
    """A board-pack link that does not name one view the dashboard answers."""


def pack_href(state: FilterState) -> str:
    """The Board pack button's link for the view ``state``."""
    return ROUTE + encode_query(state)


def read_pack_query(query: str, data: DashboardData) -> FilterState:
    """The view a board-pack link names, exactly: ``from`` and ``to`` months (both, or neither for the
    default period) and at most one value per filter dimension, each one of its options.
    `PackRequestRefused` for anything else (unknown keys too)."""
    from report import PERIOD_SHAPES

    asked = parse_qs(query, keep_blank_values=True)
    unknown = [k for k in asked if k not in ("from", "to", *FILTER_DIMENSIONS)]
    if unknown:
        raise PackRequestRefused(f"{unknown[0][:40]!r} is not a filter")
    repeated = [k for k, v in asked.items() if len(v) > 1]
    if repeated:
        name = DIMENSION_LABELS.get(repeated[0], repeated[0]).lower()
        raise PackRequestRefused(
            f"a board pack is for one value of each filter or all, not several of {name}"
        )
    if ("from" in asked) != ("to" in asked):
        raise PackRequestRefused("give both from and to (YYYY-MM), or neither")
    from dashboard.periods import DataSpan

    span = DataSpan.of(*data.dates())
    period = span.default()
    if "from" in asked:
        try:
            period = Period(Month.parse(asked["from"][0]), Month.parse(asked["to"][0]))
        except ValueError:
            raise PackRequestRefused(f"from and to must be months YYYY-MM, giving {PERIOD_SHAPES}") from None
    options = data.filter_options()
    values: dict[str, list[str]] = {}
    for dimension in FILTER_DIMENSIONS:
        given = [v for v in asked.get(dimension, []) if v]
        known = {o["value"] for o in options.get(dimension, [])}
        if dimension in auth.UNIT_DIMENSIONS and not auth.current_scope().everything:
            known |= set(given)  # let the scope check refuse (403) what is not theirs, and log it
        if any(v not in known for v in given):
            raise PackRequestRefused(f"{given[0][:40]!r} is not a {DIMENSION_LABELS[dimension].lower()} here")
        values[dimension] = given
    return state_of(period, **values)


def install_board_pack(app: Dash, data: DashboardData) -> None:
    """Serve `ROUTE` on ``app``'s server."""

    def board_pack() -> Any:
        from report import PackRefused
        from report.pack import collect_pack
        from report.render import render_pack

        query = request.query_string.decode("utf-8", "replace")
        try:
            state = read_pack_query(query, data)
            auth.scoped_filters(state.metric_filters())  # 403 before any work for a unit outside the scope
            pack = collect_pack(data, state)
        except (PackRequestRefused, PackRefused, ViewRefused) as error:
            auth.log_refusal(400, f"board pack not answered: {error}", asked=repr(query[:300]))
            return jsonify(error="not a view the dashboard answers", message=str(error)), 400
        except auth.AccessDenied as error:
            auth.log_refusal(403, f"board pack outside the scope: {error}", asked=repr(query[:300]))
            return jsonify(error="forbidden", message="You can see only your own programmes."), 403
        pdf = render_pack(pack)
        return Response(
            pdf,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{pack.filename}"'},
        )

    app.server.add_url_rule(ROUTE, "rosc_board_pack", board_pack, methods=["GET"])
