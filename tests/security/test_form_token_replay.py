"""A web form's one-time token replays its first outcome only to the browser that sent it.

The ledger of form tokens answers a repeated submission (double click, reload) with the first one's
outcome, cookies included. Anyone else sending the same `form_token`, with any e-mail and password,
must be treated as a new submission of their own: never given the first client's session.
"""

from __future__ import annotations

import uuid

import pytest

from tests.security.web_pages import ADMIN, PASSWORD, USER, form_fields, start_pages


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    started = start_pages(tmp_path_factory.mktemp("replay"), f"replay{uuid.uuid4().hex[:8]}")
    yield started
    started.stop()


def session_cookies(answer) -> list[str]:
    return [c for c in answer.headers.getlist("Set-Cookie") if c.startswith("portico_session=")]


def who(pages, browser) -> str | None:
    """The e-mail of the person this browser is signed in as (None: not signed in)."""
    token = browser.cookie("portico_session")
    if not token:
        return None
    answer = pages.app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    return answer.get_json()["email"] if answer.status_code == 200 else None


@pytest.fixture
def victims_form(pages):
    """Claire signs in through the page; returns her sign-in form's fields and the answer she got."""
    victim = pages.browser()
    fields = victim.form("/sign-in")
    answer = victim.post("/sign-in", {**fields, "email": ADMIN, "password": PASSWORD})
    assert answer.status_code == 303 and session_cookies(answer), answer.get_data(as_text=True)[
        :2000
    ]
    assert who(pages, victim) == ADMIN
    return fields, answer


@pytest.mark.parametrize("visited_first", [False, True], ids=["no-cookies", "own-page-session"])
def test_another_client_replaying_the_token_with_a_wrong_password_gets_no_session(
    pages, victims_form, visited_first
):
    fields, _ = victims_form
    attacker = pages.browser()
    if visited_first:
        attacker.get("/sign-in")  # its own page session, as a browser would have
    answer = attacker.post(
        "/sign-in", {**fields, "email": "attacker@evil.example", "password": "wrong-password"}
    )
    assert not session_cookies(answer), answer.headers.getlist("Set-Cookie")
    assert answer.status_code == 401, (answer.status_code, answer.headers.get("Location"))
    assert "The email address or the password is not correct." in answer.get_data(as_text=True)
    assert who(pages, attacker) is None
    assert attacker.get("/account").status_code == 303  # sent to sign in


def test_another_client_replaying_the_token_with_its_own_password_gets_its_own_session(
    pages, victims_form
):
    fields, first = victims_form
    other = pages.browser()
    other.get("/sign-in")
    answer = other.post("/sign-in", {**fields, "email": USER, "password": PASSWORD})
    assert answer.status_code == 303
    assert session_cookies(answer) and session_cookies(answer) != session_cookies(first)
    assert who(pages, other) == USER


def test_the_same_browser_sending_its_form_twice_gets_the_first_outcome_again(pages):
    browser = pages.browser()
    fields = browser.form("/sign-in")
    body = {**fields, "email": ADMIN, "password": PASSWORD}
    first = browser.post("/sign-in", body)
    # the browser dropped the first answer (a double click): it sends the form again as it was
    browser.client.delete_cookie("portico_session")
    second = browser.post("/sign-in", body)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert session_cookies(second) == session_cookies(first)  # one session, not two
    assert who(pages, browser) == ADMIN


def test_after_signing_out_the_browser_cannot_replay_its_old_sign_in(pages):
    browser = pages.browser()
    fields = browser.form("/sign-in")
    browser.post("/sign-in", {**fields, "email": ADMIN, "password": PASSWORD})
    account = browser.get("/account").get_data(as_text=True)
    signed_out = browser.post("/sign-out", form_fields(account, "/sign-out"))
    assert signed_out.status_code == 303
    assert who(pages, browser) is None
    answer = browser.post("/sign-in", {**fields, "email": ADMIN, "password": "not-her-password"})
    assert not session_cookies(answer)
    assert answer.status_code == 401
    assert who(pages, browser) is None
