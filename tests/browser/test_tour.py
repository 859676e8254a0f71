"""Every other page once, on a desktop and on a phone: it renders, it fits, it is screenshotted."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Portal, open_mailbox, shoot, sign_in

pytestmark = pytest.mark.browser


def test_a_tour_of_the_remaining_pages(portal: Portal, new_page) -> None:
    admin = portal.active_administrator()
    user = portal.new_user(admin, last_name="Martin", first_name="Alice")
    api = portal.api(admin)
    services = api.get(
        f"/api/v1/accounts/{admin.account_id}/services", query_string={"per_page": 200}
    ).get_json()
    wanted = {"Planning of services", "Products and contracts viewing"}
    ids = [s["id"] for s in services["items"] if s["title"] in wanted]
    granted = api.post(
        f"/api/v1/accounts/{admin.account_id}/users/{admin.user['id']}/subscriptions",
        json={"service_ids": ids},
    )
    assert granted.status_code == 201, granted.get_json()

    page = new_page()
    sign_in(page, admin)
    open_mailbox(page, portal)
    user_path = f"/users/{admin.account_id}/{user.user['id']}"
    tour = [
        ("/administrators", "Administrators", "administrators"),
        ("/services", "My services", "my-services-all"),
        ("/account/password", "Change my password", "password"),
        ("/account/email", "Change email", "email-change"),
        (f"{user_path}/edit", "Modify a user", "user-edit"),
        (f"{user_path}/delete", "Delete a user", "user-delete"),
        (f"{user_path}/subscriptions", "Subscriptions of MARTIN Alice", "user-subscriptions-list"),
        ("/planning", "Planning of services", "planning"),
        ("/products-and-contracts", "Products and contracts", "products"),
        ("/intervention-reports", "Intervention reports and attendance sheets", "reports-refused"),
        ("/associates", "Third-party associates", "associates-none"),
        (f"/users/{admin.account_id}/not-a-user/edit", "Page not found", "not-found"),
        ("/mailbox", "Mailbox", "mailbox-signed-in"),
    ]
    for path, heading, name in tour:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        shoot(page, name)
    expect(page.locator("main tbody tr").first).to_be_visible()

    page.goto("/planning")
    expect(page.locator("main tbody tr").first).to_contain_text("PLN-")
    page.get_by_role("button", name="Log out").click()
    page.goto("/forgotten-password/sent")
    expect(page.get_by_role("heading", name="Check your mailbox")).to_be_visible()
    shoot(page, "forgotten-sent")
