"""Batch events on real RabbitMQ and PostgreSQL: any AMQP client (pika) reads them and finds
them true to their contracts; the links' tokens leave the outbox once sent; and the 10,000-event
broker-outage scenario holds with batch events in the mix (every entry applied exactly once)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from bus import contracts
from bus.config import Settings
from bus.contracts import REDACTED
from bus.contracts.batches import BATCH_LIMIT, split
from bus.envelope import Envelope
from bus.part import Part
from bus.uow import UnitOfWork
from tests.bus_kit import count_effects, probe_metadata, start
from tests.integration.broker_kit import (
    pika_url,
    queue_messages,
    require_local_broker,
    restart_broker,
)
from tests.waiting_kit import DEADLINE, eventually

pytestmark = pytest.mark.integration


def created_user(n: int) -> dict:
    return {
        "user_id": f"u-{n}",
        "email": f"user{n}@example.com",
        "title": "MME",
        "last_name": f"Martin{n}",
        "first_name": "Claire",
        "language": "fr-FR",
        "password_level": 2,
        "status": "pending_activation",
        "import_line": n,
        "created_at": "2026-12-04T21:00:00Z",
    }


def issued_link(n: int, token: str) -> dict:
    return {
        "user_id": f"u-{n}",
        "recipient": f"user{n}@example.com",
        "recipient_name": "Claire Martin",
        "language": "fr-FR",
        "link_url": f"https://portal.example.com/activate/{token}{n}",
        "expires_at": "2026-12-11T21:00:00Z",
    }


def granted(n: int) -> dict:
    return {
        "subscription_id": f"s-{n}",
        "account_id": "a-1",
        "user_id": f"u-{n}",
        "service_id": "svc-1",
        "service_code": "info_faq",
        "service_title": "FAQ",
        "family": "information_flow",
        "status": "accepted",
        "notifies": "faq",
        "cause": "auto_subscribe",
        "granted_directly": True,
    }


def granted_to_users(count: int) -> dict:
    """subscriptions.subscriptions.accepted as subscriptions writes a batch of automatic grants:
    two services described once, `count` users holding both."""
    services = [
        {
            "service_id": f"svc-{n}",
            "service_code": code,
            "service_title": code.title(),
            "family": "information_flow",
            "notifies": code if n else None,
        }
        for n, code in enumerate(("info_faq", "info_news"))
    ]
    return {
        "account_id": "a-1",
        "cause": "auto_subscribe",
        "changed_at": "2026-12-04T21:00:00Z",
        "services": services,
        "users": [
            {
                "user_id": f"u-{n}",
                "user_email": f"user{n}@example.com",
                "user_language": "fr-FR",
                "subscription_ids": [f"s-{n}-{s['service_id']}" for s in services],
                "service_ids": [s["service_id"] for s in services],
            }
            for n in range(count)
        ],
    }


def make_batch_part(database_url: str, broker_url: str, prefix: str) -> tuple[Part, sa.Table]:
    """A part consuming single probes and identity.users.created batches: each batch's users
    recorded with one multi-row insert, in the consumer's transaction."""
    metadata, effects = probe_metadata()

    def record_probe(uow: UnitOfWork, envelope: Envelope) -> None:
        uow.session.execute(
            effects.insert().values(
                key=envelope.data["key"], seq=envelope.data["seq"], message_id=envelope.id
            )
        )

    def record_users(uow: UnitOfWork, envelope: Envelope) -> None:
        uow.session.execute(
            effects.insert(),
            [
                {
                    "key": envelope.data["import_job_id"],
                    "seq": user["import_line"],
                    "message_id": envelope.id,
                }
                for user in envelope.data["users"]
            ],
        )

    settings = Settings(
        part="identity", broker_url=broker_url, database_url=database_url, bus_prefix=prefix
    )
    instance = Part(
        settings,
        metadata,
        {"bus.probe": record_probe, "identity.users.created": record_users},
        Path("unused"),
    )
    metadata.create_all(instance.engine)
    return instance, effects


def test_pika_reads_every_batch_event_as_its_contract_says(amqp_url, pg_url, prefix):
    import pika

    instance, _ = make_batch_part(pg_url, amqp_url, prefix)
    instance.declare()
    connection = pika.BlockingConnection(pika.URLParameters(pika_url(amqp_url)))
    channel = connection.channel()
    queue = channel.queue_declare(queue="", exclusive=True).method.queue
    for key in ("identity.#", "subscriptions.#"):
        channel.queue_bind(queue, f"{prefix}.events", routing_key=key)
    token = "rawToken_" + prefix
    with instance.uow() as uow:
        sent = uow.publish_many(
            [
                (
                    "identity.users.created",
                    {
                        "account_id": "a-1",
                        "source": "import",
                        "import_job_id": "j-1",
                        "batch": 1,
                        "users": [created_user(n) for n in range(BATCH_LIMIT)],
                        "rejected": [{"line": 600, "field": "email", "message": "taken"}],
                    },
                ),
                (
                    "identity.links.issued",
                    {
                        "purpose": "activation",
                        "account_id": "a-1",
                        "requested_by": "admin-1",
                        "links": [issued_link(n, token) for n in range(BATCH_LIMIT)],
                    },
                ),
                (
                    "subscriptions.subscriptions.accepted",
                    {
                        "account_id": "a-1",
                        "cause": "auto_subscribe",
                        "subscriptions": [granted(n) for n in range(3)],
                    },
                ),
                ("subscriptions.subscriptions.accepted", granted_to_users(BATCH_LIMIT)),
            ]
        )
        uow.commit()
    instance.relay().drain()
    received = []
    deadline = time.monotonic() + DEADLINE
    while len(received) < len(sent) and time.monotonic() < deadline:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.05)
        else:
            received.append((method, properties, body))
    connection.close()
    assert len(received) == len(sent), f"pika received {len(received)} of {len(sent)} batch events"
    for (method, properties, body), envelope in zip(received, sent, strict=True):
        assert (
            properties.message_id == envelope.id and properties.content_type == "application/json"
        )
        assert properties.delivery_mode == 2
        data = json.loads(body)
        assert data["type"] == method.routing_key == envelope.type
        contracts.validate(data["type"], data["version"], data["data"], strict=True)
        assert Envelope.from_body(body) == envelope
        assert len(body) < 1024 * 1024
    grants = json.loads(received[3][2])["data"]["users"]
    assert len(grants) == BATCH_LIMIT
    assert (grants[0]["subscription_ids"][1], grants[0]["service_ids"][1]) == ("s-0-svc-1", "svc-1")
    links = json.loads(received[1][2])["data"]["links"]
    assert [link["link_url"] for link in links[:2]] == [
        f"https://portal.example.com/activate/{token}{n}" for n in range(2)
    ]
    # the outbox keeps the batch, without any of its tokens
    with instance.engine.connect() as conn:
        bodies = conn.execute(sa.select(instance.outbox_table.c.body)).scalars().all()
    assert not any(token in body for body in bodies)
    kept = next(
        json.loads(body) for body in bodies if json.loads(body)["type"] == "identity.links.issued"
    )
    assert {link["link_url"] for link in kept["data"]["links"]} == {REDACTED}


def publish_mixed(instance: Part, singles: int, batched: int) -> None:
    """`singles` probes, 50 a transaction, and between them identity.users.created batches
    holding `batched` users in all (split at the bound, 3 batches a transaction)."""
    users = [created_user(n) for n in range(batched)]
    batches = [
        {
            "account_id": "a-1",
            "source": "import",
            "import_job_id": "outage-batch",
            "batch": number,
            "users": part,
            "rejected": [],
        }
        for number, part in enumerate(split(users, 100), 1)
    ]
    seq = 0
    while seq < singles or batches:
        with instance.uow() as uow:
            size = min(50, singles - seq)
            uow.publish_many(
                [("bus.probe", {"key": "outage", "seq": s}) for s in range(seq, seq + size)]
            )
            seq += size
            uow.publish_many([("identity.users.created", batch) for batch in batches[:3]])
            del batches[:3]
            uow.commit()


def test_ten_thousand_effects_with_batch_events_in_the_mix_survive_two_broker_restarts(
    amqp_url, pg_url, prefix
):
    require_local_broker(amqp_url)
    instance, effects = make_batch_part(pg_url, amqp_url, prefix)
    instance.declare()
    stop = start(instance)
    singles, batched = 6_000, 4_000
    writer = threading.Thread(target=publish_mixed, args=(instance, singles, batched))

    def applied() -> int:
        return (
            count_effects(instance, effects, "outage")[1]
            + count_effects(instance, effects, "outage-batch")[1]
        )

    try:
        writer.start()
        for at in (2_000, 5_000):  # restart while the relay is still publishing
            eventually(lambda at=at: applied() >= at, what=f"{at} effects applied before a restart")
            restart_broker(amqp_url)
        writer.join(timeout=DEADLINE * 2)
        assert not writer.is_alive(), "the producer did not finish writing its events"
        eventually(
            lambda: applied() == singles + batched,
            timeout=DEADLINE * 4,
            what="every event consumed after the restarts",
        )
        eventually(lambda: instance.outbox.pending() == 0, what="the outbox sent")
        eventually(
            lambda: queue_messages(f"{prefix}.identity") == 0, what="the consumer's queue empty"
        )
    finally:
        stop.set()
    assert count_effects(instance, effects, "outage") == (singles, singles), (
        "single events lost or twice"
    )
    assert count_effects(instance, effects, "outage-batch") == (batched, batched), (
        "batch entries lost or applied twice"
    )
