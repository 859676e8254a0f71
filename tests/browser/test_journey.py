"""From the activation e-mail's link, read in the mailbox page, to the profile page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, SCREENSHOTS, Portal, open_mailbox, shoot

pytestmark = pytest.mark.browser


def test_activation_link_from_the_mailbox_to_the_profile_page(portal: Portal, new_page) -> None:
    account = portal.new_account("Retail IT Limited")
    email = portal.new_administrator(account, last_name="Marks", first_name="Steven")
    portal.mail_to(email, "activation")
    page = new_page()

    page.goto(f"/mailbox?to={email}")
    expect(page.get_by_label("Operator token")).to_be_visible()  # the mailbox is the operator's
    shoot(page, "mailbox-unlock")
    open_mailbox(page, portal, f"/mailbox?to={email}")
    expect(page).to_have_url(re.compile(r"/mailbox\?to="))
    shoot(page, "mailbox")
    page.get_by_role("link", name=re.compile("activation", re.I)).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("activation", ignore_case=True)
    expect(page.frame_locator("iframe.mail-html").locator("body")).to_contain_text(
        "activation link"
    )
    shoot(page, "mailbox-message")
    page.locator("iframe.mail-html").screenshot(path=str(SCREENSHOTS / "mailbox-message-html.png"))
    page.locator("a[href*='/activate/']").first.click()

    # Step 1: the profile, pre-filled
    expect(page.get_by_role("heading", name="Profile validation")).to_be_visible()
    expect(page.get_by_text("Step 1/3")).to_be_visible()
    expect(page.get_by_role("textbox", name="Name", exact=True)).to_have_value("Marks")
    expect(page.get_by_label("First name")).to_have_value("Steven")
    expect(page.get_by_label("Function")).to_be_hidden()
    page.get_by_label("Title").select_option("M")
    shoot(page, "activation-step-1")
    page.get_by_role("button", name="Next").click()

    # Step 2: contact details, the e-mail shown read-only
    expect(page.get_by_text("Step 2/3")).to_be_visible()
    expect(page.get_by_label("Email address (your login)")).to_have_value(email)
    page.get_by_label("Function").fill("Retail Operations Manager")
    page.get_by_label("Office phone").fill("+44 20 7946 0958")
    shoot(page, "activation-step-2")
    page.get_by_role("button", name="Next").click()

    # Step 3: the password, with its live checklist
    expect(page.get_by_text("Step 3/3")).to_be_visible()
    validate = page.get_by_role("button", name="Validate")
    expect(validate).to_be_disabled()
    page.get_by_label("Create your password").fill("marks")
    expect(page.locator("li[data-rule=too_short]")).to_have_class(re.compile("unmet"))
    expect(page.locator("li[data-rule=contains_name]")).to_have_class(re.compile("unmet"))
    page.get_by_label("Create your password").fill(PASSWORD)
    expect(page.locator("li[data-rule=too_short]")).to_have_class(re.compile(r"\bmet"))
    expect(page.locator("li[data-rule=too_few_classes]")).to_have_class(re.compile(r"\bmet"))
    expect(page.locator("li[data-rule=contains_name]")).to_have_class(re.compile(r"\bmet"))
    page.get_by_label("Confirm your password").fill(PASSWORD + "x")
    expect(page.get_by_text("The two passwords are not identical.")).to_be_visible()
    expect(validate).to_be_disabled()
    page.get_by_label("Confirm your password").fill(PASSWORD)
    expect(validate).to_be_enabled()
    shoot(page, "activation-step-3")
    validate.click()

    # Signed in at once, on the profile page with its panels
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_role("heading", name="My account", level=1)).to_be_visible()
    expect(page.get_by_text("Your account is activated.")).to_be_visible()
    profile = page.locator("section.panel-profile")
    expect(profile).to_contain_text("MARKS")
    expect(profile).to_contain_text("Retail Operations Manager")
    expect(profile).to_contain_text(account["number"])
    expect(page.get_by_role("heading", name="Last administrators")).to_be_visible()
    expect(page.get_by_role("heading", name="Last audits")).to_be_visible()
    expect(
        page.locator("section", has=page.get_by_role("heading", name="My services"))
    ).to_contain_text(
        re.compile(r"\b1 subscription accepted|\b(0|[2-9]|\d\d+) subscriptions accepted")
    )
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    shoot(page, "account")

    # The confirmation e-mail arrived, and the used link now says what happened
    portal.mail_to(email, "created")
