"""The eight findings of issue 15, each re-run as the attacker ran it: over HTTP against gunicorn (two
sync workers, loopback), with a commissioner (ana) and a service lead (sam) signed in through the
users file. Every test here failed on the hand-written sign-in it replaces.

1. open redirect through ``next``; 2. renamed callback inputs got round the endpoint's refusal, and
refusals were not logged; 3. sign-out did not end a session, and every response re-issued the cookie;
4. no lockout, and failed sign-ins slept in the worker; 5. security headers on two routes only;
6. 500s for odd ``next`` values and component paths; 7. exact counts on a service lead's Data page;
8. a weak secret and an empty ``ROSC_USERS`` were accepted.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import numpy as np
import pytest

from tests.security.conftest import LIMIT_PER_ADDRESS, LIMIT_PER_USER, PASSWORDS, SignInServer
from tests.security.servers import ROOT, client, csrf_of, refused_start, sign_in

pytestmark = pytest.mark.slow

ENDPOINT = "/_dash-update-component"
ROUTER_OUTPUT = "page-content.children"


@pytest.fixture(scope="module")
def site(sign_in_server: SignInServer) -> SignInServer:
    return sign_in_server


_ADDRESSES = (f"127.0.{10 + n // 250}.{1 + n % 250}" for n in itertools.count())


def fresh_address() -> str:
    """A loopback address no other client of these tests uses (each address has its own sign-in
    limit, and the attacks below use theirs up)."""
    return next(_ADDRESSES)


def signed_in(site: SignInServer, username: str, address: str | None = None) -> Any:
    session = client(address or fresh_address())
    answer = sign_in(session, site.url, username, PASSWORDS[username])
    assert answer.status_code == 302, answer.text[:300]
    return session


def router_body(pathname: str, input_id: str = "url", state_id: str = "url") -> dict[str, Any]:
    """The router callback's body as the browser sends it (ids renamable for the attack)."""
    return {
        "output": ROUTER_OUTPUT,
        "outputs": {"id": "page-content", "property": "children"},
        "inputs": [{"id": input_id, "property": "pathname", "value": pathname}],
        "state": [{"id": state_id, "property": "search", "value": ""}],
        "changedPropIds": [f"{input_id}.pathname"],
    }


def post(session: Any, site: SignInServer, body: Any) -> Any:
    return session.post(site.url + ENDPOINT, json=body, timeout=30)


# -- 1. open redirect ---------------------------------------------------------------------------------

#: ``next`` values as sent on the wire (already percent-encoded) that must not leave the site.
HOSTILE_NEXT = [
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%0d%0a/evil.example",
    "%09//evil.example",
    "//evil.example",
    "/%5Cevil.example",
    "%5C%5Cevil.example",
    "https://evil.example/",
    "https:evil.example",
    "/%00/evil.example",
    "/%7F/evil.example",
    "%20//evil.example",
    "/%C2%85/evil.example",
]


def leaves_the_site(location: str) -> bool:
    """Whether a browser following ``Location: location`` from this site would go elsewhere (it drops
    tabs and newlines and reads backslashes as slashes, as the URL standard says)."""
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/").strip("\x00- ")
    parts = urlsplit(cleaned)
    return bool(parts.scheme or parts.netloc) or cleaned.startswith("//")


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_1_next_never_leaves_the_site(site: SignInServer, target: str) -> None:
    assert leaves_the_site("//evil.example") and leaves_the_site("/\t/evil.example")  # the check can fail
    # After a real sign-in ...
    session = client(fresh_address())
    answer = sign_in(session, site.url, "ana", PASSWORDS["ana"], next_=target)
    assert answer.status_code == 302, answer.text[:200]
    assert answer.headers["Location"] == "/"
    # ... and when already signed in.
    again = session.get(f"{site.url}/login?next={target}", allow_redirects=False, timeout=30)
    assert again.status_code == 302 and again.headers["Location"] == "/"
    assert not leaves_the_site(again.headers["Location"])


def test_1_a_local_next_is_kept(site: SignInServer) -> None:
    session = client(fresh_address())
    answer = sign_in(session, site.url, "ana", PASSWORDS["ana"], next_="/retention%3Fsex%3Dfemale")
    assert answer.headers["Location"] == "/retention?sex=female"


# -- 2. the endpoint's refusal cannot be renamed round -------------------------------------------------


def test_2_renamed_router_inputs_are_refused_for_every_programme(site: SignInServer) -> None:
    sam = signed_in(site, "sam")
    others = sorted(p for p in site.programmes if p != site.own)
    for programme in others:
        for body in (
            router_body(f"/programmes/{programme}", input_id="x"),  # the finding's body
            router_body(f"/programmes/{programme}", state_id="y"),
            router_body(f"/programmes/{programme}", input_id="filter-state"),
        ):
            answer = post(sam, site, body)
            assert answer.status_code == 400, (programme, answer.text[:300])
            assert site.programmes[programme] not in answer.text
        named = post(sam, site, router_body(f"/programmes/{programme}"))
        assert named.status_code == 403 and site.programmes[programme] not in named.text
    # Control: their own programme's page header through the same callback.
    own = post(sam, site, router_body(f"/programmes/{site.own}"))
    assert own.status_code == 200 and site.programmes[site.own] in own.text


def good_chart_body(chart: str, programme: str) -> dict[str, Any]:
    from datetime import date

    graph = {"chart": chart, "type": "chart-graph"}
    key = json.dumps(graph, separators=(",", ":"))
    store = {
        "start": "2025-03-01",
        "end": "2026-02-28",
        **{d: [] for d in ("area", "provider", "programme", "setting", "substance_group", "sex", "age_band")},
    }
    del date
    return {
        "output": f"..{key}.figure...{key}.style..."
        + json.dumps({"chart": chart, "type": "chart-message"}, separators=(",", ":"))
        + ".children..."
        + json.dumps({"chart": chart, "type": "chart-spec"}, separators=(",", ":"))
        + ".data..",
        "outputs": [
            {"id": graph, "property": "figure"},
            {"id": graph, "property": "style"},
            {"id": {"chart": chart, "type": "chart-message"}, "property": "children"},
            {"id": {"chart": chart, "type": "chart-spec"}, "property": "data"},
        ],
        "inputs": [
            {"id": "filter-state", "property": "data", "value": store},
            {"id": "programme-id", "property": "data", "value": programme},
        ],
        "changedPropIds": ["filter-state.data"],
    }


def csv_body(chart: str, spec_chart: str, programme: str, changed: str | None = None) -> dict[str, Any]:
    def cid(kind: str, name: str = chart) -> dict[str, str]:
        return {"chart": name, "type": kind}

    sorted_key = json.dumps({"chart": ["MATCH"], "type": "chart-download"}, separators=(",", ":"))
    message = json.dumps({"chart": ["MATCH"], "type": "chart-message"}, separators=(",", ":"))
    store = {"start": "2025-03-01", "end": "2026-02-28"}
    return {
        "output": None,  # filled in by the test from the app's callback map
        "outputs": [
            {"id": cid("chart-download"), "property": "data"},
            {"id": cid("chart-message"), "property": "children"},
        ],
        "inputs": [{"id": cid("chart-csv"), "property": "n_clicks", "value": 1}],
        "state": [
            {"id": "filter-state", "property": "data", "value": store},
            {"id": cid("chart-spec", spec_chart), "property": "data", "value": {"programme-id": programme}},
        ],
        "changedPropIds": [changed or json.dumps(cid("chart-csv"), separators=(",", ":")) + ".n_clicks"],
        "_keys": (sorted_key, message),
    }


def test_2_every_other_kind_of_mismatch_is_400_and_a_true_body_is_not(site: SignInServer) -> None:
    ana = signed_in(site, "ana")
    good = good_chart_body("programme_vs_system", site.own)
    assert post(ana, site, good).status_code == 200  # control: the body the browser sends
    bad: list[Any] = []
    extra_input = json.loads(json.dumps(good))
    extra_input["inputs"].append({"id": "url", "property": "search", "value": ""})
    bad.append(extra_input)
    swapped = json.loads(json.dumps(good))
    swapped["inputs"].reverse()
    bad.append(swapped)
    wrong_property = json.loads(json.dumps(good))
    wrong_property["inputs"][1]["property"] = "value"
    bad.append(wrong_property)
    foreign_trigger = json.loads(json.dumps(good))
    foreign_trigger["changedPropIds"] = ["url.pathname"]
    bad.append(foreign_trigger)
    wrong_output = json.loads(json.dumps(good))
    wrong_output["outputs"][0]["id"] = {"chart": "exit_mix", "type": "chart-graph"}
    bad.append(wrong_output)
    unknown = json.loads(json.dumps(good))
    unknown["output"] = "nothing.children"
    bad += [unknown, [good], "text", {"output": ROUTER_OUTPUT}]
    for body in bad:
        answer = post(ana, site, body)
        assert answer.status_code == 400, (body, answer.text[:200])
        assert answer.json() == {"error": "malformed callback request"}


def test_2_pattern_matching_wildcards_must_agree(site: SignInServer) -> None:
    """The CSV download is one MATCH callback for every chart: its chart-csv trigger, chart-spec state
    and outputs must all name the same chart (the spec of one chart cannot ride on another's button)."""
    from dashboard.app import create_app

    app = create_app(site.db)
    try:
        key = next(k for k in app.callback_map if "chart-download" in k)
    finally:
        app.dashboard_data.close()
    ana = signed_in(site, "ana")
    good = csv_body("programme_support", "programme_support", site.own)
    good.pop("_keys")
    good["output"] = key
    assert post(ana, site, good).status_code == 200
    mixed = csv_body("programme_support", "programme_trend", site.own)
    mixed.pop("_keys")
    mixed["output"] = key
    assert post(ana, site, mixed).status_code == 400


def test_2_refusals_are_logged_with_the_user_and_what_was_asked(site: SignInServer) -> None:
    sam = signed_in(site, "sam")
    target = sorted(p for p in site.programmes if p != site.own)[-1]
    assert post(sam, site, router_body(f"/programmes/{target}", input_id="renamed-x")).status_code == 400
    lines = site.server.wait_for_log(rf"refused 400 to sam \(service_lead\).*renamed-x.*{target}")
    assert lines, site.server.log_text()[-2000:]
    assert post(sam, site, router_body(f"/programmes/{target}")).status_code == 403
    assert site.server.wait_for_log(
        rf"refused 403 to sam \(service_lead\).*url\.pathname='/programmes/{target}'"
    )
    page = sam.get(f"{site.url}/programmes/{target}", timeout=30)
    assert page.status_code == 403
    assert site.server.wait_for_log(
        rf"refused 403 to sam \(service_lead\).*another programme's page.*{target}"
    )


# -- 3. sign-out and revocation end a session everywhere ----------------------------------------------


def hits_both_workers(session: Any, site: SignInServer, path: str, times: int = 8) -> list[int]:
    return [session.get(site.url + path, allow_redirects=False, timeout=30).status_code for _ in range(times)]


def test_3_a_cookie_copied_before_sign_out_is_worthless_after(site: SignInServer) -> None:
    ana = signed_in(site, "ana")
    copied = dict(ana.cookies)
    thief = client("127.0.0.4")
    thief.cookies.update(copied)
    assert set(hits_both_workers(thief, site, "/_dash-layout")) == {200}
    token = csrf_of(ana.get(site.url + "/logout", timeout=30).text)
    assert (
        ana.post(site.url + "/logout", data={"csrf_token": token}, allow_redirects=False).status_code == 302
    )
    assert set(hits_both_workers(thief, site, "/_dash-layout")) == {401}
    assert set(hits_both_workers(thief, site, "/")) == {302}


def test_3_the_cookie_is_issued_once_per_session_and_every_session_has_its_own(site: SignInServer) -> None:
    before = client(fresh_address())
    before.get(site.url + "/login", timeout=30)
    planted = before.cookies.get("rosc_session")
    first = sign_in(before, site.url, "ana", PASSWORDS["ana"])
    issued = first.cookies.get("rosc_session")
    assert planted and issued and issued != planted  # the id rotates at sign-in
    fixed = client("127.0.0.5")
    fixed.cookies.set("rosc_session", planted)  # a session id planted before sign-in signs nobody in
    assert fixed.get(site.url + "/_dash-layout", timeout=30).status_code == 401
    for path in ("/", "/_dash-layout", "/_dash-dependencies", "/assets/app.css"):
        response = before.get(site.url + path, timeout=30)
        assert response.status_code == 200 and "Set-Cookie" not in response.headers, path
    second = signed_in(site, "ana")
    assert second.cookies.get("rosc_session") != issued


def test_3_an_administrators_revoke_ends_every_session_of_that_user(site: SignInServer) -> None:
    sam_laptop, sam_phone, ana = signed_in(site, "sam"), signed_in(site, "sam"), signed_in(site, "ana")
    listed = subprocess.run(
        [sys.executable, "-m", "dashboard.auth", "sessions", "--store", str(site.store)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert listed.count("sam\tfile:sam") >= 2 and "ana\tfile:ana" in listed
    revoked = subprocess.run(
        [sys.executable, "-m", "dashboard.auth", "revoke", "--store", str(site.store), "sam"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    ended = int(re.search(r"ended (\d+) session", revoked).group(1))
    assert ended >= 2
    for session in (sam_laptop, sam_phone):
        assert set(hits_both_workers(session, site, "/_dash-layout", 4)) == {401}
    assert set(hits_both_workers(ana, site, "/_dash-layout", 4)) == {200}


# -- 4. lockout, and no sleeping in a worker ----------------------------------------------------------


def limit_count(limit: str) -> int:
    return int(limit.split()[0])


def test_4_a_user_is_locked_out_after_repeated_failures_from_any_address(site: SignInServer) -> None:
    allowed = limit_count(LIMIT_PER_USER)
    statuses = [
        sign_in(client(f"127.0.1.{n}"), site.url, "lee", "wrong password").status_code
        for n in range(1, allowed + 2)
    ]
    assert statuses == [401] * allowed + [429]
    locked = sign_in(client("127.0.1.50"), site.url, "lee", PASSWORDS["lee"])
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    assert int(locked.headers["Retry-After"]) > 0
    assert sign_in(client("127.0.1.51"), site.url, "ana", PASSWORDS["ana"]).status_code == 302
    assert site.server.wait_for_log(r"refused 429 to anonymous from 127\.0\.1\.50.*user:lee")
    unlocked = subprocess.run(
        [sys.executable, "-m", "dashboard.auth", "unlock", "--store", str(site.store), "lee"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "cleared 1 failed sign-in count of lee" in unlocked, unlocked
    assert sign_in(client("127.0.1.52"), site.url, "lee", PASSWORDS["lee"]).status_code == 302


def test_4_an_address_is_stopped_after_repeated_failures(site: SignInServer) -> None:
    allowed = limit_count(LIMIT_PER_ADDRESS)
    attacker = "127.0.2.1"
    statuses = [
        sign_in(client(attacker), site.url, f"nobody{n}", "guess").status_code for n in range(allowed + 1)
    ]
    assert statuses == [401] * allowed + [429]
    assert sign_in(client(attacker), site.url, "ana", PASSWORDS["ana"]).status_code == 429
    assert sign_in(client("127.0.2.2"), site.url, "ana", PASSWORDS["ana"]).status_code == 302


def test_4_a_burst_of_failed_sign_ins_is_cut_off_and_does_not_slow_a_signed_in_user(
    site: SignInServer,
) -> None:
    """The finding's attack: eight failed sign-ins at once, again and again, from one address with no
    account. Before, each slept 0.5 s in a sync worker and a signed-in user's layout took 1.84 s
    instead of 0.004 s; now the address is cut off after its limit with immediate 429s (counted as
    they arrive, so a burst cannot overshoot), each failure costs one password hash (about 0.07 s)."""
    victim = signed_in(site, "ana")
    quiet = []
    for _ in range(6):
        started = time.perf_counter()
        assert victim.get(site.url + "/_dash-layout", timeout=30).status_code == 200
        quiet.append(time.perf_counter() - started)
    answers: list[tuple[int, float]] = []
    lock = threading.Lock()
    tokens = []
    for _ in range(8):
        session = client("127.0.3.9")
        tokens.append((session, csrf_of(session.get(site.url + "/login", timeout=30).text)))

    def attacker(n: int) -> None:
        session, token = tokens[n]
        for guess in range(6):
            started = time.perf_counter()
            answer = session.post(
                site.url + "/login",
                data={"username": f"ana{n}-{guess}", "password": "guess", "csrf_token": token},
                timeout=30,
            )
            with lock:
                answers.append((answer.status_code, time.perf_counter() - started))

    threads = [threading.Thread(target=attacker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    during = []
    while any(t.is_alive() for t in threads):
        started = time.perf_counter()
        assert victim.get(site.url + "/_dash-layout", timeout=30).status_code == 200
        during.append(time.perf_counter() - started)
    for thread in threads:
        thread.join()
    statuses = sorted(status for status, _ in answers)
    assert statuses == [401] * limit_count(LIMIT_PER_ADDRESS) + [429] * (48 - limit_count(LIMIT_PER_ADDRESS))
    refused_at_once = [seconds for status, seconds in answers if status == 429]
    assert float(np.median(refused_at_once)) < 0.25, answers
    assert float(np.median(during)) < 0.25 and max(during) < 1.5, (quiet, during)


# -- 5. headers on every response --------------------------------------------------------------------


def test_5_security_headers_on_every_response(site: SignInServer) -> None:
    ana = signed_in(site, "ana")
    index = ana.get(site.url + "/", timeout=30)
    script = re.search(r'src="(/_dash-component-suites/[^"]+)"', index.text).group(1)
    responses = {
        "page": index,
        "layout": ana.get(site.url + "/_dash-layout", timeout=30),
        "dependencies": ana.get(site.url + "/_dash-dependencies", timeout=30),
        "asset": ana.get(site.url + "/assets/app.css", timeout=30),
        "script": ana.get(site.url + script, timeout=30),
        "callback": post(ana, site, router_body("/")),
        "refused callback": post(ana, site, router_body("/", input_id="x")),
        "missing asset": ana.get(site.url + "/assets/nothing.css", timeout=30),
        "sign-in page": client("127.0.0.9").get(site.url + "/login", timeout=30),
        "anonymous": client("127.0.0.9").get(site.url + "/_dash-layout", timeout=30),
    }
    for name, response in responses.items():
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, name
        assert "'unsafe-eval'" not in csp and "script-src 'self' 'sha256-" in csp, name
        assert headers.get("X-Frame-Options") == "DENY", name
        assert headers.get("X-Content-Type-Options") == "nosniff", name
        assert headers.get("Referrer-Policy") == "same-origin", name
        dynamic = name not in ("asset", "script", "missing asset")
        assert (headers.get("Cache-Control") == "no-store") == dynamic, (name, headers.get("Cache-Control"))
    assert responses["callback"].status_code == 200 and responses["refused callback"].status_code == 400


# -- 6. no 500s ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/login?next=/%0a/x", 200),
        ("/login?next=%E2%80%AE/x", 200),
        ("/login?next=/%FF%FE", 200),
        ("/_dash-component-suites/dash/dash.py", 404),
        ("/_dash-component-suites/no_such_package/x.js", 404),
        ("/_dash-component-suites/dash/deps/nothing.min.js", 404),
        ("/assets/nothing.js", 404),
        ("/assets/%2e%2e/pyproject.toml", 404),
    ],
)
def test_6_odd_paths_answer_4xx_or_a_page_never_500(site: SignInServer, path: str, status: int) -> None:
    anonymous = client("127.0.0.10").get(site.url + path, allow_redirects=False, timeout=30)
    assert anonymous.status_code in (200, 302, 401, 404), (path, anonymous.status_code)
    ana = signed_in(site, "ana")
    answer = ana.get(site.url + path, allow_redirects=False, timeout=30)
    if path.startswith("/login"):
        assert anonymous.status_code == status
        assert answer.status_code == 302 and not leaves_the_site(answer.headers["Location"]), answer.text[
            :200
        ]
        if "%0a" in path or "%E2" in path:  # "//x" once the newline is dropped; no leading "/"
            assert answer.headers["Location"] == "/"
    else:
        assert answer.status_code == status, (path, answer.status_code, answer.text[:200])
    assert "Traceback" not in answer.text


# -- 7. the Data page's counts ----------------------------------------------------------------------------


def expected_shown(db: Path, count: int, label: str) -> str:
    """Worked out here, apart from the app: the count perturbed with the cell key of the Data page's
    cells, a keyed hash (the warehouse's record-key salt) of the cell's label, by the perturbation table."""
    import hashlib

    from pipelines.stats.perturbation import pcv_of, ptable

    with duckdb.connect(str(db), read_only=True) as con:
        (salt,) = con.execute("SELECT salt FROM record_key_salt").fetchall()[0]
    key = int.from_bytes(hashlib.sha256(f"{salt}\0{label}".encode()).digest()[:4], "big") % 256
    return f"{count + int(ptable()[pcv_of(count), key]):,}"


def table_cells(layout: Any, table_id: str) -> list[list[str]]:
    """The text of each row of an html_table in a Dash layout (JSON)."""

    def find(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == table_id:
                return node
            for value in node.values():
                found = find(value)
                if found is not None:
                    return found
        elif isinstance(node, list):
            for value in node:
                found = find(value)
                if found is not None:
                    return found
        return None

    table = find(layout)
    assert table is not None, table_id
    body = table["props"]["children"][1]["props"]["children"]
    return [[str(cell["props"]["children"]) for cell in row["props"]["children"]] for row in body]


def test_7_a_service_leads_data_page_shows_counts_perturbed(site: SignInServer) -> None:
    with duckdb.connect(str(site.db), read_only=True) as con:
        rejected = con.execute(
            "SELECT table_name, coalesce(column_name, ''), rule, count(*) FROM quarantine GROUP BY ALL"
        ).fetchall()
        ((loaded, rejected_rows),) = con.execute(
            "SELECT rows_loaded, rows_rejected FROM load_history"
        ).fetchall()
        (contacts,) = con.execute("SELECT count(*) FROM contacts").fetchone()
    assert sorted(n for *_, n in rejected) == [1, 7]  # the test extract's broken rows
    sam = signed_in(site, "sam")
    answer = post(sam, site, router_body("/data"))
    assert answer.status_code == 200
    layout = answer.json()["response"]["page-content"]["children"]
    shown = {(t, c, r): n for t, c, r, n in table_cells(layout, "data-rejected")}
    assert shown == {
        (t, c, r): expected_shown(site.db, n, f"quarantine {t} {c} {r}") for t, c, r, n in rejected
    }
    loads = table_cells(layout, "data-loads")[0]
    assert expected_shown(site.db, loaded, "load 1 rows_loaded") in loads
    assert expected_shown(site.db, rejected_rows, "load 1 rows_rejected") in loads
    completeness = {(row[0], row[1]): row for row in table_cells(layout, "data-completeness")}
    assert completeness[("contacts", "(all rows)")][2] == expected_shown(site.db, contacts, "rows contacts")
    count_columns = {"data-rejected": [3], "data-loads": [3, 4], "data-completeness": [2, 3]}
    count_columns["data-latest-load"] = [1, 2, 3, 4]
    for table, columns in count_columns.items():
        for row in table_cells(layout, table):
            for cell in (row[i] for i in columns):  # no count of 1-4 anywhere on the page
                digits = cell.replace(",", "")
                assert not digits.isdigit() or not 1 <= int(digits) <= 4, (table, row)


# -- 8. configuration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"ROSC_SECRET_KEY": " " * 40}, "ROSC_SECRET_KEY is too easy to guess"),
        ({"ROSC_USERS": ""}, "ROSC_USERS is set but empty"),
    ],
)
def test_8_startup_refuses_a_weak_secret_and_an_empty_sign_in_setting(
    site: SignInServer, tmp_path: Path, settings: dict[str, str], named: str
) -> None:
    from tests.security.conftest import SECRET

    base = {
        "ROSC_DB": str(site.db),
        "ROSC_USERS": str(Path(site.store).parent / "users.toml"),
        "ROSC_SECRET_KEY": SECRET,
        "ROSC_SESSION_STORE": str(tmp_path / "sessions.sqlite3"),
    }
    log = refused_start({**base, **settings}, tmp_path / "gunicorn")
    assert named in log, log[-2000:]
