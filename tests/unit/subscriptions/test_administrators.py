"""The last-administrator rule, for people's actions and for the expiry job."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.subscriptions.domain.administrators import (
    ACTIONS,
    account_label,
    administrators_by_account,
    ensure_not_last_admin,
    plan_expiries,
)
from services.subscriptions.domain.definitions import AccountRef, admin_service_code
from services.subscriptions.domain.errors import LastAdministrator

RETAIL = AccountRef(id="acc-retail", number="90293531", name="RETAIL IT LIMITED")
ADMIN = admin_service_code(RETAIL.id)
LAST_ADMIN_MESSAGE = (
    "90293531 RETAIL IT LIMITED must keep at least one administrator; "
    "grant the administration service to another user first."
)


@pytest.mark.parametrize("action", ACTIONS)
def test_the_last_administrator_cannot_be_removed_in_any_way(action):
    with pytest.raises(LastAdministrator) as refused:
        ensure_not_last_admin({"u1"}, "u1", action, account=RETAIL)
    assert refused.value.message == LAST_ADMIN_MESSAGE
    assert (refused.value.action, refused.value.user_id) == (action, "u1")
    assert refused.value.code == "last_administrator"


@pytest.mark.parametrize("action", ACTIONS)
def test_one_of_several_administrators_can_go(action):
    ensure_not_last_admin({"u1", "u2"}, "u1", action, account=RETAIL)


def test_a_user_who_is_not_an_administrator_is_never_the_last():
    ensure_not_last_admin({"u1"}, "u2", "delete")
    ensure_not_last_admin(set(), "u2", "refuse")


def test_holders_may_be_any_iterable_and_repeats_do_not_count_twice():
    with pytest.raises(LastAdministrator):
        ensure_not_last_admin(["u1", "u1"], "u1", "cancel")


def test_message_names_the_account_or_falls_back():
    with pytest.raises(LastAdministrator, match="^This account must keep"):
        ensure_not_last_admin({"u1"}, "u1", "delete")
    with pytest.raises(LastAdministrator, match="^Shop 12 must keep"):
        ensure_not_last_admin({"u1"}, "u1", "delete", account="Shop 12")
    assert account_label(RETAIL) == "90293531 RETAIL IT LIMITED"


def test_an_unknown_action_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown action"):
        ensure_not_last_admin({"u1"}, "u1", "suspend")


def test_administrators_by_account_counts_accepted_administration_only(make_subscription):
    subscriptions = [
        make_subscription("accepted", user_id="u1", service_code=ADMIN),
        make_subscription(
            "accepted", user_id="u2", service_code=ADMIN, expires_on=date(2020, 1, 1)
        ),
        make_subscription("pending", user_id="u3", service_code=ADMIN),
        make_subscription("cancelled", user_id="u4", service_code=ADMIN),
        make_subscription("accepted", user_id="u5", service_code="user_admin:acc-shop"),
        make_subscription("accepted", user_id="u6", service_code="user_admin_supervision:acc-x"),
        make_subscription("accepted", user_id="u7", service_code="view_faqs"),
    ]
    assert administrators_by_account(subscriptions) == {
        "acc-retail": {"u1", "u2"},  # u2 is past due but the job has not ended it
        "acc-shop": {"u5"},
    }


# -- the expiry job ----------------------------------------------------------------------------


def test_plan_expires_what_is_past_due_and_nothing_else(make_subscription, today):
    past = make_subscription("accepted", expires_on=today - timedelta(days=1))
    last_day = make_subscription("accepted", expires_on=today)
    unlimited = make_subscription("accepted")
    pending = make_subscription("pending", expires_on=today - timedelta(days=3))
    cancelled = make_subscription("cancelled", expires_on=today - timedelta(days=3))
    plan = plan_expiries([past, last_day, unlimited, pending, cancelled], today, {})
    assert plan.to_expire == [past]
    assert plan.skipped_last_admin == []


def test_plan_skips_and_reports_the_last_administrator(make_subscription, today):
    last_admin = make_subscription(
        "accepted", user_id="u1", service_code=ADMIN, expires_on=today - timedelta(days=1)
    )
    ordinary = make_subscription("accepted", user_id="u1", expires_on=today - timedelta(days=1))
    to_expire, skipped = plan_expiries([last_admin, ordinary], today, {RETAIL.id: {"u1"}})
    assert to_expire == [ordinary]
    assert skipped == [last_admin]
    assert last_admin.status == "accepted"  # planning changes nothing


def test_plan_expires_an_administrator_when_another_remains(make_subscription, today):
    leaving = make_subscription(
        "accepted", user_id="u1", service_code=ADMIN, expires_on=today - timedelta(days=1)
    )
    plan = plan_expiries([leaving], today, {RETAIL.id: {"u1", "u2"}})
    assert plan.to_expire == [leaving] and plan.skipped_last_admin == []


def test_when_every_administrator_is_due_the_longest_meant_one_stays(make_subscription, today):
    first = make_subscription(
        "accepted", user_id="u1", service_code=ADMIN, expires_on=today - timedelta(days=5)
    )
    second = make_subscription(
        "accepted", user_id="u2", service_code=ADMIN, expires_on=today - timedelta(days=1)
    )
    for holders in ({"u1", "u2"}, set()):  # whether or not the caller counted the due ones
        plan = plan_expiries([second, first], today, {RETAIL.id: holders})
        assert plan.to_expire == [first]
        assert plan.skipped_last_admin == [second]


def test_accounts_are_judged_separately(make_subscription, today):
    yesterday = today - timedelta(days=1)
    retail = make_subscription("accepted", user_id="u1", service_code=ADMIN, expires_on=yesterday)
    shop = make_subscription(
        "accepted", user_id="u9", service_code="user_admin:acc-shop", expires_on=yesterday
    )
    plan = plan_expiries([retail, shop], today, {RETAIL.id: {"u1", "u2"}, "acc-shop": {"u9"}})
    assert plan.to_expire == [retail]
    assert plan.skipped_last_admin == [shop]


def test_supervision_is_not_protected(make_subscription, today):
    supervision = make_subscription(
        "accepted",
        user_id="u1",
        service_code="user_admin_supervision:acc-shop",
        expires_on=today - timedelta(days=1),
    )
    plan = plan_expiries([supervision], today, {})
    assert plan.to_expire == [supervision]


def test_a_kept_administrator_expires_on_a_later_run_once_replaced(make_subscription, today):
    kept = make_subscription(
        "accepted", user_id="u1", service_code=ADMIN, expires_on=today - timedelta(days=1)
    )
    assert plan_expiries([kept], today, {RETAIL.id: {"u1"}}).skipped_last_admin == [kept]
    tomorrow = today + timedelta(days=1)
    plan = plan_expiries([kept], tomorrow, {RETAIL.id: {"u1", "u2"}})
    assert plan.to_expire == [kept]
    for subscription in plan.to_expire:
        subscription.expire(tomorrow)
    assert kept.status == "expired"
