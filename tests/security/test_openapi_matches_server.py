"""The OpenAPI document says what the server does (security issue, item 10), disagreement by disagreement.

Errors are documented as application/problem+json (they were application/json on 46 operations);
`q` is documented with the length the server accepts; an empty PATCH /me is refused as documented;
`page` and `per_page` have documented bounds; 405 says which methods are allowed; every status an
operation answers is listed (no catch-all `default`). tests/security/test_schemathesis.py checks the
same with generated requests.
"""

from __future__ import annotations

import time

import pytest

from tests.security.real_portal import start_portal


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    instance = start_portal(tmp_path_factory.mktemp("portal"), f"openapi-{time.monotonic_ns()}")
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def document(portal):
    return portal.client.get("/api/v1/openapi.json").get_json()


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield method, path, operation


def resolve(document, response):
    if "$ref" in response:
        return document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


def test_every_error_is_documented_as_problem_json_and_nothing_is_a_catch_all(document):
    wrong = []
    for method, path, operation in operations(document):
        assert "default" not in operation["responses"], (method, path)
        for status, response in operation["responses"].items():
            content = resolve(document, response).get("content", {})
            if status[0] in "45" and list(content) != ["application/problem+json"]:
                wrong.append((method, path, status, list(content)))
    assert wrong == []


def test_the_errors_a_client_gets_are_listed_for_their_operation(portal, document):
    claire = portal.admin()
    account = portal.accounts(claire)["90293531"]
    responses = document["paths"]["/api/v1/accounts/{account_id}/users"]["post"]["responses"]
    taken = portal.client.post(
        f"/api/v1/accounts/{account}/users",
        headers=claire,
        json={
            "email": "claire.dubois@retail-it.example",
            "title": "MME",
            "last_name": "Dubois",
            "first_name": "Claire",
            "language": "en-GB",
            "password_level": 2,
        },
    )
    assert taken.status_code == 409 and "409" in responses
    not_json = portal.client.post(
        f"/api/v1/accounts/{account}/users",
        headers=claire,
        data="{oops",
        content_type="application/json",
    )
    assert not_json.status_code == 400 and "400" in responses
    assert {"413", "415", "422", "503"} <= set(responses)


def test_q_is_documented_with_the_length_the_server_accepts(portal, document):
    user = portal.user()
    parameters = {
        p["name"]: p["schema"] for p in document["paths"]["/api/v1/catalog"]["get"]["parameters"]
    }
    longest = parameters["q"]["maxLength"]
    assert portal.client.get("/api/v1/catalog?q=" + "a" * longest, headers=user).status_code == 200
    refused = portal.client.get("/api/v1/catalog?q=" + "a" * (longest + 1), headers=user)
    assert refused.status_code == 422 and "q" in refused.get_json()["errors"]


def test_page_and_per_page_have_documented_bounds_the_server_keeps(portal, document):
    claire = portal.admin()
    account = portal.accounts(claire)["90293531"]
    for path, operation in (
        ("/api/v1/me/audits", document["paths"]["/api/v1/me/audits"]["get"]),
        (
            f"/api/v1/accounts/{account}/users",
            document["paths"]["/api/v1/accounts/{account_id}/users"]["get"],
        ),
    ):
        bounds = {p["name"]: p["schema"] for p in operation["parameters"]}
        for name in ("page", "per_page"):
            low, high = bounds[name]["minimum"], bounds[name]["maximum"]
            assert portal.client.get(f"{path}?{name}={high}", headers=claire).status_code == 200
            for outside in (low - 1, high + 1):
                answer = portal.client.get(f"{path}?{name}={outside}", headers=claire)
                assert answer.status_code == 422 and name in answer.get_json()["errors"], (
                    path,
                    name,
                    outside,
                )


def test_an_empty_patch_of_me_is_refused_as_documented(portal, document):
    user = portal.user()
    body = document["paths"]["/api/v1/me"]["patch"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    schema = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert schema["minProperties"] == 1
    for extra in ({}, {"json": {}}):
        answer = portal.client.patch("/api/v1/me", headers=user, **extra)
        assert answer.status_code == 422 and "body" in answer.get_json()["errors"]
        assert "first_name" in answer.get_json()["errors"]["body"][0]  # names what may be sent


def test_405_says_which_methods_are_allowed(portal):
    user = portal.user()
    for method in ("TRACE", "PUT"):
        answer = portal.client.open("/api/v1/me", method=method, headers=user)
        assert answer.status_code == 405
        assert answer.mimetype == "application/problem+json"
        assert {"GET", "PATCH"} <= {m.strip() for m in answer.headers.get("Allow", "").split(",")}
