"""The gateway as OpenID Connect provider: the code flow with PKCE, tokens, refresh rotation,
userinfo, revocation, keys and their rotation, entitlement-gated clients, and the errors the
specifications name. Time is the harness's FakeClock."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from gateway.adapters.oidc_orm import oidc_codes, oidc_keys, oidc_tokens

OPERATOR = {"Authorization": "Bearer dev-operator-token"}
CALLBACK = "https://app.example.com/callback"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    return verifier, challenge


def register(gw, **body) -> dict:
    answer = gw.client.post(
        "/api/v1/operator/oidc-clients",
        headers=OPERATOR,
        json={
            "name": "Invoice viewer",
            "redirect_uris": [CALLBACK],
            "post_logout_redirect_uris": ["https://app.example.com/bye"],
            **body,
        },
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def basic(client: dict) -> dict[str, str]:
    raw = f"{client['client_id']}:{client['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def authorize(browser, client: dict, challenge: str | None, **extra) -> object:
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": CALLBACK,
        "scope": "openid profile email",
        "state": "st-1",
        "nonce": "n-1",
        **extra,
    }
    if challenge is not None:
        query.setdefault("code_challenge", challenge)
        query.setdefault("code_challenge_method", "S256")
    return browser.get(
        "/oauth2/authorize", query_string={k: v for k, v in query.items() if v is not None}
    )


def code_of(answer) -> str:
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)[:500]
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK + "?"), location
    params = parse_qs(urlsplit(location).query)
    assert params["state"] == ["st-1"]
    return params["code"][0]


def exchange(gw, client: dict, code: str, verifier: str, **extra) -> object:
    return gw.client.post(
        "/oauth2/token",
        headers=basic(client),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
            **extra,
        },
    )


@pytest.fixture
def signed_in(gw):
    """A user of a fresh account, signed in in a browser (the test client keeps the cookie)."""
    account = gw.account("90000001")
    user = gw.user(account)
    browser = gw.app.test_client()
    answer = browser.post(
        "/api/v1/session", json={"email": user["email"], "password": "Secret-pass-1"}
    )
    assert answer.status_code == 201
    return user, browser, account


def tokens_for(gw, signed_in, client=None, nonce: str = "n-1") -> tuple[dict, dict]:
    user, browser, _ = signed_in
    client = client or register(gw)
    verifier, challenge = pkce()
    answer = exchange(
        gw, client, code_of(authorize(browser, client, challenge, nonce=nonce)), verifier
    )
    assert answer.status_code == 200, answer.get_json()
    return client, answer.get_json()


# -- the code flow ------------------------------------------------------------------------------------


def test_discovery_names_the_endpoints_and_s256_only(gw):
    document = gw.client.get("/.well-known/openid-configuration").get_json()
    assert document["issuer"] == "http://127.0.0.1:8000"
    assert document["token_endpoint"] == "http://127.0.0.1:8000/oauth2/token"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["ES256"]


def test_the_code_flow_gives_an_id_token_signed_by_a_key_of_jwks_with_the_contract_claims(
    gw, signed_in
):
    user, _, account = signed_in
    gw.holding(user["id"], account, code="invoice_viewing")
    gw.holding(user["id"], account, code="old_service", status="cancelled")
    client, token = tokens_for(gw, signed_in)
    keys = KeySet.import_key_set(gw.client.get("/oauth2/jwks").get_json())
    claims = jwt.decode(token["id_token"], keys, algorithms=["ES256"]).claims
    assert claims["iss"] == "http://127.0.0.1:8000"
    assert claims["aud"] in ([client["client_id"]], client["client_id"])
    assert (
        claims["sub"] == user["id"]
        and claims["email"] == user["email"]
        and claims["nonce"] == "n-1"
    )
    assert (
        claims["given_name"] == "Alice"
        and claims["family_name"] == "Martin"
        and claims["locale"] == "en-GB"
    )
    assert claims["portico_account"]["id"] == account
    assert claims["portico_services"] == ["invoice_viewing"]
    assert claims["portico_administers"] == []
    assert claims["exp"] - claims["iat"] == 600
    assert claims["iat"] == int(gw.clock.now().timestamp())
    assert token["token_type"].lower() == "bearer" and token["refresh_token"]


def test_userinfo_answers_the_claims_of_the_access_token(gw, signed_in):
    user, _, account = signed_in
    gw.holding(user["id"], account, administers=account, code=f"user_admin:{account}")
    _, token = tokens_for(gw, signed_in)
    info = gw.client.get(
        "/oauth2/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert info.status_code == 200
    assert info.get_json()["sub"] == user["id"]
    assert info.get_json()["portico_administers"] == [account]
    assert gw.client.get("/oauth2/userinfo").status_code == 401


def test_an_access_token_ends_with_its_lifetime(gw, signed_in):
    _, token = tokens_for(gw, signed_in)
    gw.clock.advance(timedelta(seconds=601))
    info = gw.client.get(
        "/oauth2/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert info.status_code == 401 and info.get_json()["error"] == "invalid_token"


def test_without_a_session_authorize_sends_to_the_portal_sign_in_and_back(gw):
    client = register(gw)
    _, challenge = pkce()
    answer = authorize(gw.app.test_client(), client, challenge)
    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert location.startswith("/sign-in?next=")
    assert "%2Foauth2%2Fauthorize" in location


def test_prompt_none_without_a_session_answers_login_required_to_the_application(gw):
    client = register(gw)
    _, challenge = pkce()
    answer = authorize(gw.app.test_client(), client, challenge, prompt="none")
    assert answer.headers["Location"].startswith(CALLBACK + "?")
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["error"] == ["login_required"]


# -- codes ----------------------------------------------------------------------------------------------


def test_a_code_works_once_and_its_replay_revokes_what_it_gave(gw, signed_in):
    _, browser, _ = signed_in
    client = register(gw)
    verifier, challenge = pkce()
    code = code_of(authorize(browser, client, challenge))
    first = exchange(gw, client, code, verifier)
    assert first.status_code == 200
    again = exchange(gw, client, code, verifier)
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    refreshed = gw.client.post(
        "/oauth2/token",
        headers=basic(client),
        data={"grant_type": "refresh_token", "refresh_token": first.get_json()["refresh_token"]},
    )
    assert refreshed.status_code == 400 and refreshed.get_json()["error"] == "invalid_grant"


def test_a_code_lives_sixty_seconds(gw, signed_in):
    _, browser, _ = signed_in
    client = register(gw)
    verifier, challenge = pkce()
    code = code_of(authorize(browser, client, challenge))
    gw.clock.advance(timedelta(seconds=61))
    answer = exchange(gw, client, code, verifier)
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"


def test_a_code_is_kept_only_as_a_digest(gw, signed_in):
    _, browser, _ = signed_in
    client = register(gw)
    _, challenge = pkce()
    code = code_of(authorize(browser, client, challenge))
    with gw.part.engine.connect() as conn:
        stored = [row.code_hash for row in conn.execute(oidc_codes.select())]
    assert stored == [hashlib.sha256(code.encode()).hexdigest()]


def test_a_code_of_another_client_is_refused(gw, signed_in):
    _, browser, _ = signed_in
    client, other = register(gw), register(gw, name="Other app")
    verifier, challenge = pkce()
    code = code_of(authorize(browser, client, challenge))
    answer = exchange(gw, other, code, verifier)
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"


def test_a_wrong_verifier_is_refused(gw, signed_in):
    _, browser, _ = signed_in
    client = register(gw)
    _, challenge = pkce()
    code = code_of(authorize(browser, client, challenge))
    answer = exchange(gw, client, code, pkce()[0])
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_invalid_client(gw, signed_in):
    _, browser, _ = signed_in
    client = register(gw)
    verifier, challenge = pkce()
    code = code_of(authorize(browser, client, challenge))
    answer = exchange(gw, {**client, "client_secret": "not-it"}, code, verifier)
    assert answer.status_code == 401 and answer.get_json()["error"] == "invalid_client"


# -- PKCE and redirect URIs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},
    ],
)
def test_pkce_missing_or_plain_is_invalid_request_sent_to_the_application(gw, signed_in, extra):
    _, browser, _ = signed_in
    client = register(gw)
    _, challenge = pkce()
    query = {"code_challenge": challenge, "code_challenge_method": "S256", **extra}
    answer = authorize(browser, client, None, **{k: v for k, v in query.items() if v is not None})
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    assert parse_qs(urlsplit(location).query)["error"] == ["invalid_request"]
    with gw.part.engine.connect() as conn:
        assert conn.execute(oidc_codes.select()).first() is None


@pytest.mark.parametrize(
    "redirect_uri", ["https://evil.example.com/callback", CALLBACK + "/", CALLBACK + "?x=1", None]
)
def test_a_redirect_uri_not_registered_exactly_is_a_portal_page_never_a_redirect(
    gw, signed_in, redirect_uri
):
    _, browser, _ = signed_in
    client = register(gw)
    _, challenge = pkce()
    answer = authorize(browser, client, challenge, redirect_uri=redirect_uri)
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert "invalid_request" in answer.get_data(as_text=True)


def test_an_unknown_client_is_a_portal_page(gw, signed_in):
    _, browser, _ = signed_in
    _, challenge = pkce()
    answer = authorize(browser, {"client_id": "nobody"}, challenge)
    assert answer.status_code == 400 and "Location" not in answer.headers
    assert "invalid_client" in answer.get_data(as_text=True)


# -- refresh tokens ---------------------------------------------------------------------------------------


def refresh(gw, client: dict, refresh_token: str) -> object:
    return gw.client.post(
        "/oauth2/token",
        headers=basic(client),
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
    )


def test_a_refresh_rotates_the_refresh_token(gw, signed_in):
    client, token = tokens_for(gw, signed_in)
    answer = refresh(gw, client, token["refresh_token"])
    assert answer.status_code == 200, answer.get_json()
    new = answer.get_json()
    assert (
        new["refresh_token"] != token["refresh_token"]
        and new["access_token"] != token["access_token"]
    )
    assert (
        gw.client.get(
            "/oauth2/userinfo", headers={"Authorization": f"Bearer {new['access_token']}"}
        ).status_code
        == 200
    )


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(gw, signed_in):
    client, token = tokens_for(gw, signed_in)
    new = refresh(gw, client, token["refresh_token"]).get_json()
    reused = refresh(gw, client, token["refresh_token"])
    assert reused.status_code == 400 and reused.get_json()["error"] == "invalid_grant"
    assert refresh(gw, client, new["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert (
        gw.client.get(
            "/oauth2/userinfo", headers={"Authorization": f"Bearer {new['access_token']}"}
        ).status_code
        == 401
    )


def test_an_expired_refresh_token_is_invalid_grant(gw, signed_in):
    client, token = tokens_for(gw, signed_in)
    gw.clock.advance(timedelta(days=30, seconds=1))
    assert refresh(gw, client, token["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_a_revoked_refresh_token_is_invalid_grant(gw, signed_in):
    client, token = tokens_for(gw, signed_in)
    revoked = gw.client.post(
        "/oauth2/revoke",
        headers=basic(client),
        data={"token": token["refresh_token"], "token_type_hint": "refresh_token"},
    )
    assert revoked.status_code == 200
    assert refresh(gw, client, token["refresh_token"]).get_json()["error"] == "invalid_grant"
    with gw.part.engine.connect() as conn:
        assert all(row.revoked_at for row in conn.execute(oidc_tokens.select()))


def test_a_refresh_token_of_another_client_is_invalid_grant(gw, signed_in):
    _, token = tokens_for(gw, signed_in)
    other = register(gw, name="Other")
    assert refresh(gw, other, token["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_a_malformed_token_request_is_invalid_request_or_unsupported_grant_type(gw, signed_in):
    client = register(gw)
    missing = gw.client.post(
        "/oauth2/token", headers=basic(client), data={"grant_type": "authorization_code"}
    )
    assert missing.status_code == 400 and missing.get_json()["error"] == "invalid_request"
    unknown = gw.client.post(
        "/oauth2/token", headers=basic(client), data={"grant_type": "password"}
    )
    assert unknown.status_code == 400 and unknown.get_json()["error"] == "unsupported_grant_type"


# -- keys ---------------------------------------------------------------------------------------------------


def test_rotation_keeps_the_previous_key_published_until_its_id_tokens_expire(gw, signed_in):
    _, token = tokens_for(gw, signed_in)
    before = jwt.decode(
        token["id_token"],
        KeySet.import_key_set(gw.client.get("/oauth2/jwks").get_json()),
        algorithms=["ES256"],
    )
    rotated = gw.client.post("/api/v1/operator/oidc-keys/rotate", headers=OPERATOR)
    assert rotated.status_code == 200
    published = gw.client.get("/oauth2/jwks").get_json()
    assert {key["kid"] for key in published["keys"]} == {
        before.header["kid"],
        rotated.get_json()["kid"],
    }
    jwt.decode(
        token["id_token"], KeySet.import_key_set(published), algorithms=["ES256"]
    )  # still verifies
    gw.clock.advance(timedelta(minutes=12))
    assert [key["kid"] for key in gw.client.get("/oauth2/jwks").get_json()["keys"]] == [
        rotated.get_json()["kid"]
    ]


def test_private_keys_are_encrypted_at_rest(gw, signed_in):
    tokens_for(gw, signed_in)
    with gw.part.engine.connect() as conn:
        row = conn.execute(oidc_keys.select()).first()
    assert '"d"' not in row.private_jwk and '"d"' not in row.public_jwk


# -- entitlement-gated clients --------------------------------------------------------------------------------


def test_a_client_tied_to_a_service_admits_its_holders_only(gw, signed_in):
    user, browser, account = signed_in
    client = register(gw, service_code="invoice_viewing")
    _, challenge = pkce()
    gw.subscriptions.on(
        "GET",
        "/internal/users/{user_id}/subscriptions",
        {"items": [], "page": 1, "per_page": 200, "total": 0},
    )
    gw.subscriptions.on(
        "GET",
        "/internal/users/{user_id}/catalog",
        {
            "items": [
                {
                    "id": "svc-1",
                    "code": "invoice_viewing",
                    "family": "online_services",
                    "title": "Invoice viewing service",
                    "description": "",
                    "requires_validation": True,
                    "auto_subscribe": False,
                    "min_password_level": 1,
                    "subscriber_count": 0,
                }
            ],
            "page": 1,
            "per_page": 200,
            "total": 1,
        },
    )
    refused = authorize(browser, client, challenge)
    assert refused.status_code == 403
    page = refused.get_data(as_text=True)
    assert "Invoice viewing service" in page and 'action="/oauth2/ask"' in page
    gw.holding(user["id"], account, code="invoice_viewing")
    assert authorize(browser, client, challenge).status_code in (302, 303)


# -- operator ------------------------------------------------------------------------------------------------


def test_the_operator_registers_lists_and_deletes_clients_and_the_secret_is_shown_once(gw):
    client = register(gw)
    listed = gw.client.get("/api/v1/operator/oidc-clients", headers=OPERATOR).get_json()
    assert [c["client_id"] for c in listed["items"]] == [client["client_id"]]
    assert "client_secret" not in listed["items"][0]
    assert (
        gw.client.delete(
            f"/api/v1/operator/oidc-clients/{client['client_id']}", headers=OPERATOR
        ).status_code
        == 204
    )
    assert (
        gw.client.get(
            f"/api/v1/operator/oidc-clients/{client['client_id']}", headers=OPERATOR
        ).status_code
        == 404
    )
    assert gw.client.get("/api/v1/operator/oidc-clients").status_code == 401


@pytest.mark.parametrize(
    "uri",
    [
        "http://app.example.com/cb",
        "https://app.example.com/cb#frag",
        "/relative",
        "javascript:alert(1)",
    ],
)
def test_a_redirect_uri_that_cannot_be_registered_is_a_422_naming_it(gw, uri):
    answer = gw.client.post(
        "/api/v1/operator/oidc-clients",
        headers=OPERATOR,
        json={"name": "App", "redirect_uris": [CALLBACK, uri]},
    )
    assert answer.status_code == 422
    assert "redirect_uris" in str(answer.get_json()["errors"])
    assert (
        gw.client.get("/api/v1/operator/oidc-clients", headers=OPERATOR).get_json()["items"] == []
    )


# -- logout --------------------------------------------------------------------------------------------------


def test_rp_initiated_logout_with_an_id_token_hint_ends_the_session_and_goes_back(gw, signed_in):
    _, browser, _ = signed_in
    client, token = tokens_for(gw, signed_in)
    answer = browser.get(
        "/oauth2/logout",
        query_string={
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": "https://app.example.com/bye",
            "state": "s9",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "https://app.example.com/bye?state=s9"
    assert browser.get("/api/v1/me").status_code == 401
    assert refresh(gw, client, token["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_logout_to_an_unregistered_uri_is_refused_and_the_session_kept(gw, signed_in):
    _, browser, _ = signed_in
    _, token = tokens_for(gw, signed_in)
    answer = browser.get(
        "/oauth2/logout",
        query_string={
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": "https://evil.example.com/",
        },
    )
    assert answer.status_code == 400 and "Location" not in answer.headers
    assert browser.get("/api/v1/me").status_code == 200


# -- malformed requests ----------------------------------------------------------------------------------------


def test_an_unsupported_response_type_goes_back_to_the_application_as_its_error(gw, signed_in):
    _, browser, _ = signed_in
    client = register(gw)
    _, challenge = pkce()
    answer = authorize(browser, client, challenge, response_type="token")
    params = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert answer.headers["Location"].startswith(CALLBACK) and params["error"] == [
        "unsupported_response_type"
    ]


def test_token_requests_without_client_authentication_are_invalid_client_and_write_nothing(
    gw, signed_in
):
    _, browser, _ = signed_in
    client = register(gw)
    verifier, challenge = pkce()
    code = code_of(authorize(browser, client, challenge))
    answer = gw.client.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
    )
    assert answer.status_code == 401 and answer.get_json()["error"] == "invalid_client"
    json_body = gw.client.post(
        "/oauth2/token", headers=basic(client), json={"grant_type": "authorization_code"}
    )
    assert json_body.status_code == 400 and json_body.get_json()["error"] in (
        "invalid_request",
        "unsupported_grant_type",
    )
    with gw.part.engine.connect() as conn:
        assert conn.execute(oidc_tokens.select()).first() is None
    assert (
        exchange(gw, client, code, verifier).status_code == 200
    )  # the code was not spent by the bad ones


def test_revocation_without_a_token_is_invalid_request_and_userinfo_with_garbage_is_invalid_token(
    gw,
):
    client = register(gw)
    assert (
        gw.client.post("/oauth2/revoke", headers=basic(client), data={}).get_json()["error"]
        == "invalid_request"
    )
    answer = gw.client.get("/oauth2/userinfo", headers={"Authorization": "Bearer " + "x" * 5000})
    assert answer.status_code == 401 and answer.get_json()["error"] == "invalid_token"
    assert "invalid_token" in answer.headers["WWW-Authenticate"]


def test_a_refresh_for_a_user_identity_no_longer_knows_revokes_the_family(gw, signed_in):
    user, _, _ = signed_in
    client, token = tokens_for(gw, signed_in)
    gw.users.pop(user["email"])  # identity answers 404 for the user from now on
    assert refresh(gw, client, token["refresh_token"]).get_json()["error"] == "invalid_grant"
    with gw.part.engine.connect() as conn:
        assert all(row.revoked_at for row in conn.execute(oidc_tokens.select()))


def test_logout_without_a_hint_asks_the_person_and_ends_the_session_only_when_they_confirm(
    gw, signed_in
):
    from gateway.web.forms import CSRF_COOKIE

    _, browser, _ = signed_in
    asked = browser.get("/oauth2/logout")
    assert asked.status_code == 200 and 'action="/oauth2/logout"' in asked.get_data(as_text=True)
    assert browser.get("/api/v1/me").status_code == 200  # a link elsewhere signs nobody out
    browser.set_cookie(CSRF_COOKIE, "form-csrf-value")
    origin = {"Origin": "http://127.0.0.1:8000"}
    forged = browser.post("/oauth2/logout", data={"csrf_token": "another"}, headers=origin)
    assert forged.status_code == 403 and browser.get("/api/v1/me").status_code == 200
    confirmed = browser.post(
        "/oauth2/logout", data={"csrf_token": "form-csrf-value"}, headers=origin
    )
    assert confirmed.status_code == 200 and browser.get("/api/v1/me").status_code == 401


def test_a_session_that_must_first_enrol_a_second_factor_gets_no_code(gw, signed_in):
    from gateway.adapters.orm import sessions

    user, browser, _ = signed_in
    client = register(gw)
    _, challenge = pkce()
    with gw.part.engine.begin() as conn:
        conn.execute(
            sessions.update()
            .where(sessions.c.user_id == user["id"])
            .values(mfa_enrolment_required=True)
        )
    answer = authorize(browser, client, challenge)
    assert answer.status_code == 403 and "Location" not in answer.headers
    assert "second factor" in answer.get_data(as_text=True)
    with gw.part.engine.connect() as conn:
        assert conn.execute(oidc_codes.select()).first() is None


def test_a_code_of_a_user_identity_no_longer_has_active_gives_nothing(gw, signed_in):
    user, browser, _ = signed_in
    client = register(gw)
    verifier, challenge = pkce()
    code = code_of(authorize(browser, client, challenge))
    gw.users[user["email"]]["user"]["status"] = "locked"
    answer = exchange(gw, client, code, verifier)
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"
    with gw.part.engine.connect() as conn:
        assert conn.execute(oidc_tokens.select()).first() is None


def test_the_lifetimes_come_from_the_settings(make_gateway):
    gw = make_gateway(PORTICO_OIDC_ACCESS_TOKEN_SECONDS="60", PORTICO_OIDC_ID_TOKEN_SECONDS="120")
    account = gw.account("90000002")
    user = gw.user(account)
    browser = gw.app.test_client()
    assert (
        browser.post(
            "/api/v1/session", json={"email": user["email"], "password": "Secret-pass-1"}
        ).status_code
        == 201
    )
    client, token = tokens_for(gw, (user, browser, account))
    claims = jwt.decode(
        token["id_token"],
        KeySet.import_key_set(gw.client.get("/oauth2/jwks").get_json()),
        algorithms=["ES256"],
    ).claims
    assert token["expires_in"] == 60 and claims["exp"] - claims["iat"] == 120
    gw.clock.advance(timedelta(seconds=61))
    assert (
        gw.client.get(
            "/oauth2/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
        ).status_code
        == 401
    )


# -- fresh sign-ins an application asks for (prompt=login, max_age), auth_time and amr -------------


def id_claims(gw, token: dict) -> dict:
    keys = KeySet.import_key_set(gw.client.get("/oauth2/jwks").get_json())
    return jwt.decode(token["id_token"], keys, algorithms=["ES256"]).claims


def sign_in_again(browser, user: dict) -> None:
    answer = browser.post(
        "/api/v1/session", json={"email": user["email"], "password": "Secret-pass-1"}
    )
    assert answer.status_code == 201


def test_the_id_token_says_when_and_how_the_user_signed_in(gw, signed_in):
    signed_at = int(gw.clock.now().timestamp())
    gw.clock.advance(timedelta(seconds=90))
    _, token = tokens_for(gw, signed_in)
    claims = id_claims(gw, token)
    assert claims["auth_time"] == signed_at  # the sign-in, not the code's exchange
    assert claims["amr"] == ["pwd"]  # a password alone (with a second factor: test_oidc_mfa.py)
    assert claims["nonce"] == "n-1"


def test_prompt_login_ends_the_session_and_sends_to_a_new_sign_in_that_comes_back(gw, signed_in):
    user, browser, _ = signed_in
    client = register(gw)
    verifier, challenge = pkce()
    gw.clock.advance(timedelta(seconds=30))
    answer = authorize(browser, client, challenge, prompt="login")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/sign-in?next=")
    back = parse_qs(urlsplit(answer.headers["Location"]).query)["next"][0]
    assert back.startswith("/oauth2/authorize?") and "prompt" not in parse_qs(urlsplit(back).query)
    assert browser.get("/api/v1/me").status_code == 401  # the old session is over
    with gw.part.engine.connect() as conn:
        assert conn.execute(oidc_codes.select()).first() is None

    sign_in_again(browser, user)
    code = code_of(browser.get(back))
    claims = id_claims(gw, exchange(gw, client, code, verifier).get_json())
    assert claims["auth_time"] == int(gw.clock.now().timestamp())


def test_max_age_asks_for_a_new_sign_in_only_when_the_session_is_older(gw, signed_in):
    user, browser, _ = signed_in
    client = register(gw)
    verifier, challenge = pkce()
    gw.clock.advance(timedelta(seconds=120))
    kept = authorize(browser, client, challenge, max_age="600", nonce="n-kept")
    assert kept.status_code == 302 and code_of(kept)

    too_old = authorize(browser, client, challenge, max_age="60")
    assert too_old.status_code == 303 and too_old.headers["Location"].startswith("/sign-in?")
    back = parse_qs(urlsplit(too_old.headers["Location"]).query)["next"][0]
    assert parse_qs(urlsplit(back).query)["max_age"] == ["60"]  # a new sign-in meets it
    assert browser.get("/api/v1/me").status_code == 401
    sign_in_again(browser, user)
    code = code_of(browser.get(back))
    assert exchange(gw, client, code, verifier).status_code == 200


def test_max_age_zero_is_prompt_login(gw, signed_in):
    _, browser, _ = signed_in
    client = register(gw)
    _, challenge = pkce()
    answer = authorize(browser, client, challenge, max_age="0")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/sign-in?")
    back = parse_qs(urlsplit(answer.headers["Location"]).query)["next"][0]
    assert "max_age" not in parse_qs(urlsplit(back).query)


def test_prompt_none_with_a_session_too_old_for_max_age_answers_login_required(gw, signed_in):
    _, browser, _ = signed_in
    client = register(gw)
    _, challenge = pkce()
    gw.clock.advance(timedelta(seconds=120))
    answer = authorize(browser, client, challenge, prompt="none", max_age="60")
    assert answer.status_code == 302 and answer.headers["Location"].startswith(CALLBACK + "?")
    params = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert params["error"] == ["login_required"] and params["state"] == ["st-1"]
    assert browser.get("/api/v1/me").status_code == 200  # nothing was ended
    fine = authorize(browser, client, challenge, prompt="none")
    assert code_of(fine)


@pytest.mark.parametrize("max_age", ["soon", "-5", "1.5"])
def test_a_max_age_that_is_no_number_of_seconds_goes_back_as_invalid_request(
    gw, signed_in, max_age
):
    _, browser, _ = signed_in
    client = register(gw)
    _, challenge = pkce()
    answer = authorize(browser, client, challenge, max_age=max_age)
    params = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert params["error"] == ["invalid_request"] and params["state"] == ["st-1"]
    assert browser.get("/api/v1/me").status_code == 200


def test_discovery_offers_prompt_login_and_the_amr_claim(gw):
    document = gw.client.get("/.well-known/openid-configuration").get_json()
    assert {"none", "login"} <= set(document["prompt_values_supported"])
    assert {"auth_time", "amr", "nonce"} <= set(document["claims_supported"])


# -- the user's connected applications (ASVS V3.5.1) -----------------------------------------------


def test_a_user_sees_the_applications_holding_a_grant_and_disconnects_one(gw, signed_in):
    user, browser, _ = signed_in
    planning = register(gw, name="Planning")
    invoices, token = tokens_for(gw, signed_in, register(gw, name="Invoices"))
    tokens_for(gw, signed_in, planning)
    listed = browser.get("/api/v1/me/applications")
    assert listed.status_code == 200, listed.get_json()
    assert {item["name"] for item in listed.get_json()["items"]} == {"Planning", "Invoices"}
    assert listed.get_json()["total"] == 2
    first = next(i for i in listed.get_json()["items"] if i["name"] == "Invoices")
    assert first["client_id"] == invoices["client_id"] and first["sign_ins"] == 1
    assert first["scopes"] == ["email", "openid", "profile"]

    session = browser.post(
        "/api/v1/session", json={"email": user["email"], "password": "Secret-pass-1"}
    ).get_json()
    bearer = {"Authorization": f"Bearer {session['token']}"}
    gone = gw.client.delete(f"/api/v1/me/applications/{invoices['client_id']}", headers=bearer)
    assert gone.status_code == 204
    # its refresh token and access token stop at once; the other application keeps its grant
    refresh = gw.client.post(
        "/oauth2/token",
        headers=basic(invoices),
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
    )
    assert refresh.status_code == 400 and refresh.get_json()["error"] == "invalid_grant"
    info = gw.client.get(
        "/oauth2/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert info.status_code == 401
    left = gw.client.get("/api/v1/me/applications", headers=bearer).get_json()["items"]
    assert [item["name"] for item in left] == ["Planning"]
    again = gw.client.delete(f"/api/v1/me/applications/{invoices['client_id']}", headers=bearer)
    assert again.status_code == 404


def test_another_users_grants_are_neither_listed_nor_revocable(gw, signed_in):
    client, token = tokens_for(gw, signed_in)
    other = gw.user(gw.account("90000009"))
    session = gw.client.post(
        "/api/v1/session", json={"email": other["email"], "password": "Secret-pass-1"}
    ).get_json()
    bearer = {"Authorization": f"Bearer {session['token']}"}
    assert gw.client.get("/api/v1/me/applications", headers=bearer).get_json()["items"] == []
    answer = gw.client.delete(f"/api/v1/me/applications/{client['client_id']}", headers=bearer)
    assert answer.status_code == 404
    info = gw.client.get(
        "/oauth2/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert info.status_code == 200  # the owner's grant lives on


def test_a_revoked_or_expired_grant_is_not_listed(gw, signed_in):
    _, browser, _ = signed_in
    client, token = tokens_for(gw, signed_in)
    assert len(browser.get("/api/v1/me/applications").get_json()["items"]) == 1
    gw.client.post("/oauth2/revoke", headers=basic(client), data={"token": token["refresh_token"]})
    assert browser.get("/api/v1/me/applications").get_json()["items"] == []
    tokens_for(gw, signed_in, client, nonce="n-2")
    gw.clock.advance(timedelta(days=31))
    # the session is long over too: ask with a new one
    user = signed_in[0]
    session = gw.client.post(
        "/api/v1/session", json={"email": user["email"], "password": "Secret-pass-1"}
    ).get_json()
    listed = gw.client.get(
        "/api/v1/me/applications", headers={"Authorization": f"Bearer {session['token']}"}
    )
    assert listed.get_json()["items"] == []
