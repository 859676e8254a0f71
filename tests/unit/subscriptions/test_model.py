"""The subscription lifecycle: allowed and refused transitions, levels, expiry dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.subscriptions.domain.definitions import get_definition
from services.subscriptions.domain.errors import (
    AlreadySubscribed,
    InvalidExpiry,
    InvalidTransition,
    LevelTooLow,
)
from services.subscriptions.domain.model import (
    TRANSITIONS,
    ServiceSettings,
    Subscription,
    ensure_not_held,
    grant,
    request,
)

ALL_ACTIONS = ("accept", "refuse", "cancel", "expire")


def act(subscription: Subscription, action: str, today: date) -> None:
    if action == "expire":
        subscription.expire(today)
    else:
        getattr(subscription, action)(today=today)


# -- request -----------------------------------------------------------------------------------


def test_request_without_validation_is_accepted_at_once(make_settings, now, today):
    settings = make_settings(requires_validation=False)
    subscription = request(settings, 1, now, user_id="u1")
    assert subscription.status == "accepted"
    assert subscription.user_id == "u1"
    assert subscription.service_code == settings.code
    assert subscription.requested_at == now and subscription.decided_at == now
    assert subscription.decided_by is None and subscription.expires_on is None
    assert subscription.is_active(today)


def test_request_subject_to_validation_waits(make_settings, now, today):
    subscription = request(make_settings(requires_validation=True), 1, now, user_id="u1")
    assert subscription.status == "pending"
    assert subscription.decided_at is None
    assert not subscription.is_active(today)
    assert subscription.is_current


def test_request_takes_a_service_definition_as_well(now):
    subscription = request(get_definition("saas_administrator"), 3, now, user_id="u1")
    assert subscription.status == "pending"  # shipped default: subject to validation


def test_level_too_low_says_which_level_is_needed(make_settings, now):
    settings = make_settings(title="SaaS Administrator", min_password_level=2)
    with pytest.raises(LevelTooLow) as refused:
        request(settings, 1, now, user_id="u1")
    error = refused.value
    assert (error.required_level, error.user_level) == (2, 1)
    assert error.code == "password_level_too_low"
    assert error.message == str(error)
    assert error.message.startswith(
        "“SaaS Administrator” needs a moderate (level 2) password; yours is weak (level 1)."
    )
    assert "administrator" in error.message


@pytest.mark.parametrize("level", [2, 3])
def test_level_equal_or_above_the_minimum_is_enough(make_settings, now, level):
    assert request(make_settings(min_password_level=2), level, now).status == "accepted"


def test_strong_service_refuses_a_moderate_password(make_settings, now):
    with pytest.raises(LevelTooLow, match=r"strong \(level 3\).*moderate \(level 2\)"):
        request(make_settings(min_password_level=3), 2, now)


# -- accept / refuse ---------------------------------------------------------------------------


def test_accept_a_pending_request_with_an_expiry(make_subscription, now, today):
    subscription = make_subscription("pending")
    later = now + timedelta(hours=2)
    subscription.accept(today + timedelta(days=30), now=later, decided_by="admin-1")
    assert subscription.status == "accepted"
    assert subscription.expires_on == today + timedelta(days=30)
    assert (subscription.decided_at, subscription.decided_by) == (later, "admin-1")


def test_accept_with_only_a_date_records_that_day(make_subscription, today):
    subscription = make_subscription("pending")
    subscription.accept(None, today)
    assert subscription.status == "accepted"
    assert subscription.decided_at == datetime(2027, 1, 3, tzinfo=UTC)


def test_accept_refuses_an_expiry_in_the_past(make_subscription, today):
    subscription = make_subscription("pending")
    with pytest.raises(InvalidExpiry) as refused:
        subscription.accept(today - timedelta(days=1), today)
    assert refused.value.message == (
        "The expiry date 2027-01-02 is in the past; "
        "choose 2027-01-03 or a later date, or leave it empty."
    )
    assert subscription.status == "pending"


def test_accept_allows_an_expiry_of_today(make_subscription, today):
    subscription = make_subscription("pending")
    subscription.accept(today, today)
    assert subscription.is_active(today)
    assert not subscription.is_active(today + timedelta(days=1))


def test_refuse_keeps_the_reason(make_subscription, now):
    subscription = make_subscription("pending")
    subscription.refuse(now=now, decided_by="admin-1", reason="Not in your contract.")
    assert subscription.status == "refused"
    assert subscription.reason == "Not in your contract."
    assert (subscription.decided_at, subscription.decided_by) == (now, "admin-1")
    assert not subscription.is_current


def test_a_decision_needs_a_date_or_an_instant(make_subscription):
    with pytest.raises(TypeError):
        make_subscription("pending").accept()


# -- cancel / expire ---------------------------------------------------------------------------


def test_cancel_an_accepted_subscription(make_subscription, now, today):
    subscription = make_subscription("accepted")
    subscription.cancel(now=now, cancelled_by="u1")
    assert subscription.status == "cancelled"
    assert (subscription.ended_at, subscription.ended_by) == (now, "u1")
    assert not subscription.is_active(today)


def test_expire_an_accepted_subscription_after_its_last_day(make_subscription, today):
    subscription = make_subscription("accepted", expires_on=today - timedelta(days=1))
    assert subscription.is_due_to_expire(today)
    subscription.expire(today)
    assert subscription.status == "expired"
    assert subscription.ended_at == datetime(2027, 1, 3, tzinfo=UTC)


def test_a_subscription_runs_through_its_expiry_date(make_subscription, today):
    subscription = make_subscription("accepted", expires_on=today)
    assert subscription.is_active(today) and subscription.is_effective(today)
    assert not subscription.is_due_to_expire(today)
    with pytest.raises(InvalidTransition) as refused:
        subscription.expire(today)
    assert refused.value.message == (
        "This subscription runs until 2027-01-03 included; it cannot expire on 2027-01-03."
    )
    assert subscription.status == "accepted"


def test_a_subscription_without_expiry_never_expires(make_subscription, today):
    subscription = make_subscription("accepted")
    assert subscription.is_active(today + timedelta(days=10_000))
    assert not subscription.is_due_to_expire(today + timedelta(days=10_000))
    with pytest.raises(InvalidTransition, match="has no expiry date; it cannot expire"):
        subscription.expire(today)


def test_accepted_but_past_expiry_is_no_longer_active(make_subscription, today):
    subscription = make_subscription("accepted", expires_on=today - timedelta(days=1))
    assert subscription.status == "accepted"
    assert not subscription.is_active(today) and not subscription.is_effective(today)


@pytest.mark.parametrize("status", ["pending", "accepted"])
def test_a_request_or_a_subscription_ends_when_its_user_or_service_is_gone(
    make_subscription, now, status
):
    subscription = make_subscription(status)
    subscription.end(now=now, ended_by="admin-1", reason="The user was deleted.")
    assert subscription.status == "cancelled"
    assert (subscription.ended_at, subscription.ended_by) == (now, "admin-1")
    assert subscription.reason == "The user was deleted."


@pytest.mark.parametrize("status", ["refused", "cancelled", "expired"])
def test_what_has_ended_cannot_end_again(make_subscription, now, status):
    subscription = make_subscription(status)
    with pytest.raises(InvalidTransition, match="it has already ended"):
        subscription.end(now=now)
    assert subscription.status == status


# -- the transition table ----------------------------------------------------------------------


def test_the_transition_table_is_the_designed_one():
    assert TRANSITIONS == {
        "pending": {"accepted", "refused"},
        "accepted": {"cancelled", "expired"},
        "refused": set(),
        "cancelled": set(),
        "expired": set(),
    }


ALLOWED = {("pending", "accept"), ("pending", "refuse"), ("accepted", "cancel")}
REFUSED_MOVES = [
    (status, action)
    for status in TRANSITIONS
    for action in ALL_ACTIONS
    if (status, action) not in ALLOWED and (status, action) != ("accepted", "expire")
]


@pytest.mark.parametrize(("status", "action"), sorted(ALLOWED))
def test_allowed_moves(make_subscription, today, status, action):
    subscription = make_subscription(status)
    act(subscription, action, today)
    assert subscription.status == {"accept": "accepted", "refuse": "refused"}.get(
        action, "cancelled"
    )


@pytest.mark.parametrize(("status", "action"), REFUSED_MOVES)
def test_every_other_move_is_refused_and_changes_nothing(make_subscription, today, status, action):
    subscription = make_subscription(status, expires_on=date(2026, 12, 31))
    before = vars(subscription).copy()
    with pytest.raises(InvalidTransition) as refused:
        act(subscription, action, today)
    assert vars(subscription) == before
    assert (refused.value.status, refused.value.action) == (status, action)
    assert refused.value.code == "invalid_transition"
    assert refused.value.message.startswith("This ")
    assert refused.value.message.endswith(".")


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        (
            "accepted",
            "refuse",
            "This request was already accepted on 2027-01-03; it cannot be refused. "
            "To withdraw it, remove the subscription instead.",
        ),
        (
            "accepted",
            "accept",
            "This request was already accepted on 2027-01-03; it cannot be accepted again.",
        ),
        (
            "refused",
            "accept",
            "This request was refused on 2027-01-03; it cannot be accepted. "
            "The user can ask for the service again.",
        ),
        (
            "refused",
            "refuse",
            "This request was refused on 2027-01-03; it cannot be refused again.",
        ),
        (
            "pending",
            "cancel",
            "This request is still waiting for an administrator's decision; it cannot be removed. "
            "An administrator can refuse the request instead.",
        ),
        (
            "pending",
            "expire",
            "This request is still waiting for an administrator's decision; it cannot expire.",
        ),
        (
            "cancelled",
            "accept",
            "This subscription was removed on 2027-01-03; it cannot be accepted. "
            "The user can subscribe to the service again.",
        ),
        (
            "cancelled",
            "cancel",
            "This subscription was removed on 2027-01-03; it cannot be removed again.",
        ),
        (
            "expired",
            "cancel",
            "This subscription has expired (its last day was 2026-12-31); it cannot be removed.",
        ),
        (
            "expired",
            "expire",
            "This subscription has expired (its last day was 2026-12-31); it cannot expire again.",
        ),
    ],
)
def test_refusals_tell_the_person_what_happened(
    make_subscription, now, today, status, action, message
):
    subscription = make_subscription(status, expires_on=date(2026, 12, 31), ended_at=now)
    with pytest.raises(InvalidTransition) as refused:
        act(subscription, action, today)
    assert refused.value.message == message


# -- grant and duplicates ----------------------------------------------------------------------


def test_grant_skips_validation_and_records_who(make_settings, now, today):
    settings = make_settings(requires_validation=True)
    subscription = grant(
        settings, 1, now, user_id="u2", granted_by="admin-1", expires_on=today + timedelta(7)
    )
    assert subscription.status == "accepted"
    assert subscription.decided_by == "admin-1"
    assert subscription.expires_on == date(2027, 1, 10)


def test_grant_checks_level_and_expiry(make_settings, now, today):
    with pytest.raises(LevelTooLow):
        grant(make_settings(min_password_level=2), 1, now, user_id="u2")
    with pytest.raises(InvalidExpiry):
        grant(make_settings(), 1, now, user_id="u2", expires_on=today - timedelta(1))


def test_a_service_cannot_be_asked_for_twice(make_subscription):
    pending = make_subscription("pending", service_code="view_faqs")
    with pytest.raises(AlreadySubscribed, match="“View FAQs” is already waiting"):
        ensure_not_held([pending], "view_faqs", "View FAQs")
    accepted = make_subscription("accepted", service_code="view_faqs")
    with pytest.raises(AlreadySubscribed, match="You already hold “View FAQs”."):
        ensure_not_held([accepted], "view_faqs", "View FAQs")


def test_an_ended_or_refused_subscription_can_be_asked_for_again(make_subscription):
    history = [
        make_subscription(status, service_code="view_faqs")
        for status in ("refused", "cancelled", "expired")
    ]
    history.append(make_subscription("accepted", service_code="request_service"))
    ensure_not_held(history, "view_faqs")


def test_service_settings_carry_the_accounts_flags():
    settings = ServiceSettings(
        code="view_faqs", title="View FAQs", family="support", requires_validation=True
    )
    assert (settings.min_password_level, settings.auto_subscribe) == (1, False)
