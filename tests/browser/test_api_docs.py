"""The API's documentation page in a browser: it shows every operation without sign-in, loads
nothing from another host, and its Authorize button signs the tried requests with a session token
or the operator token."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Portal, shoot

pytestmark = pytest.mark.browser


def operation_count(portal: Portal) -> int:
    document = portal.app.test_client().get("/api/v1/openapi.json").get_json()
    methods = ("get", "post", "put", "patch", "delete")
    return sum(
        1 for operations in document["paths"].values() for method in operations if method in methods
    )


def authorize(page, scheme: str, value: str) -> None:
    page.locator(".auth-wrapper button.authorize").click()  # the page's Authorize button
    dialog = page.locator(".auth-container").filter(has_text=scheme).first
    dialog.locator("input").fill(value)
    dialog.locator("button.authorize").click()  # this scheme's own "Authorize" (Apply credentials)
    page.locator(".dialog-ux .btn-done").first.click()


def operation(page, method: str, path: str):
    return page.locator(f".opblock-{method}:has(.opblock-summary-path[data-path='{path}'])")


def status_of(block):
    return block.locator(".live-responses-table tr.response .response-col_status").first


def test_the_docs_page_shows_every_operation_from_this_host_only(portal: Portal, new_page) -> None:
    page = new_page()
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto("/api/v1/docs")
    expect(page.locator(".opblock")).to_have_count(operation_count(portal))
    expect(page.get_by_text("Portico client-portal API").first).to_be_visible()
    create_user = operation(page, "post", "/api/v1/accounts/{account_id}/users")
    create_user.locator(".opblock-summary").first.click()
    example = create_user.locator(".opblock-section-request-body .highlight-code")
    expect(example).to_contain_text(
        '"office_phone": "+44 20 7946 0958"'
    )  # the example, not the default
    shoot(page, "api-docs")
    assert hosts == {urlsplit(portal.base_url).netloc}
    assert refused == []


def test_authorize_with_a_session_token_then_with_the_operator_token(
    portal: Portal, new_page
) -> None:
    admin = portal.active_administrator()
    token = (
        portal.app.test_client()
        .post("/api/v1/session", json={"email": admin.email, "password": admin.password})
        .get_json()["token"]
    )
    page = new_page()
    page.goto("/api/v1/docs")
    expect(page.locator(".opblock").first).to_be_visible()

    me = operation(page, "get", "/api/v1/me")
    me.locator(".opblock-summary").first.click()
    me.get_by_role("button", name="Try it out").click()
    me.get_by_role("button", name="Execute").click()
    expect(status_of(me)).to_have_text("401")

    authorize(page, "session", token)
    me.get_by_role("button", name="Execute").click()
    expect(status_of(me)).to_have_text("200")
    expect(me.locator(".live-responses-table")).to_contain_text(admin.email)

    authorize(page, "operator", portal.operator_headers["Authorization"].removeprefix("Bearer "))
    account = operation(page, "get", "/api/v1/operator/accounts/{number}")
    account.locator(".opblock-summary").first.click()
    account.get_by_role("button", name="Try it out").click()
    account.locator("input[placeholder='number']").fill(admin.account_number)
    account.get_by_role("button", name="Execute").click()
    expect(status_of(account)).to_have_text("200")
    expect(account.locator(".live-responses-table")).to_contain_text(admin.account_number)
