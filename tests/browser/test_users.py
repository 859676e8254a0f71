"""User management (manual 5.3): create, the existing-user message, modify, subscriptions, delete."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Portal, shoot, sign_in

pytestmark = pytest.mark.browser

SCRIPT = "<script>window.__pwned=1</script>"


def test_an_administrator_manages_a_user_from_creation_to_deletion(
    portal: Portal, new_page
) -> None:
    admin = portal.active_administrator()
    email = portal.new_email("created")
    page = new_page()
    sign_in(page, admin, "/users")
    expect(page.get_by_role("heading", name="User management")).to_be_visible()
    shoot(page, "users")

    # Create, with script in a name: shown as text, never run
    page.get_by_role("link", name="Add a user").click()
    expect(page.get_by_role("heading", name="User creation")).to_be_visible()
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Title").select_option("MLE")
    page.get_by_role("textbox", name="Name", exact=True).fill("Petit" + SCRIPT)
    page.get_by_label("First name").fill("Julie")
    page.get_by_label("Function").fill("Buyer")
    shoot(page, "user-create")
    page.get_by_role("button", name="Create the user").click()
    expect(
        page.get_by_role("status").filter(has_text=f"The user {email} is created")
    ).to_be_visible()
    row = page.get_by_role("row", name=re.compile("Julie"))
    expect(row).to_contain_text("PETIT" + SCRIPT.upper())
    expect(row).to_contain_text("Not activated")
    assert page.evaluate("() => window.__pwned") is None
    portal.mail_to(email, "activation")

    # The same address again: the manual's message, the form kept
    page.get_by_role("link", name="Add a user").click()
    page.get_by_label("Email address").fill(email.upper())
    page.get_by_label("Title").select_option("M")
    page.get_by_role("textbox", name="Name", exact=True).fill("Other")
    page.get_by_label("First name").fill("Person")
    page.get_by_role("button", name="Create the user").click()
    expect(page.get_by_role("alert")).to_contain_text("The user already exists in this account")
    expect(page.get_by_label("First name")).to_have_value("Person")
    shoot(page, "user-exists")

    # Modify
    page.goto("/users?name=Petit")
    page.get_by_role("link", name=re.compile("^Modify PETIT")).click()
    page.get_by_label("Function").fill("Head buyer")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text=f"The user {email} is saved")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Julie"))).to_contain_text("Head buyer")

    # Add subscriptions, list them, remove one
    page.get_by_role("link", name=re.compile("^Add subscriptions for PETIT")).click()
    page.get_by_label("Invoice viewing service").check()
    page.get_by_label("Planning of services").check()
    shoot(page, "user-add-subscriptions")
    page.get_by_role("button", name="Add the selected subscriptions").click()
    expect(page.get_by_role("status").filter(has_text="2 subscriptions added")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Invoice viewing service"))).to_contain_text(
        "Accepted"
    )
    shoot(page, "user-subscriptions")
    page.get_by_role("button", name="Remove Planning of services").click()
    expect(
        page.get_by_role("status").filter(has_text="Planning of services was removed")
    ).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Planning of services"))).to_have_count(0)

    # Delete, with a confirmation page and a confirmation message
    page.goto("/users?name=Petit")
    page.get_by_role("link", name=re.compile("^Delete PETIT")).click()
    expect(page.get_by_role("heading", name="Delete a user")).to_be_visible()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status").filter(has_text="was deleted")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Julie"))).to_have_count(0)


def test_filters_and_the_last_administrator(portal: Portal, new_page) -> None:
    admin = portal.active_administrator()
    portal.new_user(admin, last_name="Zeller", first_name="Zoe")
    page = new_page()
    sign_in(page, admin, "/users")
    page.get_by_label("Administrators only").check()
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("main tbody tr")).to_have_count(1)
    expect(page.locator("main tbody")).to_contain_text("HUGHES Mark")
    page.get_by_role("link", name="Clear filter").click()
    page.get_by_label("Full name").fill("zeller")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("main tbody tr")).to_have_count(1)
    expect(page.locator("main tbody")).to_contain_text("ZELLER Zoe")

    # Deleting the last administrator is refused with the API's reason, on the page
    page.goto("/users?administrators_only=true")
    page.get_by_role("link", name=re.compile("^Delete HUGHES")).click()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("HUGHES Mark"))).to_be_visible()
