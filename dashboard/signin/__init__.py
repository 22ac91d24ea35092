"""Sign-in: who is using the dashboard, for how long, and how hard it is to guess a way in.

Two ways in, either or both (`dashboard.signin.settings` reads and checks the settings):

- **OpenID Connect** (``ROSC_OIDC``): the organisation's identity provider (Entra ID, Keycloak, Okta)
  signs people in through Authlib's Flask client (authorisation code flow with PKCE, state and nonce;
  the ID token's signature, expiry, issuer (exactly the configured one) and audience (this client) are
  checked). The ID token's group claim is
  mapped to a role and programmes by the settings file's ``[groups]`` table, afresh on every request,
  so a changed map applies at the next restart.
- **A users file** (``ROSC_USERS``) for small deployments: usernames and werkzeug password hashes.

Either way Flask-Login keeps the signed-in user in a server-side session (`dashboard.signin.store`):
the session id is new at every sign-in, a session ends after ``ROSC_SESSION_IDLE`` without a request
or ``ROSC_SESSION_MAX`` after sign-in, and sign-out (or ``python -m dashboard.auth revoke USER``)
deletes it for every worker at once. Password sign-ins are counted per address (every attempt) and
per username (failures); OpenID Connect callbacks per address (failures). Flask-Limiter keeps the
counters in the same shared file; past a limit the answer is an immediate 429, and no worker ever
sleeps.

`install_sign_in` guards every route: pages redirect to ``/login``, Dash's JSON routes (the callback
endpoint included) answer 401, and a programme page outside the person's scope answers 403; every
refusal is logged (`dashboard.auth.log_refusal`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Response, g, jsonify, redirect, request, session, url_for
from flask_limiter import Limiter
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard import auth
from dashboard.signin import store as _store  # noqa: F401  (registers the rosc-sqlite:// limits storage)
from dashboard.signin.page import sign_in_page
from dashboard.signin.settings import (
    Access,
    FileUser,
    OIDCSettings,
    SignInConfig,
    SignInConfigError,
    sign_in_config,
)
from dashboard.signin.store import SessionStoreInterface, SignInStore

if TYPE_CHECKING:
    from dash import Dash

    from dashboard.queries import DashboardData

FAILED_SIGN_IN = "Sign-in failed: the username or password is not right."
TOO_MANY_ATTEMPTS = (
    "Too many failed sign-ins. Wait a while and try again, or ask your dashboard administrator."
)
SESSION_ENDED = "Your session has ended. Please sign in again."
#: Requests per address per minute to the sign-in pages themselves (each may start a session).
PAGE_LIMIT = "120 per minute"
COOKIE_NAME = "rosc_session"
_PUBLIC_ENDPOINTS = frozenset({"rosc_login", "rosc_logout", "rosc_login_oidc", "rosc_oidc_callback"})
_SIGN_OUT_LINK = (
    '<div style="position:fixed;bottom:.3rem;right:.6rem;font-size:.8rem;z-index:1000" class="no-print">'
    '<a href="/logout">Sign out</a></div>'
)

__all__ = [
    "FAILED_SIGN_IN",
    "SignInConfig",
    "SignInConfigError",
    "SignedIn",
    "install_sign_in",
    "local_path",
    "sign_in_config",
]


@dataclass(frozen=True, eq=False)
class SignedIn(UserMixin):
    """Flask-Login's user: who is signed in, and what they may see."""

    id: str  # "file:<username>" or "oidc:<subject>"
    username: str
    access: Access

    def get_id(self) -> str:
        return self.id


def local_path(target: str | None) -> str:
    """Where to go after signing in: ``target`` with its control characters removed, if that is a path
    on this site (``/…``, not ``//host``, no backslash, no scheme or host); anything else is ``/``.

    Control characters go first because browsers drop tabs and newlines inside a URL: ``/\\t/evil``
    would otherwise be read as ``//evil``, another site."""
    if not target:
        return "/"
    cleaned = "".join(c for c in target if unicodedata.category(c) != "Cc").strip()
    if not cleaned.startswith("/") or cleaned.startswith("//") or "\\" in cleaned:
        return "/"
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc:
        return "/"
    return cleaned


@functools.cache
def _dummy_hash() -> str:
    """check_password_hash runs against this for an unknown username, so it costs the same as a known one."""
    return generate_password_hash(secrets.token_hex(16))


def _fingerprint(secret_key: str, user: FileUser) -> str:
    """Ties a session to the password hash, so changing a password (and restarting) signs its sessions out."""
    return hmac.new(secret_key.encode(), user.password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def _csrf_ok() -> bool:
    sent, expected = request.form.get("csrf_token", ""), session.get("csrf", "")
    return bool(sent and expected) and hmac.compare_digest(str(sent), str(expected))


def _address() -> str:
    return f"address:{request.remote_addr or ''}"


def _username_key() -> str:
    return f"user:{request.form.get('username', '').strip().casefold()[:200]}"


def claim_values(claims: dict[str, Any], path: str) -> list[str]:
    """The values of a claim named by a dotted path (``groups``, ``roles``, ``realm_access.roles``) as
    a list of strings; a lone string is one value; missing is none."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int))]
    return []


def install_sign_in(app: Dash, data: DashboardData, config: SignInConfig | None) -> None:
    """Put the app behind sign-in (nothing to do when ``config`` is None: sign-in is off)."""
    if config is None:
        return
    server = app.server
    server.secret_key = config.secret_key
    server.config.update(
        ROSC_SIGN_IN=True,
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.secure_cookie,
    )
    if config.trusted_proxies:
        n = config.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    sessions = SignInStore(
        config.session_store, config.secret_key, config.idle_timeout, config.absolute_timeout
    )
    server.session_interface = SessionStoreInterface(sessions, COOKIE_NAME)
    server.extensions["rosc_sessions"] = sessions
    app.index_string = app.index_string.replace("{%app_entry%}", _SIGN_OUT_LINK + "{%app_entry%}", 1)

    logins = LoginManager()
    logins.session_protection = None  # the server-side session is the protection; no IP pinning
    logins.init_app(server)
    oidc = config.oidc

    @logins.user_loader
    def load_user(user_id: str) -> SignedIn | None:
        if user_id.startswith("file:"):
            user = config.users.get(user_id[5:])
            if user is None or not hmac.compare_digest(
                str(session.get("rosc_password", "")), _fingerprint(config.secret_key, user)
            ):
                return None
            return SignedIn(user_id, user.username, user.access)
        if user_id.startswith("oidc:") and oidc is not None:
            groups = session.get("rosc_groups")
            access = oidc.access_for(groups) if isinstance(groups, list) else None
            if access is None:
                return None
            return SignedIn(user_id, str(session.get("rosc_username", "")), access)
        return None

    limiter = Limiter(
        _address,
        app=server,
        storage_uri=f"rosc-sqlite://{sessions.path}",
        strategy="fixed-window",
        headers_enabled=True,
    )
    server.extensions["rosc_limiter"] = limiter

    def page(title: str, **context: Any) -> Response:
        return sign_in_page(
            title,
            sign_in=True,
            oidc_label=oidc.label if oidc else "",
            password_form=bool(config.users),
            csrf=_csrf_token(),
            **context,
        )

    def sign_in(person: SignedIn, remember: dict[str, Any]) -> None:
        session.clear()
        session.regenerate()  # type: ignore[attr-defined]  # a new session id at every sign-in
        login_user(person)
        session["rosc_username"] = person.username
        session.update(remember)
        auth.access_log.info(
            "signed in: %s (%s) from %s", person.username, person.access.role, request.remote_addr
        )

    def failed() -> Response:
        return page("Sign in", message=FAILED_SIGN_IN, status=401, next=local_path(request.args.get("next")))

    def login() -> Any:
        target = local_path(request.args.get("next"))
        if request.method == "GET":
            if current_user.is_authenticated:
                return redirect(target)
            return page("Sign in", next=target, message=SESSION_ENDED if request.args.get("expired") else "")
        if not config.users:
            return page("Sign in", next=target, status=405)
        if not _csrf_ok():
            auth.log_refusal(400, "sign-in form without its CSRF token")
            return page("Sign in", message="The form had expired; please try again.", status=400, next=target)
        username, password = request.form.get("username", ""), request.form.get("password", "")
        user = config.users.get(username)
        # The same work whether or not the username exists: no way to tell which one was wrong.
        valid = check_password_hash(user.password_hash if user else _dummy_hash(), password)
        if user is None or not valid:
            auth.log_refusal(401, "failed sign-in", asked=f"username={username[:100]!r}")
            return failed()
        person = SignedIn(f"file:{user.username}", user.username, user.access)
        sign_in(person, {"rosc_password": _fingerprint(config.secret_key, user)})
        return redirect(target)

    def logout() -> Any:
        if request.method == "GET":
            return sign_in_page("Sign out", signing_out=True, csrf=_csrf_token())
        if not _csrf_ok():
            auth.log_refusal(400, "sign-out form without its CSRF token")
            return redirect(url_for("rosc_login"))
        if current_user.is_authenticated:
            auth.access_log.info("signed out: %s from %s", current_user.username, request.remote_addr)
        logout_user()
        session.clear()  # the stored session is deleted: a copied cookie is worth nothing now
        return redirect(url_for("rosc_login"))

    failed_here = functools.partial(limiter.limit, deduct_when=lambda r: r.status_code in (401, 403))
    login = limiter.limit(PAGE_LIMIT)(login)
    # Per address every attempt counts, when it arrives (atomic across workers, so a burst cannot
    # overshoot); per username only failures count, so a user's own sign-ins never lock them out.
    login = limiter.limit(config.limit_per_address, methods=["POST"])(login)
    login = failed_here(config.limit_per_user, key_func=_username_key, methods=["POST"])(login)
    server.add_url_rule("/login", "rosc_login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "rosc_logout", logout, methods=["GET", "POST"])
    if oidc is not None:
        start, callback = _oidc_views(server, oidc, page, sign_in)
        start = limiter.limit(PAGE_LIMIT)(start)
        callback = failed_here(config.limit_per_address)(limiter.limit(PAGE_LIMIT)(callback))
        server.add_url_rule("/login/oidc", "rosc_login_oidc", start)
        server.add_url_rule("/login/oidc/callback", "rosc_oidc_callback", callback)

    def too_many(error: Exception) -> Any:
        auth.log_refusal(429, f"rate limit {getattr(error, 'description', '')}", asked=_username_key())
        response = page(
            "Sign in", message=TOO_MANY_ATTEMPTS, status=429, next=local_path(request.args.get("next"))
        )
        limit = getattr(error, "limit", None)
        if limit is not None:
            response.headers["Retry-After"] = str(int(limit.limit.get_expiry()))
        return response

    server.register_error_handler(429, too_many)

    def guard() -> Any:
        g.rosc_scope = auth.NO_ACCESS  # until someone signed in is found (Dash may draw the layout first)
        if request.endpoint in _PUBLIC_ENDPOINTS:
            return None
        person = current_user
        if not person.is_authenticated:
            ended = bool(getattr(session, "expired", False))
            if request.path.startswith("/_") or request.method != "GET":
                auth.log_refusal(401, "not signed in" + (" (session ended)" if ended else ""))
                return jsonify(error="unauthorized", message="Sign in first."), 401
            target = request.full_path if request.query_string else request.path
            return redirect(url_for("rosc_login", next=target, expired=1 if ended else None))
        g.rosc_username, g.rosc_role = person.username, person.access.role
        g.rosc_scope = scope = auth.scope_for(person.access, data)
        if request.method == "GET" and not scope.everything:
            programme = auth._drill_down(request.path)
            if programme is not None and programme not in scope.allowed("programme"):
                auth.log_refusal(403, "another programme's page", asked=repr(request.path[:200]))
                return sign_in_page(
                    "Not your programme", message="You can see only your own programmes.", status=403
                )
        return None

    # Before Dash's own first-request set-up, which draws the layout: nobody anonymous gets that far.
    server.before_request_funcs.setdefault(None, []).insert(0, guard)


def _oidc_views(server: Any, oidc: OIDCSettings, page: Any, sign_in: Any) -> tuple[Any, Any]:
    """The two OpenID Connect routes: start (redirect to the provider) and the provider's callback."""
    import requests
    from authlib.common.errors import AuthlibBaseError
    from authlib.integrations.flask_client import OAuth
    from joserfc.errors import JoseError

    oauth = OAuth(server)
    oauth.register(
        "oidc",
        client_id=oidc.client_id,
        client_secret=oidc.client_secret,
        server_metadata_url=oidc.metadata_url,
        client_kwargs={"scope": oidc.scope, "code_challenge_method": "S256"},
    )
    client = oauth.create_client("oidc")
    # Authlib checks the ID token's issuer against the provider's metadata and its audience only through
    # the azp rule; OpenID Connect Core 3.1.3.7 says the client MUST check both: iss is exactly the
    # configured issuer, and aud lists this client.
    claims_options = {
        "iss": {"essential": True, "values": [oidc.issuer]},
        "aud": {"essential": True, "values": [oidc.client_id]},
    }
    unreachable = f"The sign-in service of {oidc.label} cannot be reached just now. Please try again later."

    def start() -> Any:
        session["rosc_next"] = local_path(request.args.get("next"))
        redirect_uri = oidc.redirect_uri or url_for("rosc_oidc_callback", _external=True)
        try:
            return client.authorize_redirect(redirect_uri)
        except (requests.RequestException, ValueError, KeyError, AuthlibBaseError) as error:
            auth.log_refusal(502, "identity provider unreachable", asked=f"{type(error).__name__}: {error}")
            return page("Sign in", message=unreachable, status=502, next="/")

    def callback() -> Any:
        target = local_path(session.pop("rosc_next", "/"))
        try:
            token = client.authorize_access_token(claims_options=claims_options)
        except requests.RequestException as error:
            auth.log_refusal(502, "identity provider unreachable", asked=f"{type(error).__name__}: {error}")
            return page("Sign in", message=unreachable, status=502, next=target)
        except (AuthlibBaseError, JoseError, ValueError, KeyError) as error:
            # state, code or ID token refused: signature, issuer, audience, expiry, nonce
            auth.log_refusal(
                401, "OpenID Connect sign-in refused", asked=f"{type(error).__name__}: {error}"[:300]
            )
            return page(
                "Sign in",
                message=f"Sign-in with {oidc.label} failed. Please try again.",
                status=401,
                next=target,
            )
        claims = dict(token.get("userinfo") or {})
        if not claims.get("sub"):
            auth.log_refusal(401, "OpenID Connect answer without an ID token")
            return page(
                "Sign in",
                message=f"Sign-in with {oidc.label} failed. Please try again.",
                status=401,
                next=target,
            )
        groups = claim_values(claims, oidc.groups_claim)
        username = str(claims.get(oidc.username_claim) or claims.get("email") or claims["sub"])[:200]
        access = oidc.access_for(groups)
        if access is None:
            overage = oidc.groups_claim in (claims.get("_claim_names") or {})
            reason = "too many groups for the token (use app roles)" if overage else "no group in the map"
            auth.log_refusal(
                403,
                f"OpenID Connect sign-in: {reason}",
                asked=f"username={username!r} groups={groups!r:.300}",
            )
            return sign_in_page(
                "No access",
                message=f"You are signed in to {oidc.label}, but your account is not in a group that may use "
                "this dashboard. Ask your dashboard administrator to add you.",
                status=403,
            )
        sign_in(SignedIn(f"oidc:{claims['sub']}", username, access), {"rosc_groups": groups})
        return redirect(target)

    return start, callback


__all__ += ["claim_values", "OIDCSettings", "sign_in_config"]
