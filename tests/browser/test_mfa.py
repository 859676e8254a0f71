"""Passkeys in a real browser: Chromium's virtual authenticator (CDP WebAuthn domain) registers a
passkey on the security page through gateway/static/passkey.js; the next sign-in's second step
uses it, and so does a sign-in without password. The portal is served on localhost: WebAuthn
takes no IP address as relying party."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, Portal, free_port, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def local_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    from werkzeug.serving import make_server

    from portico.runtime import Embedded

    port = free_port()
    base_url = f"http://localhost:{port}"
    env = {
        "PORTICO_PUBLIC_URL": base_url,
        "PORTICO_RATE_SIGN_IN_PER_IP": "1000/60",
        "PORTICO_BUS_PREFIX": f"mfab{port}",
    }
    embedded = Embedded(tmp_path_factory.mktemp("mfa-browser"), env).build().start()
    server = make_server("localhost", port, embedded.gateway, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="mfa-portal-http", daemon=True)
    thread.start()
    try:
        yield Portal(base_url, embedded)
    finally:
        server.shutdown()
        embedded.stop.set()
        thread.join(timeout=10)


def page_with_authenticator(browser: Any, portal: Portal) -> tuple[Any, Any]:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", base_url=portal.base_url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    page.js_errors = errors
    return context, page


def test_a_passkey_is_registered_and_then_asked_for_at_sign_in(browser, local_portal) -> None:
    admin = local_portal.active_administrator()
    context, page = page_with_authenticator(browser, local_portal)
    try:
        sign_in(page, admin)
        page.goto("/account/security")
        page.get_by_label("Name of the new passkey").fill("Virtual key")
        page.get_by_role("button", name="Add a passkey").click()
        expect(page.get_by_role("heading", name="Your passkey is registered")).to_be_visible()
        expect(page.locator("ol.recovery-codes li")).to_have_count(10)
        page.get_by_role("link", name="I have kept them").click()
        expect(page.locator("ul.passkeys")).to_contain_text("Virtual key")

        page.get_by_role("button", name="Log out").click()
        sign_in(page, admin)
        expect(page.get_by_role("heading", name="Second step of sign-in")).to_be_visible()
        page.get_by_role("button", name="Use my passkey").click()
        page.wait_for_url("**/account")
        expect(page.get_by_role("heading", name="My account")).to_be_visible()

        # and alone, without the password (the authenticator verifies the person)
        page.get_by_role("button", name="Log out").click()
        page.goto("/sign-in")
        page.get_by_role("button", name="Use a passkey instead").click()
        page.wait_for_url("**/account")
        expect(page.get_by_role("heading", name="My account")).to_be_visible()
        assert not page.js_errors, page.js_errors
    finally:
        context.close()
