"""Bad input is a 422 naming the field, on every part, and writes nothing (security issue, item 9).

A lone surrogate or a NUL character in a text, an integer beyond 64 bits in a body or a query
string, a number that is not finite, a body that is not a JSON object: the gateway and each
service's internal API answer 422 problem+json whose `errors` name the field (they were 500s, and
`?page=9223372036854775807` overflowed SQLite into a 503 "not answering").
"""

from __future__ import annotations

import time

import pytest

from tests.security.real_portal import start_portal

HUGE = "9223372036854775807"
NEW_USER = {
    "email": "bad.input@retail-it.example",
    "title": "M",
    "last_name": "Input",
    "first_name": "Bad",
    "language": "en-GB",
    "password_level": 1,
}


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    instance = start_portal(tmp_path_factory.mktemp("portal"), f"bad-input-{time.monotonic_ns()}")
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def claire(portal):
    headers = portal.admin()
    return headers, portal.accounts(headers)["90293531"]


def assert_422_naming(answer, field):
    assert answer.status_code == 422, (answer.status_code, answer.get_data()[:300])
    assert answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert field in problem["errors"], problem
    assert field in problem["detail"] or "see errors" in problem["detail"]
    return problem


def raw(text: str) -> dict:
    return {"data": text.encode(), "content_type": "application/json"}


# (what, method, path with {account}, request keywords, field named)
GATEWAY_CASES = [
    (
        "lone surrogate at sign-in",
        "POST",
        "/api/v1/session",
        raw('{"email": "a\\ud800@x.example", "password": "x"}'),
        "email",
    ),
    (
        "lone surrogate in a name",
        "POST",
        "/api/v1/accounts/{account}/users",
        raw(
            '{"email": "bad.input@retail-it.example", "title": "M", "last_name": "In\\udc00put", '
            '"first_name": "Bad", "language": "en-GB", "password_level": 1}'
        ),
        "last_name",
    ),
    (
        "NUL in a name",
        "POST",
        "/api/v1/accounts/{account}/users",
        {"json": {**NEW_USER, "first_name": "B\x00ad"}},
        "first_name",
    ),
    (
        "NUL in a password",
        "POST",
        "/api/v1/session",
        {"json": {"email": "a@x.example", "password": "a\x00"}},
        "password",
    ),
    (
        "huge integer in a body",
        "POST",
        "/api/v1/accounts/{account}/users",
        {"json": {**NEW_USER, "password_level": 10**30}},
        "password_level",
    ),
    (
        "NaN in a body",
        "POST",
        "/api/v1/accounts/{account}/users",
        raw(
            '{"email": "bad.input@retail-it.example", "title": "M", "last_name": "Input", "first_name": "Bad", '
            '"language": "en-GB", "password_level": NaN}'
        ),
        "password_level",
    ),
    (
        "nested surrogate",
        "POST",
        "/api/v1/accounts/{account}/activation-emails",
        raw('{"user_ids": ["ok", "\\ud83d"]}'),
        "user_ids.1",
    ),
    ("an array body", "POST", "/api/v1/session", {"json": [1, 2]}, "body"),
    ("a string body", "PATCH", "/api/v1/me", {"json": "text"}, "body"),
    ("a body nested too deeply", "POST", "/api/v1/session", raw("[" * 5000 + "]" * 5000), "body"),
    ("an empty PATCH", "PATCH", "/api/v1/me", {}, "body"),
    (
        "an empty PATCH object",
        "PATCH",
        "/api/v1/accounts/{account}/users/{user}",
        {"json": {}},
        "body",
    ),
    ("huge page of users", "GET", f"/api/v1/accounts/{{account}}/users?page={HUGE}", {}, "page"),
    (
        "huge page of the audit",
        "GET",
        f"/api/v1/accounts/{{account}}/audit?page={HUGE}",
        {},
        "page",
    ),
    ("huge page of my services", "GET", f"/api/v1/me/subscriptions?page={HUGE}", {}, "page"),
    (
        "huge page of the catalog",
        "GET",
        f"/api/v1/accounts/{{account}}/services?page={HUGE}0",
        {},
        "page",
    ),
    ("NUL in a query", "GET", "/api/v1/catalog?q=a%00b", {}, "q"),
    ("NUL in a user search", "GET", "/api/v1/accounts/{account}/users?name=a%00b", {}, "name"),
]


@pytest.mark.parametrize(
    ("what", "method", "path", "extra", "field"),
    GATEWAY_CASES,
    ids=[case[0] for case in GATEWAY_CASES],
)
def test_the_gateway_answers_422_naming_the_field(portal, claire, what, method, path, extra, field):
    headers, account = claire
    user = portal.client.get("/api/v1/me", headers=headers).get_json()["id"]
    answer = portal.client.open(
        path.format(account=account, user=user), method=method, headers=headers, **extra
    )
    assert_422_naming(answer, field)


def test_nothing_is_written_when_a_field_is_refused(portal, claire):
    headers, account = claire
    for body in ({**NEW_USER, "last_name": "In\x00put"}, {**NEW_USER, "password_level": 2**64}):
        assert (
            portal.client.post(
                f"/api/v1/accounts/{account}/users", headers=headers, json=body
            ).status_code
            == 422
        )
    found = portal.client.get(
        f"/api/v1/accounts/{account}/users?email=bad.input", headers=headers
    ).get_json()
    assert found["total"] == 0
    me = portal.client.get("/api/v1/me", headers=headers).get_json()
    assert (
        portal.client.patch(
            "/api/v1/me", headers=headers, json={"first_name": "Cl\x00aire"}
        ).status_code
        == 422
    )
    assert (
        portal.client.get("/api/v1/me", headers=headers).get_json()["first_name"]
        == me["first_name"]
    )


def service_call(portal, name, method, path, **extra):
    token = portal.embedded.parts[name].settings.service_token
    client = portal.embedded.apps[name].test_client()
    return client.open(path, method=method, headers={"Authorization": f"Bearer {token}"}, **extra)


# (service, method, path with {account} / {user}, request keywords, field named)
SERVICE_CASES = [
    (
        "identity",
        "POST",
        "/internal/accounts",
        raw('{"number": "7\\ud800", "name": "A"}'),
        "number",
    ),
    ("identity", "POST", "/internal/accounts", {"json": {"number": "7", "name": "A\x00"}}, "name"),
    ("identity", "POST", "/internal/sign-in", {"json": [1]}, "body"),
    ("identity", "GET", f"/internal/accounts/{{account}}/users?page={HUGE}", {}, "page"),
    ("identity", "GET", f"/internal/accounts/{{account}}/audit?page={HUGE}", {}, "page"),
    ("identity", "GET", "/internal/accounts/{account}/users?name=x%00", {}, "name"),
    (
        "identity",
        "PATCH",
        "/internal/users/{user}",
        {"json": {"function": "x" * 10 + "\x00"}},
        "function",
    ),
    (
        "subscriptions",
        "PATCH",
        "/internal/accounts/{account}/services",
        {"json": {"service_ids": ["a\x00"], "auto_subscribe": True}},
        "service_ids.0",
    ),
    ("subscriptions", "GET", f"/internal/users/{{user}}/subscriptions?page={HUGE}", {}, "page"),
    (
        "subscriptions",
        "POST",
        "/internal/users/{user}/subscriptions",
        {"json": {"service_id": 2**70}},
        "service_id",
    ),
    (
        "importer",
        "GET",
        f"/internal/accounts/{{account}}/imports/x?anomalies_limit={HUGE}9",
        {},
        "anomalies_limit",
    ),
    (
        "importer",
        "GET",
        "/internal/accounts/{account}/imports/x?anomalies_limit=%C2%B2",
        {},
        "anomalies_limit",
    ),
    ("notifications", "GET", f"/internal/mailbox?page={HUGE}", {}, "page"),
    ("notifications", "GET", "/internal/deliveries?status=sent%00", {}, "status"),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "extra", "field"),
    SERVICE_CASES,
    ids=[f"{case[0]}-{case[4]}-{i}" for i, case in enumerate(SERVICE_CASES)],
)
def test_each_service_answers_422_naming_the_field(
    portal, claire, name, method, path, extra, field
):
    headers, account = claire
    user = portal.client.get("/api/v1/me", headers=headers).get_json()["id"]
    answer = service_call(portal, name, method, path.format(account=account, user=user), **extra)
    assert_422_naming(answer, field)


GARBAGE = [
    {"data": b"{oops", "content_type": "application/json"},
    {"data": b"\xff\xfe\x00", "content_type": "application/json"},
    {
        "data": b'{"email": "a\\udfff@x.example", "password": "p", "new_email": "\\ud800"}',
        "content_type": "application/json",
    },
    {"json": [1, 2, 3]},
    {"json": "text"},
    {
        "json": {
            "page": -1,
            "service_ids": "x",
            "user_ids": [None],
            "expires_on": "yesterday",
            "email": 3,
        }
    },
    {"data": "a=b", "content_type": "application/x-www-form-urlencoded"},
    {"data": b"", "content_type": "multipart/form-data; boundary=x"},
]
QUERIES = (
    "",
    "?page=zero&per_page=99999&unknown=1&dry_run=perhaps&q=%00",
    f"?page={HUGE}",
)


def test_no_route_of_the_real_portal_answers_a_5xx_to_garbage(portal, claire):
    """Every /api/v1 route and method, garbage bodies and query strings: a problem+json 4xx, never a 5xx."""
    _, account = claire
    headers = portal.admin()  # its own session: nothing here may end the one the other tests use
    swept = 0
    for rule in portal.app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.replace("<account_id>", account)
        for name in rule.arguments - {"account_id"}:
            path = path.replace(f"<{name}>", "x%00y")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (method, rule.rule) == ("DELETE", "/api/v1/session"):
                continue
            for extra in GARBAGE:
                for query in QUERIES:
                    answer = portal.client.open(
                        path + query, method=method, headers=headers, **extra
                    )
                    swept += 1
                    assert answer.status_code < 500, (
                        method,
                        path,
                        query,
                        extra,
                        answer.get_data()[:300],
                    )
                    if answer.status_code >= 400:
                        assert answer.mimetype == "application/problem+json", (method, path)
    assert swept > 1000
