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
        env={"PORTICO_RATE_SIGN_IN_PER_IP": "1000/60"},
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
