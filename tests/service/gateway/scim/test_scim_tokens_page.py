"""The SCIM tokens page of the administration (/users/scim-tokens), driven as a browser does:
a token issued (shown once), listed, revoked; the page in French; and the per-token rate limit
of /scim/v2 (this module's portal allows 3 requests a minute per token)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from tests.security.web_pages import Pages, form_fields, start_pages


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> Iterator[Pages]:
    started = start_pages(
        tmp_path_factory.mktemp("scim-pages"),
        f"t{uuid.uuid4().hex[:10]}",
        env={"PORTICO_RATE_SCIM_PER_TOKEN": "3/60"},
    )
    yield started
    started.stop()


def text(answer) -> str:
    return answer.get_data(as_text=True)


def issue_form(html: str) -> dict[str, str]:
    """The hidden fields of the form that issues a token (the account chooser comes first)."""
    return form_fields(
        html[html.index('<form method="post" action="/users/scim-tokens"') :], "/users/scim-tokens"
    )


def test_a_token_is_issued_shown_once_and_revoked_from_the_page(pages):
    browser = pages.browser()
    browser.sign_in()
    users = browser.get("/users")
    assert "/users/scim-tokens" in text(users)
    page = browser.get("/users/scim-tokens")
    assert page.status_code == 200 and "No token has been issued" in text(page)
    # the administrator manages several companies: the chooser lists them, this one selected
    chooser = text(page)[text(page).index('<select id="account"') :]
    chooser = chooser[: chooser.index("</select>")]
    assert chooser.count("<option") > 1 and chooser.count(" selected>") == 1
    issued = browser.post(
        "/users/scim-tokens",
        {**issue_form(text(page)), "name": "Entra ID"},
    )
    assert issued.status_code == 200, text(issued)[:2000]
    token = re.search(r'<code id="scim-token">(scim_[^<]+)</code>', text(issued)).group(1)
    bearer = {"Authorization": f"Bearer {token}"}
    assert pages.app.test_client().get("/scim/v2/Users", headers=bearer).status_code == 200

    again = browser.get("/users/scim-tokens")
    assert "Entra ID" in text(again) and token not in text(again)
    action = re.search(r'action="(/users/scim-tokens/[^"]+/revoke)"', text(again)).group(1)
    revoked = browser.post(action, form_fields(text(again), action))
    assert revoked.status_code == 303
    assert "is revoked" in text(browser.get(revoked.headers["Location"]))
    assert pages.app.test_client().get("/scim/v2/Users", headers=bearer).status_code == 401


def test_the_page_in_french(pages):
    admin = pages.browser()
    admin.sign_in()
    csrf = {"X-CSRF-Token": admin.cookie("portico_csrf") or ""}
    was = admin.client.get("/api/v1/me").get_json()["language"]
    admin.client.patch("/api/v1/me", json={"language": "fr-FR"}, headers=csrf)
    try:
        page = text(admin.get("/users/scim-tokens")).replace("&#39;", "'")
        assert "Provisionnement par l'annuaire" in page and "Émettre le jeton" in page
    finally:
        admin.client.patch("/api/v1/me", json={"language": was}, headers=csrf)


def test_a_token_over_its_rate_is_answered_429_with_retry_after(pages):
    browser = pages.browser()
    browser.sign_in()
    page = browser.get("/users/scim-tokens")
    issued = browser.post(
        "/users/scim-tokens",
        {**issue_form(text(page)), "name": "Busy"},
    )
    token = re.search(r'<code id="scim-token">(scim_[^<]+)</code>', text(issued)).group(1)
    client = pages.app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    answers = [client.get("/scim/v2/ServiceProviderConfig", headers=bearer) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert answers[-1].get_json(force=True)["status"] == "429"


def test_a_user_the_directory_deactivated_shows_so_in_the_user_list(pages):
    browser = pages.browser()
    browser.sign_in()
    page = browser.get("/users/scim-tokens")
    issued = browser.post("/users/scim-tokens", {**issue_form(text(page)), "name": "Leavers"})
    token = re.search(r'<code id="scim-token">(scim_[^<]+)</code>', text(issued)).group(1)
    client = pages.app.test_client()
    bearer = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    email = f"leaver-{uuid.uuid4().hex[:8]}@directory.example"
    created = client.post(
        "/scim/v2/Users",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": email,
            "name": {"familyName": "Leaver", "givenName": "Lou"},
            "active": False,
        },
        headers=bearer,
    )
    assert created.status_code == 201, created.get_json()
    listed = text(browser.get("/users?status=deactivated"))
    assert email in listed and "status-deactivated" in listed
    assert email not in text(browser.get("/users?status=active"))
