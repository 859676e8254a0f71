"""The gateway on SQLite and memory://, in front of fake services (small Flask apps that record calls)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask, Response, jsonify, request

from bus.clock import FakeClock
from bus.config import Settings
from bus.envelope import Envelope
from bus.http_client import ServiceClient
from gateway.bootstrap import build
from gateway.entrypoints.api import create_app

SERVICE_TOKEN = "dev-service-token"
OPERATOR = {"Authorization": "Bearer dev-operator-token"}


@dataclass
class Call:
    method: str
    path: str
    args: dict[str, str]
    headers: dict[str, str]
    json: Any


class FakeService:
    """A service's internal API, faked: routes answer what the test says and every call is recorded."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[Call] = []
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = []
        self.app = Flask(f"fake-{name}")
        self.app.add_url_rule(
            "/<path:path>", "any", self._dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
        )

    def on(self, method: str, pattern: str, answer: Any = None, status: int = 200) -> None:
        """Answer `method pattern` ({name} matches one path segment) with a callable or a fixed body."""
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        handler = answer if callable(answer) else (lambda **_: (answer, status))
        self.routes.insert(0, (method, regex, handler))

    def _dispatch(self, path: str) -> Any:
        if request.headers.get("Authorization") != f"Bearer {SERVICE_TOKEN}":
            return problem(401, "no service token")
        self.calls.append(
            Call(
                request.method,
                "/" + path,
                dict(request.args),
                dict(request.headers),
                request.get_json(silent=True),
            )
        )
        for method, regex, handler in self.routes:
            found = regex.match("/" + path)
            if method == request.method and found:
                body, status = handler(**found.groupdict())
                if isinstance(body, Response):
                    return body
                if status == 204 or body is None:
                    return "", status
                return jsonify(body), status
        return problem(404, f"fake {self.name} has no route for {request.method} /{path}")

    def client(self) -> ServiceClient:
        return ServiceClient(self.name, app=self.app, token=SERVICE_TOKEN)

    def paths(self) -> list[str]:
        return [f"{c.method} {c.path}" for c in self.calls]


def problem(status: int, detail: str, **extra: Any) -> tuple[Any, int]:
    return {
        "type": "about:blank",
        "title": "Problem",
        "status": status,
        "detail": detail,
        **extra,
    }, status


def new_id() -> str:
    return str(uuid.uuid4())


def user_shape(user_id: str, account_id: str, email: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": user_id,
        "account_id": account_id,
        "email": email,
        "title": "MME",
        "last_name": "Martin",
        "first_name": "Alice",
        "language": "en-GB",
        "function": None,
        "office_phone": None,
        "mobile_phone": None,
        "password_level": 2,
        "status": "active",
        "is_administrator": False,
        "created_at": "2024-12-01T10:00:00Z",
        "activated_at": "2024-12-01T11:00:00Z",
        "last_sign_in_at": "2024-12-20T08:00:00Z",
        **extra,
    }


@dataclass
class Harness:
    app: Flask
    part: Any
    clock: FakeClock
    fakes: dict[str, FakeService]
    users: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def client(self) -> Any:
        return self.app.test_client()

    @property
    def identity(self) -> FakeService:
        return self.fakes["identity"]

    @property
    def subscriptions(self) -> FakeService:
        return self.fakes["subscriptions"]

    def feed(self, type_: str, data: dict[str, Any], **envelope: Any) -> Envelope:
        event = Envelope(type=type_, data=data, producer="test", **envelope)
        outcome = self.part.processor().process(event.to_json())
        assert outcome.kind in ("handled", "duplicate"), outcome
        return event

    def account(self, number: str | None = None, parent_id: str | None = None) -> str:
        account_id = new_id()
        self.feed(
            "identity.account.created",
            {
                "account_id": account_id,
                "number": number or str(uuid.uuid4().int)[:8],
                "name": f"Account {number}",
                "parent_id": parent_id,
                "relation": "shop" if parent_id else None,
            },
        )
        return account_id

    def holding(
        self,
        user_id: str,
        account_id: str,
        *,
        status: str = "accepted",
        administers: str | None = None,
        supervises: bool = False,
        gates: str | None = None,
        expires_on: str | None = None,
        subscription_id: str | None = None,
        title: str = "A service",
        code: str = "a_service",
        **envelope: Any,
    ) -> str:
        subscription_id = subscription_id or new_id()
        self.feed(
            f"subscriptions.subscription.{'requested' if status == 'pending' else status}",
            {
                "subscription_id": subscription_id,
                "account_id": account_id,
                "user_id": user_id,
                "service_id": new_id(),
                "service_code": code,
                "service_title": title,
                "family": "administrative",
                "status": status,
                "expires_on": expires_on,
                "administers_account_id": administers,
                "supervises": supervises,
                "gates": gates,
            },
            **envelope,
        )
        return subscription_id

    def user(
        self,
        account_id: str,
        *,
        admin: bool = False,
        password: str = "Secret-pass-1",
        password_change_required: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        user_id = new_id()
        email = f"{user_id[:8]}@example.com"
        user = user_shape(user_id, account_id, email, is_administrator=admin, **extra)
        self.users[email] = {"user": user, "password": password, "pcr": password_change_required}
        if admin:
            self.holding(
                user_id, account_id, administers=account_id, code=f"user_admin:{account_id}"
            )
        return user

    def sign_in(self, user: dict[str, Any], **headers: str) -> dict[str, Any]:
        password = self.users[user["email"]]["password"]
        response = self.client.post(
            "/api/v1/session", json={"email": user["email"], "password": password}, headers=headers
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()


def bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['token']}"}


def install_identity_defaults(h: Harness) -> None:
    identity = h.identity

    def sign_in() -> tuple[Any, int]:
        body = request.get_json()
        known = h.users.get(body["email"])
        if known is None or known["password"] != body["password"]:
            return problem(401, "The e-mail or the password is not right.")
        if known["user"]["status"] == "locked":
            return problem(423, "This account is locked; reset your password to unlock it.")
        return {"user": known["user"], "password_change_required": known["pcr"]}, 200

    def get_user(user_id: str) -> tuple[Any, int]:
        for known in h.users.values():
            if known["user"]["id"] == user_id:
                account = {
                    "id": known["user"]["account_id"],
                    "number": "1",
                    "name": "A",
                    "parent_id": None,
                    "relation": None,
                }
                return {**known["user"], "account": account}, 200
        return problem(404, "No such user.")

    identity.on("POST", "/internal/sign-in", lambda: sign_in())
    identity.on("GET", "/internal/users/{user_id}", get_user)
    identity.on("POST", "/internal/users/{user_id}/password", None, 204)
    identity.on("POST", "/internal/password-resets", {"detail": "sent if known"}, 202)


@pytest.fixture
def make_gateway(tmp_path, prefix) -> Callable[..., Harness]:
    built: list[Harness] = []

    def make(**env: str) -> Harness:
        extra = {k: str(v) for k, v in env.items()}
        settings = Settings(
            part="gateway",
            database_url=f"sqlite:///{tmp_path}/gateway-{len(built)}.db",
            broker_url="memory://",
            bus_prefix=prefix,
            extra=extra,
            public_url=extra.get("PORTICO_PUBLIC_URL", "http://127.0.0.1:8000"),
        )
        fakes = {
            name: FakeService(name)
            for name in ("identity", "subscriptions", "importer", "notifications")
        }
        part = build(settings, {name: fake.client() for name, fake in fakes.items()})
        part.migrate()
        clock = FakeClock(datetime(2025, 1, 6, 9, 0, tzinfo=UTC))
        part.clock = clock
        app = create_app(part)
        harness = Harness(app, part, clock, fakes)
        install_identity_defaults(harness)
        built.append(harness)
        return harness

    return make


@pytest.fixture
def gw(make_gateway) -> Harness:
    return make_gateway()
