"""GET /api/v1/me from the profile kept on the session: identity is asked once, then again after
any change of the user made through the gateway or announced by identity, and after 30 s."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import request

from tests.service.gateway.conftest import bearer


def me_calls(gw: Any, user: dict[str, Any]) -> int:
    return sum(
        1
        for c in gw.identity.calls
        if c.method == "GET" and c.path == f"/internal/users/{user['id']}"
    )


def allow_patches(gw: Any) -> None:
    """identity's PATCH of a user, faked: the change lands in the user identity answers."""

    def patch(user_id: str, account_id: str | None = None) -> tuple[Any, int]:
        for known in gw.users.values():
            if known["user"]["id"] == user_id:
                known["user"].update(request.get_json())
                return {**known["user"], "event_id": "e-1"}, 200
        return {"detail": "no such user"}, 404

    gw.identity.on("PATCH", "/internal/users/{user_id}", patch)
    gw.identity.on("PATCH", "/internal/accounts/{account_id}/users/{user_id}", patch)


def rename(gw: Any, user: dict[str, Any], first_name: str) -> None:
    """A change made at identity without the gateway (the event tells the gateway)."""
    gw.users[user["email"]]["user"]["first_name"] = first_name


def test_identity_is_asked_once_while_nothing_changes(gw):
    user = gw.user(gw.account())
    headers = bearer(gw.sign_in(user))
    answers = [gw.client.get("/api/v1/me", headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].get_json() == answers[2].get_json()
    assert answers[0].get_json()["first_name"] == "Alice"
    assert me_calls(gw, user) == 1


def test_own_patch_shows_at_once(gw):
    allow_patches(gw)
    user = gw.user(gw.account())
    headers = bearer(gw.sign_in(user))
    assert gw.client.get("/api/v1/me", headers=headers).get_json()["first_name"] == "Alice"
    assert (
        gw.client.patch("/api/v1/me", json={"first_name": "Alicia"}, headers=headers).status_code
        == 200
    )
    assert gw.client.get("/api/v1/me", headers=headers).get_json()["first_name"] == "Alicia"
    assert me_calls(gw, user) == 2


def test_administrators_patch_shows_at_once_to_the_user(gw):
    allow_patches(gw)
    account = gw.account()
    admin, user = gw.user(account, admin=True), gw.user(account)
    admin_headers, user_headers = bearer(gw.sign_in(admin)), bearer(gw.sign_in(user))
    assert gw.client.get("/api/v1/me", headers=user_headers).get_json()["last_name"] == "Martin"
    answer = gw.client.patch(
        f"/api/v1/accounts/{account}/users/{user['id']}",
        json={"last_name": "Durand"},
        headers=admin_headers,
    )
    assert answer.status_code == 200
    assert gw.client.get("/api/v1/me", headers=user_headers).get_json()["last_name"] == "Durand"


def test_identity_events_clear_the_kept_profile(gw):
    user = gw.user(gw.account())
    headers = bearer(gw.sign_in(user))
    for number, event in enumerate(
        (
            "identity.user.updated",
            "identity.user.activated",
            "identity.email.changed",
            "identity.user.unlocked",
        )
    ):
        gw.client.get("/api/v1/me", headers=headers)
        rename(gw, user, f"Name {number}")
        assert (
            gw.client.get("/api/v1/me", headers=headers).get_json()["first_name"]
            != f"Name {number}"
        )
        gw.feed(
            event,
            {
                "user_id": user["id"],
                "account_id": user["account_id"],
                "email": user["email"],
                "old_email": "old@example.com",
                "new_email": user["email"],
                "last_name": "Martin",
                "first_name": f"Name {number}",
                "language": "en-GB",
                "password_level": 2,
                "status": "active",
                "changed": ["first_name"],
                "activated_at": "2025-01-06T09:00:00Z",
            },
        )
        assert (
            gw.client.get("/api/v1/me", headers=headers).get_json()["first_name"]
            == f"Name {number}"
        ), event


def test_account_events_clear_the_profiles_of_the_account(gw):
    account = gw.account()
    user = gw.user(account)
    headers = bearer(gw.sign_in(user))
    gw.client.get("/api/v1/me", headers=headers)
    rename(gw, user, "Linked")
    gw.feed(
        "identity.account.linked",
        {
            "account_id": account,
            "number": "777",
            "name": "Shop",
            "parent_id": None,
            "relation": None,
        },
    )
    assert gw.client.get("/api/v1/me", headers=headers).get_json()["first_name"] == "Linked"


def test_a_sign_in_clears_the_profiles_of_the_users_other_sessions(gw):
    user = gw.user(gw.account())
    first = bearer(gw.sign_in(user))
    gw.client.get("/api/v1/me", headers=first)
    gw.users[user["email"]]["user"]["last_sign_in_at"] = "2025-01-06T09:00:00Z"
    gw.sign_in(user)
    assert (
        gw.client.get("/api/v1/me", headers=first).get_json()["last_sign_in_at"]
        == "2025-01-06T09:00:00Z"
    )


def test_the_kept_profile_lasts_30_seconds_at_most(gw):
    user = gw.user(gw.account())
    headers = bearer(gw.sign_in(user))
    gw.client.get("/api/v1/me", headers=headers)
    rename(gw, user, "Later")
    gw.clock.advance(timedelta(seconds=29))
    assert gw.client.get("/api/v1/me", headers=headers).get_json()["first_name"] == "Alice"
    gw.clock.advance(timedelta(seconds=1))
    assert gw.client.get("/api/v1/me", headers=headers).get_json()["first_name"] == "Later"


def test_no_profile_is_kept_when_turned_off(make_gateway):
    gw = make_gateway(PORTICO_PROFILE_CACHE_SECONDS="0")
    user = gw.user(gw.account())
    headers = bearer(gw.sign_in(user))
    for _ in range(3):
        gw.client.get("/api/v1/me", headers=headers)
    assert me_calls(gw, user) == 3


def test_a_change_during_the_call_to_identity_is_not_overwritten(gw):
    """The event that clears the profile arrives while identity's (older) answer is on its way."""
    user = gw.user(gw.account())
    headers = bearer(gw.sign_in(user))
    stale = {
        **gw.users[user["email"]]["user"],
        "account": {
            "id": user["account_id"],
            "number": "1",
            "name": "A",
            "parent_id": None,
            "relation": None,
        },
    }

    def answer_then_change(user_id: str) -> tuple[Any, int]:
        rename(gw, user, "Changed")
        gw.feed(
            "identity.user.updated",
            {
                "user_id": user_id,
                "account_id": user["account_id"],
                "last_name": "Martin",
                "first_name": "Changed",
                "language": "en-GB",
                "password_level": 2,
                "status": "active",
                "changed": ["first_name"],
            },
        )
        return stale, 200

    gw.identity.on("GET", "/internal/users/{user_id}", answer_then_change)
    assert gw.client.get("/api/v1/me", headers=headers).get_json()["first_name"] == "Alice"
    gw.identity.on(
        "GET",
        "/internal/users/{user_id}",
        lambda user_id: ({**gw.users[user["email"]]["user"], "account": stale["account"]}, 200),
    )
    assert gw.client.get("/api/v1/me", headers=headers).get_json()["first_name"] == "Changed"


def test_identity_and_the_gateway_disagreeing_on_administration_asks_identity_each_time(gw):
    """identity already counts a grant the gateway has not applied yet (or the reverse): no profile is
    kept until both agree, so is_administrator never lags behind `administers` for long."""
    account = gw.account()
    user = gw.user(account)
    headers = bearer(gw.sign_in(user))
    gw.users[user["email"]]["user"]["is_administrator"] = True  # identity applied the grant first
    for _ in range(2):
        answer = gw.client.get("/api/v1/me", headers=headers).get_json()
        assert answer["is_administrator"] is True and answer["administers"] == []
    assert me_calls(gw, user) == 2
    gw.holding(user["id"], account, administers=account, code=f"user_admin:{account}")
    for _ in range(2):
        answer = gw.client.get("/api/v1/me", headers=headers).get_json()
        assert answer["is_administrator"] is True and answer["administers"] == [account]
    assert me_calls(gw, user) == 3
