"""The parts of sign-in on their own, against hand-worked examples: the settings checks (a weak secret,
a present-but-empty setting, a bad OIDC settings file, the group map), the session store's timeouts
and revocation on a fake clock, the rate-limit counters, ``next`` handling, the Data page's count rule,
and the exact matching of callback requests for every callback of the app."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dashboard.callback_requests import callback_body, mismatch
from dashboard.queries import shown_counts
from dashboard.signin import claim_values, local_path
from dashboard.signin.settings import (
    SETTINGS,
    Access,
    SignInConfigError,
    load_oidc,
    secret_bits,
    sign_in_config,
)
from dashboard.signin.store import SignInStore

STRONG = {
    "token_hex(32)": "258c077738bf927e57627c6c94a2c0c3b9e279b24c4f13cec0b02d13b03ad3d8",
    "token_urlsafe(32)": "-9lMCemh-59LxiWLdGiKj4JBYU64M6sjPKZYltNNbXw",
    "openssl rand -base64 32": "sI6EA9Ld2S1VnL0PdUUyP94Hat0ROamw5BanwWcVdvo=",
}
WEAK = {
    "40 spaces (the finding)": " " * 40,
    "one letter": "a" * 64,
    "a word repeated": "password" * 8,
    "digits in order": "0123456789" * 5,
    "the alphabet": "abcdefghijklmnopqrstuvwxyz0123456789ABCD",
    "a keyboard row": "qwertyuiopasdfghjklzxcvbnm1234567890qwerty",
    "a passphrase of common words": "correct horse battery staple and more words",
    "the old test secret": "test-secret-" + "x" * 40,
}


def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.toml"
    path.write_text(
        '[[users]]\nusername = "a"\npassword_hash = "x$y"\nrole = "commissioner"\n', encoding="utf-8"
    )
    return path


# -- settings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(STRONG))
def test_a_random_secret_is_accepted(tmp_path: Path, name: str) -> None:
    secret = STRONG[name]
    assert secret_bits(secret) >= 128
    config = sign_in_config(users_file(tmp_path), {"ROSC_SECRET_KEY": secret}, db_path=tmp_path / "w.duckdb")
    assert config is not None and config.secret_key == secret
    assert config.session_store == tmp_path / "w.duckdb.sessions.sqlite3"  # beside the warehouse


@pytest.mark.parametrize("name", list(WEAK))
def test_a_guessable_secret_is_refused_even_when_long(tmp_path: Path, name: str) -> None:
    secret = WEAK[name]
    assert len(secret) >= 32 and secret_bits(secret) < 128
    with pytest.raises(SignInConfigError, match="ROSC_SECRET_KEY is too easy to guess"):
        sign_in_config(users_file(tmp_path), {"ROSC_SECRET_KEY": secret}, db_path=tmp_path / "w")


@pytest.mark.parametrize("name", SETTINGS)
def test_a_present_but_empty_setting_is_refused_by_name(tmp_path: Path, name: str) -> None:
    env = {"ROSC_SECRET_KEY": STRONG["token_hex(32)"], name: ""}
    with pytest.raises(SignInConfigError, match=f"^{name} is set but empty"):
        sign_in_config(None, env, db_path=tmp_path / "w")
    if name != "ROSC_SECRET_KEY":
        with pytest.raises(SignInConfigError, match=f"^{name} is set but empty"):
            sign_in_config(None, {**env, name: "  "}, db_path=tmp_path / "w")


def test_sign_in_is_off_only_when_no_way_in_is_set(tmp_path: Path) -> None:
    assert sign_in_config(None, {}, db_path=tmp_path / "w") is None
    assert sign_in_config(None, {"ROSC_HTTPS": "1"}, db_path=tmp_path / "w") is None


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("ROSC_SESSION_IDLE", "ten minutes", "ROSC_SESSION_IDLE must be a duration"),
        ("ROSC_SESSION_MAX", "0h", "ROSC_SESSION_MAX must be a duration"),
        ("ROSC_SESSION_IDLE", "9h", "ROSC_SESSION_IDLE is longer than ROSC_SESSION_MAX"),
        ("ROSC_HTTPS", "maybe", "ROSC_HTTPS must be 1 or 0"),
        ("ROSC_TRUSTED_PROXIES", "-1", "ROSC_TRUSTED_PROXIES must be a whole number"),
        ("ROSC_SIGN_IN_LIMIT_PER_USER", "lots", "ROSC_SIGN_IN_LIMIT_PER_USER must be a rate"),
    ],
)
def test_a_bad_setting_is_refused_by_name(tmp_path: Path, setting: str, value: str, named: str) -> None:
    env = {"ROSC_SECRET_KEY": STRONG["token_hex(32)"], setting: value}
    with pytest.raises(SignInConfigError, match=named):
        sign_in_config(users_file(tmp_path), env, db_path=tmp_path / "w")


def test_durations_and_limits_are_read(tmp_path: Path) -> None:
    env = {
        "ROSC_SECRET_KEY": STRONG["token_hex(32)"],
        "ROSC_SESSION_IDLE": "90s",
        "ROSC_SESSION_MAX": "1.5h",
        "ROSC_HTTPS": "1",
        "ROSC_TRUSTED_PROXIES": "1",
        "ROSC_SIGN_IN_LIMIT_PER_USER": "5 per hour",
    }
    config = sign_in_config(users_file(tmp_path), env, db_path=tmp_path / "w")
    assert config is not None
    assert config.idle_timeout == timedelta(seconds=90) and config.absolute_timeout == timedelta(minutes=90)
    assert config.https and config.secure_cookie and config.trusted_proxies == 1
    assert config.limit_per_user == "5 per hour" and config.limit_per_address == "30 per 15 minutes"


OIDC_GOOD = """
issuer = "https://login.microsoftonline.com/tenant-id/v2.0"
client_id = "client-id"
groups_claim = "roles"

[groups."Rosc.Commissioner"]
role = "commissioner"

[groups."Rosc.Lead.PG04"]
role = "service_lead"
programmes = ["PG04"]

[groups."Rosc.Lead.PG05"]
role = "service_lead"
programmes = ["PG05", "PG06"]
"""


def test_an_oidc_settings_file_maps_groups_to_access(tmp_path: Path) -> None:
    path = tmp_path / "oidc.toml"
    path.write_text(OIDC_GOOD, encoding="utf-8")
    oidc = load_oidc(path, {"ROSC_OIDC_CLIENT_SECRET": "s3cret"})
    assert (
        oidc.metadata_url
        == "https://login.microsoftonline.com/tenant-id/v2.0/.well-known/openid-configuration"
    )
    assert oidc.client_secret == "s3cret" and oidc.groups_claim == "roles" and "s3cret" not in repr(oidc)
    # Hand-worked: no mapped group, none; a commissioner group wins; lead groups add up.
    assert oidc.access_for([]) is None and oidc.access_for(["Staff"]) is None
    assert oidc.access_for(["Rosc.Lead.PG04", "Rosc.Commissioner"]) == Access("commissioner")
    assert oidc.access_for(["Rosc.Lead.PG04", "Rosc.Lead.PG05", "Staff"]) == Access(
        "service_lead", frozenset({"PG04", "PG05", "PG06"})
    )


@pytest.mark.parametrize(
    ("edit", "env", "named"),
    [
        (lambda t: t.replace('client_id = "client-id"', ""), {}, "client_id is missing"),
        (lambda t: t.replace('"client-id"', '""'), {}, "client_id is empty"),
        (
            lambda t: t.replace('issuer = "https://login.microsoftonline.com/tenant-id/v2.0"', "issuer = 7"),
            {},
            "issuer is not text",
        ),
        (lambda t: t + "\n[groups.x]\nrole = 'owner'\n", {}, "groups.'x': role must be one of"),
        (
            lambda t: t + "\n[groups.y]\nrole = 'service_lead'\n",
            {},
            "a service lead needs at least one programme",
        ),
        (lambda t: "colour = 'blue'\n" + t, {}, "unknown setting 'colour'"),
        (lambda t: t.split("[groups")[0], {}, "maps no groups"),
        (lambda t: t, {"ROSC_OIDC_CLIENT_SECRET": None}, "ROSC_OIDC_CLIENT_SECRET"),
    ],
)
def test_a_bad_oidc_settings_file_is_refused_with_what_to_fix(
    tmp_path: Path, edit: Any, env: dict[str, Any], named: str
) -> None:
    path = tmp_path / "oidc.toml"
    path.write_text(edit(OIDC_GOOD), encoding="utf-8")
    environ = {"ROSC_OIDC_CLIENT_SECRET": "s3cret", **env}
    environ = {k: v for k, v in environ.items() if v is not None}
    with pytest.raises(SignInConfigError, match=named):
        load_oidc(path, environ)


def test_claim_values_follow_dotted_paths() -> None:
    claims = {"groups": ["a", "b"], "roles": "lead", "realm_access": {"roles": ["x", 3]}, "odd": {"k": 1}}
    assert claim_values(claims, "groups") == ["a", "b"]
    assert claim_values(claims, "roles") == ["lead"]
    assert claim_values(claims, "realm_access.roles") == ["x", "3"]  # Keycloak's realm roles
    assert claim_values(claims, "odd") == [] and claim_values(claims, "missing.path") == []


# -- redirects --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/retention?sex=female", "/retention?sex=female"),
        ("/programmes/PG04", "/programmes/PG04"),
        (None, "/"),
        ("", "/"),
        ("/\t/evil.example", "/"),  # the finding: a tab between the slashes
        ("/\n/evil.example", "/"),
        ("/\r\n/evil.example", "/"),
        ("/\x00/evil.example", "/"),
        ("/\x85/evil.example", "/"),  # a C1 control
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("https://evil.example", "/"),
        ("https:/evil.example", "/"),
        ("javascript:alert(1)", "/"),
        (" //evil.example", "/"),
        ("evil.example", "/"),
    ],
)
def test_next_is_a_local_path_after_control_characters_are_removed(target: str | None, expected: str) -> None:
    assert local_path(target) == expected


# -- the session store -----------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_end_at_the_idle_and_the_absolute_timeout(tmp_path: Path) -> None:
    clock = Clock()
    store = SignInStore(tmp_path / "s.sqlite3", "k" * 64, timedelta(minutes=30), timedelta(hours=8), clock)
    store.save("sid-idle", {"_user_id": "file:a"}, clock.now, "file:a", "a")
    store.save("sid-busy", {"_user_id": "file:b"}, clock.now, "file:b", "b")
    clock.now += 29 * 60
    assert store.load("sid-idle") is not None
    store.touch("sid-busy")
    clock.now += 2 * 60  # 31 minutes since sid-idle's last request; 2 since sid-busy's
    assert store.load("sid-idle") is None
    assert store.load("sid-busy") is not None
    for _ in range(16):  # busy every 29 minutes: the idle timeout never comes ...
        clock.now += 29 * 60
        store.touch("sid-busy")
        if store.load("sid-busy") is None:
            break
    # ... but the absolute one does, 8 hours after the session began (16 × 29 min + 2 min = 7 h 46 min
    # is still inside; the next step is not).
    assert clock.now - 1_000_000.0 > 8 * 3600 and store.load("sid-busy") is None


def test_the_store_holds_no_usable_session_id_and_revokes_by_user(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "s.sqlite3"
    store = SignInStore(path, "k" * 64, timedelta(minutes=30), timedelta(hours=8), clock)
    for sid, user in (("s1", "sam"), ("s2", "sam"), ("s3", "ana"), ("s4", "")):
        store.save(sid, {"x": 1}, clock.now, f"file:{user}" if user else "", user)
    text = path.read_bytes()
    assert b"s1" not in text.replace(b"sessions", b"")  # only an HMAC of each id is stored
    other_key = SignInStore(path, "z" * 64, timedelta(minutes=30), timedelta(hours=8), clock)
    assert other_key.load("s1") is None  # the file with another key gives nothing
    assert sorted(r.username for r in store.sessions()) == ["ana", "sam", "sam"]  # signed in only
    assert store.revoke("sam") == 2
    assert store.load("s1") is None and store.load("s2") is None and store.load("s3") is not None
    assert store.revoke("file:ana") == 1 and store.load("s4") is not None


def test_rate_limit_counters_count_within_their_window(tmp_path: Path) -> None:
    clock = Clock()
    store = SignInStore(tmp_path / "s.sqlite3", "", timedelta(minutes=1), timedelta(minutes=1), clock)
    assert [store.incr("LIMITER/user:lee/x", 900) for _ in range(3)] == [1, 2, 3]
    assert store.counter("LIMITER/user:lee/x") == (3, 1_000_000.0 + 900)
    clock.now += 901
    assert store.counter("LIMITER/user:lee/x") == (0, clock.now)
    assert store.incr("LIMITER/user:lee/x", 900) == 1  # a new window
    store.incr("LIMITER/user:leena/x", 900)
    assert store.clear_counters("/user:lee/") == 1 and store.counter("LIMITER/user:leena/x")[0] == 1


# -- the Data page's counts --------------------------------------------------------------------------------


def test_shown_counts_are_perturbed_never_1_to_4(warehouse_path: Path) -> None:
    from dashboard.queries import DashboardData
    from pipelines.stats import possible_true_counts

    data = DashboardData(warehouse_path)
    try:
        counts = pd.Series([0, 1, 4, 5, 7, 8, 12, 13, 38033, None], dtype="float")
        shown = shown_counts(data, counts, [f"cell {i}" for i in range(len(counts))]).tolist()
        again = shown_counts(data, counts, [f"cell {i}" for i in range(len(counts))]).tolist()
    finally:
        data.close()
    assert shown == again  # the same cell always shows the same noise
    assert shown[0] == 0 and shown[-1] is None
    for true, value in zip(counts[:-1].astype(int), shown[:-1], strict=True):
        assert not 1 <= value <= 4
        low, high = possible_true_counts(value)
        assert low <= true <= high


# -- callback requests match their callback exactly -------------------------------------------------------


@pytest.fixture(scope="module")
def app(warehouse_path: Path) -> Any:
    from dashboard.app import create_app

    dash_app = create_app(warehouse_path)
    yield dash_app
    dash_app.dashboard_data.close()


def test_every_callbacks_own_body_matches_and_any_renamed_input_does_not(app: Any) -> None:
    checked = 0
    for key, spec in app.callback_map.items():
        if "callback" not in spec:
            continue  # clientside: the browser runs it, the server never does
        if any('["' in str(i["id"]) for i in spec["inputs"] + spec["state"]):
            continue  # pattern-matching wildcards: the browser fills them in (HTTP tests cover these)
        body = callback_body(app, key, {})
        body = json.loads(json.dumps(body))
        assert mismatch(app, body) is None, key
        for part in ("inputs", "state"):
            for position in range(len(body[part])):
                renamed = json.loads(json.dumps(body))
                item = renamed[part][position]
                item["id"] = {**item["id"], "type": "x"} if isinstance(item["id"], dict) else "x"
                assert mismatch(app, renamed), (key, part, position)
                other_property = json.loads(json.dumps(body))
                other_property[part][position]["property"] = "title"
                assert mismatch(app, other_property), (key, part, position)
        checked += 1
    assert checked >= 20


# -- behind TLS and a reverse proxy ---------------------------------------------------------------------


def test_https_and_a_trusted_proxy(
    warehouse_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import re

    from werkzeug.security import generate_password_hash

    from dashboard.app import create_app

    users = tmp_path / "users.toml"
    users.write_text(
        f'[[users]]\nusername = "ana"\npassword_hash = "{generate_password_hash("pw-1")}"\n'
        'role = "commissioner"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("ROSC_SECRET_KEY", STRONG["token_hex(32)"])
    monkeypatch.setenv("ROSC_SESSION_STORE", str(tmp_path / "sessions.sqlite3"))
    monkeypatch.setenv("ROSC_HTTPS", "1")
    monkeypatch.setenv("ROSC_TRUSTED_PROXIES", "1")
    monkeypatch.setenv("ROSC_SIGN_IN_LIMIT_PER_ADDRESS", "2 per hour")
    app = create_app(warehouse_path, users_file=users)
    try:
        assert os.stat(tmp_path / "sessions.sqlite3").st_mode & 0o777 == 0o600
        plain = app.server.test_client().get("/login")
        assert plain.status_code == 302 and plain.headers["Location"].startswith("https://")
        proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
        browser = app.server.test_client()
        page = browser.get("/login", headers=proxied)
        assert page.status_code == 200 and "max-age=" in page.headers["Strict-Transport-Security"]
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        answer = browser.post(
            "/login", data={"username": "ana", "password": "pw-1", "csrf_token": token}, headers=proxied
        )
        assert answer.status_code == 302 and "Secure" in answer.headers["Set-Cookie"]
        # The proxy's X-Forwarded-For is the address that is counted: a second address is not limited.
        for address, expected in (
            ("203.0.113.8", 401),
            ("203.0.113.8", 401),
            ("203.0.113.8", 429),
            ("203.0.113.9", 401),
        ):
            other = app.server.test_client()
            headers = {**proxied, "X-Forwarded-For": address}
            token = re.search(
                r'name="csrf_token" value="([^"]+)"', other.get("/login", headers=headers).text
            ).group(1)
            status = other.post(
                "/login", data={"username": "x", "password": "y", "csrf_token": token}, headers=headers
            ).status_code
            assert status == expected, address
    finally:
        app.dashboard_data.close()


def test_a_refusal_is_one_log_line_whatever_the_request_holds(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="dashboard.access")
    forged = "x\nrefused 200 to admin (commissioner) from 10.0.0.1: all fine"
    response = app.server.test_client().post(
        "/_dash-update-component", json={"output": forged, "inputs": [], "changedPropIds": []}
    )
    assert response.status_code == 400
    records = [r for r in caplog.records if r.name == "dashboard.access"]
    assert len(records) == 1
    line = records[0].getMessage()
    assert "\n" not in line and line.startswith("refused 400 to everyone (sign-in off) from 127.0.0.1")
    assert "x\\nrefused 200 to admin" in line


def _open_store_and_write(path: str, start: float, n: int) -> str:
    """One booting worker: wait for the common start, open the store, save a session."""
    import time as _time

    while _time.time() < start:
        pass
    try:
        store = SignInStore(path, "k" * 40, timedelta(minutes=30), timedelta(hours=8))
        store.save(f"sid-{n}", {"user": n}, _time.time(), f"u{n}", f"user{n}")
        return "ok"
    except Exception as error:  # noqa: BLE001 - the test reports what a worker saw
        return f"{type(error).__name__}: {error}"


def test_workers_opening_a_new_store_together_all_boot(tmp_path: Path) -> None:
    """Gunicorn starts its workers at once; each opens the sign-in store and puts it in WAL mode.
    SQLite answers "database is locked" at once to the losers of that race (CI once saw a worker
    fail to boot); every worker must open it, and every session be kept."""
    import multiprocessing
    import time as _time

    for attempt in range(20):
        path = str(tmp_path / f"sessions{attempt}.sqlite")
        start = _time.time() + 0.2
        with multiprocessing.get_context("fork").Pool(8) as pool:
            results = pool.starmap(_open_store_and_write, [(path, start, n) for n in range(8)])
        assert results == ["ok"] * 8, results
        store = SignInStore(path, "k" * 40, timedelta(minutes=30), timedelta(hours=8))
        assert all(store.load(f"sid-{n}") is not None for n in range(8))
