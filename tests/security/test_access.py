"""Access: optional sign-in and the two roles, proved through the real endpoints with Flask's test client.

With sign-in on, nobody anonymous gets past ``/login`` (pages redirect, Dash's JSON routes answer 401);
a commissioner sees everything; a service lead sees their own programme in full and other programmes
only as anonymised funnel points and system totals, and a request naming another programme (a filter,
the URL, a drill-down) is refused by the server, whatever the page would have offered.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import g

from dashboard import auth, ids, signin
from dashboard.app import create_app
from dashboard.callback_requests import callback_body, find_callback
from dashboard.filters import FilterState, default_state, encode_query
from dashboard.queries import DashboardData

#: A key as `secrets.token_hex(32)` makes one (fixed, so failures repeat).
SECRET = "9f2c4e71b0d84a6e93c5f1a27d6b08e4c3a951f7e2d64b80a1c37e95f40b2d6c"
PASSWORDS = {"ana": "commissioner-pass-1", "sam": "service-lead-pass-1"}


@pytest.fixture(scope="module")
def units(warehouse_path: Path) -> dict[str, Any]:
    """The service lead's programme (the largest on the funnel indicator), another shown programme, and
    every programme's name, provider and area."""
    data = DashboardData(warehouse_path)
    try:
        state = default_state(data.as_of())
        table = data.metric_for("retention_12wk", state, by=["programme"])
        shown = table[~table["suppressed"]].sort_values("denominator", ascending=False)
        own, other = str(shown["programme"].iloc[0]), str(shown["programme"].iloc[1])
        programmes = data.warehouse.sql(
            "SELECT programme_id, programme_name, provider_id, area_code, setting FROM stg_programmes"
        ).set_index("programme_id")
    finally:
        data.close()
    return {"own": own, "other": other, "programmes": programmes, "state": state, "points": len(table)}


def write_users(path: Path, own: str, extra: str = "") -> Path:
    from werkzeug.security import generate_password_hash

    path.write_text(
        extra
        + f"""
[[users]]
username = "ana"
password_hash = "{generate_password_hash(PASSWORDS["ana"])}"
role = "commissioner"

[[users]]
username = "sam"
password_hash = "{generate_password_hash(PASSWORDS["sam"])}"
role = "service_lead"
programmes = ["{own}"]
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def app(warehouse_path: Path, units: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("access")
    users = write_users(folder / "users.toml", units["own"])
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ROSC_SECRET_KEY", SECRET)
        env.setenv("ROSC_SESSION_STORE", str(folder / "sessions.sqlite3"))
        env.delenv("ROSC_USERS", raising=False)
        dash_app = create_app(warehouse_path, users_file=users)
    yield dash_app
    dash_app.dashboard_data.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


def sign_in(app: Any, username: str, password: str | None = None) -> Any:
    client = app.server.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={"username": username, "password": password or PASSWORDS[username], "csrf_token": token},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


@pytest.fixture(scope="module")
def commissioner(app: Any) -> Any:
    return sign_in(app, "ana")


@pytest.fixture(scope="module")
def service_lead(app: Any) -> Any:
    return sign_in(app, "sam")


def chart_body(app: Any, chart: str, state: FilterState, **controls: Any) -> dict:
    key = find_callback(app, json.dumps({"chart": chart, "type": "chart-graph"}, separators=(",", ":")))
    values = {f"{ids.FILTER_STATE}.data": state.to_store(), **{f"{k}.value": v for k, v in controls.items()}}
    return callback_body(app, key, values)


def store_body(app: Any, chart: str, state: FilterState, programme: str) -> dict:
    key = find_callback(app, json.dumps({"chart": chart, "type": "chart-graph"}, separators=(",", ":")))
    values = {f"{ids.FILTER_STATE}.data": state.to_store(), f"{ids.PROGRAMME_ID}.data": programme}
    return callback_body(app, key, values)


def csv_body(app: Any, chart: str, state: FilterState, spec: dict | None = None) -> dict:
    def cid(kind: str) -> dict:
        return {"chart": chart, "type": kind}

    text = json.dumps(cid("chart-csv"), sort_keys=True, separators=(",", ":"))
    return {
        "output": find_callback(app, "chart-download"),
        "outputs": [
            {"id": cid("chart-download"), "property": "data"},
            {"id": cid("chart-message"), "property": "children"},
        ],
        "inputs": [{"id": cid("chart-csv"), "property": "n_clicks", "value": 1}],
        "state": [
            {"id": ids.FILTER_STATE, "property": "data", "value": state.to_store()},
            {"id": cid("chart-spec"), "property": "data", "value": spec or {}},
        ],
        "changedPropIds": [f"{text}.n_clicks"],
    }


def post(client: Any, body: dict, status: int = 200) -> Any:
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response


def download(client: Any, app: Any, chart: str, state: FilterState, spec: dict | None = None) -> list[dict]:
    out = post(client, csv_body(app, chart, state, spec)).get_json()["response"]
    data = next(v for k, v in out.items() if "chart-download" in k)["data"]
    return list(csv.DictReader(io.StringIO(data["content"])))


def other_ids(units: dict) -> list[str]:
    return [p for p in units["programmes"].index if p != units["own"]]


def names_of(units: dict, programmes: list[str]) -> list[str]:
    return [str(units["programmes"].loc[p, "programme_name"]) for p in programmes]


def mentions(text: str, values: list[str]) -> list[str]:
    return [v for v in values if re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", text)]


# -- sign-in off, configuration -------------------------------------------------------------------------


def test_sign_in_is_off_without_a_users_file(warehouse_path: Path, units: dict, monkeypatch) -> None:
    monkeypatch.delenv("ROSC_USERS", raising=False)
    monkeypatch.delenv("ROSC_SECRET_KEY", raising=False)
    dash_app = create_app(warehouse_path)
    try:
        client = dash_app.server.test_client()
        assert client.get("/").status_code == 200
        assert client.get("/_dash-layout").status_code == 200
        body = chart_body(dash_app, "programme_funnel", units["state"], **{ids.PROGRAMMES_INDICATOR: None})
        assert units["other"] in post(client, body).get_data(as_text=True)
        assert 'name="csrf_token"' not in client.get("/login").text  # no sign-in page either
    finally:
        dash_app.dashboard_data.close()


@pytest.mark.parametrize("secret", [None, "short", " " * 40, "password" * 8, "test-secret-" + "x" * 40])
def test_sign_in_without_a_secret_key_refuses_to_start(
    warehouse_path: Path, units: dict, tmp_path: Path, monkeypatch, secret: str | None
) -> None:
    users = write_users(tmp_path / "users.toml", units["own"])
    monkeypatch.setenv("ROSC_USERS", str(users))  # the environment's way in, as under gunicorn
    monkeypatch.setenv("ROSC_SESSION_STORE", str(tmp_path / "sessions.sqlite3"))
    if secret is None:
        monkeypatch.delenv("ROSC_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("ROSC_SECRET_KEY", secret)
    with pytest.raises(auth.SignInConfigError, match="ROSC_SECRET_KEY"):
        create_app(warehouse_path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[[users]]\nusername = 'x'\npassword_hash = 'plain'\nrole = 'commissioner'\n", "password_hash"),
        ("[[users]]\nusername = 'x'\npassword_hash = 'a$b'\nrole = 'admin'\n", "role"),
        ("[[users]]\nusername = 'x'\npassword_hash = 'a$b'\nrole = 'service_lead'\n", "programme"),
        ("users = 3", "no \\[\\[users\\]\\]"),
        ("[[users]\n", "not valid TOML"),
    ],
)
def test_a_bad_users_file_is_refused_with_what_to_fix(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "users.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(auth.SignInConfigError, match=problem):
        signin.sign_in_config(path, environ={"ROSC_SECRET_KEY": SECRET, "ROSC_SESSION_STORE": "x"})


def test_hash_password_helper_makes_a_hash_the_users_file_accepts(monkeypatch, capsys) -> None:
    from werkzeug.security import check_password_hash

    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert auth.main(["hash-password"]) == 0
    assert check_password_hash(capsys.readouterr().out.strip(), "correct horse")


# -- anonymous ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/programmes", "/retention?setting=prison", "/assets/app.css"])
def test_anonymous_pages_redirect_to_sign_in(app: Any, path: str) -> None:
    response = app.server.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", ["/_dash-layout", "/_dash-dependencies", "/_reload-hash"])
def test_anonymous_dash_routes_answer_401(app: Any, path: str) -> None:
    response = app.server.test_client().get(path)
    assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"


def test_anonymous_callbacks_answer_401_with_no_data(app: Any, units: dict) -> None:
    client = app.server.test_client()
    for body in (
        chart_body(app, "programme_funnel", units["state"], **{ids.PROGRAMMES_INDICATOR: None}),
        csv_body(app, "exit_mix", units["state"]),
    ):
        response = post(client, body, status=401)
        assert response.get_json() == {"error": "unauthorized", "message": "Sign in first."}


def test_the_sign_in_page_is_served_without_the_app(app: Any) -> None:
    response = app.server.test_client().get("/login")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'name="csrf_token"' in html and "<style>" in html
    assert "_dash-" not in html and "/assets/" not in html
    assert response.headers["X-Frame-Options"] == "DENY"


# -- signing in -----------------------------------------------------------------------------------------


def test_a_failed_sign_in_is_generic_answered_at_once_and_signs_nobody_in(app: Any) -> None:
    # Changed by issue 15: a failed sign-in no longer sleeps 0.5 s in the worker (that tied up the
    # server); guessing is stopped by rate limits instead (tests/security/test_sign_in_attacks.py).
    answers = []
    for username, password in (("sam", "wrong password"), ("nobody", "wrong password")):
        client = app.server.test_client()
        token = csrf_of(client.get("/login").get_data(as_text=True))
        started = time.perf_counter()
        response = client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )
        assert time.perf_counter() - started < 0.45  # one password hash (about 0.07 s), no sleep
        html = response.get_data(as_text=True)
        assert response.status_code == 401 and signin.FAILED_SIGN_IN in html
        assert username not in html
        answers.append(html.replace(token, ""))
        assert client.get("/").status_code == 302  # still signed out
    assert answers[0] == answers[1]  # a wrong password and an unknown user look the same


def test_sign_in_needs_the_forms_csrf_token(app: Any) -> None:
    client = app.server.test_client()
    client.get("/login")
    response = client.post("/login", data={"username": "ana", "password": PASSWORDS["ana"]})
    assert response.status_code == 400
    response = client.post(
        "/login", data={"username": "ana", "password": PASSWORDS["ana"], "csrf_token": "forged"}
    )
    assert response.status_code == 400 and client.get("/").status_code == 302


def test_session_cookie_is_httponly_samesite_lax(app: Any) -> None:
    client = app.server.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": "ana", "password": PASSWORDS["ana"], "csrf_token": token}
    )
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("rosc_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Expires=" in cookie  # a limited lifetime (the server ends the session too)
    assert "Secure" not in cookie  # plain http for local use unless the users file asks for it


def test_secure_cookie_when_the_users_file_asks(warehouse_path: Path, units: dict, tmp_path: Path) -> None:
    users = write_users(tmp_path / "users.toml", units["own"], extra="secure_cookie = true\n")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ROSC_SECRET_KEY", SECRET)
        env.setenv("ROSC_SESSION_STORE", str(tmp_path / "sessions.sqlite3"))
        dash_app = create_app(warehouse_path, users_file=users)
    try:
        client = dash_app.server.test_client()
        token = csrf_of(client.get("/login").get_data(as_text=True))
        response = client.post(
            "/login", data={"username": "ana", "password": PASSWORDS["ana"], "csrf_token": token}
        )
        assert "Secure" in response.headers["Set-Cookie"]
    finally:
        dash_app.dashboard_data.close()


def test_sign_in_returns_to_a_local_page_only(app: Any) -> None:
    client = app.server.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    form = {"username": "ana", "password": PASSWORDS["ana"], "csrf_token": token}
    response = client.post("/login?next=//evil.example/x", data=form)
    assert response.headers["Location"] == "/"
    client = app.server.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=/retention?sex=female", data={**form, "csrf_token": token})
    assert response.headers["Location"] == "/retention?sex=female"


def test_sign_out_ends_the_session(app: Any) -> None:
    client = sign_in(app, "ana")
    assert client.get("/").status_code == 200
    token = csrf_of(client.get("/logout").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302
    assert client.get("/_dash-layout").status_code == 401


# -- commissioner ---------------------------------------------------------------------------------------


def test_commissioner_sees_every_programme(app: Any, commissioner: Any, units: dict) -> None:
    everyone = list(units["programmes"].index)
    layout = commissioner.get("/_dash-layout").get_data(as_text=True)
    assert mentions(layout, everyone) == everyone  # every programme is offered as a filter
    funnel = download(commissioner, app, "programme_funnel", units["state"])
    assert {units["own"], units["other"]} <= {row["programme"] for row in funnel}
    assert auth.OTHER_PROGRAMME not in {row["programme_name"] for row in funnel}
    assert commissioner.get(f"/programmes/{units['other']}").status_code == 200
    text = post(commissioner, store_body(app, "programme_vs_system", units["state"], units["other"])).text
    assert "Something went wrong" not in text and '"figure"' in text
    by_programme = download(commissioner, app, "exit_mix", units["state"])
    assert len({row["programme"] for row in by_programme}) > 1


# -- service lead ---------------------------------------------------------------------------------------


def test_service_lead_is_offered_only_their_programme(service_lead: Any, units: dict) -> None:
    layout = service_lead.get("/_dash-layout").get_data(as_text=True)
    own_row = units["programmes"].loc[units["own"]]
    assert units["own"] in layout
    assert mentions(layout, other_ids(units)) == []
    other_providers = set(units["programmes"]["provider_id"]) - {own_row["provider_id"]}
    assert mentions(layout, sorted(other_providers)) == []


def test_service_lead_sees_their_programme_in_full(
    app: Any, service_lead: Any, commissioner: Any, units: dict
) -> None:
    own, state = units["own"], units["state"]
    assert service_lead.get(f"/programmes/{own}").status_code == 200
    for chart in ("programme_vs_system", "programme_trend", "programme_support"):
        text = post(service_lead, store_body(app, chart, state, own)).text
        assert "Something went wrong" not in text and '"figure"' in text, chart
    # Any other page is their programme: the same as a commissioner filtering on it.
    mine = download(service_lead, app, "retention_12wk_spc", state)
    filtered = download(commissioner, app, "retention_12wk_spc", state.with_values(programme=[own]))
    assert [r["value"] for r in mine] == [r["value"] for r in filtered] and mine


def test_service_lead_sees_others_only_anonymised_on_the_funnel(
    app: Any, service_lead: Any, units: dict
) -> None:
    funnel = download(service_lead, app, "programme_funnel", units["state"])
    ids_shown = [row["programme"] for row in funnel]
    assert ids_shown[0] == units["own"]
    assert set(ids_shown) == {units["own"], ""}  # others are there, without their ids
    assert {row["programme_name"] for row in funnel if not row["programme"]} == {auth.OTHER_PROGRAMME}
    assert len(funnel) == units["points"]  # every programme a commissioner sees is a point (or suppressed)
    for body in (
        chart_body(app, "programme_funnel", units["state"], **{ids.PROGRAMMES_INDICATOR: "retention_12wk"}),
        csv_body(app, "programme_funnel", units["state"]),
        callback_body(
            app,
            find_callback(app, f"{ids.PROGRAMMES_TABLE}.children"),
            {f"{ids.FILTER_STATE}.data": units["state"].to_store()},
        ),
    ):
        text = post(service_lead, body).text
        assert mentions(text, other_ids(units)) == [], body["output"]
        assert mentions(text, names_of(units, other_ids(units))) == [], body["output"]
        assert text.count('"href"') <= 1  # the programmes table links only their own programme


def test_service_lead_sees_system_totals(app: Any, service_lead: Any, commissioner: Any, units: dict) -> None:
    key = find_callback(app, json.dumps(ids.tile("retention_12wk"), sort_keys=True, separators=(",", ":")))
    body = callback_body(app, key, {f"{ids.FILTER_STATE}.data": units["state"].to_store()})
    theirs, everyone = post(service_lead, body).get_json(), post(commissioner, body).get_json()
    assert theirs == everyone and "Something went wrong" not in json.dumps(theirs)
    # Narrowed to their provider, "everyone else" could be one nameable programme: they see their own.
    provider = str(units["programmes"].loc[units["own"], "provider_id"])
    narrowed = units["state"].with_values(provider=[provider])
    body = callback_body(app, key, {f"{ids.FILTER_STATE}.data": narrowed.to_store()})
    own_only = callback_body(
        app, key, {f"{ids.FILTER_STATE}.data": narrowed.with_values(programme=[units["own"]]).to_store()}
    )
    assert post(service_lead, body).get_json() == post(commissioner, own_only).get_json()
    comparison = download(
        service_lead, app, "programme_vs_system", units["state"], {ids.PROGRAMME_ID: units["own"]}
    )
    whole = [r for r in comparison if r["group"] == "whole system"]
    reference = download(
        commissioner, app, "programme_vs_system", units["state"], {ids.PROGRAMME_ID: units["own"]}
    )
    assert whole == [r for r in reference if r["group"] == "whole system"] and whole


def test_a_setting_with_few_other_programmes_shows_a_service_lead_their_own_only(
    warehouse_path: Path, units: dict, tmp_path: Path
) -> None:
    # A service lead of a programme in a setting with three programmes: filtered to that setting, the
    # funnel's anonymised points and the "whole system" total would be the two others (the total less
    # their own is the others' sum): they see their own only. In a setting with enough others they see
    # the others anonymised, as without a filter.
    programmes = units["programmes"]
    sizes = programmes.groupby("setting").size()
    small_setting = next(s for s, n in sizes.items() if n - 1 < auth.MIN_OTHER_PROGRAMMES)
    big_setting = next(s for s, n in sizes.items() if n - 1 >= auth.MIN_OTHER_PROGRAMMES)
    own = str(programmes.index[programmes["setting"] == small_setting][0])
    users = write_users(tmp_path / "users.toml", own)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ROSC_SECRET_KEY", SECRET)
        env.setenv("ROSC_SESSION_STORE", str(tmp_path / "sessions.sqlite3"))
        env.delenv("ROSC_USERS", raising=False)
        dash_app = create_app(warehouse_path, users_file=users)
    try:
        lead, everyone = sign_in(dash_app, "sam"), sign_in(dash_app, "ana")
        key = find_callback(
            dash_app, json.dumps(ids.tile("in_treatment"), sort_keys=True, separators=(",", ":"))
        )
        state = units["state"].with_values(setting=[small_setting])
        funnel = download(lead, dash_app, "programme_funnel", state)
        assert funnel and {row["programme"] for row in funnel} == {own}
        tile = callback_body(dash_app, key, {f"{ids.FILTER_STATE}.data": state.to_store()})
        own_only = callback_body(
            dash_app, key, {f"{ids.FILTER_STATE}.data": state.with_values(programme=[own]).to_store()}
        )
        assert post(lead, tile).get_json() == post(everyone, own_only).get_json()
        assert post(lead, tile).get_json() != post(everyone, tile).get_json()
        # Enough others in the setting: they are there, anonymised.
        state = units["state"].with_values(setting=[big_setting])
        funnel = download(lead, dash_app, "programme_funnel", state)
        assert [row["programme"] for row in funnel].count("") == sizes[big_setting]
    finally:
        dash_app.dashboard_data.close()


@pytest.mark.parametrize(
    ("chart", "controls"),
    [
        ("exit_mix", {}),
        ("contacts_by_programme", {}),
        ("time_in_treatment_km", {ids.RETENTION_KM_BY: "programme"}),
    ],
)
def test_service_lead_breakdowns_by_programme_hold_only_their_own(
    app: Any, service_lead: Any, units: dict, chart: str, controls: dict
) -> None:
    rows = download(service_lead, app, chart, units["state"], controls)
    assert rows and {row["programme"] for row in rows} == {units["own"]}
    text = post(service_lead, chart_body(app, chart, units["state"], **controls)).text
    assert "Something went wrong" not in text
    assert mentions(text, other_ids(units)) == [] and mentions(text, names_of(units, other_ids(units))) == []


def test_service_lead_cannot_open_another_programme(app: Any, service_lead: Any, units: dict) -> None:
    other, state = units["other"], units["state"]
    page = service_lead.get(f"/programmes/{other}")
    assert page.status_code == 403 and other not in page.text
    router = find_callback(app, f"{ids.PAGE}.children")
    refused = [
        callback_body(app, router, {f"{ids.URL}.pathname": f"/programmes/{other}", f"{ids.URL}.search": ""}),
        store_body(app, "programme_vs_system", state, other),
        store_body(app, "programme_trend", state, other),
        csv_body(app, "programme_support", state, {ids.PROGRAMME_ID: other}),
    ]
    for body in refused:
        response = post(service_lead, body, status=403)
        assert response.get_json()["error"] == "forbidden"
        assert mentions(response.text, names_of(units, [other])) == []


def test_service_lead_cannot_filter_on_another_programme(app: Any, service_lead: Any, units: dict) -> None:
    other, state = units["other"], units["state"]
    other_provider = next(
        p
        for p in units["programmes"]["provider_id"]
        if p != units["programmes"].loc[units["own"], "provider_id"]
    )
    sync = find_callback(app, f"{ids.URL}.search")
    refused = [
        chart_body(app, "retention_12wk_spc", state.with_values(programme=[other])),
        chart_body(app, "retention_12wk_spc", state.with_values(programme=[units["own"], other])),
        chart_body(app, "programme_funnel", state.with_values(provider=[other_provider])),
        csv_body(app, "exit_mix", state.with_values(programme=[other])),
        callback_body(app, sync, {f"{ids.URL}.search": encode_query(state.with_values(programme=[other]))}),
        callback_body(app, sync, {f"{ids.PROGRAMME}.value": [other]}, changed=[f"{ids.PROGRAMME}.value"]),
    ]
    for body in refused:
        assert post(service_lead, body, status=403).get_json()["error"] == "forbidden"
    own_filter = chart_body(app, "retention_12wk_spc", state.with_values(programme=[units["own"]]))
    assert "Something went wrong" not in post(service_lead, own_filter).text


def test_the_data_layer_enforces_the_scope_on_its_own(app: Any, units: dict) -> None:
    """Behind the endpoint check: a service lead's metric request is restricted, or refused if it
    names another programme, whatever page code asks."""
    data, state = app.dashboard_data, units["state"]
    own, other = units["own"], units["other"]
    with app.server.test_request_context("/"):
        g.rosc_scope = auth.scope_for(auth.Access("service_lead", frozenset([own])), data)
        table = data.metric_for("retention_12wk", state, by=["programme"])
        assert set(table["programme"]) == {own}
        assert set(data.exit_mix(state)["unit"]) <= {own}
        assert [o["value"] for o in data.filter_options()["programme"]] == [own]
        with pytest.raises(auth.AccessDenied):
            data.metric_for("retention_12wk", state, extra_filters={"programme": [other]})
        with pytest.raises(auth.AccessDenied):
            data.monthly("retention_12wk", state.with_values(programme=[other]))
        with auth.purpose(auth.SYSTEM_TOTAL):  # a total, not a breakdown: everyone
            total = data.metric_for("retention_12wk", state)
            assert set(data.metric_for("retention_12wk", state, by=["programme"])["programme"]) == {own}
        with auth.purpose(auth.FUNNEL):
            funnel = data.metric_for("retention_12wk", state, by=["programme"])
    assert total.equals(data.metric_for("retention_12wk", state))
    assert set(funnel["programme"]) == {own, ""} and len(funnel) == units["points"]
    with app.server.test_request_context("/"):  # a request with nobody signed in gets nothing
        with pytest.raises(auth.AccessDenied):
            data.metric_for("retention_12wk", state)


def test_access_refused_by_the_data_layer_says_so_on_the_chart(
    app: Any, service_lead: Any, units: dict, monkeypatch
) -> None:
    """If the endpoint's check ever let a request through that the data layer then refuses
    (`AccessDenied` inside a callback), the chart says access is refused, not "something went wrong",
    and names nothing of the other programme."""
    other, state = units["other"], units["state"]
    monkeypatch.setattr(auth, "refusal", lambda body, scope: None)  # the endpoint check misses it
    response = post(service_lead, chart_body(app, "retention_12wk_spc", state.with_values(programme=[other])))
    assert "You do not have access to this programme" in response.text
    assert "Something went wrong" not in response.text
    assert mentions(response.text, [other, *names_of(units, [other])]) == []


def test_a_programme_pages_header_is_scoped_by_the_data_layer_too(
    app: Any, service_lead: Any, units: dict, monkeypatch
) -> None:
    """Issue 15: the router answered a renamed body with another programme's page header (name,
    setting, provider, area). The endpoint now refuses such bodies (test_sign_in_attacks.py); behind
    it, the data layer refuses the header itself, so even a request the endpoint let through shows
    "no access" and names nothing of that programme."""
    other = units["other"]
    row = units["programmes"].loc[other]
    monkeypatch.setattr(auth, "refusal", lambda body, scope: None)  # the endpoint check misses it
    router = find_callback(app, f"{ids.PAGE}.children")
    body = callback_body(
        app, router, {f"{ids.URL}.pathname": f"/programmes/{other}", f"{ids.URL}.search": ""}
    )
    text = post(service_lead, body).text
    assert "You do not have access to this programme" in text
    assert mentions(text, [other, str(row["programme_name"]), str(row["provider_id"])]) == []
    with app.server.test_request_context("/"):
        g.rosc_scope = auth.scope_for(
            auth.Access("service_lead", frozenset([units["own"]])), app.dashboard_data
        )
        with pytest.raises(auth.AccessDenied):
            app.dashboard_data.programme(other)
        assert app.dashboard_data.programme(units["own"])["programme_id"] == units["own"]
