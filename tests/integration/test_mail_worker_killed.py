"""A notifications worker killed (kill -9) half-way through a 2,000-recipient batch of
activation links, then started again: every recipient gets their e-mail, exactly once but for
the one window at-least-once SMTP cannot close.

Real processes: `portico worker notifications` on PostgreSQL and RabbitMQ, an SMTP server
(aiosmtpd, in this process) that counts what each recipient is given. The batch comes as
identity publishes it: `identity.links.issued` events of at most 500 links (the producer splits
a bigger batch), on the bus.

The window: an e-mail the server accepted whose 'sent' mark was lost to the kill is sent again
when its claim's lease ends (with the same Message-ID). A connection starts its next e-mail
only once its previous one is marked sent, so the kill can leave at most one such e-mail per
SMTP connection: at most PORTICO_MAIL_CONNECTIONS duplicates, never a lost e-mail.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from bus.broker import Publisher
from bus.config import Settings
from bus.contracts.batches import split
from bus.envelope import Envelope
from services.notifications.adapters.orm import outgoing
from services.notifications.bootstrap import build
from tests.service.notifications.smtp_sink import RecordingHandler, start_sink
from tests.waiting_kit import eventually

pytestmark = pytest.mark.integration

RECIPIENTS = 2000
KILL_AT = RECIPIENTS // 2
CONNECTIONS = 4
DEADLINE = 180.0  # two workers deliver 2,000 e-mails on a loaded machine


class CountingHandler(RecordingHandler):
    """Counts the e-mails accepted per recipient and keeps each one's Message-IDs; calls
    `on_count(n)` once the n-th e-mail is accepted."""

    def __init__(self) -> None:
        super().__init__(keep=False)
        self.per_recipient: Counter[str] = Counter()
        self.message_ids: dict[str, list[str]] = defaultdict(list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message_id = next(
            (
                line.split(b":", 1)[1].strip().decode()
                for line in envelope.content.split(b"\r\n")
                if line.lower().startswith(b"message-id:")
            ),
            "",
        )
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.per_recipient[recipient] += 1
                self.message_ids[recipient].append(message_id)
        return await super().handle_DATA(server, session, envelope)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "portico.cli", "worker", "notifications"],
        cwd=os.getcwd(),
        env={**env, "PYTHONPATH": os.getcwd()},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def links_events(addresses: list[str]) -> list[Envelope]:
    """The activation links of one import, as identity publishes them: split by the bound."""
    links = [
        {
            "user_id": str(uuid.uuid4()),
            "recipient": address,
            "recipient_name": f"User {n}",
            "language": "fr-FR" if n % 4 == 0 else "en-GB",
            "link_url": f"https://portal.example.test/activate/tok{n}",
            "expires_at": "2027-03-08T09:00:00+00:00",
        }
        for n, address in enumerate(addresses)
    ]
    return [
        Envelope(
            type="identity.links.issued",
            producer="identity",
            data={"purpose": "activation", "account_id": "acc-1", "links": batch},
        )
        for batch in split(links)
    ]


def statuses(part) -> Counter[str]:
    with part.engine.connect() as conn:
        return Counter(conn.execute(sa.select(outgoing.c.status)).scalars())


def test_a_worker_killed_mid_batch_leaves_every_recipient_one_email(
    pg_url, amqp_url, prefix, tmp_path
) -> None:
    handler = CountingHandler()
    sink = start_sink(handler)
    env = {
        **os.environ,
        "PORTICO_NOTIFICATIONS_DATABASE_URL": pg_url,
        "PORTICO_BROKER_URL": amqp_url,
        "PORTICO_BUS_PREFIX": prefix,
        "PORTICO_SERVICE_TOKEN": secrets.token_urlsafe(32),
        "PORTICO_SMTP_URL": f"smtp://127.0.0.1:{sink.port}",
        "PORTICO_PUBLIC_URL": "https://portal.example.test",
        "PORTICO_MAIL_CONNECTIONS": str(CONNECTIONS),
        "PORTICO_MAIL_LEASE_SECONDS": "3",  # the dead worker's claims come back soon
        "PORTICO_MAIL_POLL_SECONDS": "0.2",
    }
    part = build(Settings.from_env("notifications", env))
    part.migrate()
    part.declare()  # the queue holds the events until a worker takes them
    addresses = [f"user{n}@example.test" for n in range(RECIPIENTS)]
    events = links_events(addresses)
    assert len(events) == RECIPIENTS // 500
    publisher = Publisher(part.broker)
    confirmed, error = publisher.publish_confirmed(
        [(event.to_json(), event.type, event.id) for event in events]
    )
    publisher.close()
    assert (confirmed, error) == (len(events), None)

    doomed = start_worker(env, tmp_path / "doomed.log")
    killed_at: list[int] = []
    kill_once = threading.Lock()

    def kill_half_way(count: int) -> None:
        if count >= KILL_AT and kill_once.acquire(blocking=False):
            os.kill(doomed.pid, signal.SIGKILL)  # no goodbye: mid-batch, mid-connection
            killed_at.append(count)

    handler.on_delivery = kill_half_way
    survivor = None
    try:
        assert doomed.wait(DEADLINE) == -signal.SIGKILL, (tmp_path / "doomed.log").read_text()
        before = statuses(part)
        assert killed_at and killed_at[0] < RECIPIENTS
        assert before["sent"] < RECIPIENTS  # it died half-way: some e-mails were still to go

        survivor = start_worker(env, tmp_path / "survivor.log")
        eventually(
            lambda: statuses(part) == Counter(sent=RECIPIENTS),
            timeout=DEADLINE,
            what="every outgoing e-mail marked sent by the second worker",
        )
    finally:
        for process in (doomed, survivor):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(30)
        sink.stop()
        part.engine.dispose()

    # every recipient has their e-mail (a row is marked sent only once the server took it)
    assert set(handler.per_recipient) == set(addresses)
    twice = {address: n for address, n in handler.per_recipient.items() if n > 1}
    # ... and once, but for the e-mails accepted in the instant of the kill and not yet marked:
    # at most one per connection, sent again with the same Message-ID (a receiver drops it)
    assert set(twice.values()) <= {2}
    assert len(twice) <= CONNECTIONS, twice
    for address in twice:
        first, again = handler.message_ids[address]
        assert first == again
    print(f"killed after {killed_at[0]} e-mails; sent twice: {len(twice)} ({sorted(twice)})")
