"""Sign-in settings: read once at start-up from the environment (the same for every worker) and the
files it names, checked, and refused with the name of the setting to fix.

Sign-in is on when ``ROSC_USERS`` names a users file (small deployments: usernames and password
hashes on the server) or ``ROSC_OIDC`` names an OpenID Connect settings file (the organisation's
identity provider: Entra ID, Keycloak, Okta, ...), or both. Then ``ROSC_SECRET_KEY`` must be a random
string that is hard to guess: checked for its estimated entropy, not only its length.

A setting that is present but empty is refused, naming it: an empty ``ROSC_USERS`` must not quietly
turn sign-in off.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROLES = ("commissioner", "service_lead")

ENV_USERS = "ROSC_USERS"
ENV_OIDC = "ROSC_OIDC"
ENV_OIDC_CLIENT_SECRET = "ROSC_OIDC_CLIENT_SECRET"
ENV_SECRET_KEY = "ROSC_SECRET_KEY"
ENV_SESSION_STORE = "ROSC_SESSION_STORE"
ENV_SESSION_IDLE = "ROSC_SESSION_IDLE"
ENV_SESSION_MAX = "ROSC_SESSION_MAX"
ENV_HTTPS = "ROSC_HTTPS"
ENV_TRUSTED_PROXIES = "ROSC_TRUSTED_PROXIES"
ENV_LIMIT_PER_ADDRESS = "ROSC_SIGN_IN_LIMIT_PER_ADDRESS"
ENV_LIMIT_PER_USER = "ROSC_SIGN_IN_LIMIT_PER_USER"
#: Every environment setting of sign-in: none may be present but empty.
SETTINGS = (
    ENV_USERS,
    ENV_OIDC,
    ENV_OIDC_CLIENT_SECRET,
    ENV_SECRET_KEY,
    ENV_SESSION_STORE,
    ENV_SESSION_IDLE,
    ENV_SESSION_MAX,
    ENV_HTTPS,
    ENV_TRUSTED_PROXIES,
    ENV_LIMIT_PER_ADDRESS,
    ENV_LIMIT_PER_USER,
)

MIN_SECRET_LENGTH = 32
#: The least estimated entropy of ``ROSC_SECRET_KEY``, in bits (zxcvbn's estimate; a 128-bit key is the
#: usual floor for a key that signs or authenticates, e.g. NIST SP 800-107 for HMAC).
MIN_SECRET_BITS = 128
MAKE_A_SECRET = "python -c 'import secrets; print(secrets.token_hex(32))'"

DEFAULT_IDLE = timedelta(minutes=30)
DEFAULT_MAX = timedelta(hours=8)
#: Sign-in attempts allowed (Flask-Limiter's notation) before further tries are refused with 429: per
#: address every password sign-in counts, per username the failed ones.
DEFAULT_LIMIT_PER_ADDRESS = "30 per 15 minutes"
DEFAULT_LIMIT_PER_USER = "10 per 15 minutes"


class SignInConfigError(RuntimeError):
    """The sign-in settings are missing or wrong; the app does not start."""


@dataclass(frozen=True)
class Access:
    """What someone signed in may see: a role and, for a service lead, their programmes."""

    role: str
    programmes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FileUser:
    """A user of the users file."""

    username: str
    password_hash: str
    access: Access


@dataclass(frozen=True)
class OIDCSettings:
    """One OpenID Connect identity provider and the map from its group claim values to access."""

    issuer: str
    metadata_url: str
    client_id: str
    client_secret: str = field(repr=False)
    groups: Mapping[str, Access]
    groups_claim: str = "groups"
    username_claim: str = "preferred_username"
    scope: str = "openid profile email"
    label: str = "your organisation"
    redirect_uri: str | None = None

    def access_for(self, groups: Sequence[str]) -> Access | None:
        """Access from the groups a person is in: commissioner if any of their groups maps to
        commissioner; else a service lead of every programme their service-lead groups name; None
        (no access) when no group of theirs is in the map."""
        mapped = [self.groups[g] for g in groups if g in self.groups]
        if not mapped:
            return None
        if any(a.role == "commissioner" for a in mapped):
            return Access("commissioner")
        return Access("service_lead", frozenset().union(*(a.programmes for a in mapped)))


@dataclass(frozen=True)
class SignInConfig:
    """Everything sign-in needs, checked."""

    secret_key: str = field(repr=False)
    session_store: Path
    users: Mapping[str, FileUser] = field(default_factory=dict)
    oidc: OIDCSettings | None = None
    idle_timeout: timedelta = DEFAULT_IDLE
    absolute_timeout: timedelta = DEFAULT_MAX
    #: Served behind TLS (``ROSC_HTTPS=1``): plain HTTP is redirected to HTTPS, HSTS, secure cookies.
    https: bool = False
    #: The session cookie goes over HTTPS only (``ROSC_HTTPS``, or the users file's ``secure_cookie``).
    secure_cookie: bool = False
    trusted_proxies: int = 0
    limit_per_address: str = DEFAULT_LIMIT_PER_ADDRESS
    limit_per_user: str = DEFAULT_LIMIT_PER_USER


# -- reading ------------------------------------------------------------------------------------------


def sign_in_config(
    users_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    db_path: str | os.PathLike[str] | None = None,
) -> SignInConfig | None:
    """The sign-in settings: None (sign-in off) unless ``users_file``, ``ROSC_USERS`` or ``ROSC_OIDC``
    is given. The session store defaults to ``<db_path>.sessions.sqlite3`` beside the warehouse.
    Raises `SignInConfigError` naming the setting to fix."""
    env = os.environ if environ is None else environ
    for name in SETTINGS:
        # A secret of spaces is not empty but weak: `check_secret` says so.
        if name in env and not (env[name] if name == ENV_SECRET_KEY else env[name].strip()):
            raise SignInConfigError(f"{name} is set but empty: give it a value or remove it")
    users_path = users_file if users_file is not None else env.get(ENV_USERS)
    oidc_path = env.get(ENV_OIDC)
    if users_path is None and oidc_path is None:
        return None
    secure_cookie = False
    users: dict[str, FileUser] = {}
    if users_path is not None:
        users, secure_cookie = load_users(users_path)
    oidc = load_oidc(oidc_path, env) if oidc_path is not None else None
    on = f"sign-in is on ({ENV_USERS if users_path is not None else ENV_OIDC})"
    secret = env.get(ENV_SECRET_KEY, "")
    check_secret(secret, on)
    store = env.get(ENV_SESSION_STORE)
    if store is None:
        if db_path is None:
            raise SignInConfigError(f"{on}: set {ENV_SESSION_STORE} to the session store's file")
        store = str(db_path) + ".sessions.sqlite3"
    idle = _duration(env, ENV_SESSION_IDLE, DEFAULT_IDLE)
    absolute = _duration(env, ENV_SESSION_MAX, DEFAULT_MAX)
    if idle > absolute:
        raise SignInConfigError(f"{ENV_SESSION_IDLE} is longer than {ENV_SESSION_MAX}")
    return SignInConfig(
        secret_key=secret,
        session_store=Path(store),
        users=users,
        oidc=oidc,
        idle_timeout=idle,
        absolute_timeout=absolute,
        https=_flag(env, ENV_HTTPS),
        secure_cookie=_flag(env, ENV_HTTPS) or secure_cookie,
        trusted_proxies=_count(env, ENV_TRUSTED_PROXIES),
        limit_per_address=_limit(env, ENV_LIMIT_PER_ADDRESS, DEFAULT_LIMIT_PER_ADDRESS),
        limit_per_user=_limit(env, ENV_LIMIT_PER_USER, DEFAULT_LIMIT_PER_USER),
    )


def secret_bits(secret: str) -> float:
    """The estimated entropy of a secret in bits: log2 of zxcvbn's estimate of the guesses an attacker
    needs (Wheeler 2016, "zxcvbn: low-budget password strength estimation"), which counts repeats,
    sequences, keyboard patterns and dictionary words as the few guesses they are."""
    from zxcvbn import zxcvbn

    return float(zxcvbn(secret)["guesses_log10"]) * math.log2(10)


def check_secret(secret: str, context: str) -> None:
    """Refuse a missing, short or guessable ``ROSC_SECRET_KEY``."""
    if not secret:
        problem = "missing"
    elif len(secret) < MIN_SECRET_LENGTH:
        problem = f"too short ({len(secret)} characters, at least {MIN_SECRET_LENGTH})"
    else:
        bits = secret_bits(secret)
        if bits >= MIN_SECRET_BITS:
            return
        problem = f"too easy to guess (about {bits:.0f} bits of entropy, at least {MIN_SECRET_BITS})"
    raise SignInConfigError(
        f"{context} but {ENV_SECRET_KEY} is {problem}: set it to a random string, the same for every "
        f"worker, e.g. {MAKE_A_SECRET}"
    )


def _read_toml(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    where = Path(path)
    try:
        return tomllib.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise SignInConfigError(f"{what} {where} does not exist") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SignInConfigError(f"{what} {where} is not valid TOML: {error}") from error


def _access(entry: Mapping[str, Any], problem: str) -> Access:
    role, programmes = entry.get("role"), entry.get("programmes", [])
    if role not in ROLES:
        raise SignInConfigError(f"{problem}: role must be one of {', '.join(ROLES)}")
    if not isinstance(programmes, list) or not all(isinstance(p, str) and p.strip() for p in programmes):
        raise SignInConfigError(f"{problem}: programmes must be a list of programme ids")
    if role == "service_lead" and not programmes:
        raise SignInConfigError(f"{problem}: a service lead needs at least one programme")
    return Access(role, frozenset(programmes) if role == "service_lead" else frozenset())


def load_users(path: str | os.PathLike[str]) -> tuple[dict[str, FileUser], bool]:
    """The users of a users file by username, and its ``secure_cookie`` setting."""
    where = Path(path)
    raw = _read_toml(where, "users file")
    entries = raw.get("users")
    if not isinstance(entries, list) or not entries:
        raise SignInConfigError(f"users file {where} has no [[users]] entries")
    users: dict[str, FileUser] = {}
    for number, entry in enumerate(entries, start=1):
        problem = f"users file {where}, user {number}"
        if not isinstance(entry, dict):
            raise SignInConfigError(f"{problem}: not a table")
        username, password_hash = entry.get("username"), entry.get("password_hash")
        if not isinstance(username, str) or not username.strip():
            raise SignInConfigError(f"{problem}: username missing")
        if username in users:
            raise SignInConfigError(f"{problem}: username {username!r} appears twice")
        if not isinstance(password_hash, str) or "$" not in password_hash:
            raise SignInConfigError(
                f"{problem} ({username}): password_hash missing or not a werkzeug hash "
                "(make one with: python -m dashboard.auth hash-password)"
            )
        users[username] = FileUser(username, password_hash, _access(entry, f"{problem} ({username})"))
    secure_cookie = raw.get("secure_cookie", False)
    if not isinstance(secure_cookie, bool):
        raise SignInConfigError(f"users file {where}: secure_cookie must be true or false")
    return users, secure_cookie


def load_oidc(path: str | os.PathLike[str], env: Mapping[str, str]) -> OIDCSettings:
    """The OpenID Connect settings file (see the README's sign-in section for Entra ID and Keycloak)."""
    where = Path(path)
    raw = _read_toml(where, "OIDC settings file")
    known = {
        "issuer",
        "metadata_url",
        "client_id",
        "client_secret",
        "groups_claim",
        "username_claim",
        "scope",
        "label",
        "redirect_uri",
        "groups",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SignInConfigError(f"OIDC settings file {where}: unknown setting {unknown[0]!r}")

    def text(key: str, default: str | None = None) -> str | None:
        value = raw.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise SignInConfigError(
                f"OIDC settings file {where}: {key} is {'empty' if value == '' else 'not text'}"
            )
        return value.strip()

    issuer, client_id = text("issuer"), text("client_id")
    for key, value in (("issuer", issuer), ("client_id", client_id)):
        if value is None:
            raise SignInConfigError(f"OIDC settings file {where}: {key} is missing")
    assert issuer is not None and client_id is not None
    secret = env.get(ENV_OIDC_CLIENT_SECRET) or text("client_secret")
    if not secret:
        raise SignInConfigError(
            f"OIDC settings file {where}: the client secret is missing: set {ENV_OIDC_CLIENT_SECRET} "
            "(or client_secret in the file)"
        )
    groups = raw.get("groups")
    if not isinstance(groups, dict) or not groups:
        raise SignInConfigError(
            f'OIDC settings file {where} maps no groups: add [groups."<group>"] tables with a role'
        )
    mapped: dict[str, Access] = {}
    for group, entry in groups.items():
        if not isinstance(entry, dict) or not group.strip():
            raise SignInConfigError(f"OIDC settings file {where}: groups.{group!r} is not a table")
        mapped[group] = _access(entry, f"OIDC settings file {where}, groups.{group!r}")
    metadata = text("metadata_url") or issuer.rstrip("/") + "/.well-known/openid-configuration"
    return OIDCSettings(
        issuer=issuer,
        metadata_url=metadata,
        client_id=client_id,
        client_secret=secret,
        groups=mapped,
        groups_claim=text("groups_claim", "groups") or "groups",
        username_claim=text("username_claim", "preferred_username") or "preferred_username",
        scope=text("scope", "openid profile email") or "openid",
        label=text("label", "your organisation") or "your organisation",
        redirect_uri=text("redirect_uri"),
    )


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)\s*$")


def _duration(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    value = env.get(name)
    if value is None:
        return default
    found = _DURATION.match(value)
    if not found or float(found.group(1)) <= 0:
        raise SignInConfigError(f"{name} must be a duration such as 90s, 30m or 8h, not {value!r}")
    amount, unit = float(found.group(1)), found.group(2)
    return timedelta(seconds=amount * {"s": 1, "m": 60, "h": 3600}[unit])


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name)
    if value is None:
        return False
    if value.strip().lower() not in ("0", "1", "true", "false", "yes", "no"):
        raise SignInConfigError(f"{name} must be 1 or 0, not {value!r}")
    return value.strip().lower() in ("1", "true", "yes")


def _count(env: Mapping[str, str], name: str) -> int:
    value = env.get(name, "0").strip()
    if not value.isdigit():
        raise SignInConfigError(f"{name} must be a whole number (proxies in front of the app), not {value!r}")
    return int(value)


def _limit(env: Mapping[str, str], name: str, default: str) -> str:
    from limits import parse_many

    value = env.get(name, default)
    try:
        parse_many(value)
    except ValueError as error:
        raise SignInConfigError(
            f"{name} must be a rate such as '10 per 15 minutes', not {value!r}"
        ) from error
    return value
