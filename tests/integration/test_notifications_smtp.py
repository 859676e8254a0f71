"""The notifications delivery loop on PostgreSQL: loops in parallel share the outgoing queue
(SELECT … FOR UPDATE SKIP LOCKED) and every e-mail reaches the SMTP server exactly once."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bus.config import Settings
from bus.envelope import Envelope
from services.notifications.adapters.orm import outgoing
from services.notifications.bootstrap import build
from services.notifications.service_layer.delivery import DeliveryLoop
from tests.service.notifications.smtp_sink import RecordingHandler, start_sink, url_of
from tests.waiting_kit import DEADLINE, eventually

pytestmark = pytest.mark.postgres  # the bus is memory://: nothing here is about RabbitMQ

EMAILS = 200


@pytest.fixture
def sink():
    handler = RecordingHandler()
    controller = start_sink(handler)
    yield handler, url_of(controller)
    controller.stop()


@pytest.fixture
def part(pg_url, prefix, sink):
    settings = Settings(
        part="notifications",
        database_url=pg_url,
        broker_url="memory://",
        bus_prefix=prefix,
        smtp_url=sink[1],
        public_url="https://portal.example.test",
        extra={"PORTICO_MAIL_BATCH_SIZE": "10", "PORTICO_MAIL_POLL_SECONDS": "0.2"},
    )
    instance = build(settings)
    instance.migrate()
    yield instance
    instance.engine.dispose()


def queue(part, count: int) -> None:
    """Queue `count` password-reset e-mails the way the bus worker does: events, one batch."""
    processor = part.processor()
    for start in range(0, count, 50):
        batch = [
            Envelope(
                type="identity.link.issued",
                producer="identity",
                data={
                    "purpose": "reset",
                    "user_id": str(uuid.uuid4()),
                    "account_id": "acc",
                    "recipient": f"user{index}@example.test",
                    "language": "fr-FR",
                    "link_url": f"https://portal.example.test/reset-password/t{index}",
                    "expires_at": datetime(2027, 3, 8, tzinfo=UTC).isoformat(),
                },
            )
            for index in range(start, min(start + 50, count))
        ]
        outcomes = processor.process_batch([(envelope.to_json(), 0) for envelope in batch])
        assert {outcome.kind for outcome in outcomes} == {"handled"}


def statuses(part) -> Counter:
    with part.engine.connect() as conn:
        return Counter(conn.execute(sa.select(outgoing.c.status)).scalars())


def test_two_loops_share_the_queue_and_send_each_email_once(part, sink):
    handler, _ = sink
    queue(part, EMAILS)
    loops = [DeliveryLoop(part), DeliveryLoop(part)]
    claimed = Counter()

    def count_claims(loop, name):
        # counted where rows are claimed: a round whose "sent" marks the database refused (it
        # may be full) raises after sending, and marks them before its next claim
        original = loop._claim

        def claim():
            token, rows = original()
            claimed[name] += len(rows)
            return token, rows

        loop._claim = claim

    for index, loop in enumerate(loops):
        count_claims(loop, index)
    stop = threading.Event()
    threads = [threading.Thread(target=loop.run, args=(stop,), daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    try:
        eventually(
            lambda: statuses(part) == Counter({"sent": EMAILS}),
            what=f"{EMAILS} e-mails marked sent by the two loops",
        )
    finally:
        stop.set()
        part.wakeup.set()
        for thread in threads:
            thread.join(DEADLINE)
    ids = Counter(message["Message-ID"].strip() for message in handler.messages())
    assert len(ids) == EMAILS and set(ids.values()) == {1}  # each one exactly once
    recipients = Counter(message["To"] for message in handler.messages())
    assert len(recipients) == EMAILS
    assert claimed[0] > 0 and claimed[1] > 0, claimed  # both loops did part of the work
    assert claimed[0] + claimed[1] == EMAILS


def test_a_redelivered_batch_on_postgresql_queues_nothing_more(part, sink):
    processor = part.processor()
    envelope = Envelope(
        type="identity.link.issued",
        producer="identity",
        data={
            "purpose": "reset",
            "user_id": "u1",
            "account_id": "acc",
            "recipient": "a@example.test",
            "language": "en-US",
            "link_url": "https://portal.example.test/reset-password/t",
            "expires_at": "2027-03-08T00:00:00+00:00",
        },
    )

    first = processor.process(envelope.to_json())
    again = processor.process(envelope.to_json())
    DeliveryLoop(part).drain()

    assert (first.kind, again.kind) == ("handled", "duplicate")
    assert statuses(part) == Counter({"sent": 1})
    assert len(sink[0].delivered) == 1
