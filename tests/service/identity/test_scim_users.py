"""Identity's side of the SCIM server: a SCIM filter becomes one SQL where-clause over the
account's users (every operator, value filters, the extension), sorting and pages, the version
(ETag) bumped by each write, active false → deactivated, a Bulk's users in one batch."""

from __future__ import annotations

from typing import Any

import pytest

from services.identity.adapters import scim_filter

SCIM = {"X-Portico-Actor": "scim:tok-1", "X-Portico-Source": "scim:Entra ID"}


def scim_call(svc, method: str, path: str, json: Any = None) -> Any:
    return svc.client.open(path, method=method, json=json, headers={**svc.headers, **SCIM})


def fields(**extra: Any) -> dict[str, Any]:
    return {
        "email": extra.pop("email"),
        "title": "MME",
        "last_name": "Dupont",
        "first_name": "Lovana",
        "language": "fr-FR",
        "function": None,
        "office_phone": None,
        "mobile_phone": None,
        "password_level": 1,
        "active": True,
        **extra,
    }


@pytest.fixture
def people(svc):
    account = svc.account()["id"]
    other = svc.account()["id"]
    made = []
    for index, (last, function, office, level) in enumerate(
        [
            ("Aubert", "Buyer", "+33 1 23 45 67 89", 1),
            ("Bertin", "Seller", None, 2),
            ("Cordier", None, None, 3),
        ]
    ):
        answer = scim_call(
            svc,
            "POST",
            f"/internal/accounts/{account}/scim/users",
            fields(
                email=f"p{index}@corp.example",
                last_name=last,
                function=function,
                office_phone=office,
                password_level=level,
                external_id=f"ext-{index}",
            ),
        )
        assert answer.status_code == 201, answer.json
        made.append(answer.json)
    theirs = scim_call(
        svc,
        "POST",
        f"/internal/accounts/{other}/scim/users",
        fields(email="p9@corp.example", last_name="Aubert"),
    )
    assert theirs.status_code == 201
    return account, made


def found(svc, account: str, expression: str, **params: Any) -> list[str]:
    answer = svc.get(
        f"/internal/accounts/{account}/scim/users",
        query_string={"filter": expression, **params},
    )
    assert answer.status_code == 200, answer.json
    return [user["last_name"] for user in answer.json["items"]]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('userName eq "P1@CORP.EXAMPLE"', ["Bertin"]),
        ('externalId eq "ext-2"', ["Cordier"]),
        ('externalId eq "EXT-2"', []),
        ('name.familyName ne "Aubert"', ["Bertin", "Cordier"]),
        ('name.familyName co "ERT"', ["Aubert", "Bertin"]),
        ('name.familyName sw "cor"', ["Cordier"]),
        ('emails.value ew "2@corp.example"', ["Cordier"]),
        ("title pr", ["Aubert", "Bertin"]),
        ('name.familyName gt "Aubert"', ["Bertin", "Cordier"]),
        ('name.familyName ge "Bertin"', ["Bertin", "Cordier"]),
        ('name.familyName lt "Bertin"', ["Aubert"]),
        ('name.familyName le "Bertin"', ["Aubert", "Bertin"]),
        ('title eq "Buyer" and name.familyName eq "Aubert"', ["Aubert"]),
        ('title eq "Buyer" or title eq "Seller"', ["Aubert", "Bertin"]),
        ('not (title eq "Buyer")', ["Bertin", "Cordier"]),
        ('phoneNumbers[type eq "work" and value pr]', ["Aubert"]),
        ('phoneNumbers[type eq "mobile"]', []),
        ('emails[type eq "work"]', ["Aubert", "Bertin", "Cordier"]),
        ("active eq true", ["Aubert", "Bertin", "Cordier"]),
        ("active eq false", []),
        (
            'urn:portico:params:scim:schemas:extension:portico:2.0:User:passwordLevel ge "moderate"',
            ["Bertin", "Cordier"],
        ),
        (
            'urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "Cordier"',
            ["Cordier"],
        ),
    ],
)
def test_each_filter_operator_is_sql_on_the_accounts_users(svc, people, expression, expected):
    account, _ = people
    assert sorted(found(svc, account, expression)) == expected


@pytest.mark.parametrize(
    "expression",
    [
        'userName eq "P1@CORP.EXAMPLE"',
        ' USERNAME EQ "p1@corp.example" ',
        'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "p1@corp.example"',
        'userName eq "p9@corp.example"',  # another account's user
        'userName eq "not an address"',
    ],
)
def test_username_eq_read_by_its_short_path_answers_as_the_general_one(svc, people, expression):
    """userName eq "…" skips the parser (adapters/scim_users.py); `(…)` takes the general path."""
    account, _ = people
    short, general = found(svc, account, expression), found(svc, account, f"({expression})")
    assert short == general and len(short) <= 1
    for start, count in ((1, 0), (2, 10)):
        params = {"start_index": start, "count": count}
        answer = svc.get(
            f"/internal/accounts/{account}/scim/users",
            query_string={"filter": expression, **params},
        ).json
        assert answer["items"] == [] and answer["total"] == len(short)


def test_a_filter_is_one_where_clause_not_python(people):
    clause = scim_filter.where('name.familyName sw "A" and not (title pr)')
    sql = str(clause.compile(compile_kwargs={"literal_binds": True}))
    assert "lower(users.last_name) LIKE 'a%'" in sql and "users.function IS NOT NULL" in sql


@pytest.mark.parametrize(
    "expression",
    [
        'userName eq "x',
        'nosuch eq "x"',
        'active gt "true"',
        'meta.created gt "yesterday"',
        'urn:example:other:2.0:User:userName eq "x"',
        "(" * 50 + 'userName eq "x"' + ")" * 50,
        "x" * 3000,
    ],
)
def test_a_filter_that_cannot_be_applied_is_refused_as_invalid_filter(svc, people, expression):
    account, _ = people
    answer = svc.get(
        f"/internal/accounts/{account}/scim/users", query_string={"filter": expression}
    )
    assert answer.status_code == 400, answer.json
    assert answer.json["scim_type"] == "invalidFilter"


def test_sort_pages_and_counts(svc, people):
    account, _ = people
    assert found(svc, account, "", sort_by="name.familyName", sort_order="descending") == [
        "Cordier",
        "Bertin",
        "Aubert",
    ]
    page = svc.get(
        f"/internal/accounts/{account}/scim/users",
        query_string={"sort_by": "name.familyName", "start_index": 2, "count": 1},
    ).json
    assert page["total"] == 3 and [u["last_name"] for u in page["items"]] == ["Bertin"]
    assert svc.get(f"/internal/accounts/{account}/scim/users", query_string={"count": 0}).json == {
        "total": 3,
        "items": [],
    }


def test_each_write_bumps_the_version_and_an_old_one_is_refused(svc, people):
    account, made = people
    user = made[0]
    path = f"/internal/accounts/{account}/scim/users/{user['id']}"
    body = fields(email=user["email"], last_name="Aubert-Roux")
    changed = scim_call(svc, "PUT", f"{path}?if_version={user['version']}", body)
    assert changed.status_code == 200 and changed.json["version"] == user["version"] + 1
    stale = scim_call(svc, "PUT", f"{path}?if_version={user['version']}", body)
    assert stale.status_code == 412 and stale.json["scim_type"] == "invalidVers"


def test_active_false_deactivates_and_the_user_cannot_sign_in(svc):
    account = svc.account()["id"]
    active = svc.active_user(account)
    path = f"/internal/accounts/{account}/scim/users/{active['id']}"
    assert svc.sign_in(active["email"]).status_code == 200
    body = fields(email=active["email"], active=False)
    answer = scim_call(svc, "PUT", path, body)
    assert answer.status_code == 200 and answer.json["status"] == "deactivated"
    assert svc.sign_in(active["email"]).status_code == 401
    listed = svc.get(f"/internal/accounts/{account}/users", query_string={"status": "deactivated"})
    assert [u["id"] for u in listed.json["items"]] == [active["id"]]
    back = scim_call(svc, "PUT", path, {**body, "active": True})
    assert back.json["status"] == "active"
    assert svc.sign_in(active["email"]).status_code == 200
    audit = svc.get(f"/internal/accounts/{account}/audit").json["items"]
    scim_entries = [e for e in audit if e["source"] == "scim:Entra ID"]
    assert {e["action"] for e in scim_entries} == {"user_deactivated", "user_reactivated"}


def test_a_bulks_users_are_one_batch_event(svc):
    account = svc.account()["id"]
    taken = svc.user(account)[0]["email"]
    entries = [fields(email=f"b{i}@batch.example") for i in range(5)]
    entries.insert(2, fields(email=taken))
    before = svc.count("identity.user.created")
    answer = scim_call(
        svc, "POST", f"/internal/accounts/{account}/scim/users/batch", {"users": entries}
    )
    assert answer.status_code == 200, answer.json
    statuses = [result["status"] for result in answer.json["results"]]
    assert statuses == [201, 201, 409, 201, 201, 201]
    assert svc.count("identity.user.created") == before
    created = svc.last("identity.users.created")
    assert created["source"] == "scim" and len(created["users"]) == 5
    assert len(svc.last("identity.links.issued")["links"]) == 5


def test_the_last_administrator_is_neither_deactivated_nor_deleted(svc):
    account = svc.account()["id"]
    admin = svc.active_user(account)
    svc.grant_admin(account, admin["id"])
    path = f"/internal/accounts/{account}/scim/users/{admin['id']}"
    refused = scim_call(svc, "PUT", path, fields(email=admin["email"], active=False))
    assert refused.status_code == 409 and "last one" in refused.json["detail"]
    assert scim_call(svc, "DELETE", path).status_code == 409
    assert svc.sign_in(admin["email"]).status_code == 200
