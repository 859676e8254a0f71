"""The delivery log and the built-in mailbox are kept PORTICO_MAIL_KEEP_DAYS (90 by default)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bus.config import ConfigError
from services.notifications.adapters.orm import outgoing
from services.notifications.bootstrap import jobs
from services.notifications.service_layer.retention import forget_old_mail
from tests.service.notifications.conftest import PUBLIC_URL


def queue_link(harness, people, account, address):
    user = people.user(account, address)
    outcome = harness.feed(
        "identity.link.issued",
        {
            "purpose": "reset",
            "user_id": user,
            "account_id": account,
            "recipient": address,
            "language": "en-US",
            "link_url": f"{PUBLIC_URL}/reset-password/t",
            "expires_at": "2027-03-08T09:00:00Z",
        },
    )
    assert outcome.kind == "handled"


def test_finished_mail_goes_after_the_period_and_waiting_mail_never(notifications, people):
    harness = notifications
    account = people.account()
    for address in ("ann@example.test", "bob@example.test"):
        queue_link(harness, people, account, address)
    assert harness.deliver() == 2 and len(harness.mails()) == 2
    with harness.part.engine.begin() as conn:  # as a refused address ends it
        conn.execute(
            outgoing.update()
            .where(outgoing.c.recipient == "bob@example.test")
            .values(status="failed")
        )
    queue_link(harness, people, account, "cid@example.test")  # never delivered: still waiting

    harness.clock.advance(timedelta(days=90))
    assert forget_old_mail(harness.part) == {"outgoing": 0, "mailbox": 0}  # 90 days exactly: kept
    harness.clock.advance(timedelta(seconds=1))
    queue_link(harness, people, account, "dan@example.test")  # a recent one
    assert forget_old_mail(harness.part) == {"outgoing": 2, "mailbox": 2}
    assert [(row.recipient, row.status) for row in harness.rows()] == [
        ("cid@example.test", "queued"),
        ("dan@example.test", "queued"),
    ]
    assert harness.mails() == []


def test_0_keeps_everything_and_a_negative_period_is_refused(make_notifications, people):
    harness = make_notifications(PORTICO_MAIL_KEEP_DAYS="0")
    people = people.using(harness)
    account = people.account()
    queue_link(harness, people, account, "ann@example.test")
    harness.deliver()
    harness.clock.advance(timedelta(days=3650))
    assert forget_old_mail(harness.part) == {"outgoing": 0, "mailbox": 0}
    with harness.part.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outgoing)).scalar_one() == 1
    with pytest.raises(ConfigError, match="PORTICO_MAIL_KEEP_DAYS=-5 cannot be negative"):
        make_notifications(PORTICO_MAIL_KEEP_DAYS="-5")


def test_the_worker_runs_the_sweep_beside_the_delivery_loop(notifications):
    assert [job.__qualname__ for job in jobs(notifications.part)] == [
        "DeliveryLoop.run",
        "retention_loop.<locals>.run",
    ]
