"""Dashboard counters, list filters and pagination over services and subscriptions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.subscriptions.domain.catalog import (
    MAX_PER_PAGE,
    ServiceActivity,
    catalog_summary,
    filter_services,
    filter_subscriptions,
    matches,
    new_since,
    normalize,
    not_subscribed,
    paginate,
    pending_validation,
    sort_services,
    user_summary,
    without_subscriber,
)
from services.subscriptions.domain.definitions import get_definition, load_definitions
from services.subscriptions.domain.errors import InvalidFilter, InvalidPagination
from services.subscriptions.domain.model import ServiceSettings


@pytest.fixture
def account_services(now):
    """Four services of one account's catalog, added over the last ten days."""
    codes = ("view_faqs", "request_service", "invoice_viewing", "community_area")
    return [
        ServiceSettings.from_definition(get_definition(code), added_at=now - timedelta(days=day))
        for day, code in zip((10, 8, 3, 1), codes, strict=True)
    ]


# -- searching ---------------------------------------------------------------------------------


def test_normalize_folds_case_accents_and_spaces():
    assert normalize("  Rapports d'INTERVENTION   et Feuilles de Présence ") == (
        "rapports d'intervention et feuilles de presence"
    )
    assert normalize("Équipe ÉTÉ") == normalize("equipe ete")
    assert normalize(None) == ""


def test_matches_needs_every_word_in_some_field():
    assert matches(
        "présence rapports", "Service de consultation", "rapports … feuilles de presence"
    )
    assert not matches("presence payroll", "feuilles de présence")
    assert matches("", "anything") and matches(None, "anything")


def test_filter_services_by_family_title_and_keyword():
    services = load_definitions().services
    support = filter_services(services, family="support")
    assert support and all(service.family == "support" for service in support)
    assert [s.code for s in filter_services(services, title="INVOICE viewing")] == [
        "invoice_viewing"
    ]
    # a keyword found only in the description
    found = filter_services(services, q="IBAN")
    assert [s.code for s in found] == ["bank_key_conversion"]
    assert filter_services(services, family="support", q="invoice") == []
    assert filter_services(services) == list(services)


def test_keyword_search_ignores_accents_both_ways():
    services = [
        ServiceSettings(code="a", title="Réception des actualités", family="information_flow"),
        ServiceSettings(code="b", title="Receive sales news", family="information_flow"),
    ]
    assert [s.code for s in filter_services(services, q="RECEPTION actualites")] == ["a"]
    assert [s.code for s in filter_services(services, title="réceive")] == ["b"]


def test_an_unknown_family_or_status_is_refused_with_the_choices(make_subscription):
    with pytest.raises(InvalidFilter, match="Unknown family “billing”; choose one of: admin"):
        filter_services([], family="billing")
    with pytest.raises(InvalidFilter, match="Unknown status “approved”"):
        filter_subscriptions([], {}, status="approved")


def test_sort_services_follows_family_order_then_title():
    services = [get_definition(code) for code in ("view_faqs", "notify_faq", "invoice_viewing")]
    services.append(get_definition("invoice_checking"))
    assert [s.code for s in sort_services(services)] == [
        "invoice_checking",
        "invoice_viewing",
        "notify_faq",
        "view_faqs",
    ]


def test_filter_subscriptions_by_family_status_and_keyword(make_subscription):
    services = load_definitions().by_code
    faqs = make_subscription("accepted", service_code="view_faqs")
    request = make_subscription("pending", service_code="request_service")
    news = make_subscription("refused", service_code="receive_sales_news")
    unknown = make_subscription("accepted", service_code="retired_service")
    mine = [faqs, request, news, unknown]
    assert filter_subscriptions(mine, services, family="support") == [faqs, request]
    assert filter_subscriptions(mine, services, status="accepted") == [faqs, unknown]
    assert filter_subscriptions(mine, services, q="knowledge base") == [faqs]
    assert filter_subscriptions(mine, services, title="sales") == [news]
    assert filter_subscriptions(mine, services) == mine


# -- a user's services -------------------------------------------------------------------------


def test_user_summary_counts_and_lists_the_last_three(make_subscription, now):
    def at(hours, status):
        moment = now + timedelta(hours=hours)
        return make_subscription(status, user_id="u1", requested_at=moment, decided_at=moment)

    oldest, old, recent = at(1, "accepted"), at(2, "accepted"), at(5, "refused")
    newest_pending = make_subscription("pending", user_id="u1", requested_at=now + timedelta(6))
    removed = at(9, "cancelled")
    someone_else = make_subscription("accepted", user_id="u2", requested_at=now + timedelta(9))
    summary = user_summary([oldest, old, recent, newest_pending, removed, someone_else], "u1")
    assert (summary["accepted"], summary["pending"], summary["refused"]) == (2, 1, 1)
    assert summary["last"] == [newest_pending, recent, old]


def test_user_summary_lists_subscriptions_decided_at_one_instant_in_one_order(
    make_subscription, now
):
    same = [
        make_subscription("accepted", user_id="u1", requested_at=now, decided_at=now)
        for _ in range(4)
    ]
    first = user_summary(same, "u1")["last"]
    assert user_summary(list(reversed(same)), "u1")["last"] == first
    assert [s.id for s in first] == sorted((s.id for s in same), reverse=True)[:3]


def test_user_summary_of_nobody_is_zero():
    assert user_summary([], "u1") == {"accepted": 0, "pending": 0, "refused": 0, "last": []}


# -- an account's catalog ----------------------------------------------------------------------


def test_the_catalog_hides_what_the_user_holds_or_asked_for(account_services, make_subscription):
    subscriptions = [
        make_subscription("accepted", user_id="u1", service_code="view_faqs"),
        make_subscription("pending", user_id="u1", service_code="invoice_viewing"),
        make_subscription("refused", user_id="u1", service_code="request_service"),
        make_subscription("accepted", user_id="u2", service_code="community_area"),
    ]
    left = not_subscribed(account_services, subscriptions, "u1")
    assert [s.code for s in left] == ["request_service", "community_area"]


def test_new_since_lists_services_added_after_the_last_sign_in(account_services, now):
    assert [s.code for s in new_since(account_services, now - timedelta(days=5))] == [
        "community_area",
        "invoice_viewing",
    ]
    assert new_since(account_services, now) == []
    assert len(new_since(account_services, None)) == 4
    undated = ServiceSettings(code="x", title="X", family="support")
    assert new_since([undated], None) == []


def test_without_subscriber_lists_services_nobody_holds(account_services):
    activity = {
        "view_faqs": ServiceActivity(held=True),
        "request_service": ServiceActivity(pending=2),  # asked for, not held
        "invoice_viewing": ServiceActivity(held=False),
    }
    assert [s.code for s in without_subscriber(account_services, activity)] == [
        "request_service",
        "invoice_viewing",
        "community_area",  # no activity at all
    ]


def test_pending_validation_adds_the_waiting_requests_of_these_services(account_services):
    activity = {
        "view_faqs": ServiceActivity(held=True, pending=1),
        "invoice_viewing": ServiceActivity(pending=3),
        "removed_service": ServiceActivity(pending=5),  # not among the services counted
    }
    assert pending_validation(account_services, activity) == 4
    assert pending_validation(account_services, {}) == 0


def test_catalog_summary_gives_the_dashboard_panel(account_services, make_subscription, now):
    mine = [
        make_subscription("accepted", user_id="u1", service_code="view_faqs"),
        make_subscription("refused", user_id="u1", service_code="invoice_viewing"),
    ]
    activity = {
        "view_faqs": ServiceActivity(held=True),
        "invoice_viewing": ServiceActivity(pending=1),
        "request_service": ServiceActivity(pending=1),
    }
    summary = catalog_summary(account_services, activity, mine, "u1", now - timedelta(days=2))
    assert summary == {
        "not_subscribed": 3,
        "new_since_last_sign_in": 1,
        "without_subscriber": 3,
        "pending_validation": 2,
    }


# -- pages -------------------------------------------------------------------------------------


def test_paginate_returns_the_page_and_the_total():
    items = list(range(1, 26))
    assert paginate(items, 1, 10) == {
        "items": list(range(1, 11)),
        "page": 1,
        "per_page": 10,
        "total": 25,
    }
    assert paginate(items, 3, 10)["items"] == [21, 22, 23, 24, 25]
    assert paginate(items, 4, 10) == {"items": [], "page": 4, "per_page": 10, "total": 25}
    assert paginate(items)["per_page"] == 10
    assert paginate(items, 1, MAX_PER_PAGE)["items"] == items


@pytest.mark.parametrize(
    ("page", "per_page", "complaint"),
    [
        (0, 10, "page must be a whole number from 1"),
        (-1, 10, "page must be a whole number from 1"),
        (1, 0, "per_page must be a whole number from 1 to 200"),
        (1, 201, "per_page must be a whole number from 1 to 200"),
        ("2", 10, "page must be"),
        (1, True, "per_page must be"),
    ],
)
def test_paginate_refuses_pages_out_of_range(page, per_page, complaint):
    with pytest.raises(InvalidPagination, match=complaint):
        paginate([1, 2, 3], page, per_page)
