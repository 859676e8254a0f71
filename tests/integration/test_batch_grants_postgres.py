"""Batch grants on PostgreSQL, where they take their set-based path: subscriptions writes a
batch of new users and their automatic services with one statement each and announces them in
subscriptions.subscriptions.accepted (each service described once); the gateway projects that
event with one INSERT … SELECT. Redelivered, or granted again under another message id, nothing
is written twice; a state the gateway already holds is kept."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bus.clock import FakeClock
from bus.config import Settings
from bus.contracts.batches import BATCH_LIMIT
from bus.db import make_engine
from bus.envelope import Envelope
from gateway.adapters.orm import holdings
from services.subscriptions.adapters import orm
from services.subscriptions.domain.administrators import may_be_automatic
from services.subscriptions.domain.definitions import load_definitions

pytestmark = pytest.mark.integration

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
AUTO = {
    s.code: s.min_password_level
    for s in load_definitions().services
    if s.auto_subscribe and may_be_automatic(s.code)
}


@pytest.fixture
def gateway_pg_url(pg_admin_url: str) -> Iterator[str]:
    """A second fresh database (the gateway's tables would meet subscriptions' in one)."""
    name = f"portico_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(pg_admin_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def build(name: str, url: str, prefix: str):
    from portico.runtime import build_part

    settings = Settings(part=name, database_url=url, broker_url="memory://", bus_prefix=prefix)
    part = build_part(name, settings)
    part.migrate()
    part.clock = FakeClock(START)
    return part


def feed(part, type_: str, data: dict, **envelope) -> Envelope:
    event = Envelope(type=type_, data=data, producer="test", **envelope)
    outcome = part.processor().process(event.to_json())
    assert outcome.kind in ("handled", "duplicate"), outcome
    return event


def new_users(count: int) -> list[dict]:
    return [
        {
            "user_id": str(uuid.uuid4()),
            "email": f"bulk{n}@example.com",
            "title": "MME",
            "last_name": f"Martin{n}",
            "first_name": "Claire",
            "language": "fr-FR",
            "password_level": n % 3 + 1,
            "status": "pending_activation",
            "import_line": n + 2,
            "created_at": START.isoformat(),
        }
        for n in range(count)
    ]


def accepted_events(part) -> list[dict]:
    table = part.outbox_table
    query = (
        sa.select(table.c.body)
        .where(table.c.type == "subscriptions.subscriptions.accepted")
        .order_by(table.c.seq)
    )
    with part.engine.connect() as conn:
        return [json.loads(body) for body in conn.execute(query).scalars()]


def test_a_batch_is_granted_and_projected_set_based_once(pg_url, gateway_pg_url, prefix):
    subscriptions = build("subscriptions", pg_url, prefix)
    gateway = build("gateway", gateway_pg_url, prefix + "g")
    try:
        account = str(uuid.uuid4())
        created = {"account_id": account, "number": "90293531", "name": "RETAIL IT LIMITED"}
        feed(subscriptions, "identity.account.created", created)
        feed(gateway, "identity.account.created", created)
        users = new_users(BATCH_LIMIT)
        batch = {"account_id": account, "source": "import", "users": users, "rejected": []}
        event = feed(subscriptions, "identity.users.created", batch)
        feed(subscriptions, "identity.users.created", batch, id=event.id)  # redelivered
        feed(subscriptions, "identity.users.created", batch)  # answered twice by identity

        with subscriptions.engine.connect() as conn:
            rows = conn.execute(
                sa.select(orm.subscriptions.c.id, orm.subscriptions.c.user_id, orm.catalog.c.code)
                .join(orm.catalog, orm.catalog.c.id == orm.subscriptions.c.service_id)
                .where(orm.subscriptions.c.status == "accepted")
            ).all()
            names = dict(conn.execute(sa.select(orm.users.c.id, orm.users.c.first_name)).all())
        expected = {
            (u["user_id"], code)
            for u in users
            for code, level in AUTO.items()
            if level <= u["password_level"]
        }
        assert sorted((user_id, code) for _, user_id, code in rows) == sorted(expected)
        assert len(names) == BATCH_LIMIT and names[users[0]["user_id"]] == "Claire"

        [announced] = accepted_events(subscriptions)
        data = announced["data"]
        assert sorted(s["service_code"] for s in data["services"]) == sorted(AUTO)
        by_id = {s["service_id"]: s["service_code"] for s in data["services"]}
        grants = {
            (subscription_id, user["user_id"], by_id[service_id])
            for user in data["users"]
            for subscription_id, service_id in zip(
                user["subscription_ids"], user["service_ids"], strict=True
            )
        }
        assert grants == {tuple(row) for row in rows}

        feed(gateway, announced["type"], data, id=announced["id"])
        feed(gateway, announced["type"], data, id=announced["id"])  # redelivered
        feed(gateway, announced["type"], data)  # the same grants under another id
        with gateway.engine.connect() as conn:
            held = conn.execute(
                sa.select(
                    holdings.c.subscription_id,
                    holdings.c.user_id,
                    holdings.c.service_code,
                    holdings.c.account_id,
                    holdings.c.status,
                )
            ).all()
        assert len(held) == len(grants)
        assert {(s, u, c) for s, u, c, *_ in held} == grants
        assert {(a, st) for *_, a, st in held} == {(account, "accepted")}
    finally:
        subscriptions.engine.dispose()
        gateway.engine.dispose()


def test_a_newer_state_the_gateway_holds_is_kept(gateway_pg_url, prefix):
    gateway = build("gateway", gateway_pg_url, prefix)
    try:
        account, user = str(uuid.uuid4()), str(uuid.uuid4())
        cancelled = str(uuid.uuid4())
        feed(
            gateway,
            "subscriptions.subscription.cancelled",
            {
                "subscription_id": cancelled,
                "account_id": account,
                "user_id": user,
                "service_id": "svc-faq",
                "service_code": "info_faq",
                "service_title": "FAQ",
                "family": "information_flow",
                "status": "cancelled",
            },
            occurred_at="2099-01-01T00:00:00+00:00",
        )
        fresh = str(uuid.uuid4())
        feed(
            gateway,
            "subscriptions.subscriptions.accepted",
            {
                "account_id": account,
                "cause": "auto_subscribe",
                "services": [
                    {
                        "service_id": "svc-faq",
                        "service_code": "info_faq",
                        "service_title": "FAQ",
                        "family": "information_flow",
                    }
                ],
                "users": [
                    {
                        "user_id": user,
                        "subscription_ids": [cancelled, fresh],
                        "service_ids": ["svc-faq", "svc-faq"],
                    }
                ],
            },
        )
        with gateway.engine.connect() as conn:
            states = dict(
                conn.execute(sa.select(holdings.c.subscription_id, holdings.c.status)).all()
            )
        assert states == {cancelled: "cancelled", fresh: "accepted"}
    finally:
        gateway.engine.dispose()
