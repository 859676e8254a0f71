"""The mail sender never sends an e-mail twice because its database or its own process stalled.

Found by the chaos test, which received the same e-mail (one Message-ID) two and three times:
- while PostgreSQL refused connections, the sender could not mark what the SMTP server had just
  accepted; the row's lease ended and the e-mail was sent again. The mark is now written again
  before the next claim;
- a worker paused (SIGSTOP) past its claim's lease went on sending, when it resumed, the e-mails
  another replica had taken over and sent meanwhile. Nothing is sent once the claim's lease may
  have ended.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from services.notifications.adapters import repository
from services.notifications.service_layer.delivery import DeliveryLoop
from tests.service.notifications.smtp_sink import RecordingHandler
from tests.service.notifications.test_smtp_delivery import queue_links
from tests.waiting_kit import eventually


def test_an_email_whose_sent_mark_the_database_refused_is_not_sent_again(
    smtp_notifications, people, monkeypatch
):
    handler = RecordingHandler()
    harness, _ = smtp_notifications(handler, PORTICO_MAIL_LEASE_SECONDS="60")
    queue_links(harness, people, "steven@example.test")
    record = repository.record_outcomes
    refused: list[int] = []

    def database_away_for_the_first_mark(engine, token, outcomes, now, **kwargs):
        if outcomes.sent and not refused:
            refused.append(1)
            raise sa.exc.OperationalError("UPDATE", {}, Exception("server closed the connection"))
        return record(engine, token, outcomes, now, **kwargs)

    monkeypatch.setattr(repository, "record_outcomes", database_away_for_the_first_mark)
    loop = harness.loop()
    with pytest.raises(sa.exc.OperationalError):
        loop.deliver_due()  # sent, and its mark refused
    assert len(handler.delivered) == 1

    harness.clock.advance(timedelta(seconds=61))  # the claim's lease is over
    assert loop.deliver_due() == 0  # the database is back: the mark first, then nothing is due
    assert DeliveryLoop(harness.part).deliver_due() == 0  # nor for another replica

    assert [row.status for row in harness.rows()] == ["sent"]
    assert len(handler.delivered) == 1


def test_a_sender_paused_past_its_lease_sends_none_of_what_another_replica_took_over(
    smtp_notifications, people
):
    handler = RecordingHandler()
    harness, _ = smtp_notifications(
        handler, PORTICO_MAIL_LEASE_SECONDS="1", PORTICO_MAIL_CONNECTIONS="2"
    )
    addresses = ["ada@example.test", "grace@example.test", "edsger@example.test"]
    queue_links(harness, people, *addresses)
    paused = harness.loop()
    submit = paused._submit_as_rendered

    def stopped_after_claiming(*args):  # SIGSTOP between the claim and the sending
        time.sleep(1.5)
        return submit(*args)

    paused._submit_as_rendered = stopped_after_claiming  # type: ignore[method-assign]
    resumed = threading.Thread(target=paused.deliver_due)
    resumed.start()
    eventually(lambda: len(harness.rows(status="sending")) == 3, what="the paused claim")

    harness.clock.advance(timedelta(seconds=2))  # its lease ends: another replica takes over
    survivor = DeliveryLoop(harness.part)
    harness.loops.append(survivor)
    assert survivor.deliver_due() == 3
    resumed.join(10)

    assert Counter(m["To"] for m in handler.messages()) == Counter(addresses)
    assert {row.status for row in harness.rows()} == {"sent"}
