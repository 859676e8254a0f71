"""A request subject to validation: the user asks, an administrator accepts, the user sees it effective."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Portal, eventually, shoot, sign_in

pytestmark = pytest.mark.browser

INVOICES = "Invoice viewing service"


def service_id(portal: Portal, admin, title: str) -> str:
    answer = (
        portal.api(admin)
        .get(
            f"/api/v1/accounts/{admin.account_id}/services",
            query_string={"title": title, "per_page": 200},
        )
        .get_json()
    )
    return next(s["id"] for s in answer["items"] if s["title"] == title)


def test_the_administrator_accepts_and_the_user_sees_the_service_effective(
    portal: Portal, new_page
) -> None:
    admin = portal.active_administrator()
    invoices = service_id(portal, admin, INVOICES)
    answer = portal.api(admin).patch(
        f"/api/v1/accounts/{admin.account_id}/services",
        json={"service_ids": [invoices], "requires_validation": True},
    )
    assert answer.status_code == 200, answer.get_json()
    user = portal.new_user(admin, last_name="Martin", first_name="Alice")

    # The user: the invoices are refused, with the reason, and a way to ask
    page = new_page()
    sign_in(page, user, "/invoices")
    expect(page).to_have_url(re.compile(r"/invoices$"))
    expect(
        page.get_by_role("heading", name="You do not have access to this page yet")
    ).to_be_visible()
    expect(page.locator("main")).to_contain_text(INVOICES)
    shoot(page, "invoices-refused")
    page.get_by_role("link", name="Find the service in the services catalog").click()
    row = page.get_by_role("row", name=re.compile(INVOICES))
    expect(row).to_contain_text("Subject to validation")
    shoot(page, "catalog")
    row.get_by_role("button", name=f"Ask for {INVOICES}").click()
    expect(
        page.get_by_role("status").filter(has_text="waiting for an administrator's validation")
    ).to_be_visible()
    page.goto("/services?status=pending")
    expect(page.get_by_role("row", name=re.compile(INVOICES))).to_contain_text(
        "Waiting for validation"
    )
    shoot(page, "my-services")

    # The administrator: the e-mail's link leads, through signing in, to the requests
    mail = portal.mail_to(admin.email, "Subscription request to validate")
    link = next(link for link in mail["links"] if link.endswith("/validation"))
    admin_page = new_page()
    admin_page.goto(link)
    expect(admin_page).to_have_url(re.compile(r"/sign-in\?next=%2Fvalidation$"))
    sign_in(admin_page, admin, admin_page.url)
    expect(admin_page).to_have_url(re.compile(r"/validation$"))
    # the request is listed, and accepted until a date
    request_row = admin_page.get_by_role("row", name=re.compile("MARTIN Alice"))
    expect(request_row).to_contain_text(INVOICES)
    until = (date.today() + timedelta(days=400)).isoformat()
    request_row.get_by_label(re.compile("Expires on")).fill(until)
    shoot(admin_page, "validation")
    request_row.get_by_role("button", name=f"Accept {INVOICES} for MARTIN Alice").click()
    expect(
        admin_page.get_by_role("status").filter(has_text="is accepted for MARTIN Alice")
    ).to_be_visible()
    expect(admin_page.get_by_text("No request is waiting for validation.")).to_be_visible()

    # The user: accepted and effective, the invoices shown
    def effective() -> bool:
        page.goto("/services")
        row = page.get_by_role("row", name=re.compile(INVOICES))
        text = row.inner_text() if row.count() else ""
        return "Accepted" in text and "being applied" not in text

    eventually(effective, what="the accepted subscription to be effective on My services")
    shoot(page, "my-services-accepted")
    page.goto("/invoices")
    expect(page.get_by_role("heading", name="Invoices", level=1)).to_be_visible()
    expect(page.locator("main tbody tr").first).to_contain_text("INV-")
    shoot(page, "invoices")
    assert INVOICES in portal.mail_to(user.email, "Request accepted")["subject"]
