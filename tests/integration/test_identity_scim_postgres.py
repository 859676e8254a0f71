"""Identity's SCIM filters on PostgreSQL: each operator as SQL there (lower, LIKE, the login
key's unique index, NOT of a missing value, the window count of a page), a Bulk's users written
with COPY in one transaction, and the version checked on a write."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.identity_kit import identity_part, service_client

pytestmark = pytest.mark.integration

SCIM = {"X-Portico-Actor": "scim:tok-pg", "X-Portico-Source": "scim:Okta"}


@pytest.fixture
def part(pg_url, amqp_url, prefix):
    yield from identity_part(pg_url, amqp_url, prefix)


@pytest.fixture
def client(part):
    return service_client(part)


def person(index: int, last: str, function: str | None) -> dict[str, Any]:
    return {
        "email": f"pg{index}@corp.example",
        "last_name": last,
        "first_name": "Zoé",
        "title": "MME",
        "language": "fr-FR",
        "function": function,
        "password_level": 1 + index % 3,
        "external_id": f"ext-{index}",
    }


def names(client, account: str, **params: Any) -> list[str]:
    answer = client.get(f"/internal/accounts/{account}/scim/users", query_string=params)
    assert answer.status_code == 200, answer.json
    return [user["last_name"] for user in answer.json["items"]]


def test_filters_sort_pages_and_a_bulk_on_postgres(client):
    account = client.post(
        "/internal/accounts",
        json={"number": "PG-SCIM-1", "name": "Corp"},
        headers={"X-Portico-Actor": "operator"},
    ).json["id"]
    people = [
        person(0, "Aubert", "Buyer"),
        person(1, "Bertin", "Seller"),
        person(2, "Cordier", None),
    ]
    answer = client.post(
        f"/internal/accounts/{account}/scim/users/batch?send_activation=false",
        json={"users": people},
        headers=SCIM,
    )
    assert [r["status"] for r in answer.json["results"]] == [201, 201, 201]
    cases = {
        'userName eq "PG1@CORP.EXAMPLE"': ["Bertin"],
        'userName ne "pg1@corp.example"': ["Aubert", "Cordier"],
        'name.familyName co "ERT"': ["Aubert", "Bertin"],
        'name.familyName sw "cor" or name.familyName ew "TIN"': ["Bertin", "Cordier"],
        'not (title eq "Buyer")': ["Bertin", "Cordier"],
        'title pr and name.familyName gt "Aubert"': ["Bertin"],
        'name.familyName ge "Bertin" and name.familyName le "Bertin"': ["Bertin"],
        'name.familyName lt "Bertin"': ["Aubert"],
        'externalId eq "ext-2"': ["Cordier"],
        'emails[type eq "work" and value co "pg0"]': ["Aubert"],
        'meta.created gt "2000-01-01T00:00:00Z"': ["Aubert", "Bertin", "Cordier"],
        "active eq true": ["Aubert", "Bertin", "Cordier"],
    }
    for expression, expected in cases.items():
        assert sorted(names(client, account, filter=expression)) == expected, expression
    page = client.get(
        f"/internal/accounts/{account}/scim/users",
        query_string={
            "sort_by": "name.familyName",
            "sort_order": "descending",
            "start_index": 2,
            "count": 1,
        },
    ).json
    assert page["total"] == 3 and [u["last_name"] for u in page["items"]] == ["Bertin"]
    user = client.get(f"/internal/accounts/{account}/scim/users", query_string={"count": 1}).json[
        "items"
    ][0]
    path = f"/internal/accounts/{account}/scim/users/{user['id']}"
    body = {**person(0, "Aubert-Roux", "Buyer"), "email": user["email"], "active": False}
    done = client.put(f"{path}?if_version={user['version']}", json=body, headers=SCIM)
    assert done.status_code == 200 and done.json["status"] == "deactivated"
    stale = client.put(f"{path}?if_version={user['version']}", json=body, headers=SCIM)
    assert stale.status_code == 412 and stale.json["scim_type"] == "invalidVers"
