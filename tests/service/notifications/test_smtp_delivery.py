"""The delivery loop against a real SMTP server (aiosmtpd): every e-mail in both languages,
retries with backoff on 4xx, permanent failures recorded, no e-mail twice."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from services.notifications.adapters.orm import outgoing
from services.notifications.service_layer.delivery import DeliveryLoop
from tests.service.notifications.conftest import (
    MAIL_FROM,
    PUBLIC_URL,
    new_id,
    subscription_data,
    user_data,
)
from tests.service.notifications.smtp_sink import RecordingHandler, free_port
from tests.waiting_kit import DEADLINE, WatchedEvent

HREF = re.compile(r'href="([^"]+)"')


def links_of(message):
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, set(HREF.findall(html))


def every_email(harness, people, language):
    """Feed one event per e-mail the portal sends; {template: (recipient, link or None)}."""
    people = people.using(harness)
    tag = {"en": "en-GB", "fr": "fr-FR"}[language]
    account = people.account("RETAIL IT LIMITED")
    admin = people.admin(
        account,
        f"admin.{language}@example.test",
        language=tag,
        first_name="Mark",
        last_name="HUGHES",
    )
    user = people.user(account, f"user.{language}@example.test", language=tag)
    gone = people.user(account, f"gone.{language}@example.test", language=tag)
    to_user, to_admin = f"user.{language}@example.test", f"admin.{language}@example.test"
    expected = {}

    def feed(type_, data):
        outcome = harness.feed(type_, data)
        assert outcome.kind == "handled", outcome

    def link(purpose, template, recipient=to_user, **more):
        url = f"{PUBLIC_URL}/{purpose}/tok-{language}-{template}"
        feed(
            "identity.link.issued",
            {
                "purpose": purpose,
                "user_id": user,
                "account_id": account,
                "recipient": recipient,
                "language": tag,
                "link_url": url,
                "expires_at": "2027-03-08T09:00:00Z",
                **more,
            },
        )
        expected[template] = (recipient, url)

    link("activation", "activation")
    link("activation", "activation_resent", resent=True)
    link("reset", "password_reset")
    link(
        "email_change",
        "email_change_confirmation",
        recipient=f"new.{language}@example.test",
        old_email=to_user,
    )
    feed(
        "identity.user.activated",
        {**user_data(user, account, to_user, language=tag), "activated_at": "2027-03-01T09:00:00Z"},
    )
    expected["account_activated"] = (to_user, None)
    feed("identity.password.changed", {"user_id": user, "account_id": account})
    expected["password_changed"] = (to_user, None)
    feed(
        "identity.user.locked",
        {"user_id": user, "account_id": account, "until": "2027-03-01T09:30:00Z"},
    )
    expected["login_locked"] = (to_user, None)
    feed(
        "subscriptions.subscription.accepted",
        subscription_data(user, account, "accepted", cause="request", expires_on="2027-12-31"),
    )
    expected["subscription_accepted"] = (to_user, None)
    feed(
        "subscriptions.subscription.requested",
        subscription_data(
            user,
            account,
            "pending",
            cause="request",
            user_name="Steven MARKS",
            user_email=to_user,
            requested_at="2027-03-01T08:00:00Z",
        ),
    )
    expected["request_pending"] = (to_admin, f"{PUBLIC_URL}/validation")
    feed(
        "subscriptions.subscription.accepted",
        subscription_data(
            user,
            account,
            "accepted",
            cause="decision",
            expires_on="2027-12-31",
            decided_by_name="Mark HUGHES",
        ),
    )
    expected["request_accepted"] = (to_user, None)
    feed(
        "subscriptions.subscription.refused",
        subscription_data(
            user, account, "refused", cause="decision", reason="Not in your contract."
        ),
    )
    expected["request_refused"] = (to_user, None)
    feed(
        "subscriptions.subscription.expired",
        subscription_data(user, account, "expired", cause="expiry", expires_on="2027-02-28"),
    )
    expected["subscription_expired"] = (to_user, None)
    feed(
        "identity.user.deleted",
        {
            "user_id": gone,
            "account_id": account,
            "email": f"gone.{language}@example.test",
            "first_name": "Julia",
            "last_name": "TEST2",
            "deleted_by": admin,
        },
    )
    expected["user_deleted"] = (to_admin, None)
    feed(
        "importer.import.finished",
        {
            "import_job_id": new_id(),
            "account_id": account,
            "requested_by": admin,
            "filename": "users.csv",
            "status": "done",
            "rows": 3,
            "created": 1,
            "rejected": 2,
            "anomalies": [
                {"line": 2, "field": "email", "message": "is not valid"},
                {"line": 3, "field": None, "message": "repeats line 2"},
            ],
        },
    )
    expected["import_finished"] = (to_admin, None)
    people.grant(
        user,
        account,
        service_code="notify_faq",
        notifies="faq",
        family="notifications",
        cause="grant",
    )
    expected["subscription_accepted+faq"] = (to_user, None)
    content_url = f"{PUBLIC_URL}/faq/{language}"
    feed("content.published", {"kind": "faq", "title": "How to import users", "url": content_url})
    expected["content_published"] = (to_user, content_url)
    feed(
        "identity.email.changed",
        {
            "user_id": user,
            "account_id": account,
            "old_email": to_user,
            "new_email": f"new.{language}@x.test",
        },
    )
    expected["email_change_notice"] = (to_user, None)
    return expected


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_email_is_delivered_in_the_recipients_language_with_working_links(
    smtp_notifications, people, language
):
    harness, server = smtp_notifications()
    expected = every_email(harness, people, language)

    harness.deliver()

    rows = harness.rows()
    assert {row.status for row in rows} == {"sent"}, [(r.template, r.last_answer) for r in rows]
    templates = {row.template for row in rows}
    assert templates == {name.split("+")[0] for name in expected}
    assert len(templates) == 16  # every e-mail of the catalog
    received = server.messages()
    assert len(received) == len(rows)
    by_id = {message["Message-ID"].strip(): message for message in received}
    for row in rows:
        message = by_id[row.message_id]
        recipient, link = expected[row.template]
        assert message["To"] == recipient
        assert message["Content-Language"] == language
        assert MAIL_FROM in message["From"]
        assert message["Subject"] == row.subject
        assert row.message_id.startswith(f"<{row.event_id}.")
        text, hrefs = links_of(message)
        assert "{{" not in text and "{%" not in text
        if link:
            assert link in text.split()
            assert link in hrefs
    french = {row.template: row.subject for row in rows}
    if language == "fr":
        assert french["email_change_confirmation"] != "Email change confirmation"
    else:
        assert french["activation"] == "Your account activation link"
        assert french["email_change_confirmation"] == "Email change confirmation"
    report = next(
        m
        for m in received
        if m["Message-ID"].strip()
        == next(r.message_id for r in rows if r.template == "import_finished")
    )
    [attachment] = report.iter_attachments()
    assert attachment.get_filename() == "import-report.csv"
    assert b"repeats line 2" in attachment.get_payload(decode=True)
    # the loop's pool (PORTICO_MAIL_CONNECTIONS, 4) carried everything, many e-mails each
    assert 1 <= server.connections() <= 4 < len(received)


def queue_links(harness, people, *addresses):
    people = people.using(harness)
    account = people.account()
    ids = []
    for address in addresses:
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
        ids.append(harness.last.id)
    return ids


def test_a_server_that_says_try_later_twice_gets_the_mail_once(smtp_notifications, people):
    handler = RecordingHandler({"MAIL": ["421 4.3.2 try later", "421 4.3.2 try later"]})
    harness, _ = smtp_notifications(handler, PORTICO_MAIL_RETRY_SECONDS="30")
    queue_links(harness, people, "steven@example.test")
    loop = harness.loop()

    assert loop.deliver_due() == 1
    [row] = harness.rows()
    assert (row.status, row.attempts, row.last_answer) == ("retrying", 1, "421 4.3.2 try later")
    assert row.context["link_url"] == f"{PUBLIC_URL}/reset-password/t"  # kept for the next attempt
    assert loop.deliver_due() == 0  # not due yet
    harness.clock.advance(timedelta(seconds=30))
    assert loop.deliver_due() == 1
    [row] = harness.rows()
    assert (row.status, row.attempts) == ("retrying", 2)
    harness.clock.advance(timedelta(seconds=59))
    assert loop.deliver_due() == 0  # the wait doubled
    harness.clock.advance(timedelta(seconds=1))
    assert loop.deliver_due() == 1

    [row] = harness.rows()
    assert (row.status, row.attempts, row.last_answer) == ("sent", 3, None)
    assert len(handler.delivered) == 1
    # sent: the delivery record stays, the one-time link it carried does not
    assert (row.context, row.attachments) == ({}, None)
    assert row.subject and row.message_id


def test_a_refused_address_fails_for_good_and_does_not_block_the_next(smtp_notifications, people):
    handler = RecordingHandler(refuse={"ghost@example.test": "550 5.1.1 no such user here"})
    harness, _ = smtp_notifications(handler)
    queue_links(harness, people, "ghost@example.test", "steven@example.test")
    loop = harness.loop()

    loop.drain()
    harness.clock.advance(timedelta(days=2))
    assert loop.drain() == 0  # nothing is retried

    ghost, steven = harness.rows()
    assert (ghost.status, ghost.attempts) == ("failed", 1)
    assert ghost.context == {} and steven.context == {}  # no link kept once it will not be sent
    assert "550" in ghost.last_answer and "no such user here" in ghost.last_answer
    assert steven.status == "sent"
    assert [message["To"] for message in handler.messages()] == ["steven@example.test"]
    assert handler.commands.count("RCPT") == 2


def test_a_redelivered_event_sends_no_second_email(smtp_notifications, people):
    handler = RecordingHandler()
    harness, _ = smtp_notifications(handler)
    [event_id] = queue_links(harness, people, "steven@example.test")
    harness.deliver()

    again = harness.feed("identity.link.issued", harness.last.data, envelope_id=event_id)
    harness.clock.advance(timedelta(hours=1))
    harness.deliver()

    assert again.kind == "duplicate"
    assert len(handler.delivered) == 1


def test_mail_claimed_by_a_loop_that_died_is_sent_after_its_lease(smtp_notifications, people):
    handler = RecordingHandler()
    harness, _ = smtp_notifications(handler, PORTICO_MAIL_LEASE_SECONDS="120")
    queue_links(harness, people, "steven@example.test")
    dead = harness.loop()
    dead._claim()  # claimed, then the process died before sending

    survivor = DeliveryLoop(harness.part)
    harness.loops.append(survivor)
    assert survivor.deliver_due() == 0  # still leased
    harness.clock.advance(timedelta(seconds=121))
    assert survivor.deliver_due() == 1

    assert [row.status for row in harness.rows()] == ["sent"]
    assert len(handler.delivered) == 1


def test_temporary_failures_give_up_after_the_maximum_attempts(smtp_notifications, people):
    handler = RecordingHandler({"RCPT": ["450 4.2.1 mailbox busy"] * 5})
    harness, _ = smtp_notifications(
        handler, PORTICO_MAIL_MAX_ATTEMPTS="3", PORTICO_MAIL_RETRY_SECONDS="1"
    )
    queue_links(harness, people, "steven@example.test")
    loop = harness.loop()

    for _ in range(5):
        loop.deliver_due()
        harness.clock.advance(timedelta(hours=1))

    [row] = harness.rows()
    assert (row.status, row.attempts) == ("failed", 3)
    assert "450" in row.last_answer and "gave up after 3 attempts" in row.last_answer
    assert handler.delivered == []


def test_an_unreachable_server_keeps_the_queue_for_later(make_notifications, people):
    harness = make_notifications(f"smtp://127.0.0.1:{free_port()}")
    queue_links(harness, people, "a@example.test", "b@example.test", "c@example.test")
    loop = harness.loop()

    assert loop.deliver_due() == 3

    first, *others = harness.rows()
    assert (first.status, first.attempts) == ("retrying", 1)
    assert "cannot connect" in first.last_answer
    assert [(row.status, row.attempts) for row in others] == [("queued", 0), ("queued", 0)]
    assert loop.pause > 0  # the loop waits before trying the server again


def test_an_email_that_cannot_be_rendered_fails_with_the_reason(smtp_notifications, people):
    handler = RecordingHandler()
    harness, _ = smtp_notifications(handler)
    queue_links(harness, people, "a@example.test", "b@example.test")
    with harness.part.engine.begin() as conn:
        first = conn.execute(
            sa.select(outgoing.c.id, outgoing.c.context).order_by(outgoing.c.id)
        ).first()
        conn.execute(
            outgoing.update()
            .where(outgoing.c.id == first.id)
            .values(context={**first.context, "link_url": "javascript:alert(1)"})
        )

    harness.deliver()

    broken, fine = harness.rows()
    assert broken.status == "failed"
    assert broken.last_answer.startswith("rendering failed:") and "link_url" in broken.last_answer
    assert fine.status == "sent"
    assert len(handler.delivered) == 1


def test_the_running_loop_sends_as_soon_as_the_event_commits(smtp_notifications, people):
    handler = RecordingHandler()
    delivered = threading.Event()
    handler.on_delivery = lambda count: delivered.set()
    # the poll is an hour away: a delivery within the deadline below was woken by the commit
    harness, _ = smtp_notifications(handler, PORTICO_MAIL_POLL_SECONDS="3600")
    watched = WatchedEvent(
        harness.part.wakeup.subscribe()
    )  # woken by every commit that queues mail
    harness.part.wakeup.subscribe = lambda: watched
    loop = harness.loop()
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert watched.waiting.wait(DEADLINE), "the delivery loop never went to wait for mail"
        queue_links(harness, people, "steven@example.test")
        assert delivered.wait(DEADLINE), "the committed e-mail was not sent before the poll"
    finally:
        stop.set()
        loop.wake.set()
        thread.join(DEADLINE)
    assert not thread.is_alive()
