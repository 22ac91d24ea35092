"""What each signed-in person may see, enforced on the server where the dashboard asks for data, and
the log of every refusal.

Roles: a commissioner (and everyone, when sign-in is off) sees everything. A service lead sees their own
programmes in full, and other programmes only as aggregates: anonymised points on the funnel plot and
system totals. Who is signed in, and with which role, is `dashboard.signin`'s business (a users file or
the organisation's OpenID Connect provider); this module turns that into a `Scope` and enforces it:

- `refusal`: a callback request (already checked to match its callback exactly, see
  `dashboard.callback_requests.install_callback_checks`) or page address naming another programme,
  provider or area (a filter, the URL, a drill-down) is refused with 403 before any callback runs.
- `dashboard.queries.DashboardData` passes every data read through `scoped_filters` (and funnel
  results through `scoped_rows`, a programme's page header through `check_programme`): a service
  lead's request is restricted to their programmes unless the caller marked it ``with
  purpose(FUNNEL)`` or ``with purpose(SYSTEM_TOTAL)``; a request naming another programme, provider or
  area raises `AccessDenied`.
- `log_refusal` writes every refusal (sign-in, endpoint, data layer) to the ``dashboard.access`` log
  with who asked, from where, and what was asked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import pandas as pd
from flask import current_app, g, has_request_context, request

from dashboard import ids
from dashboard.filters import FILTER_DIMENSIONS, FilterState
from dashboard.signin.settings import Access, SignInConfigError

if TYPE_CHECKING:
    from dashboard.queries import DashboardData

#: The dimensions that name a programme or a group of programmes.
UNIT_DIMENSIONS = ("programme", "provider", "area")
#: Purposes under which a service lead may see beyond their own programmes (see `purpose`).
FUNNEL = "funnel"
SYSTEM_TOTAL = "system_total"
#: A service lead sees other programmes only in numbers that cover at least this many of them (a
#: total over their own and one other, less their own, would be that other programme).
MIN_OTHER_PROGRAMMES = 3

#: The label of another programme's point on a service lead's funnel plot; its id is blank.
OTHER_PROGRAMME = "other programme"

access_log = logging.getLogger("dashboard.access")


class AccessDenied(PermissionError):
    """The signed-in person may not see what was asked for."""


@dataclass(frozen=True)
class Scope:
    """What one person may see in full: everything (``programmes`` is None), or some programmes with
    their providers and areas (the only providers and areas they may filter on)."""

    programmes: frozenset[str] | None = None
    providers: frozenset[str] = frozenset()
    areas: frozenset[str] = frozenset()
    #: (programme, setting) for every programme: how many others a setting filter leaves.
    settings: tuple[tuple[str, str], ...] = ()

    @property
    def everything(self) -> bool:
        return self.programmes is None

    def others_in(self, settings: Sequence[str]) -> int:
        """The number of other programmes in ``settings`` (all settings when empty)."""
        return sum(
            1
            for programme, setting in self.settings
            if programme not in (self.programmes or ()) and (not settings or setting in settings)
        )

    def allowed(self, dimension: str) -> frozenset[str]:
        return {"programme": self.programmes or frozenset(), "provider": self.providers, "area": self.areas}[
            dimension
        ]


FULL_ACCESS = Scope()
#: Nobody signed in (the sign-in page's own requests): no programme at all.
NO_ACCESS = Scope(programmes=frozenset())


# -- the scope of the current request, and the hooks the data layer calls ------------------------------

_purpose: ContextVar[str | None] = ContextVar("rosc_access_purpose", default=None)


@contextmanager
def purpose(name: str | None) -> Iterator[None]:
    """Mark the data requests made inside the block: `FUNNEL` (a breakdown by programme for the funnel
    plot, where a service lead sees other programmes anonymised) or `SYSTEM_TOTAL` (a total over all
    programmes, with no breakdown by programme, provider or area)."""
    if name not in (None, FUNNEL, SYSTEM_TOTAL):
        raise ValueError(name)
    token = _purpose.set(name)
    try:
        yield
    finally:
        _purpose.reset(token)


def current_scope() -> Scope:
    """The signed-in person's scope; everything outside a request (start-up, notebooks, tests of the
    data layer) and when sign-in is off. Inside a request with sign-in on and nobody signed in, nothing."""
    if not has_request_context():
        return FULL_ACCESS
    scope = g.get("rosc_scope")
    if scope is None:
        if current_app.config.get("ROSC_SIGN_IN"):
            raise AccessDenied("not signed in")
        return FULL_ACCESS
    return scope


def _check_named(filters: Mapping[str, Sequence[str]], scope: Scope) -> None:
    for dimension in UNIT_DIMENSIONS:
        outside = [v for v in filters.get(dimension) or () if str(v) not in scope.allowed(dimension)]
        if outside:
            raise AccessDenied(f"no access to {dimension} {outside[0]!r}")


def scoped_filters(
    filters: Mapping[str, Sequence[str]] | None, by: Sequence[str] = ()
) -> dict[str, list[str]]:
    """The filters a metric request may run with for the current person.

    Everything for a commissioner. For a service lead: a filter naming another programme, provider or
    area raises `AccessDenied`; the request is restricted to their programmes, except a funnel
    breakdown (``by == ["programme"]`` under `FUNNEL`) and a total with no programme, provider or area
    breakdown under `SYSTEM_TOTAL`, as long as neither is narrowed to a provider or an area, nor to
    settings with fewer than `MIN_OTHER_PROGRAMMES` other programmes.
    """
    chosen = {k: list(v) for k, v in (filters or {}).items()}
    scope = current_scope()
    if scope.everything:
        return chosen
    if not scope.programmes:
        raise AccessDenied("no programmes")
    _check_named(chosen, scope)
    wanted = _purpose.get()
    # Narrowed to a provider or an area, "the others" may be one programme a reader can name, and a
    # setting may hold only one or two others: then their own only.
    narrowed = any(chosen.get(d) for d in ("provider", "area"))
    narrowed = narrowed or scope.others_in(chosen.get("setting") or ()) < MIN_OTHER_PROGRAMMES
    if not narrowed and wanted == FUNNEL and list(by) == ["programme"]:
        return chosen
    if not narrowed and wanted == SYSTEM_TOTAL and not set(by) & set(UNIT_DIMENSIONS):
        return chosen
    chosen["programme"] = chosen.get("programme") or sorted(scope.programmes or ())
    return chosen


def scoped_state(state: FilterState, by: Sequence[str] = ()) -> FilterState:
    """`scoped_filters` for a request made with a whole filter state."""
    filters = scoped_filters(state.metric_filters(), by)
    return FilterState(state.start, state.end, **{d: tuple(filters.get(d, ())) for d in FILTER_DIMENSIONS})


def scoped_rows(table: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """A metric table as the current person may see it: for a service lead's funnel breakdown, other
    programmes' rows lose their id (blank) and come after their own, ordered by size, so neither the
    id nor the order names them."""
    scope = current_scope()
    if scope.everything or _purpose.get() != FUNNEL or list(by) != ["programme"] or table.empty:
        return table
    own = table["programme"].astype(str).isin(scope.programmes or ())
    out = table.astype({"programme": object})
    out.loc[~own, "programme"] = ""
    others = out[~own].sort_values(["denominator", "value"], na_position="last", kind="stable")
    order = [*out.index[own], *others.index]
    return out.loc[order].reset_index(drop=True)


def scoped_options(options: dict[str, list[dict[str, str]]]) -> dict[str, list[dict[str, str]]]:
    """Filter dropdown options: a service lead is offered only their programmes, and the providers and
    areas of their programmes."""
    scope = current_scope()
    if scope.everything:
        return options
    out = dict(options)
    for dimension in UNIT_DIMENSIONS:
        allowed = scope.allowed(dimension)
        out[dimension] = [o for o in options.get(dimension, []) if o["value"] in allowed]
    return out


# -- the callback endpoint's own check ---------------------------------------------------------------


def _items(values: Any) -> Iterator[dict[str, Any]]:
    if isinstance(values, dict):
        yield values
    elif isinstance(values, list):
        for value in values:
            yield from _items(value)


def _named_units(item: dict[str, Any]) -> dict[str, list[str]]:
    """Programme, provider and area values one callback input names, by dimension."""
    ident, prop, value = item.get("id"), item.get("property"), item.get("value")
    named: dict[str, list[str]] = {}

    def add(dimension: str, values: Any) -> None:
        values = values if isinstance(values, list) else [values]
        named.setdefault(dimension, []).extend(str(v) for v in values if v not in (None, ""))

    if ident == ids.FILTER_STATE and isinstance(value, dict):
        for dimension in UNIT_DIMENSIONS:
            add(dimension, value.get(dimension))
    elif ident in (ids.PROGRAMME, ids.PROVIDER, ids.AREA) and prop == "value":
        add({ids.PROGRAMME: "programme", ids.PROVIDER: "provider", ids.AREA: "area"}[ident], value)
    elif ident == ids.URL and prop == "search" and isinstance(value, str):
        query = parse_qs(value.lstrip("?"))
        for dimension in UNIT_DIMENSIONS:
            add(dimension, query.get(dimension, []))
    elif ident == ids.URL and prop == "pathname" and isinstance(value, str):
        add("programme", _drill_down(value))
    elif ident == ids.PROGRAMME_ID:
        add("programme", value)
    elif isinstance(ident, dict) and ident.get("type") == ids.CHART_SPEC and isinstance(value, dict):
        add("programme", value.get(ids.PROGRAMME_ID))
    return named


def _drill_down(pathname: str) -> str | None:
    """The programme a path's drill-down page is for, if it is one."""
    from dashboard.app import resolve_page  # the app imports this module

    _, params = resolve_page(pathname)
    return params.get("programme_id")


def refusal(body: Any, scope: Scope) -> str | None:
    """Why a callback request must be refused (it names a programme, provider or area outside the
    scope, in a filter, the URL or a drill-down), or None."""
    if scope.everything or not isinstance(body, dict):
        return None
    for item in _items([body.get("inputs"), body.get("state")]):
        for dimension, values in _named_units(item).items():
            outside = [v for v in values if v not in scope.allowed(dimension)]
            if outside:
                return f"You can see {dimension} details only for your own programmes."
    return None


def check_programme(programme_id: str) -> None:
    """Raise `AccessDenied` unless the current person may see the programme ``programme_id`` in full
    (its name, setting, provider and area: a programme page's header)."""
    scope = current_scope()
    if not scope.everything and str(programme_id) not in scope.allowed("programme"):
        raise AccessDenied(f"no access to programme {str(programme_id)[:100]!r}")


def _programme_units(data: DashboardData) -> dict[str, tuple[str, str, str]]:
    """Programme id → (provider id, area code, setting), from the programmes dimension table."""

    def compute() -> dict[str, tuple[str, str, str]]:
        table = data.warehouse.sql("SELECT programme_id, provider_id, area_code, setting FROM stg_programmes")
        return {str(p): (str(v), str(a), str(s)) for p, v, a, s in table.itertuples(index=False)}

    return data.cached(("access_units",), compute)  # type: ignore[return-value]


def scope_for(access: Access, data: DashboardData) -> Scope:
    """A person's scope: everything for a commissioner; a service lead's programmes, providers, areas."""
    if access.role == "commissioner":
        return FULL_ACCESS
    units = _programme_units(data)
    mine = [units[p] for p in access.programmes if p in units]
    return Scope(
        programmes=access.programmes,
        providers=frozenset(provider for provider, _, _ in mine),
        areas=frozenset(area for _, area, _ in mine),
        settings=tuple(sorted((p, setting) for p, (_, _, setting) in units.items())),
    )


# -- the log of refusals --------------------------------------------------------------------------------


def who() -> str:
    """The signed-in person of the current request as the access log names them."""
    if not has_request_context():
        return "(no request)"
    if not current_app.config.get("ROSC_SIGN_IN"):
        return "everyone (sign-in off)"
    name = g.get("rosc_username")
    role = g.get("rosc_role")
    return f"{name} ({role})" if name else "anonymous"


def log_refusal(status: int, reason: str, asked: str = "") -> None:
    """Log one refusal: the status answered, why, who asked from which address, and what they asked
    for (quoted with repr, so a value cannot forge a log line)."""
    where = f"{request.method} {request.path}"[:300] if has_request_context() else ""
    address = request.remote_addr if has_request_context() else ""

    def one_line(text: str) -> str:  # text from a request or a provider never starts a log line of its own
        return text.replace("\r", "\\r").replace("\n", "\\n")

    access_log.warning(
        "refused %s to %s from %s: %s %s; asked %s",
        status,
        who(),
        address,
        one_line(where),
        one_line(reason),
        one_line(asked[:500]) or "-",
    )


def describe_body(body: Any) -> str:
    """What a callback request asked for, for the log: its output and every input and state value."""
    if not isinstance(body, dict):
        return repr(body)[:300]
    parts = [f"output={str(body.get('output'))[:200]!r}"]
    for item in _items([body.get("inputs"), body.get("state")]):
        parts.append(
            f"{str(item.get('id'))[:100]}.{str(item.get('property'))[:50]}={item.get('value')!r:.200}"
        )
    return "; ".join(parts)


__all__ = [
    "FULL_ACCESS",
    "FUNNEL",
    "MIN_OTHER_PROGRAMMES",
    "NO_ACCESS",
    "OTHER_PROGRAMME",
    "SYSTEM_TOTAL",
    "UNIT_DIMENSIONS",
    "Access",
    "AccessDenied",
    "Scope",
    "SignInConfigError",
    "check_programme",
    "current_scope",
    "describe_body",
    "log_refusal",
    "purpose",
    "refusal",
    "scope_for",
    "scoped_filters",
    "scoped_options",
    "scoped_rows",
    "scoped_state",
    "who",
]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dashboard.auth``: see `dashboard.signin.admin`."""
    from dashboard.signin.admin import main as admin_main

    return admin_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
