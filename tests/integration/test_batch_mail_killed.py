"""A mass re-send's 2,000 activation links (4 identity.links.issued batch events) reach a
notifications worker on RabbitMQ and PostgreSQL; the worker is killed (SIGKILL) half-way
through sending them and started again: every recipient gets exactly one e-mail.

Queueing is exactly-once by the receipt per (event, recipient); at the SMTP boundary the
delivery loop may send again, when its lease ends, what the server accepted but the dead worker
had not marked yet: at most one e-mail per connection, with the same Message-ID (the same
e-mail, which mail clients show once). The test counts both."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter, defaultdict

import pytest
import sqlalchemy as sa

from bus.config import Settings
from bus.contracts.batches import split
from services.notifications.adapters.orm import outgoing
from services.notifications.bootstrap import build
from tests.bus_kit import make_probe_part
from tests.integration.broker_kit import queue_messages
from tests.service.notifications.smtp_sink import RecordingHandler, start_sink, url_of
from tests.waiting_kit import DEADLINE, eventually

pytestmark = pytest.mark.integration

RECIPIENTS = 2_000
CONNECTIONS = 4
EXTRA = {
    "PORTICO_MAIL_CONNECTIONS": str(CONNECTIONS),
    "PORTICO_MAIL_LEASE_SECONDS": "3",
    "PORTICO_MAIL_POLL_SECONDS": "0.2",
    "PORTICO_MAIL_BATCH_SIZE": "50",
}

WORKER = """
import sys, threading
from bus.config import Settings
from portico.runtime import build_part, start_worker
settings = Settings(part="notifications", database_url=sys.argv[1], broker_url=sys.argv[2],
                    bus_prefix=sys.argv[3], smtp_url=sys.argv[4],
                    public_url="https://portal.example.test", extra=dict(zip(*[iter(sys.argv[5:])] * 2)))
part = build_part("notifications", settings)
stop = threading.Event()
start_worker(part, stop)
stop.wait()
"""


class SlowSink(RecordingHandler):
    """Takes 10 ms per e-mail, so that the kill lands while the batch is being sent."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


def settings(pg_url: str, amqp_url: str, prefix: str, smtp_url: str) -> Settings:
    return Settings(
        part="notifications",
        database_url=pg_url,
        broker_url=amqp_url,
        bus_prefix=prefix,
        smtp_url=smtp_url,
        public_url="https://portal.example.test",
        extra=EXTRA,
    )


def start_worker(pg_url: str, amqp_url: str, prefix: str, smtp_url: str) -> subprocess.Popen:
    pairs = [item for pair in EXTRA.items() for item in pair]
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, pg_url, amqp_url, prefix, smtp_url, *pairs],
        cwd=os.getcwd(),
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        start_new_session=True,
    )


def links(count: int) -> list[dict]:
    return [
        {
            "user_id": f"u-{n}",
            "recipient": f"user{n}@example.test",
            "recipient_name": f"User {n}",
            "language": ("fr-FR", "en-GB")[n % 2],
            "link_url": f"https://portal.example.test/activate/token{n}",
            "expires_at": "2027-03-08T09:00:00Z",
        }
        for n in range(count)
    ]


def statuses(part) -> Counter:
    with part.engine.connect() as conn:
        return Counter(conn.execute(sa.select(outgoing.c.status)).scalars())


def test_a_worker_killed_half_way_through_a_batch_e_mails_every_recipient_once(
    amqp_url, pg_url, prefix, tmp_path
):
    handler = SlowSink()
    sink = start_sink(handler)
    part = build(settings(pg_url, amqp_url, prefix, url_of(sink)))
    part.migrate()
    part.declare()  # the worker's queue exists before identity publishes
    identity, _ = make_probe_part("identity", f"sqlite:///{tmp_path}/identity.db", amqp_url, prefix)
    worker = start_worker(pg_url, amqp_url, prefix, url_of(sink))
    try:
        with identity.uow() as uow:  # one mass re-send: one transaction, batches of 500
            uow.publish_many(
                (
                    "identity.links.issued",
                    {"purpose": "activation", "account_id": "a-1", "resent": True, "links": part_},
                )
                for part_ in split(links(RECIPIENTS))
            )
            uow.commit()
        identity.relay().drain()

        eventually(
            lambda: handler.count >= RECIPIENTS // 3,
            timeout=DEADLINE * 2,
            what="a third of the e-mails accepted by the SMTP server",
        )
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=DEADLINE)
        at_kill = handler.count
        assert at_kill < RECIPIENTS, "the worker was killed after it had sent everything"

        worker = start_worker(pg_url, amqp_url, prefix, url_of(sink))
        eventually(
            lambda: statuses(part) == Counter({"sent": RECIPIENTS}),
            timeout=DEADLINE * 4,
            what="every e-mail marked sent after the restart",
        )
        eventually(lambda: queue_messages(f"{prefix}.notifications") == 0, what="the queue empty")
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=DEADLINE)
        sink.stop()
        identity.engine.dispose()

    ids_by_recipient: dict[str, set[str]] = defaultdict(set)
    copies = Counter()
    for message in handler.messages():
        ids_by_recipient[str(message["To"]).split("<")[-1].rstrip(">")].add(
            str(message["Message-ID"])
        )
        copies[str(message["Message-ID"])] += 1
    print(
        f"killed after {at_kill} of {RECIPIENTS} e-mails; {handler.count} accepted in all, "
        f"{handler.count - RECIPIENTS} sent twice with the same Message-ID"
    )
    assert set(ids_by_recipient) == {f"user{n}@example.test" for n in range(RECIPIENTS)}, (
        "someone got nothing"
    )
    assert all(len(ids) == 1 for ids in ids_by_recipient.values()), (
        "a recipient got two different e-mails"
    )
    assert handler.count - RECIPIENTS <= CONNECTIONS, (
        "more copies than the one per connection in flight"
    )
    part.engine.dispose()
