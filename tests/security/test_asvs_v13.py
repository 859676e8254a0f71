"""OWASP ASVS 4.0.3 chapter V13 (API and web service): rows of docs/security.md that no other test showed.

The gateway in-process in front of fake services: a body without a content type, or of another type
than JSON, is refused with 415 on every kind of write, before any service is called.
"""

from __future__ import annotations

import pytest

from tests.service.gateway import conftest as gateway_kit
from tests.service.gateway.conftest import bearer

make_gateway, gw = gateway_kit.make_gateway, gateway_kit.gw  # the gateway tests' fixtures

BODY = '{"function": "Buyer"}'


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "text/json",
    ],
)
def test_v13_1_5_and_v13_2_5_a_body_that_is_not_declared_json_is_refused_with_415(gw, content_type):
    account = gw.account()
    admin = bearer(gw.sign_in(gw.user(account, admin=True)))
    user = gw.user(account)
    calls_before = len(gw.identity.calls)
    headers = {**admin, **({"Content-Type": content_type} if content_type else {})}

    for method, path in (
        ("PATCH", "/api/v1/me"),
        ("POST", f"/api/v1/accounts/{account}/users"),
        ("PATCH", f"/api/v1/accounts/{account}/users/{user['id']}"),
        ("POST", "/api/v1/me/password"),
    ):
        answer = gw.client.open(path, method=method, data=BODY, headers=headers)
        assert answer.status_code == 415, (method, path, answer.get_json())
        assert answer.mimetype == "application/problem+json"
        assert "application/json" in answer.get_json()["detail"]
    signed = gw.client.post(
        "/api/v1/session", data='{"email": "a@b.c", "password": "x"}', headers=headers
    )
    assert signed.status_code == 415
    assert len(gw.identity.calls) == calls_before  # refused before any service was asked
