"""Each account's catalog: default services at creation, supervision on link, the operator's PUT."""

from __future__ import annotations

from datetime import timedelta

from bus.envelope import Envelope
from services.subscriptions.domain.definitions import default_catalog_codes


def test_a_new_account_gets_the_default_catalog_and_its_administration_service(
    make_account, services_of
):
    account = make_account("Retail IT Limited")
    services = services_of(account)
    assert set(services) == {*default_catalog_codes(), f"user_admin:{account['id']}"}
    admin = services[f"user_admin:{account['id']}"]
    assert (
        admin["title"]
        == f"User Management - Administration ({account['number']} Retail IT Limited)"
    )
    assert admin["family"] == "management"
    assert admin["administers_account_id"] == account["id"]
    assert admin["supervises"] is False
    assert admin["subscriber_count"] == 0


def test_service_ids_are_stable_and_differ_between_accounts(make_account, services_of):
    one, two = make_account(), make_account()
    first, again = services_of(one), services_of(one)
    assert {c: s["id"] for c, s in first.items()} == {c: s["id"] for c, s in again.items()}
    assert first["community_area"]["id"] != services_of(two)["community_area"]["id"]


def test_a_linked_child_gives_its_parent_the_supervision_service(make_account, services_of):
    parent = make_account("Retail IT Limited")
    child = make_account("Retail IT Shop London", parent=parent, relation="shop")
    code = f"user_admin_supervision:{child['id']}"
    supervision = services_of(parent)[code]
    assert supervision["title"] == (
        f"User Management - Administration Supervision of ({child['number']} Retail IT Shop London)"
    )
    assert supervision["administers_account_id"] == child["id"]
    assert supervision["supervises"] is True
    assert code not in services_of(child)


def test_a_link_that_overtakes_the_parent_creation_still_reaches_the_parent(feed, services_of):
    parent = {
        "account_id": "p-1",
        "number": "700",
        "name": "Parent",
        "parent_id": None,
        "relation": None,
    }
    child = {
        "account_id": "c-1",
        "number": "701",
        "name": "Child",
        "parent_id": None,
        "relation": None,
    }
    assert feed("identity.account.created", child)[1].kind == "handled"
    linked = {
        **child,
        "parent_id": "p-1",
        "relation": "site",
        "parent_number": "700",
        "parent_name": "Parent",
    }
    assert feed("identity.account.linked", linked)[1].kind == "handled"
    assert feed("identity.account.created", parent)[1].kind == "handled"
    services = services_of({"id": "p-1"})
    assert "user_admin_supervision:c-1" in services
    assert "user_admin:p-1" in services and "community_area" in services


def test_relinking_moves_supervision_to_the_new_parent(make_account, feed, services_of):
    first, second = make_account(), make_account()
    child = make_account(parent=first)
    relinked = {
        "account_id": child["id"],
        "number": child["number"],
        "name": child["name"],
        "parent_id": second["id"],
        "relation": "subsidiary",
        "parent_number": second["number"],
        "parent_name": second["name"],
    }
    assert feed("identity.account.linked", relinked)[1].kind == "handled"
    code = f"user_admin_supervision:{child['id']}"
    assert code in services_of(second)
    assert code not in services_of(first)


def test_the_same_creation_event_twice_changes_nothing(part, feed, services_of):
    data = {
        "account_id": "a-dup",
        "number": "800",
        "name": "Twice",
        "parent_id": None,
        "relation": None,
    }
    envelope = Envelope(type="identity.account.created", data=data, producer="identity")
    assert feed("", {}, envelope)[1].kind == "handled"
    assert feed("", {}, envelope)[1].kind == "duplicate"
    assert len(services_of({"id": "a-dup"})) == len(default_catalog_codes()) + 1


def test_the_operator_sets_the_catalog_and_account_scoped_services_stay(
    api, make_account, services_of, clock
):
    account = make_account()
    before = services_of(account)
    clock.advance(timedelta(days=1))
    answer = api.put(
        f"/internal/accounts/by-number/{account['number']}/catalog",
        {"services": ["community_area", "view_faqs"]},
        actor="operator",
    )
    assert answer.status_code == 200, answer.json
    codes = {s["code"] for s in answer.json["items"]}
    assert codes == {"community_area", "view_faqs", f"user_admin:{account['id']}"}
    assert answer.json["added"] == []
    assert "invoice_viewing" in answer.json["removed"]
    after = services_of(account)
    assert after["community_area"]["id"] == before["community_area"]["id"]

    back = api.put(
        f"/internal/accounts/by-number/{account['number']}/catalog",
        {"services": ["community_area", "view_faqs", "invoice_viewing"]},
    )
    assert back.json["added"] == ["invoice_viewing"]
    assert services_of(account)["invoice_viewing"]["id"] == before["invoice_viewing"]["id"]


def test_a_service_leaving_the_catalog_ends_its_subscriptions(
    api, make_account, make_user, subscribe, outbox
):
    account = make_account()
    user = make_user(account)
    held = subscribe(user, "view_faqs")
    waiting = subscribe(user, "invoice_viewing")
    assert (held.status_code, waiting.status_code) == (201, 202)
    answer = api.put(
        f"/internal/accounts/by-number/{account['number']}/catalog",
        {"services": ["community_area"]},
        actor="operator",
    )
    assert answer.status_code == 200
    cancelled = {
        e["data"]["subscription_id"]: e["data"]
        for e in outbox("subscriptions.subscription.cancelled")
    }
    assert set(cancelled) >= {held.json["id"], waiting.json["id"]}
    assert cancelled[held.json["id"]]["cause"] == "catalog_change"
    assert "no longer part of your account's contracts" in cancelled[held.json["id"]]["reason"]
    assert set(answer.json["event_ids"]) >= {
        e["id"] for e in outbox("subscriptions.subscription.cancelled")
    }
    mine = api.get(f"/internal/users/{user['id']}/subscriptions", status="cancelled").json
    codes = {s["service"]["code"] for s in mine["items"]}
    assert {"view_faqs", "invoice_viewing", "receive_sales_news"} <= codes  # auto news too
    assert all(not s["service"]["in_catalog"] for s in mine["items"])


def test_catalog_put_refuses_unknown_codes_and_accounts(api, make_account, services_of):
    account = make_account()
    bad = api.put(
        f"/internal/accounts/by-number/{account['number']}/catalog",
        {"services": ["community_area", "no_such_service", "user_admin"]},
    )
    assert bad.status_code == 422
    assert "no_such_service" in bad.json["errors"]["services"][0]
    assert "invoice_viewing" in services_of(account)  # nothing changed
    assert api.put("/internal/accounts/by-number/000/catalog", {"services": []}).status_code == 404
    malformed = api.put(
        f"/internal/accounts/by-number/{account['number']}/catalog", {"services": "community_area"}
    )
    assert malformed.status_code == 422 and "services" in malformed.json["errors"]


def test_account_services_filter_and_paginate(api, make_account):
    account = make_account()
    path = f"/internal/accounts/{account['id']}/services"
    page = api.get(path, per_page=10, page=2).json
    assert (page["page"], page["per_page"], page["total"]) == (
        2,
        10,
        len(default_catalog_codes()) + 1,
    )
    assert len(page["items"]) == 10
    support = api.get(path, family="support", per_page=200).json
    assert support["items"] and all(s["family"] == "support" for s in support["items"])
    faq = api.get(path, q="faq").json
    assert any(s["code"] == "view_faqs" for s in faq["items"])
    titled = api.get(path, title="invoice viewing").json
    assert [s["code"] for s in titled["items"]] == ["invoice_viewing"]
    assert api.get(path, per_page=201).status_code == 422
    assert api.get(path, family="nope").json["errors"]["family"]
    assert api.get("/internal/accounts/unknown/services").status_code == 404


def test_subscriber_count_comes_with_every_service(api, make_account, make_user, services_of):
    account = make_account()
    for _ in range(3):
        make_user(account)  # community_area and four news services are auto-subscribed
    services = services_of(account)
    assert services["community_area"]["subscriber_count"] == 3
    assert services["view_faqs"]["subscriber_count"] == 0
