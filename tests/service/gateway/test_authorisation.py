"""Authorisation from projections: administrators, supervisors both ways, 404 that leaks nothing,
and the tenant-isolation sweep over every /api/v1/accounts/{account_id}/... route."""

from __future__ import annotations

import pytest

from tests.service.gateway.conftest import bearer, new_id


def page(items):
    return {"items": items, "page": 1, "per_page": 10, "total": len(items)}


def test_administrator_reaches_own_account_and_the_call_carries_the_actor(gw):
    account = gw.account("100")
    admin = gw.user(account, admin=True)
    gw.identity.on("GET", "/internal/accounts/{account_id}/users", page([admin]))
    session = gw.sign_in(admin)
    answer = gw.client.get(
        f"/api/v1/accounts/{account}/users?name=mar&status=active",
        headers={**bearer(session), "X-Portico-Request-Id": "req-42"},
    )
    assert answer.status_code == 200 and answer.get_json()["items"][0]["id"] == admin["id"]
    call = gw.identity.calls[-1]
    assert call.path == f"/internal/accounts/{account}/users"
    assert call.args == {"name": "mar", "status": "active", "page": "1", "per_page": "10"}
    assert call.headers["X-Portico-Actor"] == admin["id"]
    assert call.headers["X-Portico-Actor-Account"] == account
    assert call.headers["X-Portico-Request-Id"] == "req-42"
    assert answer.headers["X-Portico-Request-Id"] == "req-42"


def test_accounts_lists_own_and_supervised(gw):
    parent = gw.account("200")
    child = gw.account("201", parent_id=parent)
    gw.account("202", parent_id=parent)  # another shop, not supervised by this admin
    admin = gw.user(parent, admin=True)
    gw.holding(admin["id"], parent, administers=child, supervises=True)
    listed = gw.client.get("/api/v1/accounts", headers=bearer(gw.sign_in(admin))).get_json()
    assert [(a["number"], a["role"]) for a in listed["items"]] == [
        ("200", "administrator"),
        ("201", "supervisor"),
    ]
    assert listed["total"] == 2


def test_supervisor_reaches_the_child_but_the_child_admin_not_the_parent(gw):
    parent, child = gw.account("300"), None
    child = gw.account("301", parent_id=parent)
    supervisor = gw.user(parent, admin=True)
    gw.holding(supervisor["id"], parent, administers=child, supervises=True)
    child_admin = gw.user(child, admin=True)
    gw.identity.on("GET", "/internal/accounts/{account_id}/users", page([]))
    up = gw.client.get(f"/api/v1/accounts/{child}/users", headers=bearer(gw.sign_in(supervisor)))
    assert up.status_code == 200
    down = gw.client.get(
        f"/api/v1/accounts/{parent}/users", headers=bearer(gw.sign_in(child_admin))
    )
    assert down.status_code == 404


def test_outside_reach_is_404_identical_to_a_random_id_and_no_service_is_called(gw):
    mine, theirs = gw.account(), gw.account()
    admin = gw.user(mine, admin=True)
    session = gw.sign_in(admin)
    before = len(gw.identity.calls)
    real = gw.client.get(f"/api/v1/accounts/{theirs}/users", headers=bearer(session))
    random = gw.client.get(f"/api/v1/accounts/{new_id()}/users", headers=bearer(session))
    assert real.status_code == random.status_code == 404
    assert real.get_data() == random.get_data()
    assert len(gw.identity.calls) == before


def test_member_of_own_account_without_the_right_gets_403_with_the_reason(gw):
    account = gw.account()
    member = gw.user(account)
    answer = gw.client.get(f"/api/v1/accounts/{account}/users", headers=bearer(gw.sign_in(member)))
    assert answer.status_code == 403 and "administrator" in answer.get_json()["detail"]
    assert (
        gw.client.get("/api/v1/accounts", headers=bearer(gw.sign_in(member))).get_json()["total"]
        == 0
    )


def test_expired_or_cancelled_administration_gives_no_reach(gw):
    account = gw.account()
    user = gw.user(account)
    sub = gw.holding(user["id"], account, administers=account, expires_on="2025-01-05")
    session = gw.sign_in(user)
    assert (
        gw.client.get(f"/api/v1/accounts/{account}/users", headers=bearer(session)).status_code
        == 403
    )
    gw.holding(
        user["id"], account, administers=account, subscription_id=sub, expires_on="2025-12-31"
    )
    gw.identity.on("GET", "/internal/accounts/{account_id}/users", page([]))
    assert (
        gw.client.get(f"/api/v1/accounts/{account}/users", headers=bearer(session)).status_code
        == 200
    )
    gw.holding(user["id"], account, administers=account, subscription_id=sub, status="cancelled")
    assert (
        gw.client.get(f"/api/v1/accounts/{account}/users", headers=bearer(session)).status_code
        == 403
    )


def test_service_problems_pass_through_unchanged(gw):
    account = gw.account()
    admin = gw.user(account, admin=True)
    gw.identity.on(
        "POST",
        "/internal/accounts/{account_id}/users",
        {
            "type": "about:blank",
            "title": "Conflict",
            "status": 409,
            "detail": "The user already exists",
        },
        409,
    )
    body = {
        "email": "new@example.com",
        "title": "M",
        "last_name": "Doe",
        "first_name": "John",
        "language": "en-GB",
        "password_level": 1,
    }
    answer = gw.client.post(
        f"/api/v1/accounts/{account}/users", json=body, headers=bearer(gw.sign_in(admin))
    )
    assert answer.status_code == 409 and answer.get_json()["detail"] == "The user already exists"
    assert answer.mimetype == "application/problem+json"


def test_an_unavailable_service_is_a_clear_503(gw):
    account = gw.account()
    admin = gw.user(account, admin=True)
    gw.identity.on("GET", "/internal/accounts/{account_id}/audit", lambda **_: 1 / 0)
    answer = gw.client.get(f"/api/v1/accounts/{account}/audit", headers=bearer(gw.sign_in(admin)))
    assert answer.status_code == 503 and answer.mimetype == "application/problem+json"
    assert "identity service is not answering" in answer.get_json()["detail"]


# --- the tenant-isolation sweep ---------------------------------------------------------------

SAMPLE_BODIES = {
    "POST users.Users": {
        "email": "x@example.com",
        "title": "M",
        "last_name": "X",
        "first_name": "Y",
        "language": "en-GB",
        "password_level": 1,
    },
    "PATCH users.User": {"function": "Buyer"},
    "POST users.ActivationEmails": {"user_ids": ["u"]},
    "POST user_subscriptions.UserSubscriptions": {"service_ids": ["s"]},
    "PATCH account_services.Services": {"service_ids": ["s"], "auto_subscribe": True},
    "POST requests.Accept": {},
    "POST requests.Refuse": {},
}


def account_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/accounts/<account_id>"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def test_every_account_route_is_guarded(gw):
    """The sweep below must cover every route (a new blueprint without the guard would fail here)."""
    routes = list(account_routes(gw.app))
    assert len(routes) >= 18
    for rule, _ in routes:
        assert rule.endpoint.split(".")[0] in (
            "accounts",
            "users",
            "user_subscriptions",
            "account_services",
            "requests",
            "imports",
            "account_security",
            "scim_tokens",
        )


@pytest.fixture
def intruder(gw):
    """An administrator of one account, and real ids of another account's users and subscriptions."""
    victim = gw.account("900")
    victim_admin = gw.user(victim, admin=True)
    victim_sub = gw.holding(victim_admin["id"], victim, gates="invoices")
    own = gw.account("901")
    attacker = gw.user(own, admin=True)
    ids = {
        "account_id": victim,
        "user_id": victim_admin["id"],
        "subscription_id": victim_sub,
        "service_id": new_id(),
        "request_id": victim_sub,
        "import_id": new_id(),
    }
    return gw, gw.sign_in(attacker), ids


def test_no_account_route_answers_or_calls_for_another_account(intruder):
    gw, session, ids = intruder
    for rule, method in account_routes(gw.app):
        key = f"{method} {rule.endpoint}"
        path = rule.rule
        for name, value in ids.items():
            path = path.replace(f"<{name}>", value)
        random_path = path.replace(ids["account_id"], new_id())
        kwargs = {"headers": bearer(session)}
        if rule.endpoint == "imports.Imports":
            kwargs["data"] = {}
        else:
            kwargs["json"] = SAMPLE_BODIES.get(key, {}) if method != "GET" else None
        calls_before = sum(len(f.calls) for f in gw.fakes.values())
        real = gw.client.open(path, method=method, **kwargs)
        random = gw.client.open(random_path, method=method, **kwargs)
        assert real.status_code == 404, (key, real.status_code, real.get_data())
        assert real.get_data() == random.get_data(), key
        assert sum(len(f.calls) for f in gw.fakes.values()) == calls_before, key
