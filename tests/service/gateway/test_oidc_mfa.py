"""Single sign-on with a second factor, in the embedded mode (every part in one process, the
portal's own pages driven as a browser does): an application sends a user who has an
authenticator application to /oauth2/authorize; the portal's sign-in asks for the password, then
for the code, and the browser ends up back at the application with a code whose ID token says how
the user signed in (amr). A passkey alone, and a password alone, say so too."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.mfa_kit import SoftAuthenticator, code_at
from tests.security.asvs_kit import active_user
from tests.security.real_portal import Portal
from tests.security.web_pages import Browser, form_fields, start_pages

PASSWORD = "Quiet-Lantern-Rises-58"
CALLBACK = "https://app.example.com/callback"


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    started = start_pages(
        tmp_path_factory.mktemp("oidc-mfa"),
        f"oim{datetime.now(UTC):%H%M%S%f}",
        env={"PORTICO_RATE_SIGN_IN_PER_IP": "1000/60", "PORTICO_RATE_SIGN_IN_PER_EMAIL": "1000/60"},
    )
    yield started
    started.stop()


@pytest.fixture(scope="module")
def client(pages) -> dict[str, Any]:
    answer = Portal(pages.embedded).client.post(
        "/api/v1/operator/oidc-clients",
        headers=Portal(pages.embedded).operator,
        json={"name": "Planning", "redirect_uris": [CALLBACK]},
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def text(answer: Any) -> str:
    return answer.get_data(as_text=True)


def authorize_path(client: dict[str, Any], challenge: str, nonce: str | None = None) -> str:
    return "/oauth2/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": CALLBACK,
            "scope": "openid profile email",
            "state": "st-9",
            "nonce": nonce or secrets.token_urlsafe(12),  # a nonce serves once per client
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def code_at_application(answer: Any) -> str:
    assert answer.status_code in (302, 303), text(answer)[:2000]
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK + "?"), location
    params = parse_qs(urlsplit(location).query)
    assert params["state"] == ["st-9"]
    return params["code"][0]


def id_token_claims(pages, client: dict[str, Any], code: str, verifier: str) -> dict[str, Any]:
    api = pages.app.test_client()
    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    answer = api.post(
        "/oauth2/token",
        headers={"Authorization": f"Basic {basic}"},
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
    )
    assert answer.status_code == 200, answer.get_json()
    keys = KeySet.import_key_set(api.get("/oauth2/jwks").get_json())
    return dict(jwt.decode(answer.get_json()["id_token"], keys, algorithms=["ES256"]).claims)


def bearer_of(pages, email: str) -> dict[str, str]:
    answer = pages.app.test_client().post(
        "/api/v1/session", json={"email": email, "password": PASSWORD}
    )
    assert answer.status_code == 201, answer.get_json()
    return {"Authorization": f"Bearer {answer.get_json()['token']}"}


def with_totp(pages) -> tuple[dict[str, Any], str]:
    """A user of the demo's parent account with an authenticator application set up."""
    user = active_user(Portal(pages.embedded), PASSWORD)
    headers, api = bearer_of(pages, user["email"]), pages.app.test_client()
    secret = api.post("/api/v1/me/mfa/totp", headers=headers).get_json()["secret"]
    confirmed = api.post(
        "/api/v1/me/mfa/totp/confirm",
        headers=headers,
        json={"code": code_at(secret, datetime.now(UTC), -1)},  # leaves the current step free
    )
    assert confirmed.status_code == 200, confirmed.get_json()
    return user, secret


def portal_sign_in(browser: Browser, location: str, email: str) -> Any:
    """The portal's sign-in page the provider sent the browser to, filled in and sent."""
    assert location.startswith("/sign-in?next="), location
    page = browser.get(location)
    assert page.status_code == 200
    return browser.post(
        "/sign-in", {**form_fields(text(page), "/sign-in"), "email": email, "password": PASSWORD}
    )


def test_a_user_with_totp_signs_in_through_the_portal_and_lands_at_the_application_with_a_code(
    pages, client
):
    user, secret = with_totp(pages)
    verifier, challenge = pkce()
    browser = pages.browser()
    first = browser.get(authorize_path(client, challenge, nonce="n-9"))
    assert first.status_code == 303  # no session: the portal's sign-in, then back

    password = portal_sign_in(browser, first.headers["Location"], user["email"])
    assert password.status_code == 303
    assert password.headers["Location"].endswith("/sign-in/second-factor")
    step = browser.get("/sign-in/second-factor")
    wrong = browser.post(
        "/sign-in/second-factor",
        {**form_fields(text(step), "/sign-in/second-factor"), "code": "000000"},
    )
    assert wrong.status_code == 401  # a wrong code opens nothing, and sends nowhere
    done = browser.post(
        "/sign-in/second-factor",
        {
            **form_fields(text(wrong), "/sign-in/second-factor"),
            "code": code_at(secret, datetime.now(UTC)),
        },
    )
    assert done.status_code == 303, text(done)[:2000]
    back = done.headers["Location"]
    assert back.startswith("/oauth2/authorize?")  # back to the application's request

    code = code_at_application(browser.get(back))
    claims = id_token_claims(pages, client, code, verifier)
    assert claims["sub"] == user["id"] and claims["nonce"] == "n-9"
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert abs(claims["auth_time"] - datetime.now(UTC).timestamp()) < 120


def test_prompt_login_asks_a_user_with_totp_for_both_steps_again(pages, client):
    user, secret = with_totp(pages)
    browser = pages.browser()
    step = browser.post(
        "/sign-in", {**browser.form("/sign-in"), "email": user["email"], "password": PASSWORD}
    )
    assert step.headers["Location"].endswith("/sign-in/second-factor")
    fields = form_fields(text(browser.get("/sign-in/second-factor")), "/sign-in/second-factor")
    assert (
        browser.post(
            "/sign-in/second-factor", {**fields, "code": code_at(secret, datetime.now(UTC))}
        ).status_code
        == 303
    )
    assert browser.get("/account").status_code == 200

    verifier, challenge = pkce()
    again = browser.get(authorize_path(client, challenge) + "&prompt=login")
    assert again.status_code == 303 and again.headers["Location"].startswith("/sign-in?next=")
    assert browser.get("/account").status_code == 303  # signed out: the sign-in page
    password = portal_sign_in(browser, again.headers["Location"], user["email"])
    assert password.headers["Location"].endswith("/sign-in/second-factor")


def test_a_passkey_alone_and_a_password_alone_are_named_in_amr(pages, client):
    # the pages' portal answers at http://localhost: the passkey is made for that origin
    user = active_user(Portal(pages.embedded), PASSWORD)
    headers, api = bearer_of(pages, user["email"]), pages.app.test_client()

    verifier, challenge = pkce()
    browser = pages.browser()
    first = browser.get(authorize_path(client, challenge))
    password = portal_sign_in(browser, first.headers["Location"], user["email"])
    claims = id_token_claims(
        pages, client, code_at_application(browser.get(password.headers["Location"])), verifier
    )
    assert claims["amr"] == ["pwd"]

    authenticator = SoftAuthenticator(pages.public_url)
    options = api.post("/api/v1/me/mfa/passkeys/options", headers=headers).get_json()
    registered = api.post(
        "/api/v1/me/mfa/passkeys",
        headers=headers,
        json={"name": "Laptop", "credential": authenticator.create(options)},
    )
    assert registered.status_code == 201, registered.get_json()
    browser = pages.browser()
    request_options = browser.client.post("/api/v1/session/passkey/options", json={}).get_json()
    signed = browser.client.post(
        "/api/v1/session/passkey", json={"credential": authenticator.get(request_options)}
    )
    assert signed.status_code == 201, signed.get_json()
    verifier, challenge = pkce()
    code = code_at_application(browser.get(authorize_path(client, challenge)))
    # a key bound to its authenticator (not backup-eligible), with user verification
    assert id_token_claims(pages, client, code, verifier)["amr"] == ["hwk", "mfa"]
