"""identity.users.created and identity.links.issued: a batch of e-mails queued in one
transaction, one receipt per (event, recipient), a poison entry kept apart and reported."""

from __future__ import annotations

import sqlalchemy as sa

from services.notifications.adapters.orm import recipients
from tests.service.notifications.conftest import new_id


def created_user(n: int, **more) -> dict:
    return {
        "user_id": f"u-{n}",
        "email": f"user{n}@example.test",
        "title": "MME",
        "last_name": f"Martin{n}",
        "first_name": "Claire",
        "language": "fr-FR",
        "password_level": 2,
        "status": "pending_activation",
        "import_line": n + 2,
        "created_at": "2026-12-04T21:00:00Z",
        **more,
    }


def link(n: int, **more) -> dict:
    return {
        "user_id": f"u-{n}",
        "recipient": f"user{n}@example.test",
        "recipient_name": f"Claire Martin{n}",
        "language": "fr-FR",
        "link_url": f"https://portal.example.test/activate/tok-{n}",
        "expires_at": "2026-12-11T21:00:00Z",
        **more,
    }


def links_issued(account: str, links: list[dict], **more) -> dict:
    return {"purpose": "activation", "account_id": account, "links": links, **more}


def test_a_batch_of_links_queues_one_email_per_recipient(notifications, people):
    account = people.account("RETAIL IT LIMITED")
    outcome = notifications.feed(
        "identity.links.issued", links_issued(account, [link(n) for n in range(300)])
    )
    assert outcome.kind == "handled", outcome
    rows = notifications.rows()
    assert [row.recipient for row in rows] == [f"user{n}@example.test" for n in range(300)]
    assert {row.event_id for row in rows} == {notifications.last.id}
    assert {(row.template, row.status, row.language) for row in rows} == {
        ("activation", "queued", "fr-FR")
    }
    assert rows[7].context["link_url"].endswith("/tok-7")
    assert rows[7].context["recipient_name"] == "Claire Martin7"
    assert rows[7].context["account_name"] == "RETAIL IT LIMITED"


def test_a_mass_re_send_uses_the_resent_email(notifications, people):
    account = people.account()
    notifications.feed("identity.links.issued", links_issued(account, [link(1)], resent=True))
    assert [row.template for row in notifications.rows()] == ["activation_resent"]


def test_a_redelivered_batch_queues_nobody_twice(notifications, people):
    account = people.account()
    event_id = new_id()
    data = links_issued(account, [link(n) for n in range(50)])
    assert notifications.feed("identity.links.issued", data, envelope_id=event_id).kind == "handled"
    assert (
        notifications.feed("identity.links.issued", data, envelope_id=event_id).kind == "duplicate"
    )
    # Even past the bus receipt (a batch whose first try stopped half-way, its receipt not kept):
    # the receipt per (event, recipient) holds.
    with notifications.part.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM bus_processed WHERE message_id = :id"), {"id": event_id})
    assert notifications.feed("identity.links.issued", data, envelope_id=event_id).kind == "handled"
    assert len(notifications.rows()) == 50


def test_a_poison_entry_is_kept_as_a_failed_delivery_and_the_rest_goes_through(
    notifications, people
):
    account = people.account()
    outcome = notifications.feed(
        "identity.links.issued", links_issued(account, [link(1), link(2, recipient="  "), link(3)])
    )
    assert outcome.kind == "handled", outcome
    queued = notifications.rows(status="queued")
    assert [row.recipient for row in queued] == ["user1@example.test", "user3@example.test"]
    [bad] = notifications.rows(status="failed")
    assert bad.user_id == "u-2" and "no address" in bad.last_answer
    assert bad.context == {}, "nothing of the link is kept"


def test_a_malformed_batch_is_dead_lettered_with_the_reason(notifications, people):
    account = people.account()
    outcome = notifications.feed(
        "identity.links.issued", links_issued(account, [link(1, language="xx")])
    )
    assert outcome.kind == "dead", outcome
    assert "links.0.language" in outcome.reason
    assert notifications.rows() == []


def test_the_created_users_become_recipients_in_one_event(notifications, people):
    account = people.account()
    notifications.feed(
        "identity.users.created",
        {
            "account_id": account,
            "source": "import",
            "import_job_id": "job-1",
            "batch": 1,
            "users": [created_user(n) for n in range(20)],
            "rejected": [],
        },
    )
    with notifications.part.engine.connect() as conn:
        rows = conn.execute(sa.select(recipients).order_by(recipients.c.user_id)).all()
    assert len(rows) == 20
    first = next(row for row in rows if row.user_id == "u-0")
    assert (first.email, first.full_name, first.language, first.account_id) == (
        "user0@example.test",
        "Claire Martin0",
        "fr-FR",
        account,
    )


def test_automatic_grants_of_a_batch_make_their_holders_hear_of_new_content(notifications, people):
    from tests.service.notifications.conftest import subscription_data

    account = people.account()
    notifications.feed(
        "identity.users.created",
        {"account_id": account, "source": "import", "users": [created_user(n) for n in range(3)]},
    )
    grants = [
        subscription_data(
            f"u-{n}",
            account,
            "accepted",
            service_code="info_faq",
            notifies="faq",
            family="information_flow",
            cause="auto_subscribe",
        )
        for n in range(2)
    ]
    grants.append(
        subscription_data("u-2", account, "accepted", cause="auto_subscribe")
    )  # no notice
    outcome = notifications.feed(
        "subscriptions.subscriptions.accepted",
        {"account_id": account, "cause": "auto_subscribe", "subscriptions": grants},
    )
    assert outcome.kind == "handled", outcome
    assert notifications.rows() == [], "an automatic grant e-mails nobody"

    notifications.feed(
        "content.published",
        {"kind": "faq", "title": "How to import users", "url": "https://portal.example.test/faq/1"},
    )
    assert sorted(row.recipient for row in notifications.rows()) == [
        "user0@example.test",
        "user1@example.test",
    ]


def test_a_batch_describing_each_service_once_makes_its_holders_hear_of_new_content(
    notifications, people
):
    account = people.account()
    notifications.feed(
        "identity.users.created",
        {"account_id": account, "source": "import", "users": [created_user(n) for n in range(3)]},
    )
    services = [
        {
            "service_id": "svc-faq",
            "service_code": "info_faq",
            "service_title": "FAQ",
            "family": "information_flow",
            "notifies": "faq",
        },
        {
            "service_id": "svc-inv",
            "service_code": "invoice_viewing",
            "service_title": "Invoices",
            "family": "administrative",
        },
    ]
    holds = {"u-0": ["svc-faq", "svc-inv"], "u-1": ["svc-faq"], "u-2": ["svc-inv"]}
    outcome = notifications.feed(
        "subscriptions.subscriptions.accepted",
        {
            "account_id": account,
            "cause": "auto_subscribe",
            "changed_at": "2026-12-04T21:00:00Z",
            "services": services,
            "users": [
                {
                    "user_id": user_id,
                    "subscription_ids": [new_id() for _ in held],
                    "service_ids": held,
                }
                for user_id, held in holds.items()
            ],
        },
    )
    assert outcome.kind == "handled", outcome
    assert notifications.rows() == [], "an automatic grant e-mails nobody"

    notifications.feed(
        "content.published",
        {"kind": "faq", "title": "How to import users", "url": "https://portal.example.test/faq/1"},
    )
    assert sorted(row.recipient for row in notifications.rows()) == [
        "user0@example.test",
        "user1@example.test",
    ]
