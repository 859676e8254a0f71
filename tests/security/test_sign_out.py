"""Web sign-out ends the session on the server, or says that it did not; never "signed out" otherwise.

A stale or missing CSRF token on `POST /sign-out` used to be swallowed: the page cleared the CSRF
cookie and said "You are signed out." while the session lived on.
"""

from __future__ import annotations

import uuid

import pytest

from tests.security.web_pages import form_fields, start_pages

SIGNED_OUT = "You are signed out."
STILL_SIGNED_IN = "You are still signed in"


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    started = start_pages(tmp_path_factory.mktemp("sign-out"), f"signout{uuid.uuid4().hex[:8]}")
    yield started
    started.stop()


def signed_in_browser(pages):
    browser = pages.browser()
    browser.sign_in()
    token = browser.cookie("portico_session")
    assert token and pages.session_alive(token)
    return browser, token


def sign_out_form(browser) -> dict[str, str]:
    return form_fields(browser.get("/account").get_data(as_text=True), "/sign-out")


@pytest.mark.parametrize("csrf", ["a-token-of-another-session", ""], ids=["stale", "missing"])
def test_a_sign_out_the_api_refuses_is_not_called_a_success(pages, csrf):
    browser, token = signed_in_browser(pages)
    form = form_fields(browser.get("/services").get_data(as_text=True), "/sign-out")
    answer = browser.post("/sign-out", {**form, "csrf_token": csrf})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/services"  # back to the page it was sent from
    shown = browser.get(answer.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert pages.session_alive(token), "the session ended: then the page may say so"
    assert SIGNED_OUT not in shown
    assert STILL_SIGNED_IN in shown
    # the page shown has a sign-out form that works: the CSRF cookie was kept
    again = browser.post("/sign-out", form_fields(shown, "/sign-out"))
    assert again.status_code == 303
    assert not pages.session_alive(token)
    assert SIGNED_OUT in browser.get(again.headers["Location"]).get_data(as_text=True)


def test_a_sign_out_from_the_page_ends_the_session_on_the_server(pages):
    browser, token = signed_in_browser(pages)
    answer = browser.post("/sign-out", sign_out_form(browser))
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/sign-in")
    assert not pages.session_alive(token)
    assert SIGNED_OUT in browser.get("/sign-in").get_data(as_text=True)
    assert browser.cookie("portico_session") is None
    assert browser.get("/account").status_code == 303  # sent to sign in


def test_a_sign_out_without_a_session_says_signed_out(pages):
    browser = pages.browser()
    browser.get("/sign-in")
    answer = browser.post("/sign-out", {})
    assert answer.status_code == 303
    assert SIGNED_OUT in browser.get(answer.headers["Location"]).get_data(as_text=True)


def test_a_sign_out_of_a_session_already_ended_says_signed_out(pages):
    browser, token = signed_in_browser(pages)
    form = sign_out_form(browser)
    pages.app.test_client().delete("/api/v1/session", headers={"Authorization": f"Bearer {token}"})
    assert not pages.session_alive(token)
    answer = browser.post("/sign-out", form)
    assert answer.status_code == 303
    assert SIGNED_OUT in browser.get(answer.headers["Location"]).get_data(as_text=True)
