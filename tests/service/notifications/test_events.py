"""Each event queues the right e-mail for the right person in their language; bad events are
dead-lettered with the reason; a redelivered event queues nothing more."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from bus.consumer import Outcome
from services.notifications.service_layer import compose
from tests.service.notifications.conftest import PUBLIC_URL, new_id, subscription_data, user_data

LINK = "https://portal.example.test/activate/tok-1"


def link_data(user_id, account_id, recipient, purpose="activation", **more):
    return {
        "purpose": purpose,
        "user_id": user_id,
        "account_id": account_id,
        "recipient": recipient,
        "language": more.pop("language", "en-US"),
        "link_url": more.pop("link_url", LINK),
        "expires_at": "2027-03-08T09:00:00Z",
        **more,
    }


def only(rows):
    assert len(rows) == 1, rows
    return rows[0]


def handled(outcome: Outcome) -> None:
    assert outcome.kind == "handled", outcome


@pytest.fixture
def account(people):
    return people.account("RETAIL IT LIMITED")


# -- identity ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "resent", "template"),
    [
        ("activation", False, "activation"),
        ("activation", True, "activation_resent"),
        ("reset", False, "password_reset"),
    ],
)
def test_a_link_goes_to_its_recipient_in_their_language(
    notifications, people, account, purpose, resent, template
):
    user = people.user(account, "steven@example.test", language="fr-BE")

    handled(
        notifications.feed(
            "identity.link.issued",
            link_data(
                user,
                account,
                "steven@example.test",
                purpose,
                resent=resent,
                language="fr-BE",
            ),
        )
    )

    row = only(notifications.rows())
    assert (row.template, row.recipient, row.language) == (template, "steven@example.test", "fr-BE")
    assert row.context["link_url"] == LINK
    assert row.context["recipient_name"] == "Steven MARKS"
    assert row.event_id == notifications.last.id
    if template == "activation":
        assert row.context["account_name"] == "RETAIL IT LIMITED"


def test_the_email_change_link_goes_to_the_new_address(notifications, people, account):
    user = people.user(account, "old@example.test")

    handled(
        notifications.feed(
            "identity.link.issued",
            link_data(
                user,
                account,
                "new@example.test",
                "email_change",
                old_email="old@example.test",
            ),
        )
    )

    row = only(notifications.rows())
    assert (row.template, row.recipient) == ("email_change_confirmation", "new@example.test")
    assert row.context["new_email"] == "new@example.test"
    assert row.context["old_email"] == "old@example.test"


def test_the_old_address_is_told_and_later_mail_goes_to_the_new_one(notifications, people, account):
    user = people.user(account, "old@example.test", language="fr-FR")

    handled(
        notifications.feed(
            "identity.email.changed",
            {
                "user_id": user,
                "account_id": account,
                "old_email": "old@example.test",
                "new_email": "new@example.test",
            },
        )
    )
    handled(
        notifications.feed(
            "identity.password.changed",
            {
                "user_id": user,
                "account_id": account,
                "via": "change",
            },
        )
    )

    notice, changed = notifications.rows()
    assert (notice.template, notice.recipient, notice.language) == (
        "email_change_notice",
        "old@example.test",
        "fr-FR",
    )
    assert notice.context["new_email"] == "new@example.test"
    assert (changed.template, changed.recipient) == ("password_changed", "new@example.test")


def test_activation_is_confirmed(notifications, people, account):
    user = people.user(account, "steven@example.test", status="pending_activation")

    data = {
        **user_data(user, account, "steven@example.test"),
        "activated_at": "2027-03-01T09:00:00Z",
    }
    handled(notifications.feed("identity.user.activated", data))

    row = only(notifications.rows())
    assert (row.template, row.recipient) == ("account_activated", "steven@example.test")
    assert row.context["email"] == "steven@example.test"


def test_a_password_change_is_confirmed_but_not_the_first_password(notifications, people, account):
    user = people.user(account, "steven@example.test")

    handled(
        notifications.feed(
            "identity.password.changed",
            {"user_id": user, "account_id": account, "via": "activation"},
        )
    )
    assert notifications.rows() == []
    handled(
        notifications.feed(
            "identity.password.changed", {"user_id": user, "account_id": account, "via": "reset"}
        )
    )

    row = only(notifications.rows())
    assert row.template == "password_changed"
    assert row.context["changed_at"] == notifications.last.occurred_at


def test_a_locked_user_is_told_until_when(notifications, people, account):
    user = people.user(account, "steven@example.test", language="en-GB")

    handled(
        notifications.feed(
            "identity.user.locked",
            {
                "user_id": user,
                "account_id": account,
                "until": "2027-03-01T09:30:00Z",
            },
        )
    )

    row = only(notifications.rows())
    assert (row.template, row.recipient, row.language) == (
        "login_locked",
        "steven@example.test",
        "en-GB",
    )
    assert row.context["locked_until"] == "2027-03-01T09:30:00Z"


def test_the_administrator_who_deleted_a_user_is_told(notifications, people, account):
    admin = people.admin(
        account, "admin@example.test", language="fr-FR", first_name="Mark", last_name="HUGHES"
    )
    user = people.user(account, "julia@example.test", first_name="Julia", last_name="TEST2")

    handled(
        notifications.feed(
            "identity.user.deleted",
            {
                "user_id": user,
                "account_id": account,
                "email": "julia@example.test",
                "first_name": "Julia",
                "last_name": "TEST2",
                "deleted_by": admin,
            },
        )
    )

    row = only(notifications.rows())
    assert (row.template, row.recipient, row.language) == (
        "user_deleted",
        "admin@example.test",
        "fr-FR",
    )
    assert row.context["user_name"] == "Julia TEST2"
    assert row.context["user_email"] == "julia@example.test"
    assert row.context["recipient_name"] == "Mark HUGHES"
    # The deleted user is gone from the projection: nothing more is written to them.
    handled(notifications.feed("identity.user.locked", {"user_id": user, "account_id": account}))
    assert len(notifications.rows()) == 1


def test_a_deletion_by_the_directory_is_handled_and_sends_nothing(notifications, people, account):
    """A company's directory (SCIM, deleted_by scim:<token id>) has no administrator to tell."""
    user = people.user(account, "leaver@example.test", first_name="Lea", last_name="VER")
    handled(
        notifications.feed(
            "identity.user.deleted",
            {
                "user_id": user,
                "account_id": account,
                "email": "leaver@example.test",
                "first_name": "Lea",
                "last_name": "VER",
                "deleted_by": "scim:6f1c2a4e-0b9d-4c52-9a57-2f3d8e1b7c60",
            },
        )
    )
    assert notifications.rows() == []


def test_a_user_without_address_is_skipped_not_rejected(notifications, people, account):
    user = people.user(account, None, status="no_email")

    handled(notifications.feed("identity.user.locked", {"user_id": user, "account_id": account}))

    assert notifications.rows() == []


def test_an_updated_user_gets_mail_at_the_new_address_in_the_new_language(
    notifications, people, account
):
    user = people.user(account, "steven@example.test", language="en-US")

    handled(
        notifications.feed(
            "identity.user.updated",
            {
                **user_data(user, account, "steven.marks@example.test", language="fr-CA"),
                "changed": ["email", "language"],
            },
        )
    )
    handled(notifications.feed("identity.user.locked", {"user_id": user, "account_id": account}))

    row = only(notifications.rows())
    assert (row.recipient, row.language) == ("steven.marks@example.test", "fr-CA")


# -- subscriptions ------------------------------------------------------------------------------


def test_a_pending_request_goes_to_every_administrator_in_their_language(
    notifications, people, account
):
    first = people.admin(account, "admin1@example.test", language="fr-FR")
    second = people.admin(account, "admin2@example.test", language="en-US")
    other_account = people.account("OTHER CO")
    people.admin(other_account, "elsewhere@example.test")
    user = people.user(account, "paul@example.test", first_name="Paul", last_name="GUNTER")

    handled(
        notifications.feed(
            "subscriptions.subscription.requested",
            subscription_data(
                user,
                account,
                "pending",
                cause="request",
                user_email="paul@example.test",
                user_name="Paul GUNTER",
                requested_at="2027-03-01T08:59:00Z",
            ),
        )
    )

    rows = notifications.rows()
    assert {(r.template, r.recipient, r.language, r.user_id) for r in rows} == {
        ("request_pending", "admin1@example.test", "fr-FR", first),
        ("request_pending", "admin2@example.test", "en-US", second),
    }
    context = rows[0].context
    assert context["validation_url"] == f"{PUBLIC_URL}/validation"
    assert context["requester_name"] == "Paul GUNTER"
    assert context["requester_email"] == "paul@example.test"
    assert context["service_title"] == "Invoice viewing service"


def test_an_administrator_who_lost_the_role_is_not_asked(notifications, people, account):
    people.admin(account, "stays@example.test")
    leaving = people.user(account, "leaves@example.test")
    held = people.grant(leaving, account, administers_account_id=account, cause="grant")
    handled(
        notifications.feed(
            "subscriptions.subscription.cancelled",
            subscription_data(
                leaving,
                account,
                "cancelled",
                subscription_id=held,
                administers_account_id=account,
                cause="removal",
            ),
        )
    )
    user = people.user(account, "paul@example.test")
    before = len(notifications.rows())

    handled(
        notifications.feed(
            "subscriptions.subscription.requested", subscription_data(user, account, "pending")
        )
    )

    assert [r.recipient for r in notifications.rows()[before:]] == ["stays@example.test"]


@pytest.mark.parametrize(
    ("fields", "template"),
    [
        ({"cause": "request"}, "subscription_accepted"),
        ({"cause": "grant", "granted_directly": True}, "subscription_accepted"),
        ({"cause": "decision", "decided_by_name": "Mark HUGHES"}, "request_accepted"),
        (
            {"requested_at": "2027-03-01T08:00:00Z", "decided_at": "2027-03-01T08:00:00Z"},
            "subscription_accepted",
        ),
        (
            {"requested_at": "2027-02-27T08:00:00Z", "decided_at": "2027-03-01T08:00:00Z"},
            "request_accepted",
        ),
        ({"granted_directly": True}, "subscription_accepted"),
    ],
)
def test_an_acceptance_says_whether_it_was_at_once_or_decided(
    notifications, people, account, fields, template
):
    user = people.user(account, "paul@example.test", language="fr-FR")

    handled(
        notifications.feed(
            "subscriptions.subscription.accepted",
            subscription_data(
                user,
                account,
                "accepted",
                expires_on="2027-12-31",
                **fields,
            ),
        )
    )

    row = only(notifications.rows())
    assert (row.template, row.recipient, row.language) == (template, "paul@example.test", "fr-FR")
    assert row.context["expires_on"] == "2027-12-31"
    if template == "request_accepted" and "decided_by_name" in fields:
        assert row.context["decided_by_name"] == "Mark HUGHES"


@pytest.mark.parametrize("cause", ["auto_subscribe", "administration_grant"])
def test_services_given_at_user_creation_send_no_mail(notifications, people, account, cause):
    user = people.user(account, "paul@example.test")

    handled(
        notifications.feed(
            "subscriptions.subscription.accepted",
            subscription_data(
                user,
                account,
                "accepted",
                cause=cause,
                granted_directly=True,
            ),
        )
    )

    assert notifications.rows() == []


def test_a_refusal_carries_the_reason(notifications, people, account):
    user = people.user(account, "paul@example.test")

    handled(
        notifications.feed(
            "subscriptions.subscription.refused",
            subscription_data(
                user,
                account,
                "refused",
                cause="decision",
                reason="Not in your contract.",
                decided_by_name="Mark HUGHES",
            ),
        )
    )

    row = only(notifications.rows())
    assert (row.template, row.recipient) == ("request_refused", "paul@example.test")
    assert row.context["reason"] == "Not in your contract."
    assert row.context["decided_by_name"] == "Mark HUGHES"


def test_an_expiry_is_announced_and_a_cancellation_is_not(notifications, people, account):
    user = people.user(account, "paul@example.test")

    handled(
        notifications.feed(
            "subscriptions.subscription.cancelled",
            subscription_data(user, account, "cancelled", cause="removal"),
        )
    )
    handled(
        notifications.feed(
            "subscriptions.subscription.expired",
            subscription_data(user, account, "expired", cause="expiry", expires_on="2027-02-28"),
        )
    )

    row = only(notifications.rows())
    assert row.template == "subscription_expired"
    assert row.context["expired_on"] == "2027-02-28"


def test_a_subscriber_unknown_to_identity_is_written_to_from_the_event(
    notifications, people, account
):
    user = new_id()

    handled(
        notifications.feed(
            "subscriptions.subscription.accepted",
            subscription_data(
                user,
                account,
                "accepted",
                cause="request",
                user_email="new@example.test",
                user_name="New PERSON",
                user_language="fr-FR",
            ),
        )
    )

    row = only(notifications.rows())
    assert (row.recipient, row.language) == ("new@example.test", "fr-FR")
    assert row.context["recipient_name"] == "New PERSON"


# -- importer and content -------------------------------------------------------------------------


def test_the_importing_administrator_gets_every_anomaly_and_a_safe_csv(
    notifications, people, account
):
    admin = people.admin(account, "admin@example.test", language="fr-FR")
    anomalies = [
        {"line": 7, "field": "email", "message": '=HYPERLINK("http://evil")'},
        {"line": 3, "field": None, "message": "repeats line 2"},
        {"line": 5, "field": "last_name", "message": "+33 is not a name"},
    ]

    handled(
        notifications.feed(
            "importer.import.finished",
            {
                "import_job_id": new_id(),
                "account_id": account,
                "requested_by": admin,
                "filename": "users.csv",
                "status": "done",
                "rows": 10,
                "created": 7,
                "rejected": 3,
                "anomalies": anomalies,
            },
        )
    )

    row = only(notifications.rows())
    assert (row.template, row.recipient, row.language) == (
        "import_finished",
        "admin@example.test",
        "fr-FR",
    )
    assert [a["line"] for a in row.context["anomalies"]] == [3, 5, 7]
    assert (row.context["rows"], row.context["created"], row.context["rejected"]) == (10, 7, 3)
    [report] = row.attachments
    assert (report["filename"], report["mimetype"]) == ("import-report.csv", "text/csv")
    assert report["content"].startswith("\ufeff")
    cells = list(csv.reader(io.StringIO(report["content"][1:]), delimiter=";"))
    assert cells == [
        ["line", "field", "message"],
        ["3", "", "repeats line 2"],
        ["5", "last_name", "'+33 is not a name"],
        ["7", "email", '\'=HYPERLINK("http://evil")'],
    ]


def test_content_goes_only_to_current_holders_of_the_matching_service(
    notifications, people, account
):
    def holder(email, notifies, **fields):
        user = people.user(account, email, language=fields.pop("language", "en-US"))
        people.grant(
            user,
            account,
            service_code=f"notify_{notifies}",
            notifies=notifies,
            family="notifications",
            cause="request",
            **fields,
        )
        return user

    faq_fr = holder("faq.fr@example.test", "faq", language="fr-FR")
    faq_en = holder("faq.en@example.test", "faq")
    holder("events@example.test", "events")
    holder("expired@example.test", "faq", expires_on="2027-02-28")
    gone = holder("gone@example.test", "faq")
    handled(
        notifications.feed(
            "identity.user.deleted", {"user_id": gone, "account_id": account, "deleted_by": None}
        )
    )
    people.user(account, "nobody@example.test")
    twice = holder("twice@example.test", "faq")
    people.grant(
        twice,
        account,
        service_code="info_faq",
        notifies="faq",
        family="information_flow",
        cause="grant",
    )
    cancelled = holder("cancelled@example.test", "faq")
    handled(
        notifications.feed(
            "subscriptions.subscription.cancelled",
            subscription_data(
                cancelled,
                account,
                "cancelled",
                notifies="faq",
                cause="removal",
                subscription_id=_held_subscription(notifications, cancelled),
            ),
        )
    )
    before = len(notifications.rows())

    handled(
        notifications.feed(
            "content.published",
            {
                "kind": "faq",
                "title": "How to import users",
                "url": "https://portal.example.test/faq/1",
            },
        )
    )

    rows = notifications.rows()[before:]
    assert {(r.recipient, r.language) for r in rows} == {
        ("faq.fr@example.test", "fr-FR"),
        ("faq.en@example.test", "en-US"),
        ("twice@example.test", "en-US"),
    }
    assert {r.template for r in rows} == {"content_published"}
    assert {r.user_id for r in rows} >= {faq_fr, faq_en}
    assert rows[0].context["url"] == "https://portal.example.test/faq/1"


def _held_subscription(harness, user_id):
    from services.notifications.adapters.orm import held_services

    with harness.part.engine.connect() as conn:
        return conn.execute(
            sa.select(held_services.c.subscription_id).where(held_services.c.user_id == user_id)
        ).scalar_one()


def test_content_nobody_asked_for_queues_nothing(notifications):
    handled(
        notifications.feed(
            "content.published",
            {
                "kind": "events",
                "title": "User club",
                "url": "https://portal.example.test/events/1",
            },
        )
    )

    assert notifications.rows() == []


# -- idempotence and bad input -----------------------------------------------------------------


def test_a_redelivered_event_queues_one_row(notifications, people, account):
    user = people.user(account, "steven@example.test")
    data = link_data(user, account, "steven@example.test")

    handled(notifications.feed("identity.link.issued", data))
    again = notifications.feed("identity.link.issued", data, envelope_id=notifications.last.id)

    assert again.kind == "duplicate"
    assert len(notifications.rows()) == 1


def test_the_unique_key_holds_even_without_the_receipt(notifications, people, account):
    user = people.user(account, "steven@example.test")
    data = link_data(user, account, "steven@example.test")
    handled(notifications.feed("identity.link.issued", data))
    with notifications.part.engine.begin() as conn:  # as if the receipt had been lost
        conn.execute(notifications.part.processed_table.delete())

    handled(notifications.feed("identity.link.issued", data, envelope_id=notifications.last.id))

    assert len(notifications.rows()) == 1


def test_an_unknown_user_is_dead_lettered_with_the_reason(notifications, account):
    ghost = new_id()

    outcome = notifications.feed(
        "identity.password.changed", {"user_id": ghost, "account_id": account}
    )

    assert outcome.kind == "dead"
    assert outcome.reason.startswith("rejected:")
    assert ghost in outcome.reason and "unknown" in outcome.reason
    assert notifications.rows() == []


def test_an_unknown_importer_is_dead_lettered(notifications, account):
    outcome = notifications.feed(
        "importer.import.finished",
        {
            "import_job_id": new_id(),
            "account_id": account,
            "requested_by": "ghost",
            "filename": "users.csv",
            "status": "done",
            "rows": 1,
            "created": 1,
            "rejected": 0,
            "anomalies": [],
        },
    )

    assert outcome.kind == "dead"
    assert "ghost" in outcome.reason


def test_a_subscriber_nobody_knows_is_dead_lettered(notifications, account):
    outcome = notifications.feed(
        "subscriptions.subscription.refused", subscription_data("ghost", account, "refused")
    )

    assert outcome.kind == "dead"
    assert "ghost" in outcome.reason


def test_a_request_in_an_account_without_administrators_is_dead_lettered(
    notifications, people, account
):
    user = people.user(account, "paul@example.test")

    outcome = notifications.feed(
        "subscriptions.subscription.requested", subscription_data(user, account, "pending")
    )

    assert outcome.kind == "dead"
    assert "no administrator" in outcome.reason
    assert notifications.rows() == []


def test_an_unknown_template_is_dead_lettered(notifications, people, account, monkeypatch):
    user = people.user(account, "steven@example.test")
    monkeypatch.setitem(compose.LINK_TEMPLATES, "reset", "password_reset_v9")

    outcome = notifications.feed(
        "identity.link.issued", link_data(user, account, "steven@example.test", "reset")
    )

    assert outcome.kind == "dead"
    assert "password_reset_v9" in outcome.reason and "does not exist" in outcome.reason
    assert notifications.rows() == []


def test_a_link_without_recipient_is_dead_lettered(notifications, people, account):
    user = people.user(account, "steven@example.test")

    outcome = notifications.feed("identity.link.issued", link_data(user, account, " "))

    assert outcome.kind == "dead"
    assert "no recipient" in outcome.reason


def test_a_bad_event_in_a_batch_does_not_hold_back_the_others(notifications, people, account):
    from bus.envelope import Envelope

    user = people.user(account, "steven@example.test")
    good = Envelope(
        type="identity.link.issued",
        producer="identity",
        data=link_data(user, account, "steven@example.test"),
    )
    bad = Envelope(
        type="identity.password.changed",
        producer="identity",
        data={"user_id": "ghost", "account_id": account},
    )

    outcomes = notifications.processor.process_batch([(good.to_json(), 0), (bad.to_json(), 0)])

    assert [o.kind for o in outcomes] == ["handled", "dead"]
    assert only(notifications.rows()).event_id == good.id


def test_a_commit_that_queued_mail_wakes_the_delivery_loops(notifications, people, account):
    woken = notifications.part.wakeup.subscribe()
    user = people.user(account, "steven@example.test")
    assert not woken.is_set()  # no mail queued by creating a user

    handled(
        notifications.feed("identity.link.issued", link_data(user, account, "steven@example.test"))
    )

    assert woken.is_set()


def test_a_dry_run_or_a_cut_list_of_anomalies_is_said_so(notifications, people, account):
    admin = people.admin(account, "admin@example.test")

    handled(
        notifications.feed(
            "importer.import.finished",
            {
                "import_job_id": new_id(),
                "account_id": account,
                "requested_by": admin,
                "filename": "users.csv",
                "status": "done",
                "rows": 900,
                "created": 0,
                "rejected": 900,
                "anomalies": [{"line": 2, "field": "email", "message": "is not valid"}],
                "anomalies_total": 900,
                "report_url": "/api/v1/accounts/a/imports/j/report.csv",
                "dry_run": True,
                "would_create": 0,
            },
        )
    )

    context = only(notifications.rows()).context
    assert context["dry_run"] is True and context["anomalies_total"] == 900
    assert context["report_url"] == f"{PUBLIC_URL}/api/v1/accounts/a/imports/j/report.csv"
    assert context["failed"] is False


def test_supervisors_are_asked_only_when_the_account_has_no_administrator(notifications, people):
    parent, child = people.account("PARENT CO"), people.account("SHOP 12")
    supervisor = people.user(parent, "super@example.test")
    people.grant(
        supervisor,
        parent,
        administers_account_id=child,
        supervises=True,
        service_code="user_admin_supervision",
        cause="grant",
    )
    user = people.user(child, "paul@example.test")
    before = len(notifications.rows())

    handled(
        notifications.feed(
            "subscriptions.subscription.requested", subscription_data(user, child, "pending")
        )
    )
    people.admin(child, "admin@example.test")
    handled(
        notifications.feed(
            "subscriptions.subscription.requested", subscription_data(user, child, "pending")
        )
    )

    assert [r.recipient for r in notifications.rows()[before:]] == [
        "super@example.test",
        "admin@example.test",
    ]


def test_an_older_subscription_change_arriving_late_is_ignored(notifications, people, account):
    user = people.user(account, "steven@example.test")
    held = people.grant(
        user, account, notifies="faq", cause="request", changed_at="2027-03-01T10:00:00Z"
    )
    handled(
        notifications.feed(
            "subscriptions.subscription.cancelled",
            subscription_data(
                user,
                account,
                "cancelled",
                subscription_id=held,
                notifies="faq",
                cause="removal",
                changed_at="2027-03-01T09:00:00+00:00",
            ),
        )
    )
    before = len(notifications.rows())

    handled(
        notifications.feed(
            "content.published",
            {"kind": "faq", "title": "New", "url": "https://portal.example.test/faq/2"},
        )
    )

    assert [r.recipient for r in notifications.rows()[before:]] == ["steven@example.test"]
