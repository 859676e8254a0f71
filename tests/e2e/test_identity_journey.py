"""The identity journeys of the manual, end to end: gateway → services → RabbitMQ → PostgreSQL → SMTP.

An operator opens an account and its administrator; the activation e-mail crosses every hop;
the wizard completes and the administrator signs in at once, administers the account as soon
as the grant has propagated, and creates a user. Five failed sign-ins lock that user; a reset
link by e-mail unlocks it. The helpers here are shared with the subscription journey.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Cluster, eventually
from tests.waiting_kit import DEADLINE

pytestmark = pytest.mark.e2e
# The propagation-lag check runs after these journeys, on the same cluster.
pytest_plugins = ("tests.e2e.conftest_propagation",)

PASSWORD = "Quartz!Meadow7River"  # fits level 2 and shares no 3-letter run with the names below
NEW_PASSWORD = "Copper#Lantern42Sky"
ADMIN = {"title": "MME", "last_name": "Lovelace", "first_name": "Ada", "language": "en-US"}
USER = {"title": "M", "last_name": "Kilburn", "first_name": "Tom", "language": "en-GB"}
MAIL_TIMEOUT = DEADLINE


def unique_email(role: str) -> str:
    return f"{role}-{uuid.uuid4().hex[:10]}@example.com"


def own_source_address() -> str:
    """A loopback address of this journey alone, so that the gateway's per-IP sign-in limits
    count its attempts apart from those of the other tests sharing the cluster."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Portal:
    """One person's HTTP client to the gateway (own source address), plus the cluster's mail."""

    cluster: Cluster
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        transport = httpx.HTTPTransport(local_address=own_source_address())
        self.http = httpx.Client(base_url=self.cluster.gateway_url, transport=transport, timeout=30)

    def close(self) -> None:
        self.http.close()

    def link_token(self, email: str, subject: str, page: str, after: int) -> str:
        """The token of the `{PORTICO_PUBLIC_URL}/{page}/{token}` link of the e-mail to `email`."""
        mail = self.cluster.mail.wait_for_mail(
            to=email, subject_contains=subject, timeout=MAIL_TIMEOUT, after=after
        )
        prefix = f"{self.cluster.gateway_url}/{page}/"
        links = [link for link in mail.links if link.startswith(prefix)]
        assert links, f"no {prefix}<token> link in the e-mail {mail.subject!r}:\n{mail.text}"
        token = links[0].removeprefix(prefix).rstrip(".")
        assert token and "/" not in token, links[0]
        return token

    def sign_in(self, email: str, password: str, expect: int = 201) -> httpx.Response:
        response = self.http.post("/api/v1/session", json={"email": email, "password": password})
        assert response.status_code == expect, (
            f"sign-in of {email}: {response.status_code} {response.text}"
        )
        return response

    def session(self, email: str, password: str = PASSWORD) -> dict[str, str]:
        return bearer(self.sign_in(email, password).json()["token"])

    def activate(
        self, email: str, token: str, profile: dict[str, Any], password: str = PASSWORD
    ) -> dict[str, Any]:
        body = {
            **profile,
            "function": profile.get("function"),
            "office_phone": None,
            "mobile_phone": None,
            "password": password,
        }
        response = self.http.post(f"/api/v1/activations/{token}", json=body)
        assert response.status_code == 201, response.text
        user = response.json()
        assert user["email"].lower() == email.lower() and user["status"] == "active", user
        return user


@pytest.fixture
def portal(cluster: Cluster):
    opened = Portal(cluster)
    yield opened
    opened.close()


def create_account(portal: Portal, name: str) -> dict[str, Any]:
    account = portal.cluster.create_account(name)  # operator API, fresh client number; asserts 201
    assert account["name"] == name and account["id"], account
    return account


def create_administrator(
    portal: Portal, account: dict[str, Any], email: str
) -> tuple[dict[str, Any], int]:
    """The operator creates the account's administrator; returns the user and the mailbox index
    from which its activation e-mail is to be looked for."""
    before = len(portal.cluster.mail)
    response = portal.http.post(
        f"/api/v1/operator/accounts/{account['number']}/administrators",
        json={"email": email, **ADMIN},
        headers=portal.cluster.operator_headers,
    )
    assert response.status_code == 201, (
        f"POST …/administrators: {response.status_code} {response.text}"
    )
    admin = response.json()
    assert admin["account_id"] == account["id"] and admin["status"] == "pending_activation", admin
    return admin, before


def wait_until_administrator(portal: Portal, headers: dict[str, str], account_id: str) -> None:
    """The gateway's projection (fed by subscriptions' events) says the caller administers the account."""

    def administers() -> bool:
        response = portal.http.get("/api/v1/accounts", headers=headers)
        assert response.status_code == 200, response.text
        roles = {item["id"]: item.get("role") for item in response.json()["items"]}
        assert roles.get(account_id) == "administrator", f"GET /api/v1/accounts: {roles}"
        return True

    eventually(
        administers, timeout=DEADLINE, what="the administration grant in the gateway's projection"
    )


def administered_account(portal: Portal, name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A new account with its administrator activated, signed in and administering it."""
    account = create_account(portal, name)
    email = unique_email("admin")
    _, before = create_administrator(portal, account, email)
    token = portal.link_token(email, "Your account activation link", "activate", before)
    portal.activate(email, token, ADMIN)
    headers = portal.session(email)
    wait_until_administrator(portal, headers, account["id"])
    return account, headers


def create_active_user(
    portal: Portal, account_id: str, admin: dict[str, str], email: str, password_level: int = 2
) -> dict[str, Any]:
    before = len(portal.cluster.mail)
    response = portal.http.post(
        f"/api/v1/accounts/{account_id}/users",
        headers=admin,
        json={"email": email, **USER, "function": "Accountant", "password_level": password_level},
    )
    assert response.status_code == 201, f"POST …/users: {response.status_code} {response.text}"
    token = portal.link_token(email, "Your account activation link", "activate", before)
    return portal.activate(email, token, {**USER, "function": "Accountant"})


# --- the journeys -----------------------------------------------------------------------------


def test_an_operator_opened_account_is_administered_by_its_activated_administrator(portal):
    cluster = portal.cluster
    account = create_account(portal, "Journey Identity Ltd")
    admin_email = unique_email("admin")
    admin, before = create_administrator(portal, account, admin_email)
    created = time.monotonic()

    # The grant travels identity.user.created → subscriptions → subscription.accepted → gateway.
    def projected() -> Any:
        rows = cluster.query(
            "gateway",
            "SELECT occurred_at, applied_at FROM holdings WHERE user_id = :u AND administers_account_id = :a"
            " AND status = 'accepted' AND NOT supervises",
            u=admin["id"],
            a=account["id"],
        )
        return rows[0] if rows else None

    # how fast is a performance claim (`make bench`), printed here; that it arrives is the test
    row = eventually(
        projected,
        timeout=DEADLINE,
        interval=0.02,
        what="the administrator in the gateway's projection",
    )
    elapsed = time.monotonic() - created
    print(
        f"administration grant projected {elapsed:.3f}s after the operator's 201 "
        f"(applied_at - occurred_at = {(row.applied_at - row.occurred_at).total_seconds():.3f}s)"
    )

    # The activation e-mail, its link, the wizard's pre-filled data and rules.
    token = portal.link_token(admin_email, "Your account activation link", "activate", before)
    wizard = portal.http.get(f"/api/v1/activations/{token}")
    assert wizard.status_code == 200, wizard.text
    data = wizard.json()
    assert data["email"].lower() == admin_email
    assert {k: data[k] for k in ADMIN} == ADMIN
    assert data["password_level"] == 2
    rules = data["password_rules"]
    assert rules and all(rule.get("code") and rule.get("text") for rule in rules), rules
    assert any("8 characters" in rule["text"] for rule in rules), rules

    portal.activate(admin_email, token, {**ADMIN, "function": "Director"})
    signed = portal.sign_in(admin_email, PASSWORD)  # at once: no propagation wait before signing in
    body = signed.json()
    assert body["user"]["id"] == admin["id"] and body["token"] and body["csrf_token"]
    headers = bearer(body["token"])
    wait_until_administrator(portal, headers, account["id"])

    user_email = unique_email("user")
    user_body = {"email": user_email, **USER, "function": "Accountant", "password_level": 2}
    response = portal.http.post(
        f"/api/v1/accounts/{account['id']}/users", headers=headers, json=user_body
    )
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["account_id"] == account["id"] and user["status"] == "pending_activation", user
    assert user["propagation"]["status"] in ("pending", "applied"), user

    for again in (user_email, user_email.upper()):
        refused = portal.http.post(
            f"/api/v1/accounts/{account['id']}/users",
            headers=headers,
            json={**user_body, "email": again},
        )
        assert refused.status_code == 409, f"{again}: {refused.status_code} {refused.text}"
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "The user already exists" in refused.json()["detail"], refused.json()


def test_five_failed_sign_ins_lock_a_user_and_a_reset_by_email_unlocks_it(portal):
    cluster = portal.cluster
    account, admin = administered_account(portal, "Journey Lockout Ltd")
    email = unique_email("user")
    create_active_user(portal, account["id"], admin, email)

    # Before the lock, an unknown address and a wrong password get the very same answer.
    wrong = portal.sign_in(email, "Not-the-password-1", expect=401)
    unknown = portal.sign_in(unique_email("nobody"), "Not-the-password-1", expect=401)
    assert wrong.json() == unknown.json(), (wrong.json(), unknown.json())
    assert wrong.headers["content-type"] == unknown.headers["content-type"]

    answers = [wrong.status_code]
    for attempt in range(2, 6):
        answers.append(
            portal.http.post(
                "/api/v1/session", json={"email": email, "password": f"Not-the-password-{attempt}"}
            ).status_code
        )
    assert answers == [401, 401, 401, 401, 423], f"answers to 5 wrong passwords: {answers}"

    locked = portal.sign_in(email, PASSWORD, expect=423)  # the right password no longer opens it
    detail = locked.json()["detail"]
    assert (
        "locked" in detail.lower() and "password" in detail.lower() and "unlock" in detail.lower()
    ), detail
    eventually(
        lambda: cluster.query(
            "identity", "SELECT 1 FROM users WHERE lower(email) = :e AND status = 'locked'", e=email
        ),
        timeout=DEADLINE,
        what="the user locked in identity",
    )

    before = len(cluster.mail)
    asked = portal.http.post("/api/v1/password-resets", json={"email": email})
    assert asked.status_code == 202, asked.text
    token = portal.link_token(email, "Reset your password", "reset-password", before)
    done = portal.http.post(f"/api/v1/password-resets/{token}", json={"password": NEW_PASSWORD})
    assert done.status_code == 204, done.text

    signed = portal.sign_in(email, NEW_PASSWORD)
    assert signed.json()["user"]["status"] == "active", signed.json()
    again = portal.http.post(
        f"/api/v1/password-resets/{token}", json={"password": "Another#Pass99"}
    )
    assert again.status_code == 410, f"a reset link used twice: {again.status_code} {again.text}"
