"""Demo data of the embedded mode, loaded on the first start through the gateway's own API.

Everything goes through the public API (operator endpoints, activation links, sign-in,
administration), so loading the demo exercises the real paths. A step that a service cannot
do yet is reported and skipped; the demo is loaded again on the next start until it is
complete (steps that already happened are recognised and not repeated).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from queue import Empty
from typing import Any, TextIO

from bus.broker import Broker
from bus.http_client import ServiceClient
from bus.login import login_key
from portico.runtime import Embedded

PASSWORD = "Welcome-Harbour-42"
PARENT = {"number": "90293531", "name": "Retail IT Limited"}
SHOP = {
    "number": "90293532",
    "name": "Retail IT Shop London",
    "parent_number": "90293531",
    "relation": "shop",
}
ADMINS = {
    "90293531": {
        "email": "claire.dubois@retail-it.example",
        "title": "MME",
        "last_name": "Dubois",
        "first_name": "Claire",
        "language": "en-GB",
        "password_level": 2,
    },
    "90293532": {
        "email": "olivier.laurent@retail-it.example",
        "title": "M",
        "last_name": "Laurent",
        "first_name": "Olivier",
        "language": "fr-FR",
        "password_level": 2,
    },
}
USERS = [  # (user, what becomes of them)
    (
        {
            "email": "sophie.bernard@retail-it.example",
            "title": "MME",
            "last_name": "Bernard",
            "first_name": "Sophie",
            "language": "en-GB",
            "function": "Accountant",
            "password_level": 1,
        },
        "active",
    ),
    (
        {
            "email": "thomas.petit@retail-it.example",
            "title": "M",
            "last_name": "Petit",
            "first_name": "Thomas",
            "language": "fr-FR",
            "function": "Buyer",
            "password_level": 1,
        },
        "pending_activation",
    ),
    (
        {
            "email": "julie.moreau@retail-it.example",
            "title": "MLE",
            "last_name": "Moreau",
            "first_name": "Julie",
            "language": "en-US",
            "function": "Sales",
            "password_level": 2,
        },
        "locked",
    ),
]
VALIDATED = (
    "community_area",
    "product_roadmap",
)  # made subject to validation in the parent's catalog
REQUESTED = ("invoice_viewing", "community_area")  # asked for by the active user: pending requests
GRANTED = (
    "invoice_viewing",
    "planning_of_services",
    "products_and_contracts_viewing",
    "intervention_reports_viewing",
)  # granted to the parent's administrator


class StepFailed(Exception):
    """A demo step the running services could not do; the message says what answered."""


ACTIVATION = re.compile(r"/activate/([A-Za-z0-9_.~-]+)")


class LinkListener:
    """The activation links identity issues, heard on the embedded bus by a queue of the demo's own.

    The queue is bound before the demo creates anyone, so every link it causes reaches it; it is
    read without waiting (the demo polls it within its own deadline).
    """

    QUEUE = "demo-links"

    def __init__(self, broker: Broker) -> None:
        self.connection = broker.connection()
        queue = broker.topology.queue(self.QUEUE, ["identity.link.issued"])
        self.queue = self.connection.SimpleQueue(queue)
        self.tokens: dict[str, str] = {}

    def token(self, email: str) -> str | None:
        while True:
            try:
                message = self.queue.get(block=False)
            except Empty:
                break
            body = (
                message.payload
                if isinstance(message.payload, dict)
                else json.loads(message.payload)
            )
            message.ack()
            data = body.get("data", {})
            found = ACTIVATION.search(str(data.get("link_url", "")))
            if data.get("purpose") == "activation" and found:
                self.tokens[login_key(str(data.get("recipient", "")))] = found.group(1)
        return self.tokens.get(login_key(email))

    def close(self) -> None:
        self.queue.close()
        self.connection.release()


@dataclass
class Demo:
    embedded: Embedded
    timeout: float = 15.0
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = self.embedded.gateway.test_client()
        token = self.embedded.parts["gateway"].settings.operator_token
        self.operator = {"Authorization": f"Bearer {token}"}
        self.links = LinkListener(self.embedded.parts["identity"].broker)

    # --- plumbing ------------------------------------------------------------------------------

    def call(self, method: str, path: str, expect: tuple[int, ...], **kwargs: Any) -> Any:
        response = self.http.open(path, method=method, **kwargs)
        if response.status_code not in expect:
            body = response.get_json(silent=True) or {}
            raise StepFailed(
                f"{method} {path} answered {response.status_code}: "
                f"{body.get('detail') or response.get_data(as_text=True)[:200]}"
            )
        return response.get_json(silent=True)

    def step(
        self, what: str, action: Callable[[], Any], told: Callable[[Any], str] | None = None
    ) -> Any:
        """Run one step; `told` words what came of it (else `what` is printed as it is)."""
        try:
            result = action()
        except StepFailed as exc:
            self.skipped.append(f"{what}: {exc}")
            return None
        except Exception as exc:  # noqa: BLE001 - an unfinished service must not stop the portal
            self.skipped.append(f"{what}: {type(exc).__name__}: {exc}")
            return None
        self.done.append(told(result) if told else what)
        return result

    def wait_for(self, what: str, probe: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            found = probe()
            if found:
                return found
            time.sleep(0.1)
        raise StepFailed(f"{what} did not happen within {self.timeout:g} s")

    # --- steps ---------------------------------------------------------------------------------

    def account(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post("/api/v1/operator/accounts", json=body, headers=self.operator)
        if response.status_code == 409:
            return self.call(
                "GET", f"/api/v1/operator/accounts/{body['number']}", (200,), headers=self.operator
            )
        if response.status_code != 201:
            raise StepFailed(
                f"creating account {body['number']} answered {response.status_code}: "
                f"{(response.get_json(silent=True) or {}).get('detail')}"
            )
        return response.get_json()

    def administrator(self, number: str) -> None:
        body = ADMINS[number]
        response = self.http.post(
            f"/api/v1/operator/accounts/{number}/administrators", json=body, headers=self.operator
        )
        if response.status_code not in (201, 409):
            raise StepFailed(
                f"answered {response.status_code}: {(response.get_json(silent=True) or {}).get('detail')}"
            )
        if response.status_code == 201:
            self.activate(body)

    def activate(self, person: dict[str, Any]) -> None:
        token = self.wait_for(
            f"the activation e-mail to {person['email']}",
            lambda: self.activation_token(person["email"]),
        )
        profile = {
            k: person.get(k) for k in ("title", "last_name", "first_name", "language", "function")
        }
        self.call(
            "POST",
            f"/api/v1/activations/{token}",
            (201,),
            json={**profile, "office_phone": None, "mobile_phone": None, "password": PASSWORD},
        )

    def activation_token(self, email: str) -> str | None:
        """The token of the latest activation link sent to `email`: heard on the bus, else the mailbox.

        Identity's outbox keeps no link once it is published (its token is blanked), and with an
        SMTP server there is no mailbox: the demo listens to `identity.link.issued` as any consumer
        would. The mailbox covers a link sent before this start (a demo loaded again).
        """
        return self.links.token(email) or self.token_from_mailbox(email)

    def token_from_mailbox(self, email: str) -> str | None:
        app = self.embedded.apps.get("notifications")
        if app is None:
            return None
        client = ServiceClient(
            "notifications", app=app, token=self.embedded.parts["gateway"].settings.service_token
        )
        try:
            mails = client.get("/internal/mailbox", params={"to": email, "per_page": 20})
            for mail in (mails or {}).get("items", []):
                text = " ".join(
                    str(v) for v in client.get(f"/internal/mailbox/{mail['id']}").values()
                )
                found = ACTIVATION.search(text)
                if found:
                    return found.group(1)
        except Exception:  # noqa: BLE001 - the mailbox may not be built yet
            return None
        return None

    def sign_in(self, email: str) -> dict[str, str]:
        session = self.call(
            "POST", "/api/v1/session", (201,), json={"email": email, "password": PASSWORD}
        )
        return {"Authorization": f"Bearer {session['token']}"}

    def administering(self, email: str, account_id: str) -> dict[str, str]:
        """Sign in, then wait until the gateway's projection knows the administration service."""
        headers = self.sign_in(email)

        def reached() -> bool:
            found = self.call("GET", "/api/v1/accounts", (200,), headers=headers)
            return any(a["id"] == account_id for a in found["items"])

        self.wait_for(f"{email} becoming administrator in the portal", reached)
        return headers

    def services(self, account_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
        return self.call(
            "GET", f"/api/v1/accounts/{account_id}/services?per_page=200", (200,), headers=headers
        )["items"]

    def users(self, account_id: str, headers: dict[str, str]) -> None:
        for person, fate in USERS:
            created = self.http.post(
                f"/api/v1/accounts/{account_id}/users",
                headers=headers,
                json={k: v for k, v in person.items()},
            )
            if created.status_code == 409:
                continue
            if created.status_code != 201:
                raise StepFailed(
                    f"creating {person['email']} answered {created.status_code}: "
                    f"{(created.get_json(silent=True) or {}).get('detail')}"
                )
            if fate in ("active", "locked"):
                self.activate(person)
            if fate == "locked":
                for _ in range(6):
                    self.http.post(
                        "/api/v1/session",
                        json={"email": person["email"], "password": "not-the-password"},
                    )

    def validation(self, account_id: str, headers: dict[str, str]) -> None:
        ids = [s["id"] for s in self.services(account_id, headers) if s.get("code") in VALIDATED]
        if not ids:
            raise StepFailed("none of the services to validate is in the catalog")
        self.call(
            "PATCH",
            f"/api/v1/accounts/{account_id}/services",
            (200,),
            headers=headers,
            json={"service_ids": ids, "requires_validation": True},
        )

    def requests(self, account_id: str, headers: dict[str, str]) -> dict[str, str]:
        """The active user asks for REQUESTED; returns each service's status as it came out (a service
        the account gives automatically is already accepted, not pending)."""
        wanted = {
            s["code"]: s["id"]
            for s in self.services(account_id, headers)
            if s.get("code") in REQUESTED
        }
        email = USERS[0][0]["email"]
        member = self.sign_in(email)

        def asked(service_id: str) -> bool:
            """The request made; False while the subscriptions service has not yet heard of the
            user (a 404 that changes nothing: asked again)."""
            response = self.http.post(
                "/api/v1/me/subscriptions", headers=member, json={"service_id": service_id}
            )
            if response.status_code in (201, 202, 409):
                return True
            if response.status_code == 404:
                return False
            body = response.get_json(silent=True) or {}
            raise StepFailed(
                f"POST /api/v1/me/subscriptions answered {response.status_code}: {body.get('detail')}"
            )

        for code in REQUESTED:
            if code in wanted:
                self.wait_for(
                    f"{email} known to the subscriptions service",
                    lambda service_id=wanted[code]: asked(service_id),
                )
        held = self.call("GET", "/api/v1/me/subscriptions?per_page=200", (200,), headers=member)[
            "items"
        ]
        return {
            sub["service"]["code"]: sub["status"]
            for sub in held
            if sub["service"].get("code") in wanted
        }

    def grants(self, parent_id: str, shop_id: str | None, headers: dict[str, str]) -> None:
        me = self.call("GET", "/api/v1/me", (200,), headers=headers)
        catalog = self.services(parent_id, headers)
        ids = [s["id"] for s in catalog if s.get("code") in GRANTED]
        ids += [
            s["id"]
            for s in catalog
            if s.get("supervises") or str(s.get("code", "")).startswith("user_admin_supervision")
        ]
        self.call(
            "POST",
            f"/api/v1/accounts/{parent_id}/users/{me['id']}/subscriptions",
            (201, 409),
            headers=headers,
            json={"service_ids": ids},
        )

    # --- the whole demo ------------------------------------------------------------------------

    def load(self) -> bool:
        parent = self.step(
            f"account {PARENT['number']} {PARENT['name']}", lambda: self.account(PARENT)
        )
        shop = (
            self.step(
                f"account {SHOP['number']} {SHOP['name']} (a shop of {PARENT['number']})",
                lambda: self.account(SHOP),
            )
            if parent
            else None
        )
        for number, account in ((PARENT["number"], parent), (SHOP["number"], shop)):
            if account:
                self.step(
                    f"administrator {ADMINS[number]['email']} of {number}, activated",
                    lambda number=number: self.administrator(number),
                )
        admin = parent and self.step(
            "the administrator's session",
            lambda: self.administering(ADMINS[PARENT["number"]]["email"], parent["id"]),
        )
        if admin:
            self.step(
                "users in several statuses (active, pending activation, locked)",
                lambda: self.users(parent["id"], admin),
            )
            self.step(
                f"services subject to validation: {', '.join(VALIDATED)}",
                lambda: self.validation(parent["id"], admin),
            )
            self.step(
                f"requests by {USERS[0][0]['email']}: {', '.join(REQUESTED)}",
                lambda: self.requests(parent["id"], admin),
                told=requests_told,
            )
            self.step(
                "gated content and the shop's supervision granted to the administrator",
                lambda: self.grants(parent["id"], shop and shop["id"], admin),
            )
        return not self.skipped


def requests_told(statuses: dict[str, str]) -> str:
    """The requests step as it came out: 'pending' only for what waits for an administrator."""
    pending = [code for code in REQUESTED if statuses.get(code) == "pending"]
    granted = [code for code in REQUESTED if statuses.get(code) == "accepted"]
    line = f"requests by {USERS[0][0]['email']}: pending {', '.join(pending) or 'none'}"
    if granted:
        line += f"; already granted automatically {', '.join(granted)}"
    return line


def load_once(embedded: Embedded, print_to: TextIO, *, timeout: float = 15.0) -> bool:
    """Load the demo unless a previous start completed it; print what was loaded and how to sign in."""
    marker = embedded.data_dir / ".demo-loaded"
    if marker.exists():
        return True
    demo = Demo(embedded, timeout=timeout)
    try:
        complete = demo.load()
    finally:
        demo.links.close()
    if complete:
        marker.write_text("loaded\n")
    report(demo, complete, print_to)
    return complete


def report(demo: Demo, complete: bool, out: TextIO) -> None:
    print(
        "Demo data "
        + ("loaded:" if complete else "partly loaded (the rest is tried again on next start):"),
        file=out,
    )
    for line in demo.done:
        print(f"  + {line}", file=out)
    for line in demo.skipped:
        print(f"  - skipped {line}", file=out)
    if demo.done:
        print("Sign in (POST /api/v1/session) with the password " + PASSWORD + " as:", file=out)
        print(
            f"  {ADMINS[PARENT['number']]['email']}  administrator of {PARENT['number']}, supervisor of its shop",
            file=out,
        )
        print(
            f"  {ADMINS[SHOP['number']]['email']}  administrator of the shop {SHOP['number']}",
            file=out,
        )
        print(
            f"  {USERS[0][0]['email']}  a user of {PARENT['number']} with pending requests",
            file=out,
        )
    out.flush()
