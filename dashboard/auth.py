"""Optional sign-in, and what each signed-in role may see.

Sign-in is off unless a users file is configured (``ROSC_USERS=/path/users.toml`` or
``create_app(db, users_file=...)``); then ``ROSC_SECRET_KEY`` (32 characters or more, the same for
every worker) signs the session cookie, and the app refuses to start without it. The users file::

    secure_cookie = true            # optional: send the cookie over HTTPS only (behind TLS)

    [[users]]
    username = "ana"
    password_hash = "scrypt:32768:8:1$..."   # python -m dashboard.auth hash-password
    role = "commissioner"

    [[users]]
    username = "sam"
    password_hash = "scrypt:32768:8:1$..."
    role = "service_lead"
    programmes = ["PG03", "PG07"]

Roles: a commissioner (and everyone, when sign-in is off) sees everything. A service lead sees their own
programmes in full, and other programmes only as aggregates: anonymised points on the funnel plot and
system totals. This is enforced on the server, where the dashboard asks for data:

- `install_sign_in` guards every route: pages redirect to ``/login``, Dash's JSON routes (the callback
  endpoint included) answer 401; a callback request or page address naming another programme (filter,
  URL, drill-down) is refused with 403 before any callback runs.
- `dashboard.queries.DashboardData` passes every metric request through `scoped_filters` (and funnel
  results through `scoped_rows`): a service lead's request is restricted to their programmes unless the
  caller marked it ``with purpose(FUNNEL)`` or ``with purpose(SYSTEM_TOTAL)``; a filter naming another
  programme, provider or area raises `AccessDenied`.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import hashlib
import hmac
import os
import secrets
import sys
import time
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import pandas as pd
from flask import (
    Response,
    current_app,
    g,
    has_request_context,
    jsonify,
    redirect,
    render_template_string,
    request,
    session,
    url_for,
)
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard import ids
from dashboard.filters import FILTER_DIMENSIONS, FilterState

if TYPE_CHECKING:
    from dash import Dash

    from dashboard.queries import DashboardData

ROLES = ("commissioner", "service_lead")
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
MIN_SECRET_LENGTH = 32
SESSION_LIFETIME = timedelta(hours=8)
#: Seconds a failed sign-in waits before answering (slows guessing; the same for every failure).
LOGIN_DELAY = 0.5
_CALLBACK_PATH = "/_dash-update-component"
_PUBLIC_ENDPOINTS = frozenset({"rosc_login", "rosc_logout"})


@functools.cache
def _dummy_hash() -> str:
    """check_password_hash runs against this for an unknown username, so it costs the same as a known one."""
    return generate_password_hash(secrets.token_hex(16))


class SignInConfigError(RuntimeError):
    """The sign-in settings are missing or wrong; the app does not start."""


class AccessDenied(PermissionError):
    """The signed-in person may not see what was asked for."""


@dataclass(frozen=True)
class User:
    username: str
    password_hash: str
    role: str
    programmes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SignInConfig:
    users: Mapping[str, User]
    secret_key: str
    secure_cookie: bool = False


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

# -- configuration -----------------------------------------------------------------------------------


def load_users(path: str | os.PathLike[str]) -> tuple[dict[str, User], bool]:
    """The users of a users file by username, and its ``secure_cookie`` setting."""
    where = Path(path)
    try:
        raw = tomllib.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise SignInConfigError(f"users file {where} does not exist") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SignInConfigError(f"users file {where} is not valid TOML: {error}") from error
    entries = raw.get("users")
    if not isinstance(entries, list) or not entries:
        raise SignInConfigError(f"users file {where} has no [[users]] entries")
    users: dict[str, User] = {}
    for number, entry in enumerate(entries, start=1):
        problem = f"users file {where}, user {number}"
        if not isinstance(entry, dict):
            raise SignInConfigError(f"{problem}: not a table")
        username, password_hash, role = entry.get("username"), entry.get("password_hash"), entry.get("role")
        programmes = entry.get("programmes", [])
        if not isinstance(username, str) or not username.strip():
            raise SignInConfigError(f"{problem}: username missing")
        if username in users:
            raise SignInConfigError(f"{problem}: username {username!r} appears twice")
        if not isinstance(password_hash, str) or "$" not in password_hash:
            raise SignInConfigError(
                f"{problem} ({username}): password_hash missing or not a werkzeug hash "
                "(make one with: python -m dashboard.auth hash-password)"
            )
        if role not in ROLES:
            raise SignInConfigError(f"{problem} ({username}): role must be one of {', '.join(ROLES)}")
        if not isinstance(programmes, list) or not all(isinstance(p, str) and p for p in programmes):
            raise SignInConfigError(f"{problem} ({username}): programmes must be a list of programme ids")
        if role == "service_lead" and not programmes:
            raise SignInConfigError(f"{problem} ({username}): a service lead needs at least one programme")
        users[username] = User(username, password_hash, role, frozenset(programmes))
    secure_cookie = raw.get("secure_cookie", False)
    if not isinstance(secure_cookie, bool):
        raise SignInConfigError(f"users file {where}: secure_cookie must be true or false")
    return users, secure_cookie


def sign_in_config(
    users_file: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> SignInConfig | None:
    """The sign-in settings: None (sign-in off) unless ``users_file`` or ``ROSC_USERS`` names a users
    file; then ``ROSC_SECRET_KEY`` is required. Raises `SignInConfigError` with what to fix."""
    env = os.environ if environ is None else environ
    path = users_file if users_file is not None else env.get("ROSC_USERS") or None
    if path is None:
        return None
    users, secure_cookie = load_users(path)
    secret = env.get("ROSC_SECRET_KEY", "")
    if len(secret) < MIN_SECRET_LENGTH:
        raise SignInConfigError(
            f"sign-in is on (users file {path}) but ROSC_SECRET_KEY is "
            f"{'missing' if not secret else 'too short'}: set it to a random string of at least "
            f"{MIN_SECRET_LENGTH} characters, the same for every worker, e.g. "
            "python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return SignInConfig(users=users, secret_key=secret, secure_cookie=secure_cookie)


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


# -- sign-in -------------------------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · ROSC outcomes</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f5f6f7;color:#212529;
margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:2rem;width:100%;max-width:22rem}
h1{font-size:1.25rem;margin:0 0 1rem}label{display:block;font-size:.9rem;margin:.75rem 0 .25rem}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.45rem;font-size:1rem;
border:1px solid #adb5bd;border-radius:4px}
button{margin-top:1.25rem;width:100%;padding:.5rem;font-size:1rem;border:0;border-radius:4px;
background:#0b5394;color:#fff;cursor:pointer}
.message{background:#fbe9e7;border:1px solid #e0b4ad;border-radius:4px;padding:.5rem;font-size:.9rem}
</style></head>
<body><main>
<h1>{{ title }}</h1>
{% if message %}<p class="message" role="alert">{{ message }}</p>{% endif %}
{% if signing_out %}
<form method="post" action="{{ url_for('rosc_logout') }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<p>Sign out of the ROSC outcomes dashboard?</p>
<button type="submit">Sign out</button>
</form>
{% else %}
<form method="post" action="{{ url_for('rosc_login', next=next) }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
{% endif %}
</main></body></html>
"""

FAILED_SIGN_IN = "Sign-in failed: the username or password is not right."
_SIGN_OUT_LINK = (
    '<div style="position:fixed;bottom:.3rem;right:.6rem;font-size:.8rem;z-index:1000" class="no-print">'
    '<a href="/logout">Sign out</a></div>'
)


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def _csrf_ok() -> bool:
    sent, expected = request.form.get("csrf_token", ""), session.get("csrf", "")
    return bool(sent and expected) and hmac.compare_digest(str(sent), str(expected))


def _safe_next(target: str | None) -> str:
    """A local path to return to after signing in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _page(title: str, *, message: str = "", status: int = 200, **context: Any) -> Response:
    html = render_template_string(_PAGE, title=title, message=message, csrf=_csrf_token(), **context)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _fingerprint(secret_key: str, user: User) -> str:
    """Ties a session to the password hash, so changing a password (and restarting) signs its sessions out."""
    return hmac.new(secret_key.encode(), user.password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def _programme_units(data: DashboardData) -> dict[str, tuple[str, str, str]]:
    """Programme id → (provider id, area code, setting), from the programmes dimension table."""

    def compute() -> dict[str, tuple[str, str, str]]:
        table = data.warehouse.sql("SELECT programme_id, provider_id, area_code, setting FROM stg_programmes")
        return {str(p): (str(v), str(a), str(s)) for p, v, a, s in table.itertuples(index=False)}

    return data.cached(("access_units",), compute)  # type: ignore[return-value]


def scope_for(user: User, data: DashboardData) -> Scope:
    """A user's scope: everything for a commissioner; a service lead's programmes, providers, areas."""
    if user.role == "commissioner":
        return FULL_ACCESS
    units = _programme_units(data)
    mine = [units[p] for p in user.programmes if p in units]
    return Scope(
        programmes=user.programmes,
        providers=frozenset(provider for provider, _, _ in mine),
        areas=frozenset(area for _, area, _ in mine),
        settings=tuple(sorted((p, setting) for p, (_, _, setting) in units.items())),
    )


def install_sign_in(app: Dash, data: DashboardData, config: SignInConfig | None) -> None:
    """Put the app behind sign-in (nothing to do when ``config`` is None: sign-in is off)."""
    if config is None:
        return
    server = app.server
    server.secret_key = config.secret_key
    server.config.update(
        ROSC_SIGN_IN=True,
        SESSION_COOKIE_NAME="rosc_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.secure_cookie,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    server.config.setdefault("ROSC_LOGIN_DELAY", LOGIN_DELAY)
    users = config.users
    app.index_string = app.index_string.replace("{%app_entry%}", _SIGN_OUT_LINK + "{%app_entry%}", 1)

    def signed_in_user() -> User | None:
        user = users.get(str(session.get("user", "")))
        if user is None or not hmac.compare_digest(
            str(session.get("key", "")), _fingerprint(config.secret_key, user)
        ):
            return None
        return user

    def login() -> Response:
        target = _safe_next(request.args.get("next"))
        if request.method == "GET":
            if signed_in_user() is not None:
                return redirect(target)  # type: ignore[return-value]
            return _page("Sign in", next=target)
        if not _csrf_ok():
            return _page(
                "Sign in", message="The form had expired; please try again.", status=400, next=target
            )
        username, password = request.form.get("username", ""), request.form.get("password", "")
        user = users.get(username)
        # The same work whether or not the username exists: no way to tell which one was wrong.
        valid = check_password_hash(user.password_hash if user else _dummy_hash(), password)
        if user is None or not valid:
            time.sleep(float(server.config["ROSC_LOGIN_DELAY"]))
            current_app.logger.warning("failed sign-in from %s", request.remote_addr)
            return _page("Sign in", message=FAILED_SIGN_IN, status=401, next=target)
        session.clear()  # a fresh session (and CSRF token) at sign-in
        session.permanent = True
        session["user"] = user.username
        session["key"] = _fingerprint(config.secret_key, user)
        return redirect(target)  # type: ignore[return-value]

    def logout() -> Response:
        if request.method == "GET":
            return _page("Sign out", signing_out=True, next="/")
        if _csrf_ok():
            session.clear()
        return redirect(url_for("rosc_login"))  # type: ignore[return-value]

    server.add_url_rule("/login", "rosc_login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "rosc_logout", logout, methods=["GET", "POST"])

    def guard() -> Any:
        g.rosc_scope = NO_ACCESS  # until someone signed in is found (Dash may draw the layout first)
        if request.endpoint in _PUBLIC_ENDPOINTS:
            return None
        user = signed_in_user()
        if user is None:
            if request.path.startswith("/_") or request.method != "GET":
                return jsonify(error="unauthorized", message="Sign in first."), 401
            target = request.full_path if request.query_string else request.path
            return redirect(url_for("rosc_login", next=target))
        g.rosc_user = user
        g.rosc_scope = scope = scope_for(user, data)
        if request.path == _CALLBACK_PATH:
            reason = refusal(request.get_json(silent=True), scope)
            if reason:
                return jsonify(error="forbidden", message=reason), 403
        elif request.method == "GET" and not scope.everything:
            programme = _drill_down(request.path)
            if programme is not None and programme not in scope.allowed("programme"):
                return _page(
                    "Not your programme", message="You can see only your own programmes.", status=403
                )
        return None

    # Before Dash's own first-request set-up, which draws the layout: nobody anonymous gets that far.
    server.before_request_funcs.setdefault(None, []).insert(0, guard)


# -- python -m dashboard.auth hash-password ------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.auth", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "hash-password",
        help="read a password (prompted, or one line on stdin) and print its hash for the users file",
    )
    parser.parse_args(argv)
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("The passwords differ.", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("No password given.", file=sys.stderr)
        return 1
    print(generate_password_hash(password))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
