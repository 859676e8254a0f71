"""My account: editing the profile, changing the e-mail address through its link, passwords."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Portal, shoot, sign_in

pytestmark = pytest.mark.browser

NEW_PASSWORD = "Quiet-River-77?"


def test_profile_email_change_and_password(portal: Portal, new_page) -> None:
    admin = portal.active_administrator()
    page = new_page()
    sign_in(page, admin)

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Mobile phone").fill("+44 7911 123456")
    shoot(page, "account-edit")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Your profile is saved.")).to_be_visible()
    expect(page.locator("section.panel-profile")).to_contain_text("+447911123456")

    # E-mail change: the validation page, then the link sent to the new address
    new_email = portal.new_email("moved")
    page.get_by_role("link", name="Email change").click()
    page.get_by_label("New email address").fill(new_email)
    page.get_by_role("button", name="Send validation email").click()
    expect(page.get_by_role("heading", name="Validation email sent")).to_be_visible()
    expect(page.locator("main")).to_contain_text(new_email)
    shoot(page, "email-sent")
    page.get_by_role("link", name="Ok").click()
    page.goto(portal.link_in_mail(new_email, "confirm-email"))
    shoot(page, "email-confirm")
    page.get_by_role("button", name="Confirm my new email address").click()
    expect(
        page.get_by_role("status").filter(has_text="Your email address is changed")
    ).to_be_visible()
    expect(page.locator("section.panel-profile")).to_contain_text(new_email)
    # the link cannot serve twice
    page.goto(portal.link_in_mail(new_email, "confirm-email"))
    page.get_by_role("button", name="Confirm my new email address").click()
    expect(page.get_by_role("heading", name="This link can no longer be used")).to_be_visible()

    # Password change: the old one no longer opens a session
    page.goto("/account/password")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Confirm your password").fill(NEW_PASSWORD)
    expect(page.get_by_text("The two passwords are identical.")).to_be_visible()
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_role("status").filter(has_text="Your password was changed.")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    admin.email, admin.password = new_email, PASSWORD
    sign_in(page, admin)
    expect(page.get_by_role("alert")).to_contain_text(
        "The email address or the password is not correct."
    )
    admin.password = NEW_PASSWORD
    sign_in(page, admin)
    expect(page.get_by_role("heading", name="My account", level=1)).to_be_visible()


def test_forgotten_password_from_the_sign_in_page(portal: Portal, new_page) -> None:
    admin = portal.active_administrator()
    page = new_page()
    page.goto("/sign-in")
    shoot(page, "sign-in")
    page.get_by_role("link", name="Forgotten password").click()
    page.get_by_label("Email address").fill(admin.email)
    shoot(page, "forgotten")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("heading", name="Check your mailbox")).to_be_visible()
    link = portal.link_in_mail(admin.email, "reset-password")

    page.goto(link)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Confirm your password").fill(NEW_PASSWORD)
    shoot(page, "reset")
    page.get_by_role("button", name="Validate").click()
    expect(
        page.get_by_role("status").filter(has_text="Your password has been reset successfully")
    ).to_be_visible()
    admin.password = NEW_PASSWORD
    sign_in(page, admin)
    expect(page).to_have_url(re.compile(r"/account$"))

    # The used link says so and offers the next step
    page.goto(link)
    page.get_by_label("New password").fill(NEW_PASSWORD + "2")
    page.get_by_label("Confirm your password").fill(NEW_PASSWORD + "2")
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_role("heading", name="This link can no longer be used")).to_be_visible()
    page.get_by_role("link", name="Ask for a new link").click()
    expect(page.get_by_role("heading", name="Forgotten password")).to_be_visible()
