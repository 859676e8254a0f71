"""Property-based fuzzing of the whole public API from its own OpenAPI document: never a 5xx.

Runs when schemathesis is installed (a dev extra); the hand-written sweep below runs always.
"""

from __future__ import annotations

import pytest

from tests.service.gateway.conftest import bearer


@pytest.fixture
def signed_in_admin(gw):
    account = gw.account()
    admin = gw.user(account, admin=True)
    return gw, account, bearer(gw.sign_in(admin))


GARBAGE = [
    {"data": b"{oops", "content_type": "application/json"},
    {"data": b"\xff\xfe\x00", "content_type": "application/json"},
    {"json": [1, 2, 3]},
    {"json": "text"},
    {"json": {"page": -1, "service_ids": "x", "user_ids": [None], "expires_on": "yesterday", "email": 3}},
    {"data": "a=b", "content_type": "application/x-www-form-urlencoded"},
    {"data": b"", "content_type": "multipart/form-data; boundary=x"},
]


def test_no_route_answers_a_5xx_to_garbage(signed_in_admin):
    gw, account, headers = signed_in_admin
    for rule in gw.app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.replace("<account_id>", account)
        for name in rule.arguments - {"account_id"}:
            path = path.replace(f"<{name}>", "x%00y")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for extra in GARBAGE:
                for query in ("", "?page=zero&per_page=99999&unknown=1&dry_run=perhaps"):
                    answer = gw.client.open(path + query, method=method, headers=headers, **extra)
                    assert answer.status_code < 500, (method, path, extra, answer.get_data()[:300])
                    if answer.status_code >= 400:
                        assert answer.mimetype == "application/problem+json", (method, path)


def test_the_api_never_answers_a_server_error(signed_in_admin):
    """Every operation of the OpenAPI document, with generated parameters and bodies."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    gw, account, headers = signed_in_admin
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", gw.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case):  # type: ignore[no-untyped-def]
            if case.path_parameters and "account_id" in case.path_parameters:
                case.path_parameters["account_id"] = account
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        run()
