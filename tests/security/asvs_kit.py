"""Steps the ASVS tests (tests/security/test_asvs_*.py) repeat on the real portal of real_portal.py.

A new person is invited by the demo's administrator through the API, their activation link is read
from the e-mail the portal sent (the built-in mailbox), and they choose their own password.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from bus.http_client import ServiceClient
from tests.security.real_portal import Portal

DEADLINE_SECONDS = 60.0


def wait_for(what: str, probe: Any, deadline: float = DEADLINE_SECONDS) -> Any:
    """Poll `probe` until it answers something truthy; fail naming `what` after `deadline` seconds."""
    end = time.monotonic() + deadline
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > end:
            raise AssertionError(f"{what} did not happen within {deadline:g} s")
        time.sleep(0.05)


def mails_to(portal: Portal, email: str) -> list[dict[str, Any]]:
    """Every e-mail the portal sent to `email`, newest first, with its text and HTML."""
    token = portal.embedded.parts["gateway"].settings.service_token
    mailbox = ServiceClient("notifications", app=portal.embedded.apps["notifications"], token=token)
    items = mailbox.get("/internal/mailbox", params={"to": email, "per_page": 50})["items"]
    return [mailbox.get(f"/internal/mailbox/{item['id']}") for item in items]


def link_token(portal: Portal, email: str, kind: str) -> str:
    """The token of the newest `/{kind}/<token>` link e-mailed to `email` (waits for the e-mail)."""

    def found() -> str | None:
        for mail in mails_to(portal, email):
            match = re.search(rf"/{kind}/([A-Za-z0-9_.~-]+)", mail.get("text") or "")
            if match:
                return match.group(1)
        return None

    return wait_for(f"the {kind} e-mail to {email}", found)


def invite(portal: Portal, *, level: int = 1, **fields: Any) -> dict[str, Any]:
    """A user created by the demo's administrator in the parent account; answers the created user."""
    admin = portal.admin()
    account_id = portal.accounts(admin)["90293531"]
    body = {
        "email": f"asvs-{uuid.uuid4().hex[:10]}@example.com",
        "title": "MME",
        "last_name": "Garnier",
        "first_name": "Louise",
        "language": "en-GB",
        "password_level": level,
        **fields,
    }
    answer = portal.client.post(f"/api/v1/accounts/{account_id}/users", json=body, headers=admin)
    assert answer.status_code == 201, answer.get_json()
    return {**answer.get_json(), "account_id": account_id}


def activate(portal: Portal, user: dict[str, Any], password: str) -> Any:
    """Completes the activation wizard of `user` with `password`; answers the API's response."""
    token = link_token(portal, user["email"], "activate")
    profile = {name: user.get(name) for name in ("title", "last_name", "first_name", "language")}
    return portal.client.post(
        f"/api/v1/activations/{token}",
        json={
            **profile,
            "function": None,
            "office_phone": None,
            "mobile_phone": None,
            "password": password,
        },
    )


def active_user(portal: Portal, password: str, *, level: int = 1) -> dict[str, Any]:
    """A user invited and activated with `password`."""
    user = invite(portal, level=level)
    answer = activate(portal, user, password)
    assert answer.status_code == 201, answer.get_json()
    return user


def sign_in(portal: Portal, email: str, password: str) -> Any:
    return portal.client.post("/api/v1/session", json={"email": email, "password": password})
