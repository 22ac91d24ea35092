"""Sign-in through a real OpenID Connect provider (oidc-provider-mock, started by the tests on
loopback), against the dashboard under gunicorn: the authorisation code flow end to end, the ID
token's group claim mapped to a role and programmes, and ID tokens that must be refused (expired,
meant for another client, from another issuer, an unknown group), each refusal logged.

The provider signs every token properly; the bad ones differ only in their claims (the mock puts a
user's claims into the ID token after the standard ones), as a misconfigured or hostile provider's
would.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest

from tests.security.conftest import CLIENT_ID, SignInServer
from tests.security.servers import client, oidc_sign_in, set_oidc_user

pytestmark = pytest.mark.slow

ENDPOINT = "/_dash-update-component"
_ADDRESSES = (f"127.0.{100 + n // 250}.{1 + n % 250}" for n in itertools.count())


@pytest.fixture(scope="module")
def site(sign_in_server: SignInServer) -> SignInServer:
    return sign_in_server


def new_client() -> Any:
    return client(next(_ADDRESSES))


def router(pathname: str) -> dict[str, Any]:
    return {
        "output": "page-content.children",
        "outputs": {"id": "page-content", "property": "children"},
        "inputs": [{"id": "url", "property": "pathname", "value": pathname}],
        "state": [{"id": "url", "property": "search", "value": ""}],
        "changedPropIds": ["url.pathname"],
    }


def offered_programmes(session: Any, site: SignInServer) -> set[str]:
    """The programmes the filter bar offers (the layout's programme dropdown)."""
    layout = session.get(site.url + "/_dash-layout", timeout=30)
    assert layout.status_code == 200, layout.text[:200]

    def find(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == "filter-programme":
                return node["props"]["options"]
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

    return {o["value"] for o in find(layout.json())}


def test_a_commissioner_signs_in_through_the_provider_and_sees_everything(site: SignInServer) -> None:
    session = new_client()
    before = session.get(site.url + "/login", timeout=30)
    assert 'id="sign-in-oidc"' in before.text and "Sign in with Test Trust" in before.text
    planted = session.cookies.get("rosc_session", domain="127.0.0.1")
    answer = oidc_sign_in(
        session, site.url, site.issuer, "oidc-commissioner", next_="/programmes%3Fsex%3Dfemale"
    )
    assert answer.status_code == 302, answer.text[:300]
    assert answer.headers["Location"] == "/programmes?sex=female"  # next survives the round trip
    assert session.cookies.get("rosc_session", domain="127.0.0.1") not in (None, planted)  # a new session id
    assert offered_programmes(session, site) == set(site.programmes)
    other = session.post(site.url + ENDPOINT, json=router(f"/programmes/{site.other}"), timeout=30)
    assert other.status_code == 200 and site.programmes[site.other] in other.text
    assert site.server.wait_for_log(r"signed in: cat@trust\.example \(commissioner\)")


def test_a_service_leads_group_gives_their_programme_only(site: SignInServer) -> None:
    session = new_client()
    assert oidc_sign_in(session, site.url, site.issuer, "oidc-lead").status_code == 302
    assert offered_programmes(session, site) == {site.own}
    own = session.post(site.url + ENDPOINT, json=router(f"/programmes/{site.own}"), timeout=30)
    assert own.status_code == 200 and site.programmes[site.own] in own.text
    other = session.post(site.url + ENDPOINT, json=router(f"/programmes/{site.other}"), timeout=30)
    assert other.status_code == 403 and site.programmes[site.other] not in other.text
    assert session.get(f"{site.url}/programmes/{site.other}", timeout=30).status_code == 403
    assert site.server.wait_for_log(rf"refused 403 to lou@trust\.example \(service_lead\).*{site.other}")


def test_claims_map_to_a_role_by_the_group_map(site: SignInServer) -> None:
    """Two service-lead groups give both programmes; a commissioner group wins over any other."""
    cases = {
        "oidc-two-leads": ([f"rosc-lead-{site.own}", f"rosc-lead-{site.other}"], {site.own, site.other}),
        "oidc-lead-and-commissioner": ([f"rosc-lead-{site.own}", "rosc-commissioners"], set(site.programmes)),
    }
    for sub, (groups, expected) in cases.items():
        set_oidc_user(site.issuer, sub, {"preferred_username": sub, "groups": groups})
        session = new_client()
        assert oidc_sign_in(session, site.url, site.issuer, sub).status_code == 302
        assert offered_programmes(session, site) == expected, sub


def test_sign_out_ends_an_oidc_session(site: SignInServer) -> None:
    from tests.security.servers import csrf_of

    session = new_client()
    assert oidc_sign_in(session, site.url, site.issuer, "oidc-commissioner").status_code == 302
    copied = dict(session.cookies.get_dict(domain="127.0.0.1"))
    token = csrf_of(session.get(site.url + "/logout", timeout=30).text)
    session.post(site.url + "/logout", data={"csrf_token": token}, timeout=30)
    thief = new_client()
    thief.cookies.update(copied)
    assert thief.get(site.url + "/_dash-layout", timeout=30).status_code == 401


@pytest.mark.parametrize(
    ("sub", "claims", "status", "logged"),
    [
        ("oidc-expired", {"exp": int(time.time()) - 3600}, 401, "ExpiredTokenError"),
        # Meant for another client. The second one passed Authlib's own checks (its azp names us) until
        # the audience was checked as OpenID Connect Core 3.1.3.7 requires.
        ("oidc-wrong-audience", {"aud": "another-app"}, 401, "'aud'"),
        ("oidc-other-client", {"aud": ["another-app"], "azp": CLIENT_ID}, 401, "'aud'"),
        ("oidc-wrong-issuer", {"iss": "http://evil.example"}, 401, "iss"),
        ("oidc-no-group", {"groups": ["finance"]}, 403, "no group in the map"),
        ("oidc-no-groups-claim", {}, 403, "no group in the map"),
        # Entra ID's "groups overage": more than 200 groups, so the token points elsewhere instead.
        (
            "oidc-overage",
            {
                "groups": None,
                "_claim_names": {"groups": "src1"},
                "_claim_sources": {"src1": {"endpoint": "x"}},
            },
            403,
            "too many groups for the token",
        ),
    ],
)
def test_a_token_that_must_not_sign_anyone_in_is_refused_and_logged(
    site: SignInServer, sub: str, claims: dict[str, Any], status: int, logged: str
) -> None:
    base = {"preferred_username": sub, "groups": ["rosc-commissioners"]}
    claims = (
        {k: v for k, v in {**base, **claims}.items() if v is not None}
        if claims
        else {"preferred_username": sub}
    )
    set_oidc_user(site.issuer, sub, claims)
    session = new_client()
    answer = oidc_sign_in(session, site.url, site.issuer, sub)
    assert answer.status_code == status, answer.text[:300]
    assert "Location" not in answer.headers
    assert session.get(site.url + "/_dash-layout", timeout=30).status_code == 401  # nobody signed in
    lines = site.server.wait_for_log(rf"refused {status} to anonymous .*(OpenID Connect).*{logged}")
    assert lines, site.server.log_text()[-3000:]


def test_a_forged_or_replayed_callback_is_refused(site: SignInServer) -> None:
    """A callback whose state the session did not start (CSRF on the sign-in), or one used twice."""
    session = new_client()
    start = session.get(site.url + "/login/oidc", allow_redirects=False, timeout=30)
    authorize = start.headers["Location"]
    session.get(authorize, timeout=30)
    answer = session.post(authorize, data={"sub": "oidc-commissioner"}, allow_redirects=False, timeout=30)
    callback = answer.headers["Location"]
    forged = new_client().get(callback, allow_redirects=False, timeout=30)  # another browser, no state
    assert forged.status_code == 401
    first = session.get(callback, allow_redirects=False, timeout=30)
    assert first.status_code == 302
    replay = new_client()
    replay.get(site.url + "/login", timeout=30)
    assert replay.get(callback, allow_redirects=False, timeout=30).status_code == 401
    assert json.dumps(site.server.wait_for_log(r"refused 401 .*OpenID Connect sign-in refused"))
