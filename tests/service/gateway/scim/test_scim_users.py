"""/scim/v2/Users in the real portal: the mapping to Portico users, create / read / list /
replace / patch / delete, active false (deactivated: no sign-in, shown in the portal's list),
ETags, the errors' scimType, and tenant isolation (account A's token never reaches B)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.service.gateway.scim.conftest import (
    ERROR,
    PATCH,
    PORTICO,
    SCIM_JSON,
    address,
    user_body,
)


def error_of(answer, status: int, scim_type: str | None) -> dict:
    body = answer.get_json(force=True)
    assert answer.status_code == status, body
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type, body
    assert body["detail"]
    return body


def ops(*operations: dict) -> dict:
    return {"schemas": [PATCH], "Operations": list(operations)}


# -- create and read -----------------------------------------------------------------------


def test_a_created_user_is_a_portico_user_with_every_mapped_field(scim):
    email = address("claire")
    created = scim.post(
        "/Users",
        user_body(
            email=email,
            name={"familyName": "Durand", "givenName": "Claire", "honorificPrefix": "MME"},
            title="Controller",
            preferredLanguage="en-GB",
            phoneNumbers=[
                {"value": "+44 20 7946 0000", "type": "work"},
                {"value": "+44 7911 123456", "type": "mobile"},
            ],
            **{PORTICO: {"passwordLevel": "strong"}},
        ),
    )
    assert created.status_code == 201, created.get_json()
    assert created.mimetype == SCIM_JSON
    user = created.get_json()
    assert created.headers["Location"].endswith(f"/scim/v2/Users/{user['id']}")
    assert created.headers["ETag"] == user["meta"]["version"]
    assert user["userName"] == email
    assert user["name"]["familyName"] == "Durand" and user["name"]["honorificPrefix"] == "MME"
    assert user["active"] is True
    assert user[PORTICO] == {"passwordLevel": "strong"}
    portal_user = next(u for u in scim.portal_users() if u["id"] == user["id"])
    assert portal_user["email"] == email
    assert portal_user["title"] == "MME" and portal_user["last_name"] == "Durand"
    assert portal_user["first_name"] == "Claire" and portal_user["function"] == "Controller"
    assert portal_user["language"] == "en-GB" and portal_user["password_level"] == 3
    assert portal_user["office_phone"] and portal_user["mobile_phone"]
    assert portal_user["status"] == "pending_activation"
    read = scim.get(f"/Users/{user['id']}")
    assert read.status_code == 200 and read.get_json() == user


def test_external_id_is_kept_and_filtered_on(scim, other):
    ours = scim.create_user(externalId="00u1ABC")
    other.create_user(externalId="00u1ABC")
    assert ours["externalId"] == "00u1ABC"
    assert listed(scim, filter='externalId eq "00u1ABC"') == [ours["id"]]
    assert listed(scim, filter='externalId eq "00u1abc"') == []  # caseExact


def test_what_is_answered_is_what_scim2_models_would_answer(scim, crowd):
    from scim2_models import Context

    from gateway.scim.discovery import ScimUser

    for user in scim.get("/Users?count=1000").get_json()["Resources"]:
        model = ScimUser.model_validate(user, scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        assert model.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE) == user


def test_every_scim_write_is_audited_with_the_tokens_name_as_source(scim):
    user = scim.create_user()
    entries = [e for e in scim.audit() if e["user_id"] == user["id"]]
    assert [e["action"] for e in entries] == ["user_created"]
    assert entries[0]["source"] == "scim:Entra ID"


def test_an_address_used_anywhere_in_the_portal_is_refused_as_uniqueness(scim, other):
    email = address("taken")
    other.create_user(email=email)
    error_of(scim.post("/Users", user_body(email=email.upper())), 409, "uniqueness")


def test_an_unknown_user_and_another_accounts_user_are_both_404(scim, other):
    theirs = other.create_user()
    for path in (f"/Users/{theirs['id']}", "/Users/no-such-user"):
        error_of(scim.get(path), 404, None)
        error_of(scim.put(path, user_body()), 404, None)
        error_of(scim.patch(path, ops({"op": "replace", "path": "title", "value": "x"})), 404, None)
        error_of(scim.delete(path), 404, None)
    assert other.get(f"/Users/{theirs['id']}").get_json()["title"] == "Buyer"


# -- list and filter -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def crowd(scim):
    """Three users of account A with known names, to filter on."""
    return [
        scim.create_user(
            email=address(f"crowd{index}"),
            name={"familyName": family, "givenName": "Zoé", "honorificPrefix": "MME"},
            title=function,
        )
        for index, (family, function) in enumerate(
            [("Aubert", "Buyer"), ("Bertin", "Seller"), ("Cordier", None)]
        )
    ]


def listed(scim, **params) -> list[str]:
    answer = scim.get("/Users?" + urlencode({**params, "count": 1000}))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    return [user["id"] for user in body["Resources"]]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('name.familyName eq "aubert"', [0]),
        ('name.familyName ne "Aubert" and name.givenName eq "Zoé"', [1, 2]),
        ('name.familyName co "ERT"', [0, 1]),
        ('name.familyName sw "Cor"', [2]),
        ('name.familyName ew "tin"', [1]),
        ('title pr and name.givenName eq "Zoé"', [0, 1]),
        ('name.familyName gt "Bertin" and name.givenName eq "Zoé"', [2]),
        ('name.familyName ge "Bertin" and name.givenName eq "Zoé"', [1, 2]),
        ('name.familyName lt "Bertin" and name.givenName eq "Zoé"', [0]),
        ('name.familyName le "Bertin" and name.givenName eq "Zoé"', [0, 1]),
        ('name.familyName eq "Aubert" or name.familyName eq "Cordier"', [0, 2]),
        ('name.givenName eq "Zoé" and not (title eq "Buyer")', [1, 2]),
        ('emails[type eq "work" and value sw "crowd1"]', [1]),
        ('emails.value sw "crowd2"', [2]),
    ],
)
def test_each_filter_operator(scim, crowd, expression, expected):
    ids = [crowd[index]["id"] for index in expected]
    found = listed(scim, filter=expression)
    assert [i for i in found if i in {u["id"] for u in crowd}] == ids


def test_username_eq_finds_one_user_whatever_the_case(scim, crowd):
    name = crowd[1]["userName"].upper()
    assert listed(scim, filter=f'userName eq "{name}"') == [crowd[1]["id"]]


def test_a_filter_never_reaches_another_account(scim, other):
    theirs = other.create_user(email=address("hidden"))
    assert listed(scim, filter=f'userName eq "{theirs["userName"]}"') == []
    assert theirs["id"] not in listed(scim, filter=f'id eq "{theirs["id"]}" or userName pr')


def test_sort_and_pages(scim, crowd):
    query = {
        "filter": 'name.givenName eq "Zoé"',
        "sortBy": "name.familyName",
        "sortOrder": "descending",
    }
    assert listed(scim, **query) == [crowd[2]["id"], crowd[1]["id"], crowd[0]["id"]]
    page = scim.get("/Users?" + urlencode({**query, "startIndex": 2, "count": 1})).get_json()
    assert page["totalResults"] == 3 and page["startIndex"] == 2 and page["itemsPerPage"] == 1
    assert [u["id"] for u in page["Resources"]] == [crowd[1]["id"]]


def test_a_search_request_body_answers_as_the_query(scim, crowd):
    answer = scim.post(
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'name.givenName eq "Zoé" and name.familyName sw "B"',
            "attributes": ["userName"],
            "count": 10,
        },
    )
    assert answer.status_code == 200, answer.get_json()
    resources = answer.get_json()["Resources"]
    assert [(r["id"], set(r)) for r in resources] == [
        (crowd[1]["id"], {"schemas", "id", "userName"})
    ]
    error_of(scim.post("/Users/.search", {"filter": "x"}), 400, "invalidSyntax")


def test_a_count_of_ten_million_is_capped_not_refused(scim):
    answer = scim.get("/Users?count=10000000")
    assert answer.status_code == 200
    assert len(answer.get_json()["Resources"]) <= 1000


def test_attributes_and_excluded_attributes_select_what_is_answered(scim, crowd):
    one = scim.get(f"/Users/{crowd[0]['id']}?attributes=userName,name.familyName").get_json()
    assert set(one) == {"schemas", "id", "userName", "name"} and one["name"] == {
        "familyName": "Aubert"
    }
    other = scim.get(f"/Users/{crowd[0]['id']}?excludedAttributes=emails,phoneNumbers").get_json()
    assert "emails" not in other and "phoneNumbers" not in other and other["userName"]


def test_attributes_that_are_no_attribute_path_are_invalid_path(scim, crowd):
    answer = scim.get("/Users?" + urlencode({"attributes": 'emails[type eq "work"'}))
    error_of(answer, 400, "invalidPath")


@pytest.mark.parametrize(
    "expression",
    [
        'userName eq "unterminated',
        "userName zz 1",
        'nosuch eq "x"',
        'active gt "true"',
        "(" * 50 + 'userName eq "x"' + ")" * 50,
    ],
)
def test_a_filter_that_cannot_be_read_or_applied_is_invalid_filter(scim, expression):
    error_of(scim.get("/Users?" + urlencode({"filter": expression})), 400, "invalidFilter")


# -- replace, patch, active ----------------------------------------------------------------


def test_put_replaces_the_user_and_clears_what_is_not_sent(scim):
    user = scim.create_user()
    body = user_body(email=user["userName"], name={"familyName": "Roux", "givenName": "Léa"})
    del body["title"], body["phoneNumbers"]
    replaced = scim.put(f"/Users/{user['id']}", body)
    assert replaced.status_code == 200, replaced.get_json()
    after = replaced.get_json()
    assert after["name"]["familyName"] == "Roux" and "title" not in after
    assert "phoneNumbers" not in after
    assert after["meta"]["version"] != user["meta"]["version"]


@pytest.mark.parametrize(
    ("operation", "check"),
    [
        (
            {"op": "replace", "path": "name.familyName", "value": "Lefèvre"},
            lambda u: u["name"]["familyName"] == "Lefèvre",
        ),
        (
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "NEW"},
            lambda u: u["userName"].startswith("new-") and u["emails"][0]["value"] == u["userName"],
        ),
        (
            {"op": "replace", "value": {"title": "Head buyer", "preferredLanguage": "de-DE"}},
            lambda u: u["title"] == "Head buyer" and u["preferredLanguage"] == "de-DE",
        ),
        ({"op": "remove", "path": "title"}, lambda u: "title" not in u),
        (
            {
                "op": "add",
                "path": "phoneNumbers",
                "value": [{"value": "+33 6 12 34 56 78", "type": "mobile"}],
            },
            lambda u: {p["type"] for p in u["phoneNumbers"]} == {"work", "mobile"},
        ),
        (
            {"op": "replace", "path": f"{PORTICO}:passwordLevel", "value": "weak"},
            lambda u: u[PORTICO]["passwordLevel"] == "weak",
        ),
    ],
)
def test_patch_path_forms(scim, operation, check):
    user = scim.create_user()
    if operation.get("value") == "NEW":
        operation = {**operation, "value": address("new")}
    answer = scim.patch(f"/Users/{user['id']}", ops(operation))
    assert answer.status_code == 200, answer.get_json()
    assert check(answer.get_json()), answer.get_json()
    assert check(scim.get(f"/Users/{user['id']}").get_json())


def test_a_patch_path_matching_nothing_is_no_target_and_writes_nothing(scim):
    user = scim.create_user()
    error_of(
        scim.patch(
            f"/Users/{user['id']}",
            ops({"op": "replace", "path": 'emails[type eq "home"].value', "value": address()}),
        ),
        400,
        "noTarget",
    )
    assert (
        scim.get(f"/Users/{user['id']}").get_json() == scim.get(f"/Users/{user['id']}").get_json()
    )
    assert scim.get(f"/Users/{user['id']}").get_json()["meta"]["version"] == user["meta"]["version"]


def test_a_read_only_attribute_is_a_mutability_error(scim):
    user = scim.create_user()
    error_of(
        scim.patch(f"/Users/{user['id']}", ops({"op": "replace", "path": "id", "value": "x"})),
        400,
        "mutability",
    )


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "preferredLanguage"},
        {"op": "remove", "path": "active"},
        {"op": "remove", "path": "emails"},
        {"op": "remove", "path": 'emails[type eq "work"]'},
        {"op": "remove", "path": "name.familyName"},
        {"op": "remove", "path": PORTICO},
        {"op": "remove", "path": f"{PORTICO}:passwordLevel"},
        {"op": "replace", "path": "preferredLanguage", "value": None},
    ],
)
def test_removing_what_every_user_has_is_a_mutability_error_and_writes_nothing(scim, operation):
    """RFC 7644 3.5.2.2: the attributes the schema publishes as required cannot be removed
    (a Portico user always has a language, a state, an address and a password level)."""
    user = scim.create_user()
    error_of(scim.patch(f"/Users/{user['id']}", ops(operation)), 400, "mutability")
    assert scim.get(f"/Users/{user['id']}").get_json() == user


def test_a_remove_then_add_of_the_address_in_one_patch_is_taken(scim):
    """Entra ID replaces a multi-valued attribute as a remove followed by an add."""
    user = scim.create_user()
    answer = scim.patch(
        f"/Users/{user['id']}",
        ops(
            {"op": "remove", "path": "emails"},
            {"op": "add", "path": "emails", "value": [{"value": user["userName"], "type": "work"}]},
            {"op": "replace", "path": "title", "value": "Buyer"},
        ),
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["emails"] == [{"value": user["userName"], "type": "work"}]


def test_an_unknown_attribute_or_a_bad_value_is_refused(scim):
    user = scim.create_user()
    error_of(
        scim.patch(f"/Users/{user['id']}", ops({"op": "replace", "path": "nosuch", "value": "x"})),
        400,
        "invalidPath",
    )
    error_of(
        scim.patch(
            f"/Users/{user['id']}",
            ops({"op": "replace", "path": "preferredLanguage", "value": "xx-XX"}),
        ),
        400,
        "invalidValue",
    )
    assert scim.get(f"/Users/{user['id']}").get_json()["meta"]["version"] == user["meta"]["version"]


def test_active_false_deactivates_the_user_who_cannot_sign_in(scim, portal):
    user = scim.create_user()
    answer = scim.patch(
        f"/Users/{user['id']}", ops({"op": "replace", "path": "active", "value": False})
    )
    assert answer.status_code == 200 and answer.get_json()["active"] is False
    portal_user = next(u for u in scim.portal_users() if u["id"] == user["id"])
    assert portal_user["status"] == "deactivated"
    assert user["id"] in [u["id"] for u in scim.portal_users(status="deactivated")]
    assert listed(scim, filter=f'active eq false and userName eq "{user["userName"]}"') == [
        user["id"]
    ]
    back = scim.patch(
        f"/Users/{user['id']}", ops({"op": "replace", "path": "active", "value": True})
    )
    assert back.get_json()["active"] is True
    assert (
        next(u for u in scim.portal_users() if u["id"] == user["id"])["status"]
        == "pending_activation"
    )
    actions = [e["action"] for e in scim.audit() if e["user_id"] == user["id"]]
    assert "user_deactivated" in actions and "user_reactivated" in actions


def test_a_deactivated_active_user_is_refused_at_sign_in(scim, portal):
    from portico import demo

    sophie = demo.USERS[0][0]["email"]
    found = listed(scim, filter=f'userName eq "{sophie}"')
    assert len(found) == 1
    session = portal.sign_in(sophie)  # she can, before
    assert portal.client.get("/api/v1/me", headers=session).status_code == 200
    scim.patch(f"/Users/{found[0]}", ops({"op": "replace", "path": "active", "value": False}))
    assert portal.client.get("/api/v1/me", headers=session).status_code == 401  # ended at once
    refused = portal.client.post(
        "/api/v1/session", json={"email": sophie, "password": demo.PASSWORD}
    )
    assert refused.status_code == 401
    scim.patch(f"/Users/{found[0]}", ops({"op": "replace", "path": "active", "value": True}))
    portal.sign_in(sophie)


def test_if_match_with_an_old_version_is_invalid_vers_and_writes_nothing(scim):
    user = scim.create_user()
    old = user["meta"]["version"]
    changed = scim.patch(
        f"/Users/{user['id']}",
        ops({"op": "replace", "path": "title", "value": "A"}),
        **{"If-Match": old},
    )
    assert changed.status_code == 200, changed.get_json()
    stale = scim.patch(
        f"/Users/{user['id']}",
        ops({"op": "replace", "path": "title", "value": "B"}),
        **{"If-Match": old},
    )
    error_of(stale, 412, "invalidVers")
    error_of(
        scim.put(f"/Users/{user['id']}", user_body(email=user["userName"]), **{"If-Match": old}),
        412,
        "invalidVers",
    )
    error_of(scim.delete(f"/Users/{user['id']}", **{"If-Match": old}), 412, "invalidVers")
    assert scim.get(f"/Users/{user['id']}").get_json()["title"] == "A"


def test_delete_removes_the_user(scim):
    user = scim.create_user()
    answer = scim.delete(f"/Users/{user['id']}")
    assert answer.status_code == 204
    error_of(scim.get(f"/Users/{user['id']}"), 404, None)
    assert user["id"] not in [u["id"] for u in scim.portal_users()]


# -- bad input -----------------------------------------------------------------------------


def test_malformed_json_is_invalid_syntax(scim):
    error_of(scim.post("/Users", "{not json"), 400, "invalidSyntax")
    error_of(scim.post("/Users", "[1, 2]"), 400, "invalidSyntax")


def test_unknown_schemas_are_refused(scim):
    body = user_body()
    body["schemas"] = ["urn:example:not:a:user"]
    answer = scim.post("/Users", body)
    assert answer.status_code == 400
    assert answer.get_json()["scimType"] in ("invalidSyntax", "invalidValue")
    assert not listed(scim, filter=f'userName eq "{body["userName"]}"')


def test_a_user_without_names_is_invalid_value_and_nothing_is_written(scim):
    body = user_body()
    body["name"] = {"givenName": "Only"}
    error_of(scim.post("/Users", body), 400, "invalidValue")
    assert not listed(scim, filter=f'userName eq "{body["userName"]}"')


def test_without_a_token_or_with_a_revoked_one_nothing_is_answered(scim, portal):
    answer = portal.client.get("/scim/v2/Users")
    error_of(answer, 401, None)
    error_of(
        portal.client.get("/scim/v2/Users", headers={"Authorization": "Bearer nope"}), 401, None
    )


def test_a_patch_without_if_match_is_applied_again_to_a_user_changed_meanwhile(scim, monkeypatch):
    from gateway.scim import users as scim_users

    user = scim.create_user()
    scim.patch(f"/Users/{user['id']}", ops({"op": "replace", "path": "title", "value": "Newer"}))
    real = scim_users.read_user
    reads = []

    def stale_first(user_id):  # the first read is the version before the other write
        found = real(user_id)
        reads.append(found["version"])
        return {**found, "version": found["version"] - 1} if len(reads) == 1 else found

    monkeypatch.setattr(scim_users, "read_user", stale_first)
    answer = scim.patch(
        f"/Users/{user['id']}", ops({"op": "replace", "path": "name.givenName", "value": "Again"})
    )
    assert answer.status_code == 200, answer.get_json()
    assert len(reads) == 2 and answer.get_json()["name"]["givenName"] == "Again"
    stale = scim.patch(
        f"/Users/{user['id']}",
        ops({"op": "replace", "path": "title", "value": "Lost"}),
        **{"If-Match": user["meta"]["version"]},
    )
    error_of(stale, 412, "invalidVers")
