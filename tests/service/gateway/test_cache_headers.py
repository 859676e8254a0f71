"""The API's answers are never kept by a cache (a sign-in answer holds the session token) and
never type-sniffed; the public OpenAPI document may be cached."""

from __future__ import annotations

from tests.service.gateway.conftest import bearer


def assert_not_kept(response):
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_sign_in_answer_and_what_follows_are_not_kept(gw):
    account = gw.account()
    admin = gw.user(account, admin=True)
    password = gw.users[admin["email"]]["password"]
    signed_in = gw.client.post(
        "/api/v1/session", json={"email": admin["email"], "password": password}
    )
    assert signed_in.status_code == 201 and signed_in.get_json()["token"]
    assert_not_kept(signed_in)
    for path in ("/api/v1/me", "/api/v1/accounts"):
        answer = gw.client.get(path, headers=bearer(signed_in.get_json()))
        assert answer.status_code == 200, path
        assert_not_kept(answer)


def test_errors_are_not_kept_either(gw):
    refused = gw.client.get("/api/v1/me")
    assert refused.status_code == 401 and refused.mimetype == "application/problem+json"
    assert_not_kept(refused)


def test_the_openapi_document_may_be_cached(gw):
    document = gw.client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    assert "Cache-Control" not in document.headers
    assert document.headers["X-Content-Type-Options"] == "nosniff"
