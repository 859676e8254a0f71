"""Bad input: a session ending mid-form, open redirects, used links, double submits, injected script,
the security headers, and the mailbox that only exists without SMTP."""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from gateway.web.forms import safe_next
from tests.browser.conftest import Portal, shoot, sign_in

pytestmark = pytest.mark.browser


def end_session_of(portal: Portal, context) -> None:
    """The server forgets the browser's session, as when it times out."""
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    client = portal.app.test_client()
    client.set_cookie("portico_session", cookies["portico_session"])
    answer = client.delete("/api/v1/session", headers={"X-CSRF-Token": cookies["portico_csrf"]})
    assert answer.status_code == 204


def test_a_session_ending_mid_form_comes_back_to_the_form(portal: Portal, new_page) -> None:
    admin = portal.active_administrator()
    page = new_page()
    sign_in(page, admin, "/account/edit")
    expect(page.get_by_role("heading", name="Edit my profile")).to_be_visible()
    page.get_by_label("Function").fill("Chief buyer")
    end_session_of(portal, page.context)
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Faccount%2Fedit$"))
    expect(page.get_by_role("status").filter(has_text="Your session has ended")).to_be_visible()
    shoot(page, "session-ended")
    sign_in(page, admin, page.url)
    expect(page).to_have_url(re.compile(r"/account/edit$"))
    expect(page.get_by_label("Function")).to_have_value("Chief buyer")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("section.panel-profile")).to_contain_text("Chief buyer")


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "/x\r\nSet-Cookie: a=b",
        "users",
        "",
    ],
)
def test_next_only_leads_to_this_site(target: str) -> None:
    assert safe_next(target, "/account") == "/account"


def test_next_keeps_a_path_of_this_site_with_its_query() -> None:
    assert safe_next("/users?status=active&page=2") == "/users?status=active&page=2"


def test_signing_in_with_a_foreign_next_stays_here(portal: Portal, new_page) -> None:
    admin = portal.active_administrator()
    page = new_page()
    sign_in(page, admin, "/sign-in?next=" + quote("https://evil.example/steal"))
    expect(page).to_have_url(re.compile(r"^" + re.escape(portal.base_url) + r"/account$"))


def test_used_and_unknown_links_say_what_happened(portal: Portal, new_page) -> None:
    admin = portal.active_administrator()  # its activation link is used
    page = new_page()
    page.goto(portal.link_in_mail(admin.email, "activate"))
    expect(page.get_by_role("heading", name="This link can no longer be used")).to_be_visible()
    expect(
        page.get_by_role("link", name="If you have already activated your account, sign in")
    ).to_be_visible()
    shoot(page, "link-used")
    page.goto("/activate/not-a-token")
    expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()
    page.goto("/reset-password/not-a-token")
    page.get_by_label("New password").fill("Whatever-12345")
    page.get_by_label("Confirm your password").fill("Whatever-12345")
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_role("link", name="Ask for a new link")).to_be_visible()


def form_token(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action` in `html`."""
    form = re.search(r'<form[^>]*action="' + re.escape(action) + r'"[^>]*>(.*?)</form>', html, re.S)
    assert form, action
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(1)))


def signed_in_client(portal: Portal, person):
    client = portal.app.test_client()
    client.environ_base["HTTP_ORIGIN"] = portal.base_url  # as a browser posts this site's forms
    html = client.get("/sign-in").get_data(as_text=True)
    fields = form_token(html, "/sign-in")
    answer = client.post(
        "/sign-in", data={**fields, "email": person.email, "password": person.password}
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
    return client


def test_a_form_sent_twice_acts_once_and_answers_the_same(portal: Portal) -> None:
    admin = portal.active_administrator()
    client = signed_in_client(portal, admin)
    html = client.get("/catalog?title=Planning").get_data(as_text=True)
    fields = form_token(html, "/catalog/subscribe")
    first = client.post("/catalog/subscribe", data=fields)
    second = client.post("/catalog/subscribe", data=fields)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    page = client.get(second.headers["Location"]).get_data(as_text=True)
    assert "You are subscribed to Planning of services." in page
    assert "already hold" not in page
    held = client.get("/services?q=Planning").get_data(as_text=True)
    assert held.count('name="title" value="Planning of services"') == 1


def test_script_in_a_field_is_shown_as_text(portal: Portal) -> None:
    admin = portal.active_administrator()
    client = signed_in_client(portal, admin)
    html = client.get("/catalog?title=Planning").get_data(as_text=True)
    fields = {**form_token(html, "/catalog/subscribe"), "title": '<img src=x onerror="alert(1)">'}
    answer = client.post("/catalog/subscribe", data=fields, follow_redirects=True)
    page = answer.get_data(as_text=True)
    assert '<img src=x onerror="alert(1)">' not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    searched = client.get("/users?name=<script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in searched
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in searched


PUBLIC = ["/sign-in", "/forgotten-password", "/mailbox", "/activate/unknown"]
PAGES = [
    "/account",
    "/account/edit",
    "/account/email",
    "/account/password",
    "/services",
    "/catalog",
    "/catalog?view=admin",
    "/administrators",
    "/users",
    "/users/new",
    "/validation",
    "/users/import",
    "/associates",
    "/invoices",
    "/planning",
    "/mailbox",
]


def test_pages_carry_a_strict_policy_and_no_inline_script_or_style(portal: Portal) -> None:
    admin = portal.active_administrator()
    signed_in, anonymous = signed_in_client(portal, admin), portal.app.test_client()
    for client, path in [(signed_in, path) for path in PAGES] + [
        (anonymous, path) for path in PUBLIC
    ]:
        answer = client.get(path)
        assert answer.status_code in (200, 401, 403, 404), (
            path,
            answer.status_code,
        )  # 401: the mailbox's form
        policy = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
        assert answer.headers["X-Frame-Options"] == "DENY"
        html = answer.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script on {path}"
        assert not re.search(r"\sstyle=", html), f"inline style on {path}"
        assert not re.search(r"\son[a-z]+=", html), f"inline handler on {path}"


def test_pages_for_administrators_say_so_to_others(portal: Portal, new_page) -> None:
    admin = portal.active_administrator()
    user = portal.new_user(admin)
    page = new_page()
    sign_in(page, user, "/users")
    expect(page.get_by_role("heading", name="Access refused")).to_be_visible()
    expect(page.locator("main")).to_contain_text("reserved for administrators")
    expect(page.get_by_role("link", name="User management")).to_have_count(0)
    shoot(page, "admins-only")


def test_there_is_no_mailbox_when_mail_goes_to_an_smtp_server(tmp_path: Path) -> None:
    from portico.runtime import Embedded

    embedded = Embedded(tmp_path, {"PORTICO_SMTP_URL": "smtp://127.0.0.1:2525"}).build()
    client = embedded.gateway.test_client()
    assert client.get("/mailbox").status_code == 404
    assert client.get("/mailbox/1").status_code == 404
    assert "/mailbox" not in client.get("/sign-in").get_data(as_text=True)


def test_a_file_over_the_cap_gets_a_page_not_json(tmp_path: Path) -> None:
    from portico.runtime import Embedded

    embedded = Embedded(
        tmp_path, {"PORTICO_MAX_BODY_BYTES": "1000", "PORTICO_MAX_UPLOAD_BYTES": "1000"}
    ).build()
    answer = embedded.gateway.test_client().post(
        "/users/import",
        data={"file": (io.BytesIO(b"M;A;B;a@example.com\n" * 500), "big.csv")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 413
    assert answer.mimetype == "text/html"
    assert "The file is larger than the portal accepts." in answer.get_data(as_text=True)
