"""Fixtures of the identity service tests: the part on a SQLite file, memory:// bus, a fake clock,
a cheap hasher, and a driver with factories (accounts, users, administrators) and outbox readers."""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from bus.clock import FakeClock
from bus.config import Settings
from bus.envelope import Envelope
from services.identity.bootstrap import build
from services.identity.domain.hashing import Argon2Hasher
from services.identity.entrypoints.api import create_app

PASSWORD = "Blue-Kettle-Sings-7"
_numbers = itertools.count(10_000_000)


@pytest.fixture(scope="session")
def cheap_hasher() -> Argon2Hasher:
    """Argon2id with the smallest parameters, where the cost does not matter."""
    return Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1)


class Driver:
    """The identity service under test, and the steps tests repeat."""

    def __init__(self, part: Any) -> None:
        self.part = part
        self.clock: FakeClock = part.clock
        self.client = create_app(part).test_client()
        self.headers = {"Authorization": f"Bearer {part.settings.service_token}"}

    # --- HTTP
    def call(
        self, method: str, path: str, json: Any = None, actor: str | None = None, **kw: Any
    ) -> Any:
        headers = dict(self.headers)
        if actor:
            headers["X-Portico-Actor"] = actor
        return self.client.open(path, method=method, json=json, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, json, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.call("PATCH", path, json, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.call("DELETE", path, **kw)

    # --- the outbox
    def envelopes(self, type_: str | None = None) -> list[dict[str, Any]]:
        table = self.part.outbox_table
        query = sa.select(table.c.body).order_by(table.c.seq)
        if type_:
            query = query.where(table.c.type == type_)
        with self.part.engine.connect() as conn:
            return [json.loads(body) for body in conn.execute(query).scalars()]

    def carry_out(self, type_: str) -> int:
        """Handle the commands identity sent itself (`type_`, in its outbox), as its worker does;
        one handled before is a duplicate. How many were handled now."""
        processor = self.part.processor()
        handled = 0
        for envelope in self.envelopes(type_):
            outcome = processor.process(json.dumps(envelope))
            assert outcome.kind in ("handled", "duplicate"), outcome
            handled += outcome.kind == "handled"
        return handled

    def events(self, type_: str) -> list[dict[str, Any]]:
        return [envelope["data"] for envelope in self.envelopes(type_)]

    def last(self, type_: str) -> dict[str, Any]:
        found = self.events(type_)
        assert found, f"no {type_} event was published"
        return found[-1]

    def count(self, type_: str) -> int:
        return len(self.envelopes(type_))

    def rows(self, table: str, **where: Any) -> list[Any]:
        t = self.part.metadata.tables[table]
        query = sa.select(t).where(*(t.c[k] == v for k, v in where.items()))
        with self.part.engine.connect() as conn:
            return conn.execute(query).all()

    # --- the bus
    def process(self, type_: str, data: dict[str, Any], **kw: Any) -> Any:
        envelope = Envelope(type=type_, data=data, producer="test", **kw)
        return self.part.processor().process(envelope.to_json())

    # --- factories
    def account(self, **fields: Any) -> dict[str, Any]:
        body = {"number": str(next(_numbers)), "name": "Retail IT Limited", **fields}
        response = self.post("/internal/accounts", body, actor="operator")
        assert response.status_code == 201, response.json
        return response.json

    def user(self, account_id: str, **fields: Any) -> tuple[dict[str, Any], str]:
        """A user waiting for activation, and the token of their activation link."""
        body = {
            "email": f"u{uuid.uuid4().hex[:10]}@example.com",
            "title": "MME",
            "last_name": "Dupont",
            "first_name": "Lovana",
            "language": "en-US",
            "password_level": 2,
            **fields,
        }
        response = self.post(f"/internal/accounts/{account_id}/users", body, actor="admin-1")
        assert response.status_code == 201, response.json
        return response.json, self.token_of(response.json["id"], "activation")

    def links(self) -> list[dict[str, Any]]:
        """Every link issued, in order: identity.link.issued's, and those of identity.links.issued
        batches (an entry with its batch's purpose, account and resent)."""
        found = []
        for envelope in self.envelopes():
            data = envelope["data"]
            if envelope["type"] == "identity.link.issued":
                found.append(data)
            elif envelope["type"] == "identity.links.issued":
                head = {k: v for k, v in data.items() if k != "links"}
                found.extend({**head, **link} for link in data["links"])
        return found

    def token_of(self, user_id: str, purpose: str) -> str:
        links = [e for e in self.links() if e["user_id"] == user_id and e["purpose"] == purpose]
        assert links, f"no {purpose} link was issued to {user_id}"
        return links[-1]["link_url"].rsplit("/", 1)[1]

    def activation_body(self, password: str = PASSWORD, **fields: Any) -> dict[str, Any]:
        return {
            "title": "MME",
            "last_name": "Dupont",
            "first_name": "Lovana",
            "language": "en-US",
            "function": "IT Manager",
            "office_phone": "+33 1 23 45 67 89",
            "mobile_phone": None,
            "password": password,
            **fields,
        }

    def active_user(
        self, account_id: str, password: str = PASSWORD, **fields: Any
    ) -> dict[str, Any]:
        user, token = self.user(account_id, **fields)
        names = {name: user[name] for name in ("title", "last_name", "first_name", "language")}
        response = self.post(
            f"/internal/activations/{token}", self.activation_body(password, **names)
        )
        assert response.status_code == 201, response.json
        return response.json

    def sign_in(self, email: str, password: str = PASSWORD, **extra: Any) -> Any:
        body = {
            "email": email,
            "password": password,
            "ip": "192.0.2.7",
            "user_agent": "pytest",
            **extra,
        }
        return self.post("/internal/sign-in", body)

    def grant_admin(self, account_id: str, user_id: str, status: str = "accepted") -> str:
        subscription_id = str(uuid.uuid4())
        self.subscription_event(status, account_id, user_id, subscription_id)
        return subscription_id

    def subscription_event(
        self, status: str, account_id: str, user_id: str, subscription_id: str, **extra: Any
    ) -> Any:
        data = {
            "subscription_id": subscription_id,
            "account_id": account_id,
            "user_id": user_id,
            "service_id": str(uuid.uuid4()),
            "service_code": f"user_admin:{account_id}",
            "service_title": "User Management - Administration",
            "family": "management",
            "status": status,
            "administers_account_id": account_id,
            **extra,
        }
        outcome = self.process(f"subscriptions.subscription.{status}", data)
        assert outcome.kind == "handled", outcome
        return outcome


@pytest.fixture
def make_part(tmp_path, cheap_hasher):
    """make_part(**extra_settings) → a migrated identity part with a FakeClock and a cheap hasher."""
    made = []

    def make(**extra: str) -> Any:
        name = f"identity{len(made)}"
        settings = Settings(
            part="identity",
            database_url=f"sqlite:///{tmp_path}/{name}.db",
            broker_url="memory://",
            bus_prefix=f"t{uuid.uuid4().hex[:10]}",
            public_url="https://portal.example",
            extra=extra,
        )
        part = build(settings)
        part.clock = FakeClock()
        part.hasher = cheap_hasher
        part.migrate()
        made.append(part)
        return part

    yield make
    for part in made:
        part.engine.dispose()


@pytest.fixture
def svc(make_part) -> Driver:
    return Driver(make_part())


@pytest.fixture
def client(svc):
    return svc.client
