"""The pages show the API's refusals in the signed-in user's language, whatever the browser
asks for, and in English for an English profile (the pages' own words unchanged)."""

from __future__ import annotations

from datetime import UTC, datetime
from html import unescape

import pytest

from portico import demo
from tests.security.web_pages import start_pages


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    started = start_pages(
        tmp_path_factory.mktemp("pages-language"), f"pgl{datetime.now(UTC):%H%M%S%f}"
    )
    yield started
    started.stop()


def profile_with_a_bad_phone(pages, email: str) -> str:
    browser = pages.browser()
    browser.sign_in(email, demo.PASSWORD)
    browser.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-GB"  # the profile decides
    form = browser.form("/account/edit")
    answer = browser.post("/account/edit", {**form, "mobile_phone": "12"})
    assert answer.status_code == 422, answer.get_data(as_text=True)[:2000]
    return unescape(answer.get_data(as_text=True))


def test_a_french_profile_sees_the_refusal_in_french(pages):
    page = profile_with_a_bad_phone(pages, demo.ADMINS["90293532"]["email"])  # fr-FR
    assert "Nous ne savons pas lire ce numéro de téléphone" in page
    assert "This is not a phone number we can read" not in page


def test_an_english_profile_sees_it_in_english(pages):
    page = profile_with_a_bad_phone(pages, demo.ADMINS["90293531"]["email"])  # en-GB
    assert "This is not a phone number we can read" in page
    assert "Some fields need your attention" in page
