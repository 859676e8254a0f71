"""Login CSRF: a web form posted from another site (or from nowhere said) is refused before it acts.

`POST /sign-in` from another origin, with valid credentials and no token, must not sign the browser
in; the same guard covers every form a browser may post without a session (activation wizard,
password reset, forgotten password, the mailbox's unlock form). A same-origin post still works.
"""

from __future__ import annotations

import re
import threading
import uuid

import pytest

from tests.security.web_pages import ADMIN, PASSWORD, start_pages

EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    started = start_pages(tmp_path_factory.mktemp("login-csrf"), f"lcsrf{uuid.uuid4().hex[:8]}")
    yield started
    started.stop()


def signed_in(browser) -> bool:
    """Whether this browser now holds a session: /account shows the page instead of sign-in."""
    return browser.get("/account").status_code == 200


def refused(answer) -> None:
    text = answer.get_data(as_text=True)
    assert answer.status_code == 403, (answer.status_code, text[:2000])
    assert "another site" in text or "which site" in text, text[:3000]
    assert not any(c.startswith("portico_session=") for c in answer.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Origin": "http://localhost.evil.example"},
        {"Referer": EVIL + "/a-page"},
        {},  # neither Origin nor Referer
    ],
    ids=[
        "other-origin",
        "null-origin",
        "look-alike-origin",
        "other-referer",
        "no-origin-no-referer",
    ],
)
def test_a_sign_in_posted_from_elsewhere_does_not_sign_the_browser_in(pages, headers):
    browser = pages.browser(origin="")  # sends only the headers given here
    fields = browser.form("/sign-in")
    answer = browser.post("/sign-in", {**fields, "email": ADMIN, "password": PASSWORD}, headers)
    refused(answer)
    assert not signed_in(browser)


def test_a_forged_sign_in_without_any_form_token_is_refused_too(pages):
    browser = pages.browser(origin=EVIL)
    refused(browser.post("/sign-in", {"email": ADMIN, "password": PASSWORD}))
    assert not signed_in(browser)


def test_a_sign_in_from_this_site_still_works(pages):
    browser = pages.browser()
    fields = browser.form("/sign-in")
    answer = browser.post("/sign-in", {**fields, "email": ADMIN, "password": PASSWORD})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
    assert signed_in(browser)


def test_a_sign_in_with_only_a_same_origin_referer_works(pages):
    """Some browsers leave Origin out of a same-origin post; their Referer names this site."""
    browser = pages.browser(origin="")
    fields = browser.form("/sign-in")
    answer = browser.post(
        "/sign-in",
        {**fields, "email": ADMIN, "password": PASSWORD},
        {"Referer": pages.public_url + "/sign-in"},
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
    assert signed_in(browser)


@pytest.mark.parametrize(
    "path,fields",
    [
        ("/forgotten-password", {"email": ADMIN}),
        ("/activate/not-a-real-token", {"password": PASSWORD, "password_confirm": PASSWORD}),
        ("/reset-password/not-a-real-token", {"password": PASSWORD, "password_confirm": PASSWORD}),
        ("/mailbox/unlock", {"operator_token": "whatever"}),
    ],
)
def test_every_form_posted_without_a_session_is_refused_from_elsewhere(pages, path, fields):
    browser = pages.browser(origin=EVIL)
    refused(browser.post(path, fields))


def test_a_signed_in_form_posted_from_elsewhere_is_refused_and_the_session_lives_on(pages):
    browser = pages.browser()
    browser.sign_in()
    forged = pages.browser(origin=EVIL)
    forged.client = (
        browser.client
    )  # the victim's browser, cookies included, on a page of another site
    refused(forged.post("/sign-out", {}))
    assert signed_in(browser)


def test_a_huge_origin_is_refused_without_being_echoed_whole(pages):
    browser = pages.browser(origin="https://" + "a" * 5000 + ".example")
    answer = browser.post("/forgotten-password", {"email": ADMIN})
    refused(answer)
    assert "a" * 300 not in answer.get_data(as_text=True)


@pytest.fixture(scope="module")
def served(pages):
    """The portal on a real port, for a real browser."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, pages.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="login-csrf-http", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def in_own_thread(work):
    """Run `work(browser)` with a Chromium of its own, in a thread of its own.

    The browser tests keep one Playwright (sync API) running for the whole session in the main
    thread; a second one there is refused ("Sync API inside the asyncio loop"), so this test's
    browser lives and dies in its own thread, and its failure is raised here.
    """
    from tests.browser.conftest import CHROMIUM_ARGS, chromium_path

    path = chromium_path()  # skipped loudly without Debian's chromium, a failure under CI=true
    outcome: list[BaseException] = []

    def run() -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=path, args=CHROMIUM_ARGS, headless=True
                )
                try:
                    work(browser)
                finally:
                    browser.close()
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            outcome.append(error)

    thread = threading.Thread(target=run, name="login-csrf-chromium")
    thread.start()
    thread.join(timeout=300)
    assert not thread.is_alive(), "the browser did not finish within 5 minutes"
    if outcome:
        raise outcome[0]


FORGED = """<!doctype html><html><body>
<form method="post" action="{action}">
<input name="email" value="{email}"><input name="password" value="{password}">
</form><script>document.forms[0].submit()</script></body></html>"""


@pytest.mark.browser
def test_a_real_browser_on_another_site_cannot_sign_itself_in(served):
    in_own_thread(lambda chromium: forged_sign_in_is_refused(chromium, served))


def forged_sign_in_is_refused(chromium, served) -> None:
    from playwright.sync_api import expect

    context = chromium.new_context()
    try:
        page = context.new_page()
        page.route(
            "http://evil.example/**",
            lambda route: route.fulfill(
                content_type="text/html",
                body=FORGED.format(action=served + "/sign-in", email=ADMIN, password=PASSWORD),
            ),
        )
        page.goto("http://evil.example/")
        page.wait_for_url(served + "/sign-in")
        expect(page.locator("main")).to_contain_text("sent from another site (http://evil.example)")
        page.goto(served + "/account")
        expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Faccount$"))
        # the same browser signs in from the portal's own page
        page.get_by_label("Email address").fill(ADMIN)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(served + "/account")
    finally:
        context.close()
