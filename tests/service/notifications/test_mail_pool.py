"""The delivery loop over a pool of SMTP connections (PORTICO_MAIL_CONNECTIONS), against a
real SMTP server (aiosmtpd): every e-mail once, several connections at once, and never more than
one e-mail per connection accepted by the server without its 'sent' mark written."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from services.notifications.adapters import repository
from services.notifications.adapters.orm import outgoing
from tests.service.notifications.smtp_sink import RecordingHandler
from tests.service.notifications.test_smtp_delivery import queue_links

CONNECTIONS = 3


class MarkWatchingHandler(RecordingHandler):
    """At each DATA, counts the e-mails the server accepted whose 'sent' mark is not written."""

    def __init__(self, engine: sa.Engine, **kwargs) -> None:
        super().__init__(**kwargs)
        self.engine = engine
        self.most_unmarked = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.engine.connect() as conn:
            marked = conn.execute(
                sa.select(sa.func.count()).select_from(outgoing).where(outgoing.c.status == "sent")
            ).scalar_one()
        with self.lock:
            self.most_unmarked = max(self.most_unmarked, self.count - marked)
        return await super().handle_DATA(server, session, envelope)


def slow_marks(monkeypatch, seconds: float = 0.05) -> None:
    """Writing outcomes takes a while (a busy database): the senders must wait for it."""
    original = repository.record_outcomes
    pause = threading.Event()

    def record_outcomes(*args, **kwargs):
        pause.wait(seconds)
        return original(*args, **kwargs)

    monkeypatch.setattr(repository, "record_outcomes", record_outcomes)


def test_a_batch_goes_out_over_the_pool_each_email_once_and_marked_before_the_next(
    make_notifications, smtp_server, people, monkeypatch
):
    slow_marks(monkeypatch)
    handler = MarkWatchingHandler(engine=None)
    controller = smtp_server(handler)
    harness = make_notifications(
        f"smtp://127.0.0.1:{controller.port}", PORTICO_MAIL_CONNECTIONS=str(CONNECTIONS)
    )
    handler.engine = harness.part.engine
    addresses = [f"user{n}@example.test" for n in range(60)]
    queue_links(harness, people, *addresses)

    assert harness.deliver() == 60

    assert {row.status for row in harness.rows()} == {"sent"}
    assert Counter(m["To"] for m in handler.messages()) == Counter(addresses)
    assert handler.connections() == CONNECTIONS  # all at once, each carrying many
    # a crash at any moment would leave at most one accepted, unmarked e-mail per connection
    # (the one whose mark was being written), here one per other connection at each DATA
    assert handler.most_unmarked <= CONNECTIONS - 1


def test_a_connection_the_server_closes_mid_batch_loses_nothing_and_sends_nothing_twice(
    smtp_notifications, people
):
    handler = RecordingHandler({"DATA": [None, None, None, None, "421 4.3.2 shutting down"]})
    harness, _ = smtp_notifications(
        handler, PORTICO_MAIL_CONNECTIONS=str(CONNECTIONS), PORTICO_MAIL_RETRY_SECONDS="30"
    )
    addresses = [f"user{n}@example.test" for n in range(20)]
    queue_links(harness, people, *addresses)
    loop = harness.loop()

    assert loop.deliver_due() == 20
    statuses = Counter((row.status, row.attempts) for row in harness.rows())
    assert statuses[("retrying", 1)] == 1  # the e-mail the server would not take
    assert statuses[("retrying", 1)] + statuses[("sent", 1)] + statuses[("queued", 0)] == 20
    assert loop.pause > 0  # the server said it is closing: the loop waits before the next claim

    harness.clock.advance(timedelta(seconds=30))
    loop.pause = 0.0
    loop.drain()

    assert {row.status for row in harness.rows()} == {"sent"}
    assert Counter(m["To"] for m in handler.messages()) == Counter(addresses)
