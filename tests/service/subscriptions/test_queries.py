"""Counters and lists: dashboard, the user's catalog, my services, subscribers, requests, settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.subscriptions.domain.definitions import default_catalog_codes, load_definitions
from services.subscriptions.domain.records import StoredSubscription

from .conftest import START

AUTO = {s.code for s in load_definitions().services if s.auto_subscribe}
CATALOG_SIZE = len(default_catalog_codes()) + 1  # with the account's administration service


@pytest.fixture
def account(make_account):
    return make_account()


@pytest.fixture
def admin(account, make_admin):
    return make_admin(account)


def test_the_dashboard_counts_my_services_and_the_catalog(
    api, account, admin, make_user, subscribe, clock
):
    user = make_user(account)
    clock.advance(timedelta(minutes=1))
    subscribe(user, "view_faqs")
    clock.advance(timedelta(minutes=1))
    refused = subscribe(user, "invoice_viewing").json
    api.post(f"/internal/accounts/{account['id']}/subscription-requests/{refused['id']}/refuse")
    clock.advance(timedelta(minutes=1))
    subscribe(user, "account_statement_viewing")  # pending
    subscribe(admin, "bank_key_conversion")  # another user's pending request

    panels = api.get(
        f"/internal/users/{user['id']}/dashboard", since=(START + timedelta(days=1)).isoformat()
    ).json
    mine = panels["my_services"]
    assert (mine["accepted"], mine["pending"], mine["refused"]) == (len(AUTO) + 1, 1, 1)
    assert [s["service"]["code"] for s in mine["last"]] == [
        "account_statement_viewing",
        "invoice_viewing",
        "view_faqs",
    ]
    catalog = panels["catalog"]
    assert catalog["not_subscribed"] == CATALOG_SIZE - len(AUTO) - 2
    assert catalog["new_since_last_sign_in"] == 0
    assert catalog["pending_validation"] == 2
    held_by_someone = AUTO | {"view_faqs", f"user_admin:{account['id']}"}
    assert catalog["without_subscriber"] == CATALOG_SIZE - len(held_by_someone)


def test_services_added_since_the_last_sign_in_are_new(api, account, make_user, clock):
    user = make_user(account)
    since = START + timedelta(hours=1)
    clock.advance(timedelta(hours=2))
    api.put(
        f"/internal/accounts/by-number/{account['number']}/catalog", {"services": ["view_faqs"]}
    )
    api.put(
        f"/internal/accounts/by-number/{account['number']}/catalog",
        {"services": ["view_faqs", "e_learning", "user_clubs"]},
    )
    panels = api.get(f"/internal/users/{user['id']}/dashboard", since=since.isoformat()).json
    assert panels["catalog"]["new_since_last_sign_in"] == 2
    assert api.get(f"/internal/users/{user['id']}/dashboard", since="yesterday").status_code == 422


def test_the_catalog_panel_counts_holders_today_and_requests_in_the_account_only(
    api, make_account, make_admin, make_user, subscribe, services_of, clock
):
    offered = [
        "view_faqs",
        "e_learning",
        "user_clubs",
        "invoice_viewing",
        "account_statement_viewing",
    ]
    account, other = make_account(), make_account()
    for each in (account, other):
        api.put(f"/internal/accounts/by-number/{each['number']}/catalog", {"services": offered})
    admin, user, colleague = make_admin(account), make_user(account), make_user(account)
    stranger = make_user(other)
    e_learning = services_of(account)["e_learning"]["id"]
    api.post(
        f"/internal/accounts/{account['id']}/users/{colleague['id']}/subscriptions",
        {"service_ids": [e_learning], "expires_on": START.date().isoformat()},
    )
    subscribe(colleague, "user_clubs")
    subscribe(colleague, "invoice_viewing")  # waits for validation
    subscribe(colleague, "view_faqs")
    for code in ("view_faqs", "e_learning", "invoice_viewing", "account_statement_viewing"):
        subscribe(stranger, code)  # another account's: counted there, not here
    clock.advance(timedelta(minutes=1))
    refused = subscribe(user, "account_statement_viewing").json
    clock.advance(timedelta(minutes=1))
    api.post(f"/internal/accounts/{account['id']}/subscription-requests/{refused['id']}/refuse")
    clock.advance(timedelta(minutes=1))
    subscribe(user, "view_faqs")
    api.put(
        f"/internal/accounts/by-number/{account['number']}/catalog", {"services": offered[:-1]}
    )  # account_statement_viewing leaves the catalog
    clock.advance(timedelta(days=2))  # the colleague's e_learning ran until two days ago

    panels = api.get(f"/internal/users/{user['id']}/dashboard", since=clock.now().isoformat()).json
    assert panels["catalog"] == {
        "not_subscribed": 4,  # of the administration service and the four offered left
        "new_since_last_sign_in": 0,
        "without_subscriber": 2,  # e_learning (past its expiry date) and invoice_viewing
        "pending_validation": 1,
    }
    mine = panels["my_services"]
    assert (mine["accepted"], mine["pending"], mine["refused"]) == (1, 0, 1)
    faqs, statement = mine["last"]
    assert (faqs["service"]["code"], faqs["service"]["subscriber_count"]) == ("view_faqs", 2)
    assert (statement["status"], statement["service"]["in_catalog"]) == ("refused", False)
    assert admin["id"] not in {s["user_id"] for s in mine["last"]}


def test_the_dashboard_reads_only_the_users_own_subscriptions(
    api, part, account, make_user, subscribe, monkeypatch
):
    user = make_user(account)
    subscribe(user, "view_faqs")
    for _ in range(12):
        colleague = make_user(account)
        subscribe(colleague, "view_faqs")
        subscribe(colleague, "invoice_viewing")
    built: list[StoredSubscription] = []
    statements: list[str] = []
    build = StoredSubscription.__init__

    def remember(self: StoredSubscription, *args: Any, **kwargs: Any) -> None:
        build(self, *args, **kwargs)
        built.append(self)

    monkeypatch.setattr(StoredSubscription, "__init__", remember)
    sa.event.listen(part.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    panels = api.get(f"/internal/users/{user['id']}/dashboard").json
    assert panels["catalog"]["pending_validation"] == 12
    assert panels["my_services"]["last"][0]["service"]["subscriber_count"] == 13
    assert {s.user_id for s in built} == {user["id"]}
    assert len([s for s in statements if s.startswith("SELECT")]) <= 5  # not BEGIN


def test_the_users_catalog_lists_what_the_user_does_not_hold(api, account, make_user, subscribe):
    user = make_user(account)
    subscribe(user, "invoice_viewing")  # pending: not offered again
    page = api.get(f"/internal/users/{user['id']}/catalog", per_page=200).json
    codes = {s["code"] for s in page["items"]}
    assert page["total"] == CATALOG_SIZE - len(AUTO) - 1
    assert not codes & (AUTO | {"invoice_viewing"})
    assert f"user_admin:{account['id']}" in codes
    support = api.get(f"/internal/users/{user['id']}/catalog", family="support", q="faq").json
    assert [s["code"] for s in support["items"]] == ["view_faqs"]


def test_my_services_filter_by_family_status_and_keyword(api, account, admin, make_user, subscribe):
    user = make_user(account)
    asked = subscribe(user, "invoice_viewing").json
    api.post(f"/internal/accounts/{account['id']}/subscription-requests/{asked['id']}/refuse")
    path = f"/internal/users/{user['id']}/subscriptions"
    assert api.get(path).json["total"] == len(AUTO) + 1
    refused = api.get(path, status="refused").json
    assert [s["id"] for s in refused["items"]] == [asked["id"]]
    news = api.get(path, family="information_flow", per_page=2).json
    assert (news["total"], len(news["items"]), news["per_page"]) == (4, 2, 2)
    assert api.get(path, q="sales news").json["total"] == 1
    assert api.get(path, status="maybe").status_code == 422
    assert api.get(path, page=0).status_code == 422


def test_an_administrator_lists_a_users_subscriptions_in_the_account_only(
    api, account, make_account, make_user
):
    user = make_user(account)
    assert api.get(f"/internal/accounts/{account['id']}/users/{user['id']}/subscriptions").json[
        "total"
    ] == len(AUTO)
    other = make_account()
    assert (
        api.get(f"/internal/accounts/{other['id']}/users/{user['id']}/subscriptions").status_code
        == 404
    )


def test_subscribers_of_a_service_by_name(api, account, make_user, services_of, make_account):
    make_user(account, last_name="Zola", first_name="Emile")
    make_user(account, last_name="Agnès", first_name="Varda")
    service = services_of(account)["community_area"]
    path = f"/internal/accounts/{account['id']}/services/{service['id']}/subscribers"
    page = api.get(path, per_page=1).json
    assert (page["total"], page["per_page"]) == (2, 1)
    first = page["items"][0]
    assert first["last_name"] == "Agnès"
    assert set(first) >= {"user_id", "subscription_id", "status", "expires_on", "email"}
    assert api.get(path, page=2, per_page=1).json["items"][0]["last_name"] == "Zola"
    assert api.get(path, status="pending").json["total"] == 0
    other = make_account()
    assert (
        api.get(
            f"/internal/accounts/{other['id']}/services/{service['id']}/subscribers"
        ).status_code
        == 404
    )


def test_subscription_requests_of_the_account_with_a_name_filter(
    api, account, make_user, subscribe, make_account, clock
):
    ann = make_user(account, last_name="Lee", first_name="Ann")
    bob = make_user(account, last_name="Stone", first_name="Bob")
    subscribe(bob, "invoice_viewing")
    clock.advance(timedelta(minutes=1))
    subscribe(ann, "invoice_viewing")
    subscribe(bob, "view_faqs")  # accepted at once: not a request
    page = api.get(f"/internal/accounts/{account['id']}/subscription-requests").json
    assert page["total"] == 2
    assert [r["user"]["last_name"] for r in page["items"]] == ["Stone", "Lee"]  # oldest first
    assert all(r["status"] == "pending" for r in page["items"])
    assert (
        api.get(f"/internal/accounts/{account['id']}/subscription-requests", name="bob").json[
            "total"
        ]
        == 1
    )
    assert (
        make_account()
        and api.get(f"/internal/accounts/{make_account()['id']}/subscription-requests").json[
            "total"
        ]
        == 0
    )


# -- settings ----------------------------------------------------------------------------------


def test_settings_change_on_several_services_at_once(
    api, account, admin, make_user, services_of, subscribe, outbox
):
    services = services_of(account)
    ids = [services["view_faqs"]["id"], services["e_learning"]["id"]]
    answer = api.patch(
        f"/internal/accounts/{account['id']}/services",
        {"service_ids": ids, "requires_validation": True, "auto_subscribe": True},
        actor=admin["id"],
    )
    assert answer.status_code == 200
    assert {(s["requires_validation"], s["auto_subscribe"]) for s in answer.json["items"]} == {
        (True, True)
    }
    event = outbox("subscriptions.service.settings_changed")[-1]
    assert answer.json["event_id"] == event["id"]
    assert (event["data"]["service_ids"], event["data"]["changed_by"]) == (ids, admin["id"])
    assert event["data"]["requires_validation"] is True

    newcomer = make_user(account)
    held = api.get(f"/internal/users/{newcomer['id']}/subscriptions", per_page=200).json["items"]
    assert {"view_faqs", "e_learning"} <= {s["service"]["code"] for s in held}
    other = make_user(account)
    api.patch(
        f"/internal/accounts/{account['id']}/services",
        {"service_ids": [services["bank_key_conversion"]["id"]], "requires_validation": False},
    )
    assert subscribe(other, "bank_key_conversion").status_code == 201


def test_settings_refuse_foreign_ids_and_empty_changes(
    api, account, make_account, services_of, outbox
):
    other = make_account()
    foreign = services_of(other)["view_faqs"]["id"]
    mine = services_of(account)["view_faqs"]["id"]
    path = f"/internal/accounts/{account['id']}/services"
    before = len(outbox())
    assert (
        api.patch(path, {"service_ids": [mine, foreign], "auto_subscribe": True}).status_code == 404
    )
    empty = api.patch(path, {"service_ids": [mine]})
    assert empty.status_code == 422 and "requires_validation" in empty.json["errors"]
    assert api.patch(path, {"service_ids": [mine], "auto_subscribe": "often"}).status_code == 422
    assert len(outbox()) == before
    assert services_of(account)["view_faqs"]["auto_subscribe"] is False
