"""The activation wizard completed with the keyboard only: Tab, Enter and typing, focus always visible."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Portal, shoot

pytestmark = pytest.mark.browser

FOCUSED = "() => document.activeElement && (document.activeElement.id || document.activeElement.textContent.trim())"
OUTLINE = "() => getComputedStyle(document.activeElement).outlineStyle"


def focused(page) -> str:
    return page.evaluate(FOCUSED)


def tab_to(page, target: str, most: int = 6) -> None:
    """Press Tab until `target` (an id or a text) has the focus, within `most` presses."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if focused(page) == target:
            assert page.evaluate(OUTLINE) != "none", f"{target} has the focus but shows no outline"
            return
    raise AssertionError(
        f"{target} was not reached with {most} Tab presses (focus on {focused(page)!r})"
    )


def test_the_wizard_is_completed_with_the_keyboard_only(portal: Portal, new_page) -> None:
    account = portal.new_account()
    email = portal.new_administrator(account, last_name="Rodger", first_name="James")
    link = portal.link_in_mail(email, "activate")
    page = new_page()
    page.goto(link)
    expect(page.get_by_text("Step 1/3")).to_be_visible()

    # Step 1: the skip link first, then the fields in reading order, then Next
    page.keyboard.press("Tab")
    assert focused(page) == "Skip to content"
    page.keyboard.press("Enter")
    tab_to(page, "title")
    expect(page.locator("#title")).to_have_value("M")  # pre-filled: Mr
    page.keyboard.press("ArrowDown")
    expect(page.locator("#title")).to_have_value("MME")
    tab_to(page, "last_name", 1)
    tab_to(page, "first_name", 1)
    page.keyboard.press("End")
    page.keyboard.type("-Paul")
    tab_to(page, "language", 1)
    tab_to(page, "Next", 1)
    shoot(page, "keyboard-step-1")
    page.keyboard.press("Enter")

    # Step 2: the focus moves to its first field; Enter in a field goes to the next step
    expect(page.get_by_text("Step 2/3")).to_be_visible()
    assert focused(page) == "function"
    page.keyboard.type("Buyer")
    tab_to(page, "login-email", 1)
    tab_to(page, "office_phone", 1)
    page.keyboard.type("+44 20 7946 0958")
    page.keyboard.press("Enter")

    # Step 3: typing the password updates the checklist; Enter submits once Validate is enabled
    expect(page.get_by_text("Step 3/3")).to_be_visible()
    assert focused(page) == "password"
    page.keyboard.type(PASSWORD)
    tab_to(page, "password_confirm", 1)
    page.keyboard.type(PASSWORD)
    expect(page.get_by_role("button", name="Validate")).to_be_enabled()
    shoot(page, "keyboard-step-3")
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/account$"))
    profile = page.locator("section.panel-profile")
    expect(profile).to_contain_text("James-Paul")
    expect(profile).to_contain_text("Buyer")
    expect(profile).to_contain_text("Mrs")


def test_next_refuses_a_step_with_a_required_field_left_empty(portal: Portal, new_page) -> None:
    account = portal.new_account()
    email = portal.new_administrator(account)
    page = new_page()
    page.goto(portal.link_in_mail(email, "activate"))
    page.locator("#last_name").fill("")
    page.locator("#last_name").press("Enter")
    expect(page.get_by_text("Step 1/3")).to_be_visible()
    assert focused(page) == "last_name"
    assert page.evaluate("() => document.activeElement.validity.valueMissing")


def test_without_javascript_the_wizard_is_one_plain_form(portal: Portal, new_page) -> None:
    account = portal.new_account()
    email = portal.new_administrator(account, last_name="Gunter", first_name="Paul")
    page = new_page(javascript=False)
    page.goto(portal.link_in_mail(email, "activate"))
    for field in ("Title", "Function", "Create your password", "Confirm your password"):
        expect(page.get_by_label(field)).to_be_visible()
    expect(page.get_by_role("button", name="Next")).to_have_count(0)
    page.get_by_label("Create your password").fill(PASSWORD)
    page.get_by_label("Confirm your password").fill(PASSWORD + "typo")
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_text("The two passwords are not identical.")).to_be_visible()
    shoot(page, "activation-without-javascript")
    page.get_by_label("Create your password").fill(PASSWORD)
    page.get_by_label("Confirm your password").fill(PASSWORD)
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_role("heading", name="My account", level=1)).to_be_visible()
