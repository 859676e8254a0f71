"""The internal API: the built-in mailbox (no SMTP URL) and the delivery log."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bus.clock import SystemClock
from bus.config import ConfigError, Settings
from services.notifications.bootstrap import build, jobs
from tests.bus_kit import make_probe_part
from tests.service.notifications.conftest import PUBLIC_URL, new_id
from tests.waiting_kit import DEADLINE, WatchedEvent, eventually


def issue(harness, people, address, *, language="en-US", purpose="activation"):
    people = people.using(harness)
    account = people.account()
    user = people.user(account, address, language=language)
    url = f"{PUBLIC_URL}/activate/tok-{address}"
    outcome = harness.feed(
        "identity.link.issued",
        {
            "purpose": purpose,
            "user_id": user,
            "account_id": account,
            "recipient": address,
            "language": language,
            "link_url": url,
            "expires_at": "2027-03-08T09:00:00Z",
        },
    )
    assert outcome.kind == "handled"
    return url


def test_without_smtp_the_mail_lands_in_the_mailbox(notifications, people):
    url = issue(notifications, people, "steven@example.test", language="fr-FR")
    issue(notifications, people, "paul@example.test")

    assert notifications.deliver() == 2

    answer = notifications.get("/internal/mailbox")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["total"] == 2 and body["page"] == 1
    assert [item["to"] for item in body["items"]] == ["paul@example.test", "steven@example.test"]
    assert set(body["items"][0]) == {"id", "to", "subject", "sent_at"}
    assert body["items"][1]["sent_at"] == "2027-03-01T09:00:00Z"

    mail = notifications.get(f"/internal/mailbox/{body['items'][1]['id']}").get_json()
    assert mail["subject"] == "Votre lien d’activation de compte"
    assert url in mail["text"] and url in mail["html"]
    assert mail["links"][0] == url
    assert [row.status for row in notifications.rows()] == ["sent", "sent"]


def test_the_mailbox_filters_by_recipient_and_pages(notifications, people):
    for index in range(3):
        issue(notifications, people, f"user{index}@example.test")
    issue(notifications, people, "Steven@Example.test")
    notifications.deliver()

    only = notifications.get("/internal/mailbox", to="steven@example.TEST").get_json()
    page = notifications.get("/internal/mailbox", per_page=2, page=2).get_json()

    assert [item["to"] for item in only["items"]] == ["Steven@Example.test"]
    assert page["total"] == 4 and len(page["items"]) == 2 and page["per_page"] == 2


def test_the_mailbox_keeps_each_email_once(notifications, people):
    issue(notifications, people, "steven@example.test")
    loop = notifications.loop()

    loop.deliver_due()
    notifications.clock.advance(timedelta(hours=1))
    loop.deliver_due()

    assert len(notifications.mails()) == 1


def test_an_attachment_can_be_read_from_the_mailbox(notifications, people):
    people = people.using(notifications)
    account = people.account()
    admin = people.admin(account, "admin@example.test")
    notifications.feed(
        "importer.import.finished",
        {
            "import_job_id": new_id(),
            "account_id": account,
            "requested_by": admin,
            "filename": "users.csv",
            "status": "done",
            "rows": 2,
            "created": 1,
            "rejected": 1,
            "anomalies": [{"line": 2, "field": "email", "message": "@not-an-address"}],
        },
    )
    notifications.deliver()
    [item] = notifications.get("/internal/mailbox").get_json()["items"]

    mail = notifications.get(f"/internal/mailbox/{item['id']}").get_json()
    report = notifications.get(f"/internal/mailbox/{item['id']}/attachments/0")

    assert mail["attachments"][0]["filename"] == "import-report.csv"
    assert report.status_code == 200 and report.mimetype == "text/csv"
    assert "2;email;'@not-an-address" in report.get_data(as_text=True)
    assert notifications.get(f"/internal/mailbox/{item['id']}/attachments/1").status_code == 404


def test_an_unknown_mail_is_404_problem(notifications):
    answer = notifications.get("/internal/mailbox/999")

    assert answer.status_code == 404
    assert answer.mimetype == "application/problem+json"
    assert "no e-mail" in answer.get_json()["detail"]


def test_deliveries_show_status_attempts_and_the_last_answer(notifications, people):
    issue(notifications, people, "steven@example.test")
    issue(notifications, people, "paul@example.test")
    notifications.loop().deliver_due()
    issue(notifications, people, "late@example.test")

    queued = notifications.get("/internal/deliveries", status="queued").get_json()
    sent = notifications.get("/internal/deliveries", status="sent").get_json()

    assert [item["to"] for item in queued["items"]] == ["late@example.test"]
    assert queued["items"][0]["attempts"] == 0
    assert queued["items"][0]["next_attempt_at"] == "2027-03-01T09:00:00Z"
    assert sent["total"] == 2
    first = sent["items"][0]
    assert first["attempts"] == 1 and first["last_answer"] is None
    assert first["template"] == "activation" and first["event_type"] == "identity.link.issued"
    assert first["message_id"].startswith(f"<{first['event_id']}.")


def test_a_bad_status_or_page_is_422(notifications):
    for params in ({"status": "lost"}, {"page": "0"}, {"per_page": "500"}, {"page": "x"}):
        answer = notifications.get("/internal/deliveries", **params)
        assert answer.status_code == 422, params
        assert answer.get_json()["errors"]


def test_the_api_needs_the_service_token(notifications):
    assert notifications.client.get("/internal/mailbox").status_code == 401
    assert notifications.client.get("/healthz").status_code == 200


def test_embedded_mode_an_event_on_the_bus_lands_in_the_mailbox_at_once(
    make_notifications, prefix, tmp_path
):
    # the poll is an hour away: a mail within the deadline below was woken by the commit
    harness = make_notifications(PORTICO_MAIL_POLL_SECONDS="3600")
    harness.part.clock = SystemClock()
    watched = WatchedEvent(
        harness.part.wakeup.subscribe()
    )  # woken by every commit that queues mail
    harness.part.wakeup.subscribe = lambda: watched
    identity, _ = make_probe_part(
        "identity", f"sqlite:///{tmp_path}/identity.db", "memory://", prefix
    )
    identity.handlers = {}
    stop = threading.Event()
    harness.part.start_background(stop, jobs(harness.part))
    identity.start_background(stop)
    try:
        assert harness.part.wait_ready(DEADLINE)
        assert watched.waiting.wait(DEADLINE), "the delivery loop never went to wait for mail"
        with identity.uow() as uow:
            uow.publish(
                "identity.link.issued",
                {
                    "purpose": "reset",
                    "user_id": "u1",
                    "account_id": "a1",
                    "recipient": "steven@example.test",
                    "language": "fr-FR",
                    "link_url": f"{PUBLIC_URL}/reset-password/tok",
                    "expires_at": "2027-03-08T09:00:00Z",
                },
            )
            uow.commit()
        eventually(harness.mails, what="the e-mail in the mailbox before the hourly poll")
    finally:
        stop.set()
        harness.part.wakeup.set()
        for thread in harness.part.threads + identity.threads:
            thread.join(5)
        identity.engine.dispose()
    [mail] = harness.mails()
    assert mail.recipient == "steven@example.test"
    assert mail.subject != ""


@pytest.mark.parametrize(
    ("smtp_url", "public_url", "variable"),
    [
        ("http://mail.example.test", "https://p.example.test", "PORTICO_SMTP_URL"),
        ("smtp://mail.example.test?tls=yes", "https://p.example.test", "PORTICO_SMTP_URL"),
        (None, "portal.example.test", "PORTICO_PUBLIC_URL"),
    ],
)
def test_settings_that_cannot_work_stop_the_start(tmp_path, smtp_url, public_url, variable):
    settings = Settings(
        part="notifications",
        database_url=f"sqlite:///{tmp_path}/n.db",
        smtp_url=smtp_url,
        public_url=public_url,
    )

    with pytest.raises(ConfigError, match=variable):
        build(settings)
