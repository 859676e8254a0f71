"""A directory's groups (SCIM) on the subscriptions service: the catalog as groups, members,
adding (a direct grant, a waiting request accepted), removing (the last-administrator rule),
supervision services, one batch event for many grants, and one account never reaching another.
"""

from __future__ import annotations

from typing import Any

import pytest

ADMIN = "admin-actor"


@pytest.fixture
def groups_of(api):
    """displayName → group of an account, with members when asked."""

    def read(account: dict[str, Any], **params: Any) -> dict[str, dict[str, Any]]:
        answer = api.get(f"/internal/accounts/{account['id']}/groups", **params)
        assert answer.status_code == 200, answer.json
        return {group["display_name"]: group for group in answer.json["items"]}

    return read


@pytest.fixture
def change(api):
    def send(account: dict[str, Any], *changes: dict[str, Any]) -> Any:
        return api.post(
            f"/internal/accounts/{account['id']}/groups/members",
            {"changes": list(changes)},
            actor=ADMIN,
        )

    return send


def batch_grants(event: dict[str, Any]) -> set[tuple[str, str | None, str]]:
    """(user id, decided by, cause) of each grant a subscriptions.subscriptions.accepted event
    carries (a list of subscriptions, or users with their grants)."""
    data = event["data"]
    if data.get("subscriptions"):
        return {(e["user_id"], e["decided_by"], e["cause"]) for e in data["subscriptions"]}
    return {
        (user["user_id"], data.get("decided_by"), data["cause"])
        for user in data["users"]
        for _ in user["subscription_ids"]
    }


def members(groups_of, account, name) -> set[str]:
    return {m["value"] for m in groups_of(account, members="true")[name]["members"]}


def test_the_catalog_is_the_groups_and_supervision_belongs_to_the_parent(
    make_account, groups_of, services_of
):
    parent = make_account("Parent")
    child = make_account("Child", parent=parent)

    child_groups = groups_of(child)
    assert len(child_groups) == len(services_of(child))
    assert {g["code"] for g in child_groups.values()} == set(services_of(child))
    assert not [g for g in child_groups.values() if "supervision:" in g["code"]]
    assert "Invoice viewing service" in child_groups
    parent_codes = {g["code"] for g in groups_of(parent).values()}
    assert f"user_admin_supervision:{child['id']}" in parent_codes


def test_adding_members_grants_without_validation_in_one_batch_event(
    make_account, make_user, groups_of, change, outbox
):
    account = make_account()
    users = [make_user(account) for _ in range(3)]
    invoices = groups_of(account)["Invoice viewing service"]  # subject to validation
    before = len(outbox("subscriptions.subscriptions.accepted"))

    answer = change(account, {"group_id": invoices["id"], "add": [u["id"] for u in users]})

    assert answer.status_code == 200, answer.json
    assert members(groups_of, account, "Invoice viewing service") == {u["id"] for u in users}
    batches = outbox("subscriptions.subscriptions.accepted")[before:]
    assert len(batches) == 1
    assert batch_grants(batches[0]) == {(u["id"], ADMIN, "grant") for u in users}
    # adding them again changes nothing and announces nothing
    again = change(account, {"group_id": invoices["id"], "add": [users[0]["id"]]})
    assert again.status_code == 200
    assert again.json["groups"] == [{"id": invoices["id"], "joined": [], "left": []}]
    assert len(outbox("subscriptions.subscriptions.accepted")) == before + 1


def test_members_are_paged(make_account, make_user, groups_of, change, api):
    account = make_account()
    users = [make_user(account) for _ in range(5)]
    group = groups_of(account)["Licence management"]
    change(account, {"group_id": group["id"], "add": [u["id"] for u in users]})

    path = f"/internal/accounts/{account['id']}/groups/{group['id']}/members"
    first = api.get(path, page=1, per_page=2).json
    rest = [api.get(path, page=p, per_page=2).json for p in (2, 3)]

    assert first["total"] == 5
    seen = [m["value"] for page in [first, *rest] for m in page["items"]]
    assert sorted(seen) == sorted(u["id"] for u in users)


def test_a_waiting_request_of_a_new_member_is_accepted(
    make_account, make_user, groups_of, change, subscribe, api
):
    account = make_account()
    user = make_user(account)
    asked = subscribe(user, "invoice_viewing")
    assert asked.status_code == 202

    group = groups_of(account)["Invoice viewing service"]
    assert change(account, {"group_id": group["id"], "add": [user["id"]]}).status_code == 200

    held = api.get(f"/internal/users/{user['id']}/subscriptions").json["items"]
    invoices = [(s["id"], s["status"]) for s in held if s["service"]["id"] == group["id"]]
    assert invoices == [(asked.json["id"], "accepted")]


def test_replace_sets_the_members_and_removal_ends_subscriptions(
    make_account, make_user, groups_of, change, outbox
):
    account = make_account()
    a, b, c = (make_user(account) for _ in range(3))
    group = groups_of(account)["Licence management"]
    change(account, {"group_id": group["id"], "add": [a["id"], b["id"]]})

    answer = change(account, {"group_id": group["id"], "replace": [b["id"], c["id"]]})

    assert answer.json["groups"] == [{"id": group["id"], "joined": [c["id"]], "left": [a["id"]]}]
    assert members(groups_of, account, "Licence management") == {b["id"], c["id"]}
    cancelled = outbox("subscriptions.subscription.cancelled")
    assert [(e["data"]["user_id"], e["data"]["cause"]) for e in cancelled] == [(a["id"], "removal")]
    removed = change(account, {"group_id": group["id"], "remove": [b["id"], a["id"]]})
    assert removed.json["groups"][0]["left"] == [b["id"]]  # a was no member: nothing to do
    assert members(groups_of, account, "Licence management") == {c["id"]}


def test_the_last_administrator_cannot_leave_the_administration_group(
    make_account, make_admin, make_user, groups_of, change, outbox
):
    account = make_account()
    admin = make_admin(account)
    other = make_user(account)
    name = next(n for n, g in groups_of(account).items() if g["code"].startswith("user_admin:"))
    group = groups_of(account)[name]

    refused = change(account, {"group_id": group["id"], "remove": [admin["id"]]})
    assert refused.status_code == 409
    assert refused.json["code"] == "last_administrator"
    replaced = change(account, {"group_id": group["id"], "replace": []})
    assert replaced.status_code == 409
    assert members(groups_of, account, name) == {admin["id"]}

    # another administrator first, then the first one may leave (two changes, one request)
    moved = change(
        account,
        {"group_id": group["id"], "add": [other["id"]]},
        {"group_id": group["id"], "remove": [admin["id"]]},
    )
    assert moved.status_code == 200, moved.json
    assert members(groups_of, account, name) == {other["id"]}
    # identity follows administrators through the single events, never through a batch
    granted = [
        e["data"]
        for e in outbox("subscriptions.subscription.accepted")
        if e["data"]["user_id"] == other["id"] and e["data"]["cause"] == "grant"
    ]
    assert [(e["service_code"], e["cause"]) for e in granted] == [(group["code"], "grant")]
    assert not [
        grant
        for e in outbox("subscriptions.subscriptions.accepted")
        for grant in batch_grants(e)
        if grant[0] == other["id"] and grant[2] == "grant"
    ]


def test_a_refused_change_writes_nothing(make_account, make_user, groups_of, change, outbox):
    account = make_account()
    user = make_user(account)  # password level 1
    groups = groups_of(account)
    before = len(outbox())

    refused = change(
        account,
        {"group_id": groups["Licence management"]["id"], "add": [user["id"]]},
        {"group_id": groups["SaaS Administrator"]["id"], "add": [user["id"]]},  # level 2
    )

    assert refused.status_code == 403
    assert refused.json["required_level"] == 2
    assert members(groups_of, account, "Licence management") == set()
    assert len(outbox()) == before


def test_one_account_never_reaches_another(make_account, make_user, groups_of, change, api):
    mine, theirs = make_account(), make_account()
    my_user, their_user = make_user(mine), make_user(theirs)
    my_group = groups_of(mine)["Licence management"]
    their_group = groups_of(theirs)["Licence management"]

    # another account's group: 404, as an unknown one
    assert change(mine, {"group_id": their_group["id"], "add": [my_user["id"]]}).status_code == 404
    unknown = f"/internal/accounts/{mine['id']}/groups/{their_group['id']}/members"
    assert api.get(unknown).status_code == 404
    # another account's user: 404, nothing granted
    assert change(mine, {"group_id": my_group["id"], "add": [their_user["id"]]}).status_code == 404
    assert members(groups_of, mine, "Licence management") == set()
    only = groups_of(mine, ids=f"{my_group['id']},{their_group['id']}")
    assert [g["id"] for g in only.values()] == [my_group["id"]]


def test_a_malformed_change_is_422(make_account, api):
    account = make_account()
    path = f"/internal/accounts/{account['id']}/groups/members"
    assert api.post(path, {"changes": []}).status_code == 422
    assert api.post(path, {"changes": [{"add": ["x"]}]}).status_code == 422
    assert api.post(path, [1]).status_code == 422
