"""The services catalog of an administrator (settings in bulk, subscribers), third-party associates."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Portal, eventually, shoot, sign_in

pytestmark = pytest.mark.browser


def test_the_administrator_view_of_the_catalog(portal: Portal, new_page) -> None:
    admin = portal.active_administrator()
    page = new_page()
    sign_in(page, admin, "/catalog")
    page.get_by_role("link", name="Administrator view").click()
    expect(page.get_by_role("heading", name="Services catalog (administrator)")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Displaying items 1 - 10 of \d+$"))).to_be_visible()
    shoot(page, "catalog-admin")

    rows = page.locator("#settings-form tbody tr")
    first, second = rows.nth(0), rows.nth(1)
    titles = [first.locator("td").nth(2).inner_text(), second.locator("td").nth(2).inner_text()]
    first.get_by_role("checkbox").check()
    second.get_by_role("checkbox").check()
    page.get_by_label("Users will be automatically subscribed to this service").select_option("yes")
    page.get_by_label("Subjected to validation").select_option("yes")
    page.get_by_role("button", name="Save").click()
    expect(
        page.get_by_role("status").filter(has_text="The settings of 2 services are saved.")
    ).to_be_visible()
    for title in titles:
        row = page.get_by_role("row", name=re.compile(re.escape(title)))
        expect(row.locator("td.flag").nth(0)).to_contain_text("Yes")
        expect(row.locator("td.flag").nth(1)).to_contain_text("Yes")

    page.get_by_role("link", name="2", exact=True).click()
    expect(page.get_by_text(re.compile(r"^Displaying items 11 - 20 of \d+$"))).to_be_visible()

    page.get_by_label("Title").fill("Community area")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name=re.compile("^Subscribers of Community area")).click()
    expect(page.get_by_role("heading", name=re.compile("Subscribers"))).to_be_visible()
    expect(page.locator("main tbody")).to_contain_text(admin.email)
    shoot(page, "subscribers")


def test_third_party_associates_of_a_supervisor(portal: Portal, new_page) -> None:
    parent = portal.new_account("Retail IT Limited")
    shop = portal.new_account("Retail IT Shop London", parent=parent["number"])
    admin = portal.active_administrator(parent)
    shop_admin = portal.new_administrator(shop, last_name="Gunter", first_name="Paul")
    api = portal.api(admin)
    services = api.get(
        f"/api/v1/accounts/{admin.account_id}/services",
        query_string={"q": "Supervision", "per_page": 200},
    ).get_json()["items"]
    supervision = [s["id"] for s in services if "Supervision" in s["title"]]
    assert supervision, [s["title"] for s in services]
    granted = api.post(
        f"/api/v1/accounts/{admin.account_id}/users/{admin.user['id']}/subscriptions",
        json={"service_ids": supervision},
    )
    assert granted.status_code == 201, granted.get_json()
    eventually(
        lambda: shop["id"] in portal.api(admin).get("/api/v1/me").get_json().get("supervises", []),
        what="the supervision to reach the gateway",
    )

    page = new_page()
    sign_in(page, admin, "/associates")
    expect(page.get_by_role("heading", name="Third-party associates")).to_be_visible()
    expect(page.get_by_label("Company")).to_contain_text("Retail IT Shop London")
    row = page.get_by_role("row", name=re.compile("GUNTER Paul"))
    expect(row).to_contain_text(shop_admin)
    expect(row).to_contain_text("Not activated")
    shoot(page, "associates")
    page.goto("/users")
    page.get_by_label("Company").select_option(label=f"{shop['number']} Retail IT Shop London")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row", name=re.compile("GUNTER Paul"))).to_be_visible()
