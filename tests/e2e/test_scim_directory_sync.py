"""A customer's directory syncs its staff into the portal through /scim/v2, end to end: it creates
200 users (one /Bulk request), deactivates 20, renames 10, moves 30 from one group to another
and deletes 5. Afterwards the portal's own views agree with the directory: the user list of
/api/v1 (statuses, names, who is gone), the users' subscriptions and the services' subscriber
counts, the e-mails the SMTP sink received (one activation e-mail per created user, none for a
group move) and the account's audit trail (each SCIM write, with the token's name as source).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.test_identity_journey import Portal, administered_account, bearer
from tests.waiting_kit import DEADLINE, eventually

pytestmark = pytest.mark.e2e

SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
TOKEN_NAME = "Contoso Entra ID"
FROM_GROUP, TO_GROUP = "Licence management", "Electronic invoicing"
CREATED, DEACTIVATED, RENAMED, MOVED, DELETED = 200, 20, 10, 30, 5


@pytest.fixture
def portal(cluster):
    opened = Portal(cluster)
    yield opened
    opened.close()


class Directory:
    """The directory's SCIM client of one account."""

    def __init__(self, portal: Portal, token: str) -> None:
        self.http = httpx.Client(
            base_url=f"{portal.cluster.gateway_url}/scim/v2",
            headers={**bearer(token), "Content-Type": SCIM_JSON, "Accept": SCIM_JSON},
            timeout=120,
        )

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        answer = self.http.request(method, path, json=body)
        assert answer.status_code == expect, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    def patch(self, path: str, *operations: dict[str, Any]) -> Any:
        return self.call("PATCH", path, {"schemas": [PATCH_OP], "Operations": list(operations)})

    def group(self, name: str) -> dict[str, Any]:
        found = self.http.get("/Groups", params={"filter": f'displayName eq "{name}"'}).json()
        assert found["totalResults"] == 1, found
        return found["Resources"][0]


def person(number: int) -> dict[str, Any]:
    email = f"staff{number:03d}-{uuid.uuid4().hex[:8]}@contoso.example"
    return {
        "schemas": [USER_SCHEMA],
        "userName": email,
        "name": {"givenName": f"Given{number:03d}", "familyName": f"Family{number:03d}"},
        "emails": [{"value": email, "type": "work", "primary": True}],
        "preferredLanguage": "en-US",
        "active": True,
    }


def create_users(directory: Directory) -> list[dict[str, Any]]:
    """The directory's first sync: every user in one /Bulk request."""
    people = [person(n) for n in range(CREATED)]
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": f"u{n}", "data": data}
        for n, data in enumerate(people)
    ]
    answer = directory.call(
        "POST", "/Bulk", {"schemas": [BULK_REQUEST], "Operations": operations, "failOnErrors": 1}
    )
    results = answer["Operations"]
    assert [r["status"] for r in results] == ["201"] * CREATED, results[:3]
    ids = [r["location"].rsplit("/", 1)[1] for r in results]
    return [{**data, "id": user_id} for data, user_id in zip(people, ids, strict=True)]


def portal_users(portal: Portal, account_id: str, admin: dict[str, str]) -> dict[str, Any]:
    """id → user of the portal's own user list (every page)."""
    found: dict[str, Any] = {}
    page = 1
    while True:
        answer = portal.http.get(
            f"/api/v1/accounts/{account_id}/users",
            params={"page": page, "per_page": 200},
            headers=admin,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        found.update({user["id"]: user for user in body["items"]})
        if page * body["per_page"] >= body["total"]:
            return found
        page += 1


def test_a_directory_sync_is_what_the_portal_shows(portal):
    account, admin = administered_account(portal, "Contoso Directory Sync")
    issued = portal.http.post(
        f"/api/v1/accounts/{account['id']}/scim-tokens", headers=admin, json={"name": TOKEN_NAME}
    )
    assert issued.status_code == 201, issued.text
    directory = Directory(portal, issued.json()["token"])
    mail_before = len(portal.cluster.mail)

    users = create_users(directory)
    deactivated, renamed = users[:DEACTIVATED], users[DEACTIVATED : DEACTIVATED + RENAMED]
    moved = users[50 : 50 + MOVED]
    deleted = users[-DELETED:]
    for user in deactivated:
        directory.patch(f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": False})
    for user in renamed:
        directory.patch(
            f"/Users/{user['id']}",
            {"op": "replace", "path": "name.familyName", "value": f"Renamed-{user['id'][:6]}"},
        )
    source, target = directory.group(FROM_GROUP), directory.group(TO_GROUP)
    members = [{"value": user["id"]} for user in moved]
    directory.patch(f"/Groups/{source['id']}", {"op": "add", "path": "members", "value": members})
    for user in moved:  # the directory moves each user: out of one group, into the other
        directory.patch(
            f"/Groups/{source['id']}", {"op": "remove", "path": f'members[value eq "{user["id"]}"]'}
        )
        directory.patch(
            f"/Groups/{target['id']}",
            {"op": "add", "path": "members", "value": [{"value": user["id"]}]},
        )
    for user in deleted:
        directory.call("DELETE", f"/Users/{user['id']}", expect=204)

    # the directory's view
    assert {m["value"] for m in directory.call("GET", f"/Groups/{target['id']}")["members"]} == {
        user["id"] for user in moved
    }
    assert not directory.call("GET", f"/Groups/{source['id']}").get("members")
    for user in deleted:
        directory.call("GET", f"/Users/{user['id']}", expect=404)

    # the portal's user list
    def listed() -> dict[str, Any]:
        found = portal_users(portal, account["id"], admin)
        assert not {u["id"] for u in deleted} & set(found), "a deleted user is still listed"
        statuses = {found[u["id"]]["status"] for u in deactivated}
        assert statuses == {"deactivated"}, statuses
        names = {found[u["id"]]["last_name"] for u in renamed}
        assert names == {f"Renamed-{u['id'][:6]}" for u in renamed}, names
        return found

    found = eventually(listed, timeout=DEADLINE, what="the sync in the portal's user list")
    kept = [u for u in users if u not in deleted]
    assert {u["id"] for u in kept} <= set(found)
    assert len(found) == len(kept) + 1  # and the administrator
    assert {found[u["id"]]["status"] for u in moved} == {"pending_activation"}

    # the users' subscriptions and the services' subscriber counts
    def services() -> dict[str, Any]:
        answer = portal.http.get(
            f"/api/v1/accounts/{account['id']}/services", params={"per_page": 200}, headers=admin
        )
        counts = {s["title"]: s["subscriber_count"] for s in answer.json()["items"]}
        assert (counts[FROM_GROUP], counts[TO_GROUP]) == (0, MOVED), counts
        return counts

    eventually(services, timeout=DEADLINE, what="the subscriber counts")
    for user in moved:
        held = portal.http.get(
            f"/api/v1/accounts/{account['id']}/users/{user['id']}/subscriptions",
            params={"per_page": 200},
            headers=admin,
        ).json()["items"]
        titles = {s["service"]["title"] for s in held if s["status"] == "accepted"}
        assert TO_GROUP in titles and FROM_GROUP not in titles, (user["id"], titles)

    # the e-mails: one activation e-mail to each created user, none for a group move
    def activations() -> set[str]:
        mails = portal.cluster.mail.matching(subject_contains="activation", after=mail_before)
        reached = {u["userName"] for u in users if any(m.is_to(u["userName"]) for m in mails)}
        assert len(reached) == CREATED, f"{len(reached)} of {CREATED} activation e-mails"
        return reached

    eventually(activations, timeout=DEADLINE, what="the activation e-mails")
    for user in moved:
        received = portal.cluster.mail.matching(to=user["userName"], after=mail_before)
        assert [m.subject for m in received if "activation" not in m.subject.lower()] == []

    # the audit trail: the SCIM writes, with the token's name as their source
    def audited() -> set[tuple[str, str, str | None]]:
        entries: list[dict[str, Any]] = []
        for page in (1, 2, 3):  # newest first: the sync's 400-odd entries
            answer = portal.http.get(
                f"/api/v1/accounts/{account['id']}/audit",
                params={"page": page, "per_page": 200},
                headers=admin,
            )
            assert answer.status_code == 200, answer.text
            entries += answer.json()["items"]
        found = {
            (e.get("user_id"), e.get("action"), e.get("target"))
            for e in entries
            if e.get("source") == f"scim:{TOKEN_NAME}"
        }
        by_user = {(user_id, action) for user_id, action, _ in found}
        for user in deleted + deactivated + renamed:
            assert any(u == user["id"] for u, _ in by_user), (user["id"], "not audited")
        for user in users:
            assert (user["id"], "user_created") in by_user, (user["id"], "creation not audited")
        for user in moved:
            assert {
                (user["id"], "group_member_added", FROM_GROUP),
                (user["id"], "group_member_removed", FROM_GROUP),
                (user["id"], "group_member_added", TO_GROUP),
            } <= found, (user["id"], "move not audited")
        return found

    eventually(audited, timeout=DEADLINE, what="the SCIM writes in the audit trail")
