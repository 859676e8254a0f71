"""SCIM Groups through the gateway in front of the real services (embedded mode): the catalog
as groups, filters and pages, members added and removed by PATCH and PUT, the last
administrator (409), supervision services, refused creation and deletion, and one account's
token never seeing or changing another's groups or members.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from bus.http import Problem
from bus.http_client import ServiceClient
from gateway.scim.tokens import issue_token
from portico.runtime import Embedded
from tests.waiting_kit import eventually

SCIM_JSON = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LICENCES = "Licence management"


@pytest.fixture(scope="module")
def embedded(tmp_path_factory, request):
    prefix = f"scimgroups{uuid.uuid4().hex[:8]}"
    instance = Embedded(tmp_path_factory.mktemp("scim"), {"PORTICO_BUS_PREFIX": prefix})
    instance.build().start()
    yield instance
    instance.stop.set()


@pytest.fixture(scope="module")
def http(embedded):
    return embedded.gateway.test_client()


def _service(embedded: Embedded, name: str) -> ServiceClient:
    token = embedded.parts["gateway"].settings.service_token
    return ServiceClient(name, app=embedded.apps[name], token=token)


class Directory:
    """One account seen by its directory: the account, its administrator, a SCIM token."""

    def __init__(self, embedded: Embedded, http: Any, parent: dict[str, Any] | None = None):
        self.embedded, self.http = embedded, http
        operator = {"Authorization": f"Bearer {embedded.parts['gateway'].settings.operator_token}"}
        number = str(uuid.uuid4().int)[:8]
        body: dict[str, Any] = {"number": number, "name": f"Client {number}"}
        if parent is not None:
            body.update(parent_number=parent["number"], relation="subsidiary")
        created = http.post("/api/v1/operator/accounts", json=body, headers=operator)
        assert created.status_code == 201, created.get_json()
        self.account = created.get_json()
        admin = http.post(
            f"/api/v1/operator/accounts/{number}/administrators",
            json=self.person("admin"),
            headers=operator,
        )
        assert admin.status_code == 201, admin.get_json()
        self.admin_id = admin.get_json()["id"]
        issued = issue_token(
            embedded.parts["gateway"],
            self.account["id"],
            "Directory",
            send_activation=False,
            created_by=None,
            now=datetime.now(UTC),
        )
        self.headers = {"Authorization": f"Bearer {issued['token']}", "Content-Type": SCIM_JSON}
        eventually(lambda: self.admin_id in self.members(self.admin_group()["id"]))

    @staticmethod
    def person(role: str) -> dict[str, Any]:
        return {
            "email": f"{role}-{uuid.uuid4().hex[:10]}@example.com",
            "title": "MME",
            "last_name": f"Doe {role}",
            "first_name": "Jane",
            "language": "en-US",
        }

    def user(self) -> str:
        """A new user of the account (POST /Users), once subscriptions knows them."""
        email = self.person("user")["email"]
        created = self.send(
            "POST",
            "/Users",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": email,
                "name": {"givenName": "Jane", "familyName": "Doe"},
                "emails": [{"value": email, "type": "work", "primary": True}],
            },
        )
        assert created.status_code == 201, created.get_json()
        user_id = created.get_json()["id"]
        subscriptions = _service(self.embedded, "subscriptions")

        def known() -> bool:
            try:
                return subscriptions.get(f"/internal/users/{user_id}/subscriptions") is not None
            except Problem as exc:
                raise AssertionError(exc.detail) from None

        eventually(known, what="the user known to subscriptions")
        return user_id

    def get(self, path: str, **params: Any) -> Any:
        return self.http.get(f"/scim/v2{path}", query_string=params, headers=self.headers)

    def send(self, method: str, path: str, body: Any) -> Any:
        return self.http.open(f"/scim/v2{path}", method=method, json=body, headers=self.headers)

    def groups(self, **params: Any) -> dict[str, Any]:
        answer = self.get("/Groups", count=200, **params)
        assert answer.status_code == 200, answer.get_json()
        return {g["displayName"]: g for g in answer.get_json()["Resources"]}

    def admin_group(self) -> dict[str, Any]:
        return next(g for name, g in self.groups().items() if name.startswith("User Management"))

    def members(self, group_id: str) -> set[str]:
        answer = self.get(f"/Groups/{group_id}")
        assert answer.status_code == 200, answer.get_json()
        return {m["value"] for m in answer.get_json().get("members", [])}

    def patch(self, group_id: str, *operations: dict[str, Any]) -> Any:
        return self.send(
            "PATCH", f"/Groups/{group_id}", {"schemas": [PATCH_OP], "Operations": list(operations)}
        )


@pytest.fixture(scope="module")
def acme(embedded, http) -> Directory:
    return Directory(embedded, http)


@pytest.fixture(scope="module")
def globex(embedded, http) -> Directory:
    return Directory(embedded, http)


def test_the_catalog_is_listed_as_groups_with_filter_and_pages(acme):
    listed = acme.get("/Groups", count=5, startIndex=3)
    body = listed.get_json()

    assert listed.status_code == 200
    assert listed.headers["Content-Type"].startswith(SCIM_JSON)
    assert body["totalResults"] > 60 and body["startIndex"] == 3 and body["itemsPerPage"] == 5
    assert len(body["Resources"]) == 5

    found = acme.get("/Groups", filter=f'displayName eq "{LICENCES}"').get_json()
    assert [g["displayName"] for g in found["Resources"]] == [LICENCES]
    group = found["Resources"][0]
    assert group["meta"]["resourceType"] == "Group"
    assert group["meta"]["location"].endswith(f"/scim/v2/Groups/{group['id']}")

    news = acme.get("/Groups", filter='displayName sw "receive" and not (displayName co "sales")')
    names = [g["displayName"] for g in news.get_json()["Resources"]]
    assert names and all(n.lower().startswith("receive") and "sales" not in n for n in names)

    bad = acme.get("/Groups", filter='displayName eq "unclosed')
    assert bad.status_code == 400 and bad.get_json()["scimType"] == "invalidFilter"


def test_members_are_added_removed_and_replaced(acme):
    group = acme.groups()[LICENCES]
    a, b, c = acme.user(), acme.user(), acme.user()

    added = acme.patch(
        group["id"], {"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}
    )
    assert added.status_code == 200, added.get_json()
    assert {m["value"] for m in added.get_json()["members"]} == {a, b}
    assert acme.members(group["id"]) == {a, b}

    removed = acme.patch(group["id"], {"op": "remove", "path": f'members[value eq "{a}"]'})
    assert removed.status_code == 200, removed.get_json()
    assert acme.members(group["id"]) == {b}

    replaced = acme.send(
        "PUT", f"/Groups/{group['id']}", {"displayName": LICENCES, "members": [{"value": c}]}
    )
    assert replaced.status_code == 200, replaced.get_json()
    assert acme.members(group["id"]) == {c}

    # a filter on members finds the groups a user belongs to
    found = acme.get("/Groups", filter=f'members[value eq "{c}"]').get_json()["Resources"]
    names = {g["displayName"] for g in found}
    assert LICENCES in names and "Invoice viewing service" not in names, names
    assert all(c in {m["value"] for m in g["members"]} for g in found)

    # each joining and leaving is in the account's audit trail, the token's name as source
    audit = _service(acme.embedded, "identity").get(
        f"/internal/accounts/{acme.account['id']}/audit", params={"per_page": 50}
    )["items"]
    moves = {
        (e["user_id"], e["action"], e["target"])
        for e in audit
        if e["source"] == "scim:Directory" and e["action"].startswith("group_member")
    }
    assert moves == {
        (a, "group_member_added", LICENCES),
        (b, "group_member_added", LICENCES),
        (a, "group_member_removed", LICENCES),
        (b, "group_member_removed", LICENCES),
        (c, "group_member_added", LICENCES),
    }

    # the subscription is what membership is: c holds the service, b no longer does
    subscriptions = _service(acme.embedded, "subscriptions")
    held = subscriptions.get(f"/internal/users/{c}/subscriptions")["items"]
    assert [
        (s["service"]["title"], s["status"]) for s in held if s["service"]["id"] == group["id"]
    ] == [(LICENCES, "accepted")]


def test_an_unknown_member_or_a_new_name_changes_nothing(acme, globex):
    group = acme.groups()[LICENCES]
    before = acme.members(group["id"])
    stranger = globex.user()  # a user of another account is no user of this one

    for value in (stranger, str(uuid.uuid4())):
        refused = acme.patch(
            group["id"], {"op": "add", "path": "members", "value": [{"value": value}]}
        )
        assert refused.status_code == 400, refused.get_json()
        assert refused.get_json()["scimType"] == "invalidValue"
    renamed = acme.patch(group["id"], {"op": "replace", "path": "displayName", "value": "Mine"})
    assert renamed.status_code == 400 and renamed.get_json()["scimType"] == "mutability"
    assert acme.members(group["id"]) == before


def test_the_last_administrator_stays(acme):
    group = acme.admin_group()
    assert acme.members(group["id"]) == {acme.admin_id}

    refused = acme.patch(group["id"], {"op": "remove", "path": "members"})
    assert refused.status_code == 409, refused.get_json()
    assert "administrator" in refused.get_json()["detail"]
    assert acme.members(group["id"]) == {acme.admin_id}


def test_groups_cannot_be_created_or_deleted(acme):
    created = acme.send("POST", "/Groups", {"displayName": "Shadow IT"})
    assert created.status_code == 405
    assert "catalog" in created.get_json()["detail"]
    group = acme.groups()[LICENCES]
    deleted = acme.send("DELETE", f"/Groups/{group['id']}", None)
    assert deleted.status_code == 405
    assert acme.get(f"/Groups/{group['id']}").status_code == 200


def test_supervision_is_a_group_of_the_parent_only(embedded, http, acme):
    child = Directory(embedded, http, parent=acme.account)

    def supervision() -> list[dict[str, Any]]:
        return [
            g for g in acme.groups().values() if "Administration Supervision" in g["displayName"]
        ]

    eventually(supervision, what="the child's supervision in the parent's catalog")
    supervised = supervision()[0]
    assert not [
        g for g in child.groups().values() if "Administration Supervision" in g["displayName"]
    ]
    assert child.get(f"/Groups/{supervised['id']}").status_code == 404
    grab = child.patch(
        supervised["id"], {"op": "add", "path": "members", "value": [{"value": child.admin_id}]}
    )
    assert grab.status_code == 404


def test_one_token_never_reaches_another_account(acme, globex):
    theirs = globex.groups()[LICENCES]
    their_member = globex.user()
    assert (
        globex.patch(
            theirs["id"], {"op": "add", "path": "members", "value": [{"value": their_member}]}
        ).status_code
        == 200
    )

    assert acme.get(f"/Groups/{theirs['id']}").status_code == 404
    assert acme.get("/Groups", filter=f'id eq "{theirs["id"]}"').get_json()["totalResults"] == 0
    found = acme.get("/Groups", filter=f'members[value eq "{their_member}"]').get_json()
    assert found["totalResults"] == 0
    for method, body in (
        ("PATCH", {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "members"}]}),
        ("PUT", {"displayName": LICENCES, "members": []}),
    ):
        answer = acme.send(method, f"/Groups/{theirs['id']}", body)
        assert answer.status_code == 404, (method, answer.get_json())
    assert globex.members(theirs["id"]) == {their_member}


def test_bulk_changes_members_of_its_own_account_only(acme, globex):
    mine, theirs = acme.groups()[LICENCES], globex.groups()[LICENCES]
    theirs_before = globex.members(theirs["id"])
    user = acme.user()
    add = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}],
    }
    answer = acme.send(
        "POST",
        "/Bulk",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {"method": "PATCH", "path": f"/Groups/{mine['id']}", "data": add},
                {"method": "PATCH", "path": f"/Groups/{theirs['id']}", "data": add},
                {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "X"}},
            ],
        },
    )

    assert answer.status_code == 200, answer.get_json()
    statuses = [str(op["status"]) for op in answer.get_json()["Operations"]]
    assert statuses == ["200", "404", "405"], answer.get_json()
    assert user in acme.members(mine["id"])
    assert globex.members(theirs["id"]) == theirs_before


def test_groups_are_searched_by_post_and_everything_at_once_is_501(acme):
    found = acme.send(
        "POST",
        "/Groups/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": f'displayName eq "{LICENCES}"',
            "attributes": ["displayName"],
        },
    )
    assert found.status_code == 200, found.get_json()
    assert [(g["displayName"], "members" in g) for g in found.get_json()["Resources"]] == [
        (LICENCES, False)
    ]
    everything = acme.send("POST", "/.search", {"schemas": [], "filter": "id pr"})
    assert everything.status_code == 501
    assert "/Groups/.search" in everything.get_json()["detail"]
