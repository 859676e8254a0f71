"""The portal in the embedded mode on a real port, driven by headless Chromium through Playwright.

Chromium is Debian's (`/usr/bin/chromium`, installed by `make test`), never a Playwright download.
When it is missing the browser tests are skipped loudly, except under CI=true where that fails.
Data is made per test through the operator API, with unique account numbers and e-mails.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from tests.waiting_kit import DEADLINE

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "Sunny-Garden-42!"


def _missing(message: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(f"SKIPPED LOUDLY — {message}")


def chromium_path() -> str:
    for candidate in (
        "/usr/bin/chromium",
        shutil.which("chromium") or "",
        shutil.which("chromium-browser") or "",
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    _missing("Debian's chromium is not installed (run `make test`, or apt-get install chromium)")
    raise AssertionError("unreachable")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Unready(Exception):
    """Something the test waits for has not happened yet."""


def eventually(check: Any, timeout: float = DEADLINE, what: str = "the condition") -> Any:
    """Call `check` until it returns a truthy value (or stops raising Unready), within a deadline."""
    for attempt in Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(0.1),
        reraise=True,
        retry=retry_if_exception_type(Unready),
    ):
        with attempt:
            value = check()
            if not value:
                raise Unready(f"still waiting for {what}")
            return value
    raise AssertionError("unreachable")


@dataclass
class Person:
    email: str
    password: str
    user: dict[str, Any]
    account_id: str
    account_number: str


class Portal:
    """The running portal: its address, and helpers that make data through the API."""

    def __init__(self, base_url: str, embedded: Any) -> None:
        self.base_url = base_url
        self.embedded = embedded
        self.app = embedded.gateway
        self.operator_headers = {
            "Authorization": f"Bearer {embedded.parts['gateway'].settings.operator_token}"
        }

    @property
    def notifications(self) -> Any:
        return self.app.extensions["portico.gateway"].clients["notifications"]

    def url(self, path: str) -> str:
        return self.base_url + path

    def operator(self, method: str, path: str, json: Any) -> dict[str, Any]:
        response = self.app.test_client().open(
            path, method=method, json=json, headers=self.operator_headers
        )
        assert response.status_code < 300, (path, response.status_code, response.get_json())
        return response.get_json()

    def new_account(
        self, name: str = "Retail IT Limited", parent: str | None = None
    ) -> dict[str, Any]:
        number = str(uuid.uuid4().int)[:8]
        body: dict[str, Any] = {"number": number, "name": name}
        if parent:
            body.update(parent_number=parent, relation="shop")
        return self.operator("POST", "/api/v1/operator/accounts", body)

    @staticmethod
    def new_email(prefix: str = "user") -> str:
        return f"{prefix}.{uuid.uuid4().hex[:10]}@example.com"

    def new_administrator(
        self,
        account: dict[str, Any],
        *,
        language: str = "en-GB",
        last_name: str = "Hughes",
        first_name: str = "Mark",
    ) -> str:
        email = self.new_email("admin")
        self.operator(
            "POST",
            f"/api/v1/operator/accounts/{account['number']}/administrators",
            {
                "email": email,
                "title": "M",
                "last_name": last_name,
                "first_name": first_name,
                "language": language,
            },
        )
        return email

    def mail_to(self, email: str, subject_contains: str = "") -> dict[str, Any]:
        """The newest e-mail kept for `email` (waiting for it to be delivered to the mailbox)."""

        def find() -> dict[str, Any] | None:
            box = self.notifications.get("/internal/mailbox", params={"to": email, "per_page": 50})
            for item in box["items"]:
                if subject_contains.lower() in item["subject"].lower():
                    return self.notifications.get(f"/internal/mailbox/{item['id']}")
            return None

        return eventually(find, what=f"an e-mail to {email} ({subject_contains})")

    def link_in_mail(self, email: str, kind: str) -> str:
        """The newest link to /{kind}/ in the e-mails kept for `email`."""

        def find() -> str | None:
            box = self.notifications.get("/internal/mailbox", params={"to": email, "per_page": 50})
            for item in box["items"]:
                mail = self.notifications.get(f"/internal/mailbox/{item['id']}")
                found = [link for link in mail["links"] if f"/{kind}/" in link]
                if found:
                    return found[0]
            return None

        return eventually(find, what=f"an e-mail to {email} with a /{kind}/ link")

    def activate(
        self,
        email: str,
        *,
        language: str = "en-GB",
        password: str = PASSWORD,
        last_name: str = "Hughes",
        first_name: str = "Mark",
    ) -> dict[str, Any]:
        token = self.link_in_mail(email, "activate").rsplit("/", 1)[1]
        response = self.app.test_client().post(
            f"/api/v1/activations/{token}",
            json={
                "title": "M",
                "last_name": last_name,
                "first_name": first_name,
                "language": language,
                "function": "IT Manager",
                "office_phone": None,
                "mobile_phone": None,
                "password": password,
            },
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def active_administrator(
        self, account: dict[str, Any] | None = None, *, language: str = "en-GB"
    ) -> Person:
        account = account or self.new_account()
        email = self.new_administrator(account, language=language)
        user = self.activate(email, language=language)
        person = Person(email, PASSWORD, user, account["id"], account["number"])
        client = self.api(person)  # one session for the polls (sign-ins are rate-limited)
        eventually(
            lambda: (
                account["id"] in (client.get("/api/v1/me").get_json() or {}).get("administers", [])
            ),
            what="the administrator right to reach the gateway",
        )
        # identity hears of the grant from the same event, on its own time: its lists (the
        # "administrators only" filter) and its last-administrator rule count on it
        eventually(
            lambda: (
                email
                in [
                    item["email"]
                    for item in client.get(
                        f"/api/v1/accounts/{account['id']}/users",
                        query_string={"administrators_only": "true", "per_page": 50},
                    ).get_json()["items"]
                ]
            ),
            what="identity to count the new administrator",
        )
        return person

    def api(self, person: Person) -> Any:
        """A test client signed in as `person` with a Bearer token (no CSRF needed)."""
        client = self.app.test_client()
        answer = client.post(
            "/api/v1/session", json={"email": person.email, "password": person.password}
        )
        assert answer.status_code == 201, answer.get_json()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {answer.get_json()['token']}"
        return client

    def new_user(
        self,
        admin: Person,
        *,
        language: str = "en-GB",
        last_name: str = "Martin",
        first_name: str = "Alice",
        activate: bool = True,
    ) -> Person:
        email = self.new_email("user")
        answer = self.api(admin).post(
            f"/api/v1/accounts/{admin.account_id}/users",
            json={
                "email": email,
                "title": "MME",
                "last_name": last_name,
                "first_name": first_name,
                "language": language,
                "password_level": 2,
            },
        )
        assert answer.status_code == 201, answer.get_json()
        user = answer.get_json()
        if activate:
            user = self.activate(
                email, language=language, last_name=last_name, first_name=first_name
            )
        return Person(email, PASSWORD, user, admin.account_id, admin.account_number)


@pytest.fixture(scope="session")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    from werkzeug.serving import make_server

    from portico.runtime import Embedded

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        "PORTICO_PUBLIC_URL": base_url,
        "PORTICO_RATE_SIGN_IN_PER_IP": "1000/60",
        "PORTICO_RATE_SIGN_IN_PER_EMAIL": "100/60",
        "PORTICO_RATE_RESET_PER_IP": "1000/60",
    }
    embedded = Embedded(tmp_path_factory.mktemp("portal"), env).build().start()
    server = make_server("127.0.0.1", port, embedded.gateway, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="portal-http", daemon=True)
    thread.start()
    try:
        yield Portal(base_url, embedded)
    finally:
        server.shutdown()
        embedded.stop.set()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the dev extras install it
        _missing(f"the playwright package is not installed ({exc})")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(browser: Any, portal: Portal) -> Iterator[Any]:
    """Pages in fresh browser contexts (one person each), closed at the end of the test."""
    contexts: list[Any] = []

    def make(locale: str = "en-GB", javascript: bool = True) -> Any:
        context = browser.new_context(
            viewport=DESKTOP,
            locale=locale,
            base_url=portal.base_url,
            java_script_enabled=javascript,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors
        return page

    yield make
    for context in contexts:
        for page in context.pages:
            assert not getattr(page, "js_errors", []), page.js_errors
        context.close()


def shoot(page: Any, name: str) -> None:
    """Screenshots of the page as it is, on a desktop and on a phone."""
    SCREENSHOTS.mkdir(exist_ok=True)
    safe = re.sub(r"[^a-z0-9_-]+", "-", name.lower())
    page.screenshot(path=str(SCREENSHOTS / f"{safe}-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SCREENSHOTS / f"{safe}-phone.png"), full_page=True)
    wider = page.evaluate(OVERFLOWING)
    page.set_viewport_size(DESKTOP)
    assert not wider, f"{name}: wider than a phone's screen: {wider}"


# Elements that stick out of the viewport sideways (a page that scrolls sideways on a phone).
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width) return [];
  return Array.from(document.querySelectorAll('body *'))
    .filter(el => el.getBoundingClientRect().right > width + 1)
    .slice(0, 8)
    .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right));
}"""


def open_mailbox(page: Any, portal: Portal, path: str = "/mailbox") -> None:
    """The mailbox is the operator's: its form asks for the operator token once per browser."""
    page.goto(path)
    page.get_by_label("Operator token").fill(
        portal.embedded.parts["gateway"].settings.operator_token
    )
    page.get_by_role("button", name="Open the mailbox").click()
    page.get_by_role("button", name="Close the mailbox in this browser").wait_for()


def sign_in(page: Any, person: Person, path: str = "/sign-in") -> None:
    page.goto(path)
    page.get_by_label(re.compile("^(Email address|Adresse e-mail)")).fill(person.email)
    page.get_by_label(re.compile("^(Password|Mot de passe)")).fill(person.password)
    page.get_by_role("button", name=re.compile("^(Sign in|Se connecter)$")).click()
