"""/scim/v2/Bulk in the real portal: many users created in one identity batch announced by
batch events, bulkId references, failOnErrors, a request over its limits refused whole, and a
token of account A that cannot reach account B through Bulk."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import sqlalchemy as sa

from tests.service.gateway.scim.conftest import BULK, PATCH, address, user_body


def bulk(*operations: dict, **extra) -> dict:
    return {"schemas": [BULK], "Operations": list(operations), **extra}


def create(bulk_id: str, **fields) -> dict:
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": user_body(**fields)}


def outbox_types(portal) -> list[str]:
    engine = portal.embedded.parts["identity"].engine
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT type FROM bus_outbox ORDER BY seq")).all()
    return [row.type for row in rows]


def test_many_users_are_created_in_one_batch_with_batch_events(scim, portal):
    before = outbox_types(portal)
    answer = scim.post("/Bulk", bulk(*[create(f"u{i}") for i in range(30)]))
    assert answer.status_code == 200, answer.get_json()
    results = answer.get_json()["Operations"]
    assert [r["status"] for r in results] == ["201"] * 30
    assert all(r["location"].split("/Users/")[1] for r in results)
    published = outbox_types(portal)[len(before) :]
    assert published.count("identity.users.created") == 1
    assert published.count("identity.links.issued") == 1
    assert "identity.user.created" not in published
    ids = {r["location"].rsplit("/", 1)[1] for r in results}
    assert ids <= {u["id"] for u in scim.portal_users()}


def test_bulk_id_references_and_operations_on_one_user(scim):
    answer = scim.post(
        "/Bulk",
        bulk(
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "x",
                "data": user_body(title="bulkId:nothing"),  # a reference: carried out alone
            },
            create("a"),
            {
                "method": "PATCH",
                "path": "/Users/bulkId:a",
                "data": {
                    "schemas": [PATCH],
                    "Operations": [{"op": "replace", "path": "title", "value": "Patched"}],
                },
            },
            {"method": "DELETE", "path": "/Users/bulkId:unknown"},
        ),
    )
    results = answer.get_json()["Operations"]
    assert [r["status"] for r in results] == ["409", "201", "200", "409"], results
    user_id = results[1]["location"].rsplit("/", 1)[1]
    assert scim.get(f"/Users/{user_id}").get_json()["title"] == "Patched"


def test_fail_on_errors_stops_after_that_many_errors(scim):
    taken = address("twice")
    bad = user_body()
    bad["name"] = {"givenName": "NoFamily"}
    operations = [
        create("first", email=taken),
        create("again", email=taken),  # uniqueness
        {"method": "POST", "path": "/Users", "bulkId": "bad", "data": bad},  # invalidValue
        create("never"),
    ]
    answer = scim.post("/Bulk", bulk(*operations, failOnErrors=2))
    results = answer.get_json()["Operations"]
    assert [r["status"] for r in results] == ["201", "409", "400"]
    assert results[1]["response"]["scimType"] == "uniqueness"
    never = operations[3]["data"]["userName"]
    assert (
        scim.get("/Users?" + urlencode({"filter": f'userName eq "{never}"'})).get_json()[
            "totalResults"
        ]
        == 0
    )


def test_a_bulk_over_its_limits_is_refused_whole(scim):
    operations = [create(f"many{i}") for i in range(1001)]
    answer = scim.post("/Bulk", bulk(*operations))
    assert answer.status_code == 413, answer.get_json()
    assert answer.get_json()["scimType"] == "tooMany"
    first = operations[0]["data"]["userName"]
    assert (
        scim.get("/Users?" + urlencode({"filter": f'userName eq "{first}"'})).get_json()[
            "totalResults"
        ]
        == 0
    )
    huge = bulk(create("big", title="x" * 2_000_000))
    too_large = scim.post("/Bulk", huge)
    assert too_large.status_code == 413


def test_a_bulk_that_is_not_a_bulk_request_is_invalid_syntax(scim):
    answer = scim.post("/Bulk", {"Operations": []})
    assert answer.status_code == 400 and answer.get_json()["scimType"] == "invalidSyntax"
    assert scim.post("/Bulk", "{oops").get_json()["scimType"] == "invalidSyntax"
    assert json.loads(scim.post("/Bulk", bulk(failOnErrors=0)).data)["scimType"] == "invalidValue"


def test_bulk_never_reaches_another_account(scim, other):
    theirs = other.create_user()
    answer = scim.post(
        "/Bulk",
        bulk(
            {"method": "DELETE", "path": f"/Users/{theirs['id']}"},
            {
                "method": "PATCH",
                "path": f"/Users/{theirs['id']}",
                "data": {
                    "schemas": [PATCH],
                    "Operations": [{"op": "replace", "path": "title", "value": "Hacked"}],
                },
            },
        ),
    )
    assert [r["status"] for r in answer.get_json()["Operations"]] == ["404", "404"]
    assert other.get(f"/Users/{theirs['id']}").get_json()["title"] == "Buyer"


def outbox_since(portal, before: int) -> list[tuple[str, dict]]:
    engine = portal.embedded.parts["identity"].engine
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT type, body FROM bus_outbox WHERE seq > :seq ORDER BY seq"),
            {"seq": before},
        ).all()
    return [(row.type, json.loads(row.body)["data"]) for row in rows]


def last_seq(portal) -> int:
    engine = portal.embedded.parts["identity"].engine
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT coalesce(max(seq), 0) FROM bus_outbox")).scalar_one()


def test_the_activation_email_follows_unless_the_token_says_not(scim, portal):
    from tests.service.gateway.scim.conftest import Scim, issue_token

    before = last_seq(portal)
    invited = scim.create_user()
    links = [d for t, d in outbox_since(portal, before) if t == "identity.link.issued"]
    assert [(d["purpose"], d["user_id"]) for d in links] == [("activation", invited["id"])]

    quiet = Scim(
        portal,
        issue_token(portal, scim.account_id, scim.admin, "Silent", send_activation=False)["token"],
        scim.account_id,
        scim.admin,
    )
    before = last_seq(portal)
    alone = quiet.create_user()
    answer = quiet.post("/Bulk", bulk(create("q1"), create("q2")))
    assert [r["status"] for r in answer.get_json()["Operations"]] == ["201", "201"]
    published = outbox_since(portal, before)
    assert [t for t, _ in published if "link" in t] == []
    created = [d for t, d in published if t == "identity.user.created"]
    assert [d["user_id"] for d in created] == [alone["id"]]


def test_a_user_created_in_a_bulk_is_made_a_groups_member_by_bulk_id(scim):
    groups = scim.get("/Groups?count=100").get_json()["Resources"]
    invoices = next(g for g in groups if "nvoice" in g["displayName"])
    answer = scim.post(
        "/Bulk",
        bulk(
            create("member"),
            {
                "method": "PATCH",
                "path": f"/Groups/{invoices['id']}",
                "data": {
                    "schemas": [PATCH],
                    "Operations": [
                        {"op": "add", "path": "members", "value": [{"value": "bulkId:member"}]}
                    ],
                },
            },
        ),
    )
    results = answer.get_json()["Operations"]
    assert [r["status"] for r in results] == ["201", "200"], results
    user_id = results[0]["location"].rsplit("/", 1)[1]
    group = scim.get(f"/Groups/{invoices['id']}").get_json()
    assert user_id in [member["value"] for member in group.get("members", [])]
