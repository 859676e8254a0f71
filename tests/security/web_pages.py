"""The real portal's web pages for the security tests: one process, every service, SQLite, memory bus.

`start_pages(data_dir, prefix, public_url)` builds and starts the embedded mode as `portico run` does,
with the demo's people when asked. `Browser` is a Flask test client that behaves like a browser on
the portal's origin: it keeps cookies and sends `Origin` on its form posts, and reads the hidden
fields of the forms it was shown.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

from portico import demo
from portico.runtime import Embedded

# Claire, administrator of the demo's parent account
ADMIN = demo.ADMINS[demo.PARENT["number"]]["email"]
USER = demo.USERS[0][0]["email"]  # Sophie, who administers nothing
PASSWORD = demo.PASSWORD

_FORM = re.compile(r"<form\b[^>]*\baction=\"(?P<action>[^\"]*)\"[^>]*>(?P<body>.*?)</form>", re.S)
_HIDDEN = re.compile(
    r"<input type=\"hidden\" name=\"(?P<name>[^\"]+)\" value=\"(?P<value>[^\"]*)\""
)


@dataclass
class Pages:
    embedded: Embedded
    public_url: str

    @property
    def app(self) -> Any:
        return self.embedded.gateway

    @property
    def operator_token(self) -> str:
        return self.embedded.parts["gateway"].settings.operator_token

    def browser(self, origin: str | None = None) -> Browser:
        """A fresh browser (no cookies) whose form posts say they come from `origin` (this site's)."""
        return Browser(self.app.test_client(), self.public_url if origin is None else origin)

    def session_alive(self, session_token: str) -> bool:
        """Whether the API still knows this session (GET /api/v1/me with it as a Bearer token)."""
        answer = self.app.test_client().get(
            "/api/v1/me", headers={"Authorization": f"Bearer {session_token}"}
        )
        assert answer.status_code in (200, 401), (answer.status_code, answer.get_json())
        return answer.status_code == 200

    def stop(self) -> None:
        self.embedded.stop.set()


class Browser:
    """A cookie-keeping client; `post` sends the Origin header a browser sends with a form."""

    def __init__(self, client: Any, origin: str) -> None:
        self.client = client
        self.origin = origin

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, str], headers: dict[str, str] | None = None) -> Any:
        sent = {"Origin": self.origin} if self.origin else {}
        return self.client.post(path, data=data, headers={**sent, **(headers or {})})

    def form(self, page: str, action: str | None = None) -> dict[str, str]:
        """The hidden fields of the form posting to `action` (default: `page`) on the page `page`."""
        answer = self.get(page)
        return form_fields(answer.get_data(as_text=True), action or page.split("?")[0])

    def cookie(self, name: str) -> str | None:
        found = self.client.get_cookie(name)
        return found.value if found is not None else None

    def sign_in(self, email: str = ADMIN, password: str = PASSWORD) -> Any:
        answer = self.post(
            "/sign-in", {**self.form("/sign-in"), "email": email, "password": password}
        )
        assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
        return answer


def form_fields(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the first form of `html` posting to `action`."""
    for found in _FORM.finditer(html):
        if unescape(found.group("action")).split("?")[0] == action:
            return {
                m.group("name"): unescape(m.group("value"))
                for m in _HIDDEN.finditer(found.group("body"))
            }
    raise AssertionError(f"no form posting to {action} in the page:\n{html[:3000]}")


def start_pages(
    data_dir: Path,
    prefix: str,
    public_url: str = "http://localhost",
    *,
    with_demo: bool = True,
    env: dict[str, str] | None = None,
) -> Pages:
    settings = {"PORTICO_BUS_PREFIX": prefix, "PORTICO_PUBLIC_URL": public_url, **(env or {})}
    embedded = Embedded(data_dir, settings).build().start()
    pages = Pages(embedded, public_url)
    if with_demo:
        out = io.StringIO()
        if not demo.load_once(embedded, out, timeout=60.0):
            pages.stop()
            raise AssertionError(f"the demo did not load:\n{out.getvalue()}")
    return pages
