"""Sessions: tokens hashed at rest, idle and absolute expiry, sign-out, CSRF, forced password change,
and sessions ended by identity's events."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from gateway.adapters.orm import sessions
from tests.service.gateway.conftest import bearer


def test_sign_in_answers_a_token_and_keeps_only_its_hash(gw):
    user = gw.user(gw.account())
    session = gw.sign_in(user)
    assert set(session) >= {"token", "csrf_token", "user", "password_change_required"}
    assert session["user"]["id"] == user["id"] and session["password_change_required"] is False
    with gw.part.engine.connect() as conn:
        stored = conn.execute(sa.select(sessions.c.token_hash, sessions.c.csrf_hash)).one()
    assert stored.token_hash == hashlib.sha256(session["token"].encode()).hexdigest()
    assert session["token"] not in stored and session["csrf_token"] not in stored
    call = gw.identity.calls[-1]
    assert call.path == "/internal/sign-in" and call.json["ip"] and "password" in call.json


def test_sign_in_sets_an_http_only_lax_cookie(gw):
    user = gw.user(gw.account())
    response = gw.client.post(
        "/api/v1/session", json={"email": user["email"], "password": "Secret-pass-1"}
    )
    cookie = response.headers["Set-Cookie"]
    assert "portico_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_cookie_is_secure_behind_https(make_gateway):
    gw = make_gateway(PORTICO_PUBLIC_URL="https://portal.example.com")
    user = gw.user(gw.account())
    response = gw.client.post(
        "/api/v1/session", json={"email": user["email"], "password": "Secret-pass-1"}
    )
    assert "Secure" in response.headers["Set-Cookie"]


def test_identity_refusals_pass_through(gw):
    user = gw.user(gw.account(), status="locked")
    wrong = gw.client.post("/api/v1/session", json={"email": user["email"], "password": "nope"})
    assert wrong.status_code == 401 and wrong.mimetype == "application/problem+json"
    locked = gw.client.post(
        "/api/v1/session", json={"email": user["email"], "password": "Secret-pass-1"}
    )
    assert locked.status_code == 423 and "reset your password" in locked.get_json()["detail"]


def test_bearer_session_reads_me_without_csrf(gw):
    user = gw.user(gw.account())
    session = gw.sign_in(user)
    me = gw.client.get("/api/v1/me", headers=bearer(session))
    assert me.status_code == 200 and me.get_json()["id"] == user["id"]
    patched = gw.client.patch("/api/v1/me", json={"function": "Buyer"}, headers=bearer(session))
    assert patched.status_code != 403


def test_no_forged_or_missing_token_gets_in(gw):
    assert gw.client.get("/api/v1/me").status_code == 401
    forged = gw.client.get("/api/v1/me", headers={"Authorization": "Bearer forged-token"})
    assert forged.status_code == 401 and forged.mimetype == "application/problem+json"
    assert "sign in again" in forged.get_json()["detail"]


def test_idle_timeout_ends_the_session(gw):
    session = gw.sign_in(gw.user(gw.account()))
    gw.clock.advance(timedelta(minutes=29))
    assert gw.client.get("/api/v1/me", headers=bearer(session)).status_code == 200
    gw.clock.advance(timedelta(minutes=29))  # used 29 minutes ago: still alive
    assert gw.client.get("/api/v1/me", headers=bearer(session)).status_code == 200
    gw.clock.advance(timedelta(minutes=31))
    ended = gw.client.get("/api/v1/me", headers=bearer(session))
    assert ended.status_code == 401 and "without activity" in ended.get_json()["detail"]


def test_absolute_lifetime_ends_even_a_busy_session(gw):
    session = gw.sign_in(gw.user(gw.account()))
    for _ in range(12 * 3):
        gw.clock.advance(timedelta(minutes=20))
        ended = gw.client.get("/api/v1/me", headers=bearer(session))
        if ended.status_code != 200:
            break
    assert ended.status_code == 401 and "maximum length" in ended.get_json()["detail"]
    assert gw.clock.now() - datetime(2025, 1, 6, 9, 0, tzinfo=UTC) == timedelta(hours=12)


def test_timeouts_are_configurable(make_gateway):
    gw = make_gateway(PORTICO_SESSION_IDLE_MINUTES="5", PORTICO_SESSION_LIFETIME_HOURS="1")
    session = gw.sign_in(gw.user(gw.account()))
    gw.clock.advance(timedelta(minutes=6))
    assert gw.client.get("/api/v1/me", headers=bearer(session)).status_code == 401


def test_sign_out_ends_the_session_and_clears_the_cookie(gw):
    session = gw.sign_in(gw.user(gw.account()))
    out = gw.client.delete("/api/v1/session", headers=bearer(session))
    assert out.status_code == 204 and "portico_session=;" in out.headers["Set-Cookie"]
    assert gw.client.get("/api/v1/me", headers=bearer(session)).status_code == 401
    assert gw.client.delete("/api/v1/session", headers=bearer(session)).status_code == 204


def test_cookie_sessions_need_the_csrf_token_on_unsafe_methods(gw):
    user = gw.user(gw.account())
    browser = gw.client
    browser.post("/api/v1/session", json={"email": user["email"], "password": "Secret-pass-1"})
    session = gw.sign_in(user)  # a second session, for its csrf token only
    assert browser.get("/api/v1/me").status_code == 200  # safe: no token needed
    missing = browser.patch("/api/v1/me", json={"function": "Buyer"})
    assert missing.status_code == 403 and "X-CSRF-Token" in missing.get_json()["detail"]
    wrong = browser.patch(
        "/api/v1/me", json={"function": "Buyer"}, headers={"X-CSRF-Token": session["csrf_token"]}
    )
    assert wrong.status_code == 403 and "does not match" in wrong.get_json()["detail"]
    assert browser.delete("/api/v1/session").status_code == 403


def test_cookie_session_with_its_csrf_token_is_accepted(gw):
    user = gw.user(gw.account())
    browser = gw.client
    signed = browser.post(
        "/api/v1/session", json={"email": user["email"], "password": "Secret-pass-1"}
    ).get_json()
    gw.identity.on("PATCH", "/internal/users/{user_id}", {**user, "function": "Buyer"})
    ok = browser.patch(
        "/api/v1/me", json={"function": "Buyer"}, headers={"X-CSRF-Token": signed["csrf_token"]}
    )
    assert ok.status_code == 200 and ok.get_json()["function"] == "Buyer"
    assert (
        browser.delete(
            "/api/v1/session", headers={"X-CSRF-Token": signed["csrf_token"]}
        ).status_code
        == 204
    )
    assert browser.get("/api/v1/me").status_code == 401


def test_password_change_required_allows_only_me_password_and_sign_out(gw):
    user = gw.user(gw.account(), password_change_required=True)
    session = gw.sign_in(user)
    assert session["password_change_required"] is True
    assert gw.client.get("/api/v1/me", headers=bearer(session)).status_code == 200
    blocked = gw.client.get("/api/v1/me/subscriptions", headers=bearer(session))
    assert blocked.status_code == 403 and "password must be changed" in blocked.get_json()["detail"]
    assert gw.client.get("/api/v1/catalog", headers=bearer(session)).status_code == 403
    changed = gw.client.post(
        "/api/v1/me/password",
        json={"current_password": "Secret-pass-1", "new_password": "Another-pass-2"},
        headers=bearer(session),
    )
    assert changed.status_code == 204
    gw.subscriptions.on(
        "GET",
        "/internal/users/{user_id}/subscriptions",
        {"items": [], "page": 1, "per_page": 10, "total": 0},
    )
    assert gw.client.get("/api/v1/me/subscriptions", headers=bearer(session)).status_code == 200


def test_password_change_ends_the_other_sessions_at_once_and_its_event_spares_this_one(gw):
    user = gw.user(gw.account())
    mine, other = gw.sign_in(user), gw.sign_in(user)
    body = {"current_password": "Secret-pass-1", "new_password": "Another-pass-2"}
    assert gw.client.post("/api/v1/me/password", json=body, headers=bearer(mine)).status_code == 204
    assert gw.client.get("/api/v1/me", headers=bearer(other)).status_code == 401
    gw.feed(
        "identity.password.changed",
        {"user_id": user["id"], "account_id": user["account_id"], "via": "change"},
    )
    assert gw.client.get("/api/v1/me", headers=bearer(mine)).status_code == 200


def test_a_failed_password_change_keeps_every_session(gw):
    user = gw.user(gw.account())
    mine, other = gw.sign_in(user), gw.sign_in(user)
    gw.identity.on(
        "POST",
        "/internal/users/{user_id}/password",
        {
            "type": "about:blank",
            "title": "x",
            "status": 422,
            "detail": "Too short.",
            "errors": {"new_password": ["Too short."]},
        },
        422,
    )
    refused = gw.client.post(
        "/api/v1/me/password",
        json={"current_password": "a", "new_password": "b"},
        headers=bearer(mine),
    )
    assert refused.status_code == 422 and refused.get_json()["errors"] == {
        "new_password": ["Too short."]
    }
    assert gw.client.get("/api/v1/me", headers=bearer(other)).status_code == 200
    gw.feed(
        "identity.password.changed",
        {"user_id": user["id"], "account_id": user["account_id"], "via": "change"},
    )
    assert gw.client.get("/api/v1/me", headers=bearer(mine)).status_code == 401


def test_password_changed_elsewhere_or_reset_ends_every_session(gw):
    user = gw.user(gw.account())
    one, two = gw.sign_in(user), gw.sign_in(user)
    gw.feed(
        "identity.password.changed",
        {"user_id": user["id"], "account_id": user["account_id"], "via": "reset"},
    )
    assert gw.client.get("/api/v1/me", headers=bearer(one)).status_code == 401
    assert gw.client.get("/api/v1/me", headers=bearer(two)).status_code == 401


def test_sessions_opened_after_a_late_event_survive_it(gw):
    user = gw.user(gw.account())
    earlier = (gw.clock.now() - timedelta(minutes=1)).isoformat()
    session = gw.sign_in(user)
    gw.feed(
        "identity.password.changed",
        {"user_id": user["id"], "account_id": user["account_id"], "via": "reset"},
        occurred_at=earlier,
    )
    assert gw.client.get("/api/v1/me", headers=bearer(session)).status_code == 200


def test_deletion_and_lock_end_the_sessions(gw):
    account = gw.account()
    deleted, locked, bystander = gw.user(account), gw.user(account), gw.user(account)
    sessions_ = {u["id"]: gw.sign_in(u) for u in (deleted, locked, bystander)}
    gw.feed("identity.user.deleted", {"user_id": deleted["id"], "account_id": account})
    gw.feed("identity.user.locked", {"user_id": locked["id"], "account_id": account})
    assert gw.client.get("/api/v1/me", headers=bearer(sessions_[deleted["id"]])).status_code == 401
    assert gw.client.get("/api/v1/me", headers=bearer(sessions_[locked["id"]])).status_code == 401
    assert (
        gw.client.get("/api/v1/me", headers=bearer(sessions_[bystander["id"]])).status_code == 200
    )


def test_redelivered_event_changes_nothing(gw):
    user = gw.user(gw.account())
    event = gw.feed(
        "identity.user.locked", {"user_id": user["id"], "account_id": user["account_id"]}
    )
    session = gw.sign_in(user)
    assert gw.part.processor().process(event.to_json()).kind == "duplicate"
    assert gw.client.get("/api/v1/me", headers=bearer(session)).status_code == 200
