"""Factories for the subscriptions service's tests: the part on SQLite and memory://, a client
with the service token, accounts and users made by feeding identity's events through the
part's own message processor, and a reader of the outbox.
"""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from bus.clock import FakeClock
from bus.config import Settings
from bus.envelope import Envelope
from services.subscriptions.bootstrap import build
from services.subscriptions.entrypoints.api import create_app

_numbers = itertools.count(90_000_001)
START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def part(tmp_path, prefix, clock):
    settings = Settings(
        part="subscriptions",
        database_url=f"sqlite:///{tmp_path}/subscriptions.db",
        broker_url="memory://",
        bus_prefix=prefix,
    )
    instance = build(settings)
    instance.migrate()
    instance.clock = clock
    yield instance
    instance.engine.dispose()


class Api:
    """The Flask test client with the service token and, per call, who acts."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _headers(self, actor: str | None) -> dict[str, str]:
        headers = {"Authorization": "Bearer dev-service-token"}
        if actor:
            headers["X-Portico-Actor"] = actor
        return headers

    def get(self, path: str, actor: str | None = None, **params: Any) -> Any:
        return self.client.get(path, query_string=params, headers=self._headers(actor))

    def post(self, path: str, json: Any = None, actor: str | None = None, **kwargs: Any) -> Any:
        return self.client.post(path, json=json, headers=self._headers(actor), **kwargs)

    def put(self, path: str, json: Any = None, actor: str | None = None) -> Any:
        return self.client.put(path, json=json, headers=self._headers(actor))

    def patch(self, path: str, json: Any = None, actor: str | None = None) -> Any:
        return self.client.patch(path, json=json, headers=self._headers(actor))

    def delete(self, path: str, actor: str | None = None) -> Any:
        return self.client.delete(path, headers=self._headers(actor))


@pytest.fixture
def api(part) -> Api:
    return Api(create_app(part).test_client())


@pytest.fixture
def feed(part):
    """Process one identity event through the part's processor; returns (envelope, outcome)."""

    def send(type_: str, data: dict[str, Any], envelope: Envelope | None = None):
        envelope = envelope or Envelope(type=type_, data=data, producer="identity")
        return envelope, part.processor().process(envelope.to_json())

    return send


@pytest.fixture
def make_account(feed):
    """An account known to the service (identity.account.created, and .linked with a parent)."""

    def make(
        name: str | None = None, *, parent: dict | None = None, relation: str = "subsidiary"
    ) -> dict[str, Any]:
        number = str(next(_numbers))
        account = {
            "account_id": str(uuid.uuid4()),
            "number": number,
            "name": name or f"Client {number}",
            "parent_id": None,
            "relation": None,
        }
        _, outcome = feed("identity.account.created", account)
        assert outcome.kind == "handled", outcome
        if parent is not None:
            account = {
                **account,
                "parent_id": parent["account_id"],
                "relation": relation,
                "parent_number": parent["number"],
                "parent_name": parent["name"],
            }
            _, outcome = feed("identity.account.linked", account)
            assert outcome.kind == "handled", outcome
        return {**account, "id": account["account_id"]}

    return make


def user_data(account: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    user_id = str(uuid.uuid4())
    data = {
        "user_id": user_id,
        "account_id": account["id"],
        "email": f"{user_id[:8]}@example.com",
        "title": "MME",
        "last_name": f"Doe-{user_id[:4]}",
        "first_name": "Jane",
        "language": "en-US",
        "function": None,
        "password_level": 1,
        "status": "pending_activation",
        "source": "admin",
        "created_by": None,
        "grant_administration": False,
        "created_at": START.isoformat(),
    }
    data.update(overrides)
    return data


@pytest.fixture
def make_user(feed):
    """A user known to the service (identity.user.created); keyword arguments override fields."""

    def make(account: dict[str, Any], **overrides: Any) -> dict[str, Any]:
        data = user_data(account, **overrides)
        _, outcome = feed("identity.user.created", data)
        assert outcome.kind == "handled", outcome
        return {**data, "id": data["user_id"]}

    return make


@pytest.fixture
def make_admin(make_user):
    def make(account: dict[str, Any], **overrides: Any) -> dict[str, Any]:
        return make_user(account, grant_administration=True, source="operator", **overrides)

    return make


@pytest.fixture
def outbox(part):
    """The events written so far, optionally of one type: [{"id", "type", "data", ...}]."""

    def read(type_: str | None = None) -> list[dict[str, Any]]:
        table = part.outbox_table
        query = sa.select(table.c.body).order_by(table.c.seq)
        if type_:
            query = query.where(table.c.type == type_)
        with part.engine.connect() as conn:
            return [json.loads(body) for (body,) in conn.execute(query)]

    return read


@pytest.fixture
def services_of(api):
    """code → service (JSON) of an account's whole catalog."""

    def read(account: dict[str, Any]) -> dict[str, dict[str, Any]]:
        answer = api.get(f"/internal/accounts/{account['id']}/services", per_page=200)
        assert answer.status_code == 200, answer.json
        return {service["code"]: service for service in answer.json["items"]}

    return read


@pytest.fixture
def subscribe(api, services_of):
    """The user asks for the service with this code; returns the answer."""

    def ask(user: dict[str, Any], code: str, account: dict[str, Any] | None = None) -> Any:
        account = account or {"id": user["account_id"]}
        service_id = services_of(account)[code]["id"]
        return api.post(f"/internal/users/{user['id']}/subscriptions", {"service_id": service_id})

    return ask
