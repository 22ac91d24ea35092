"""Fixtures of the security tests: the dashboard tests' small synthetic warehouse (built once per
session), and for the sign-in attacker tests the dashboard under gunicorn with sign-in on (a users file
and a local OpenID Connect provider), on a warehouse whose load quarantined a few rows."""

from __future__ import annotations

import csv
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.dashboard.conftest import warehouse_path  # noqa: F401  (re-exported as a fixture)
from tests.security.servers import Gunicorn, gunicorn, oidc_provider, set_oidc_user

#: A key as `secrets.token_hex(32)` makes one.
SECRET = secrets.token_hex(32)
PASSWORDS = {"ana": "commissioner-pass-1", "sam": "service-lead-pass-1", "lee": "locked-out-pass-1"}
CLIENT_ID = "rosc-dashboard"
#: Rate limits of the test server: small, so the attacks reach them quickly.
LIMIT_PER_ADDRESS = "5 per 15 minutes"
LIMIT_PER_USER = "3 per 15 minutes"
#: Contacts whose duration the test extract breaks (quarantined at load): one alone, and seven.
BAD_DATE_ROWS, BAD_DURATION_ROWS = 1, 7


@dataclass
class SignInServer:
    """The dashboard under gunicorn with sign-in on, and what the tests need to know about it."""

    server: Gunicorn
    issuer: str
    db: Path
    store: Path
    own: str  # the service lead sam's programme
    other: str  # another programme
    programmes: dict[str, str]  # id -> name

    @property
    def url(self) -> str:
        return self.server.url


def _break_contacts(extract: Path) -> None:
    """Give one contact an impossible date and seven an impossible duration (the contract allows
    0–720 minutes); contacts have no children, so exactly these rows are quarantined."""
    path = extract / "contacts.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0])
    rows[10]["contact_date"] = "2025-02-30"
    for row in rows[20 : 20 + BAD_DURATION_ROWS]:
        row["duration_minutes"] = "9999"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _users_file(path: Path, own: str) -> Path:
    from werkzeug.security import generate_password_hash

    entries = [
        ("ana", "commissioner", []),
        ("sam", "service_lead", [own]),
        ("lee", "service_lead", [own]),
    ]
    text = ""
    for username, role, programmes in entries:
        text += (
            f'[[users]]\nusername = "{username}"\n'
            f'password_hash = "{generate_password_hash(PASSWORDS[username])}"\n'
            f'role = "{role}"\nprogrammes = {programmes!r}\n\n'.replace("'", '"')
        )
    path.write_text(text, encoding="utf-8")
    return path


def oidc_settings(issuer: str, own: str, other: str) -> str:
    return f"""
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
label = "Test Trust"
groups_claim = "groups"
username_claim = "preferred_username"

[groups."rosc-commissioners"]
role = "commissioner"

[groups."rosc-lead-{own}"]
role = "service_lead"
programmes = ["{own}"]

[groups."rosc-lead-{other}"]
role = "service_lead"
programmes = ["{other}"]
"""


@pytest.fixture(scope="session")
def sign_in_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignInServer]:
    from pipelines.generate import generate_extract
    from pipelines.load import load_extracts

    root = tmp_path_factory.mktemp("sign-in-server")
    generate_extract(root / "extract", people=800, seed=4)
    _break_contacts(root / "extract")
    db = root / "rosc.duckdb"
    load_extracts([root / "extract"], db, quiet=True)
    with duckdb.connect(str(db), read_only=True) as con:
        programmes = dict(con.execute("SELECT programme_id, programme_name FROM stg_programmes").fetchall())
        # The largest programme (by episodes) is the service lead's, so their views are not all suppressed.
        ranked = [
            p
            for (p,) in con.execute(
                "SELECT programme_id FROM episodes GROUP BY 1 ORDER BY count(*) DESC, 1"
            ).fetchall()
        ]
    own, other = ranked[0], ranked[1]
    users = _users_file(root / "users.toml", own)
    store = root / "sessions.sqlite3"
    with oidc_provider() as issuer:
        for sub, claims in {
            "oidc-commissioner": {
                "preferred_username": "cat@trust.example",
                "groups": ["rosc-commissioners"],
            },
            "oidc-lead": {"preferred_username": "lou@trust.example", "groups": ["staff", f"rosc-lead-{own}"]},
        }.items():
            set_oidc_user(issuer, sub, claims)
        settings_file = root / "oidc.toml"
        settings_file.write_text(oidc_settings(issuer, own, other), encoding="utf-8")
        settings = {
            "ROSC_DB": str(db),
            "ROSC_USERS": str(users),
            "ROSC_OIDC": str(settings_file),
            "ROSC_OIDC_CLIENT_SECRET": secrets.token_urlsafe(24),
            "ROSC_SECRET_KEY": SECRET,
            "ROSC_SESSION_STORE": str(store),
            "ROSC_SIGN_IN_LIMIT_PER_ADDRESS": LIMIT_PER_ADDRESS,
            "ROSC_SIGN_IN_LIMIT_PER_USER": LIMIT_PER_USER,
        }
        with gunicorn(settings, root / "gunicorn") as server:
            yield SignInServer(server, issuer, db, store, own, other, programmes)
