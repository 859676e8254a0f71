"""Bad input gets its own clear 4xx problem, never a 5xx."""

from __future__ import annotations

import pytest

from tests.service.gateway.conftest import bearer


@pytest.fixture
def admin(gw):
    account = gw.account()
    user = gw.user(account, admin=True)
    return gw, account, gw.sign_in(user)


def assert_problem(response, status):
    assert response.status_code == status, response.get_data()
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["detail"] and body["title"]
    return body


def test_a_body_that_is_not_json(admin):
    gw, account, session = admin
    answer = gw.client.post(
        f"/api/v1/accounts/{account}/users",
        data=b"{not json",
        content_type="application/json",
        headers=bearer(session),
    )
    assert "not valid JSON" in assert_problem(answer, 400)["detail"]


def test_a_wrong_content_type_is_415(admin):
    gw, account, session = admin
    answer = gw.client.post(
        f"/api/v1/accounts/{account}/users",
        data="email=x",
        headers=bearer(session),
        content_type="application/x-www-form-urlencoded",
    )
    assert "application/json" in assert_problem(answer, 415)["detail"]
    upload = gw.client.post(
        f"/api/v1/accounts/{account}/imports", json={"file": "x"}, headers=bearer(session)
    )
    assert "multipart/form-data" in assert_problem(upload, 415)["detail"]


def test_an_oversize_body_is_413(make_gateway):
    gw = make_gateway(PORTICO_MAX_BODY_BYTES="1000")
    answer = gw.client.post("/api/v1/session", json={"email": "a" * 2000, "password": "x"})
    assert "1000" in assert_problem(answer, 413)["detail"]


def test_invalid_fields_are_422_with_errors_per_field(admin):
    gw, account, session = admin
    answer = gw.client.post(
        f"/api/v1/accounts/{account}/users",
        headers=bearer(session),
        json={
            "email": "not-an-address",
            "title": "DR",
            "last_name": "",
            "first_name": "J",
            "language": "xx",
            "password_level": 7,
            "surprise": 1,
        },
    )
    body = assert_problem(answer, 422)
    assert set(body["errors"]) == {
        "email",
        "title",
        "last_name",
        "language",
        "password_level",
        "surprise",
    }
    assert all(isinstance(m, list) and m for m in body["errors"].values())


def test_nested_errors_are_flattened(admin):
    gw, account, session = admin
    answer = gw.client.post(
        f"/api/v1/accounts/{account}/activation-emails",
        headers=bearer(session),
        json={"user_ids": ["ok", 3]},
    )
    assert "user_ids.1" in assert_problem(answer, 422)["errors"]
    array = gw.client.post(
        f"/api/v1/accounts/{account}/activation-emails", headers=bearer(session), json=[1]
    )
    assert assert_problem(array, 422)["errors"]


def test_query_parameters_of_wrong_type_or_unknown_are_422(admin):
    gw, account, session = admin
    wrong = gw.client.get(
        f"/api/v1/accounts/{account}/users?page=first&per_page=500", headers=bearer(session)
    )
    assert set(assert_problem(wrong, 422)["errors"]) == {"page", "per_page"}
    unknown = gw.client.get(
        f"/api/v1/accounts/{account}/users?statuss=active", headers=bearer(session)
    )
    assert "statuss" in assert_problem(unknown, 422)["errors"]
    bad_enum = gw.client.get("/api/v1/me/subscriptions?status=maybe", headers=bearer(session))
    assert "status" in assert_problem(bad_enum, 422)["errors"]


def test_missing_body_is_422_not_500(gw):
    answer = gw.client.post("/api/v1/session")
    assert set(assert_problem(answer, 422)["errors"]) == {"email", "password"}


def test_unknown_route_and_method(admin):
    gw, _, session = admin
    assert_problem(gw.client.get("/api/v1/nothing-here", headers=bearer(session)), 404)
    assert_problem(gw.client.get("/api/v1/nothing-here"), 401)
    assert_problem(gw.client.put("/api/v1/me", json={}, headers=bearer(session)), 405)


def test_tokens_and_csrf(gw):
    assert_problem(gw.client.get("/api/v1/me", headers={"Authorization": "Bearer x"}), 401)
    assert_problem(gw.client.get("/api/v1/me", headers={"Authorization": "Basic abc"}), 401)
    user = gw.user(gw.account())
    browser = gw.client
    browser.post("/api/v1/session", json={"email": user["email"], "password": "Secret-pass-1"})
    assert_problem(browser.patch("/api/v1/me", json={"function": "x"}), 403)


def test_operator_endpoints_need_the_operator_token(gw):
    assert_problem(
        gw.client.post("/api/v1/operator/accounts", json={"number": "1", "name": "x"}), 401
    )
    user = gw.user(gw.account())
    session = gw.sign_in(user)
    assert_problem(
        gw.client.post("/api/v1/operator/content", json={}, headers=bearer(session)), 401
    )
