"""OWASP ASVS 4.0.3 chapter V3 (session management): the rows of docs/security.md that no other test showed.

The gateway in-process in front of fake services, as tests/service/gateway builds it: session tokens
are new at every sign-in (a token planted before it is not adopted), long and random, never read from
a URL, and the session cookie is sent back to this host only.
"""

from __future__ import annotations

import base64
import re

from tests.service.gateway import conftest as gateway_kit
from tests.service.gateway.conftest import bearer

make_gateway, gw = gateway_kit.make_gateway, gateway_kit.gw  # the gateway tests' fixtures

COOKIE = "portico_session"


def set_cookies(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def session_cookie(response) -> str:
    found = [cookie for cookie in set_cookies(response) if cookie.startswith(f"{COOKIE}=")]
    assert len(found) == 1, set_cookies(response)
    return found[0]


def test_v3_2_1_a_token_planted_before_sign_in_is_replaced_and_stays_useless(gw):
    user = gw.user(gw.account())
    browser = gw.client
    planted = "attacker-chosen-token-0123456789abcdefghijklmnopqrstuvwxyz"
    browser.set_cookie(COOKIE, planted)

    signed = browser.post(
        "/api/v1/session", json={"email": user["email"], "password": "Secret-pass-1"}
    )

    assert signed.status_code == 201
    token = signed.get_json()["token"]
    assert token != planted
    assert session_cookie(signed).startswith(f"{COOKIE}={token};")
    assert (
        gw.client.get("/api/v1/me", headers={"Authorization": f"Bearer {planted}"}).status_code
        == 401
    )
    assert gw.client.get("/api/v1/me", headers=bearer(signed.get_json())).status_code == 200


def test_v3_2_2_every_sign_in_gets_a_new_token_of_at_least_256_random_bits(make_gateway):
    gw = make_gateway(PORTICO_RATE_SIGN_IN_PER_IP="0/60", PORTICO_RATE_SIGN_IN_PER_EMAIL="0/60")
    user = gw.user(gw.account())
    tokens = [gw.sign_in(user) for _ in range(20)]

    for kind in ("token", "csrf_token"):
        values = [session[kind] for session in tokens]
        assert len(set(values)) == len(values), f"a {kind} came twice"
        for value in values:
            assert re.fullmatch(r"[A-Za-z0-9_-]+", value), value
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            assert len(raw) * 8 >= 256, f"{kind} of {len(raw) * 8} bits"
    assert not {s["token"] for s in tokens} & {s["csrf_token"] for s in tokens}


def test_v3_1_1_a_session_token_in_the_url_is_never_read(gw):
    user = gw.user(gw.account())
    token = gw.sign_in(user)["token"]

    for query in (
        f"token={token}",
        f"access_token={token}",
        f"session={token}",
        f"{COOKIE}={token}",
    ):
        answer = gw.client.get(f"/api/v1/me?{query}")
        assert answer.status_code == 401, query
    signed = gw.client.post(
        "/api/v1/session", json={"email": user["email"], "password": "Secret-pass-1"}
    )
    assert "Location" not in signed.headers


def test_v3_4_5_the_session_cookie_goes_back_to_this_host_only(gw):
    user = gw.user(gw.account())
    signed = gw.client.post(
        "/api/v1/session", json={"email": user["email"], "password": "Secret-pass-1"}
    )

    attributes = [part.strip().lower() for part in session_cookie(signed).split(";")[1:]]
    assert not [a for a in attributes if a.startswith("domain")], attributes  # host-only
    assert "path=/" in attributes
    assert "httponly" in attributes and "samesite=lax" in attributes
