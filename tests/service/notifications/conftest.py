"""Fixtures of the notifications service tests: the part on SQLite and memory://, event
factories, and a real SMTP server (aiosmtpd) to deliver to."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from bus.clock import FakeClock
from bus.config import Settings
from bus.consumer import Outcome
from bus.envelope import Envelope
from services.notifications.adapters.orm import mailbox, outgoing
from services.notifications.bootstrap import build
from services.notifications.entrypoints.api import create_app
from services.notifications.service_layer.delivery import DeliveryLoop
from tests.service.notifications.smtp_sink import RecordingHandler, start_sink, url_of

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
PUBLIC_URL = "https://portal.example.test"
MAIL_FROM = "administrateur@portico.example.test"
PRODUCERS = {
    "identity": "identity",
    "subscriptions": "subscriptions",
    "importer": "importer",
    "content": "gateway",
}


class Notifications:
    """The part under test, fed with envelopes the way its bus worker would."""

    def __init__(self, part: Any) -> None:
        self.part = part
        self.clock: FakeClock = part.clock
        self.processor = part.processor()
        self.client = create_app(part).test_client()
        self.loops: list[DeliveryLoop] = []

    def feed(self, type_: str, data: dict[str, Any], *, envelope_id: str | None = None) -> Outcome:
        envelope = Envelope(
            type=type_,
            data=data,
            producer=PRODUCERS[type_.split(".")[0]],
            id=envelope_id or str(uuid.uuid4()),
        )
        self.last = envelope
        return self.processor.process(envelope.to_json())

    def rows(self, **where: Any) -> list[Any]:
        query = sa.select(outgoing).order_by(outgoing.c.id)
        for name, value in where.items():
            query = query.where(outgoing.c[name] == value)
        with self.part.engine.connect() as conn:
            return conn.execute(query).all()

    def mails(self) -> list[Any]:
        with self.part.engine.connect() as conn:
            return conn.execute(sa.select(mailbox).order_by(mailbox.c.id)).all()

    def loop(self) -> DeliveryLoop:
        loop = DeliveryLoop(self.part)
        self.loops.append(loop)
        return loop

    def deliver(self) -> int:
        return (self.loops[0] if self.loops else self.loop()).drain()

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(
            path, query_string=params, headers={"Authorization": "Bearer dev-service-token"}
        )


@pytest.fixture
def make_notifications(tmp_path, prefix):
    made: list[Notifications] = []

    def make(smtp_url: str | None = None, **extra: str) -> Notifications:
        settings = Settings(
            part="notifications",
            database_url=f"sqlite:///{tmp_path}/notifications-{len(made)}.db",
            broker_url="memory://",
            bus_prefix=prefix,
            public_url=PUBLIC_URL,
            smtp_url=smtp_url,
            mail_from=MAIL_FROM,
            extra=extra,
        )
        part = build(settings)
        part.migrate()
        part.clock = FakeClock(START)
        made.append(Notifications(part))
        return made[-1]

    yield make
    for harness in made:
        for loop in harness.loops:
            if loop.pool is not None:
                loop.pool.close()
        harness.part.engine.dispose()


@pytest.fixture
def notifications(make_notifications) -> Notifications:
    """The service in mailbox mode (no SMTP URL)."""
    return make_notifications()


@pytest.fixture
def smtp_server():
    """Start aiosmtpd servers on free ports; each one started is stopped at the end."""
    controllers = []

    def start(handler: RecordingHandler | None = None):
        controller = start_sink(handler or RecordingHandler())
        controllers.append(controller)
        return controller

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp_notifications(make_notifications, smtp_server):
    """(service delivering to a real SMTP server, that server's handler)."""

    def make(handler: RecordingHandler | None = None, **extra: str):
        handler = handler or RecordingHandler()
        controller = smtp_server(handler)
        return make_notifications(url_of(controller), **extra), handler

    return make


# -- event data factories -------------------------------------------------------------------------


def new_id() -> str:
    return str(uuid.uuid4())


def account_data(account_id: str, name: str = "RETAIL IT LIMITED", number: str = "C001") -> dict:
    return {"account_id": account_id, "number": number, "name": name}


def user_data(
    user_id: str,
    account_id: str,
    email: str | None,
    *,
    language: str = "en-US",
    first_name: str = "Steven",
    last_name: str = "MARKS",
    status: str = "active",
    **more: Any,
) -> dict:
    return {
        "user_id": user_id,
        "account_id": account_id,
        "email": email,
        "title": "M",
        "first_name": first_name,
        "last_name": last_name,
        "language": language,
        "password_level": 2,
        "status": status,
        **more,
    }


def subscription_data(user_id: str, account_id: str, status: str, **more: Any) -> dict:
    return {
        "subscription_id": more.pop("subscription_id", new_id()),
        "account_id": account_id,
        "user_id": user_id,
        "service_id": more.pop("service_id", "svc-invoices"),
        "service_code": more.pop("service_code", "invoice_viewing"),
        "service_title": more.pop("service_title", "Invoice viewing service"),
        "family": more.pop("family", "administrative"),
        "status": status,
        **more,
    }


@pytest.fixture
def people(notifications):
    """Make an account, users and administrators known to a service (default: mailbox mode)."""
    return People(notifications)


class People:
    def __init__(self, harness: Notifications) -> None:
        self.harness = harness

    def using(self, harness: Notifications) -> People:
        return People(harness)

    def account(self, name: str = "RETAIL IT LIMITED") -> str:
        account_id = new_id()
        outcome = self.harness.feed("identity.account.created", account_data(account_id, name))
        assert outcome.kind == "handled", outcome
        return account_id

    def user(self, account_id: str, email: str | None, **fields: Any) -> str:
        user_id = fields.pop("user_id", None) or new_id()
        data = user_data(user_id, account_id, email, **fields)
        data.update(source="admin", created_at=START.isoformat())
        outcome = self.harness.feed("identity.user.created", data)
        assert outcome.kind == "handled", outcome
        return user_id

    def admin(self, account_id: str, email: str, **fields: Any) -> str:
        user_id = self.user(account_id, email, **fields)
        self.grant(
            user_id,
            account_id,
            service_code=f"user_admin_{account_id[:8]}",
            service_title="User Management - Administration",
            family="management",
            administers_account_id=account_id,
            cause="administration_grant",
            granted_directly=True,
        )
        return user_id

    def grant(self, user_id: str, account_id: str, **fields: Any) -> str:
        data = subscription_data(user_id, account_id, "accepted", **fields)
        outcome = self.harness.feed("subscriptions.subscription.accepted", data)
        assert outcome.kind == "handled", outcome
        return data["subscription_id"]
