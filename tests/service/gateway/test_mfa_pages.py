"""The second-factor pages of the embedded portal, driven as a browser does (forms, cookies):
setting up an authenticator application from its QR code, the recovery codes shown once, and the
sign-in's second step; the security page in French."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.mfa_kit import code_at
from tests.security.asvs_kit import active_user
from tests.security.real_portal import Portal
from tests.security.web_pages import form_fields, start_pages

PASSWORD = "Quiet-Lantern-Rises-58"


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    started = start_pages(
        tmp_path_factory.mktemp("mfa-pages"),
        f"mfp{datetime.now(UTC):%H%M%S%f}",
        env={"PORTICO_RATE_SIGN_IN_PER_IP": "1000/60", "PORTICO_RATE_SIGN_IN_PER_EMAIL": "1000/60"},
    )
    yield started
    started.stop()


def text(answer) -> str:
    return answer.get_data(as_text=True)


def test_an_authenticator_application_is_set_up_from_the_pages_and_asked_at_the_next_sign_in(pages):
    user = active_user(Portal(pages.embedded), PASSWORD)
    browser = pages.browser()
    browser.sign_in(user["email"], PASSWORD)
    security = browser.get("/account/security")
    assert security.status_code == 200 and "Authenticator application" in text(security)

    started = browser.post(
        "/account/security/totp", form_fields(text(security), "/account/security/totp")
    )
    assert started.status_code == 200, text(started)[:2000]
    page = text(started)
    assert "<svg" in page and "http" not in page.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
        "http://www.w3.org/2000/svg", ""
    )  # drawn in the page, nothing fetched
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)

    wrong = browser.post(
        "/account/security/totp/confirm",
        {**form_fields(page, "/account/security/totp/confirm"), "code": "000000"},
    )
    assert wrong.status_code == 422 and "<svg" in text(wrong)
    done = browser.post(
        "/account/security/totp/confirm",
        {
            **form_fields(page, "/account/security/totp/confirm"),
            "code": code_at(secret, datetime.now(UTC), -1),
        },
    )
    assert done.status_code == 200, text(done)[:2000]
    codes = re.findall(r"<li><code>([a-z0-9-]{11})</code></li>", text(done))
    assert len(codes) == 10

    again = pages.browser()
    step = again.post(
        "/sign-in", {**again.form("/sign-in"), "email": user["email"], "password": PASSWORD}
    )
    assert step.status_code == 303 and step.headers["Location"].endswith("/sign-in/second-factor")
    form = again.get("/sign-in/second-factor")
    assert 'autocomplete="one-time-code"' in text(form)
    wrong = again.post(
        "/sign-in/second-factor",
        {**form_fields(text(form), "/sign-in/second-factor"), "code": "000000"},
    )
    assert wrong.status_code == 401 and "not right" in text(wrong)
    signed = again.post(
        "/sign-in/second-factor",
        {
            **form_fields(text(wrong), "/sign-in/second-factor"),
            "code": code_at(secret, datetime.now(UTC)),
        },
    )
    assert signed.status_code == 303, text(signed)[:2000]
    assert again.get("/account").status_code == 200

    with_code = pages.browser()
    with_code.post(
        "/sign-in", {**with_code.form("/sign-in"), "email": user["email"], "password": PASSWORD}
    )
    fields = form_fields(text(with_code.get("/sign-in/second-factor")), "/sign-in/second-factor")
    assert (
        with_code.post("/sign-in/second-factor", {**fields, "recovery_code": codes[0]}).status_code
        == 303
    )


def test_the_security_page_speaks_french(pages):
    user = active_user(Portal(pages.embedded), PASSWORD)
    browser = pages.browser()
    browser.sign_in(user["email"], PASSWORD)
    browser.client.patch(
        "/api/v1/me",
        json={"language": "fr-FR"},
        headers={"X-CSRF-Token": browser.cookie("portico_csrf") or ""},
    )
    page = text(browser.get("/account/security"))
    assert "Application d'authentification" in page or "Application d&#39;authentification" in page
    assert "Clés d" in page


# -- an administrator's pages: the account's policy, a user's reset -------------------------------


def totp_user(pages) -> tuple[dict, str, dict[str, str]]:
    """A user of the demo's parent account with an authenticator application set up."""
    portal = Portal(pages.embedded)
    user = active_user(portal, PASSWORD)
    headers = portal.sign_in(user["email"], PASSWORD)
    api = pages.app.test_client()
    secret = api.post("/api/v1/me/mfa/totp", headers=headers).get_json()["secret"]
    confirmed = api.post(
        "/api/v1/me/mfa/totp/confirm",
        headers=headers,
        json={"code": code_at(secret, datetime.now(UTC), -1)},
    )
    assert confirmed.status_code == 200
    return user, secret, headers


def policy_form(html: str) -> dict[str, str]:
    """The hidden fields of the policy page's form that saves (the page's first form, a GET,
    chooses the account)."""
    saving = html[html.index('<form method="post" action="/users/security"') :]
    return form_fields(saving, "/users/security")


def test_an_administrator_sets_the_policy_and_a_covered_user_must_enrol_before_anything_else(
    pages,
):
    newcomer = active_user(Portal(pages.embedded), PASSWORD)  # (everyone covers Claire too)
    admin = pages.browser()
    admin.sign_in()  # Claire, administrator of the demo's parent account
    users = admin.get("/users")
    assert "/users/security?account=" in text(users)  # from the account's administration page
    page = admin.get("/users/security")
    assert page.status_code == 200
    assert re.search(r'value="nobody" checked', text(page))
    try:
        saved = admin.post(
            "/users/security", {**policy_form(text(page)), "mfa_required_for": "everyone"}
        )
        assert saved.status_code == 303, text(saved)[:2000]
        again = admin.get(saved.headers["Location"])
        assert re.search(r'value="everyone" checked', text(again))
        assert "is saved" in text(again)

        browser = pages.browser()
        first = browser.post(
            "/sign-in",
            {**browser.form("/sign-in"), "email": newcomer["email"], "password": PASSWORD},
        )
        assert first.headers["Location"].endswith("/account/security")
        for elsewhere in ("/account", "/services", "/catalog", "/account/edit"):
            held = browser.get(elsewhere)
            assert held.status_code == 303, elsewhere
            assert held.headers["Location"].endswith("/account/security"), elsewhere
        assert "requires a second factor" in text(browser.get("/account/security"))

        bad = admin.post(
            "/users/security", {**policy_form(text(again)), "mfa_required_for": "sometimes"}
        )
        assert bad.status_code == 422 and "nobody, administrators or everyone" in text(bad)
    finally:
        admin.post(
            "/users/security",
            {**policy_form(text(admin.get("/users/security"))), "mfa_required_for": "nobody"},
        )
    assert re.search(r'value="nobody" checked', text(admin.get("/users/security")))


def test_an_administrator_resets_a_users_second_factors_from_the_users_page(pages):
    user, _, headers = totp_user(pages)
    admin = pages.browser()
    admin.sign_in()
    edit = f"/users/{user['account_id']}/{user['id']}/edit"
    page = admin.get(edit)
    assert page.status_code == 200 and "Reset second factors" in text(page)
    action = f"/users/{user['account_id']}/{user['id']}/mfa/reset"
    reset = admin.post(action, form_fields(text(page), action))
    assert reset.status_code == 303 and reset.headers["Location"].endswith(edit)
    assert "were reset" in text(admin.get(edit))
    factors = pages.app.test_client().get("/api/v1/me/mfa", headers=headers).get_json()
    assert factors["totp"] == {"enabled": False} and factors["recovery_codes_left"] == 0
    # the next sign-in asks for the password alone
    assert (
        pages.app.test_client()
        .post("/api/v1/session", json={"email": user["email"], "password": PASSWORD})
        .status_code
        == 201
    )


def test_a_user_who_administers_nothing_cannot_open_the_policy_page(pages):
    user = active_user(Portal(pages.embedded), PASSWORD)
    browser = pages.browser()
    browser.sign_in(user["email"], PASSWORD)
    assert browser.get("/users/security").status_code == 403


def test_the_policy_page_speaks_french(pages):
    admin = pages.browser()
    admin.sign_in()
    csrf = {"X-CSRF-Token": admin.cookie("portico_csrf") or ""}
    was = admin.client.get("/api/v1/me").get_json()["language"]
    admin.client.patch("/api/v1/me", json={"language": "fr-FR"}, headers=csrf)
    try:
        page = text(admin.get("/users/security"))
        assert "Politique de second facteur" in page and "Tous les utilisateurs du compte" in page
    finally:
        admin.client.patch("/api/v1/me", json={"language": was}, headers=csrf)


# -- connected applications on the security page ----------------------------------------------------


def test_the_security_page_lists_connected_applications_and_disconnects_one(pages):
    import base64
    import hashlib
    import secrets
    from urllib.parse import parse_qs, urlsplit

    callback = "https://app.example.com/callback"
    portal = Portal(pages.embedded)
    client = portal.client.post(
        "/api/v1/operator/oidc-clients",
        headers=portal.operator,
        json={"name": "Intervention reports app", "redirect_uris": [callback]},
    ).get_json()
    user = active_user(portal, PASSWORD)
    browser = pages.browser()
    browser.sign_in(user["email"], PASSWORD)
    assert "No application is connected." in text(browser.get("/account/security"))

    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    answer = browser.get(
        "/oauth2/authorize",
        query_string={
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": callback,
            "scope": "openid email",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    secret = f"{client['client_id']}:{client['client_secret']}".encode()
    app_auth = {"Authorization": "Basic " + base64.b64encode(secret).decode()}
    tokens = portal.client.post(
        "/oauth2/token",
        headers=app_auth,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": callback,
            "code_verifier": verifier,
        },
    ).get_json()

    page = text(browser.get("/account/security"))
    assert "Connected applications" in page and "Intervention reports app" in page
    action = f"/account/security/applications/{client['client_id']}/disconnect"
    done = browser.post(action, form_fields(page, action))
    assert done.status_code == 303 and done.headers["Location"].endswith("/account/security")
    after = text(browser.get("/account/security"))
    assert "is disconnected" in after and "No application is connected." in after
    refreshed = portal.client.post(
        "/oauth2/token",
        headers=app_auth,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert refreshed.status_code == 400 and refreshed.get_json()["error"] == "invalid_grant"


def test_the_connected_applications_speak_french(pages):
    user = active_user(Portal(pages.embedded), PASSWORD)
    browser = pages.browser()
    browser.sign_in(user["email"], PASSWORD)
    browser.client.patch(
        "/api/v1/me",
        json={"language": "fr-FR"},
        headers={"X-CSRF-Token": browser.cookie("portico_csrf") or ""},
    )
    page = text(browser.get("/account/security"))
    assert "Applications connectées" in page and "Aucune application n" in page
