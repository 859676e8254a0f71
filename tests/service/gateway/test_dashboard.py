"""The dashboard: panels asked concurrently; a failing or slow service costs only its own panels."""

from __future__ import annotations

import threading

from tests.service.gateway.conftest import bearer
from tests.waiting_kit import DEADLINE

SUBS_PANELS = {
    "my_services": {"accepted": 3, "pending": 1, "refused": 0, "last": []},
    "catalog": {
        "not_subscribed": 40,
        "new_since_last_sign_in": 2,
        "without_subscriber": 5,
        "pending_validation": 1,
    },
}
SUMMARY = {
    "active": 4,
    "pending_activation": 2,
    "without_email": 1,
    "new_since_last_sign_in": 1,
    "groups": [],
}
IDENTITY_PANELS = {
    "last_audits": {"items": [{"action": "sign_in"}] * 3, "page": 1, "per_page": 3, "total": 9},
    "administrators": {"items": [{"id": "a1"}], "page": 1, "per_page": 200, "total": 1},
    "users": SUMMARY,
}


def wire(gw, account):
    gw.subscriptions.on("GET", "/internal/users/{u}/dashboard", SUBS_PANELS)
    gw.identity.on("GET", "/internal/users/{u}/dashboard", IDENTITY_PANELS)


def identity_calls(gw):
    return [c for c in gw.identity.calls if c.path.endswith("/dashboard")]


def test_every_panel_for_an_administrator(gw):
    account = gw.account()
    admin = gw.user(account, admin=True)
    wire(gw, account)
    panels = gw.client.get("/api/v1/me/dashboard", headers=bearer(gw.sign_in(admin))).get_json()
    assert panels["my_services"]["accepted"] == 3 and panels["catalog"]["not_subscribed"] == 40
    assert len(panels["last_audits"]) == 3 and panels["administrators"] == [{"id": "a1"}]
    assert panels["users"] == SUMMARY
    # one call to each service, both with the previous sign-in
    (subscriptions,) = gw.subscriptions.calls
    (identity,) = identity_calls(gw)
    assert subscriptions.path == identity.path == f"/internal/users/{admin['id']}/dashboard"
    assert subscriptions.args["since"] == identity.args["since"] == "2024-12-20T08:00:00Z"
    assert identity.args["users"] == "1"


def test_no_users_panel_for_a_member(gw):
    account = gw.account()
    member = gw.user(account)
    wire(gw, account)
    panels = gw.client.get("/api/v1/me/dashboard", headers=bearer(gw.sign_in(member))).get_json()
    assert "users" not in panels
    (identity,) = identity_calls(gw)
    assert "users" not in identity.args  # the summary is not even computed


def test_a_failing_service_marks_only_its_panels(gw):
    account = gw.account()
    admin = gw.user(account, admin=True)
    wire(gw, account)
    gw.subscriptions.on("GET", "/internal/users/{u}/dashboard", lambda **_: 1 / 0)
    answer = gw.client.get("/api/v1/me/dashboard", headers=bearer(gw.sign_in(admin)))
    assert answer.status_code == 200
    panels = answer.get_json()
    assert (
        panels["my_services"]["unavailable"] is True
        and "subscriptions" in panels["my_services"]["reason"]
    )
    assert panels["catalog"]["unavailable"] is True
    assert len(panels["last_audits"]) == 3 and panels["users"] == SUMMARY


def test_a_failing_identity_marks_its_three_panels_only(gw):
    account = gw.account()
    admin = gw.user(account, admin=True)
    wire(gw, account)
    gw.identity.on("GET", "/internal/users/{u}/dashboard", lambda **_: 1 / 0)
    panels = gw.client.get("/api/v1/me/dashboard", headers=bearer(gw.sign_in(admin))).get_json()
    for name in ("last_audits", "administrators", "users"):
        assert panels[name]["unavailable"] is True and "identity" in panels[name]["reason"], name
    assert panels["my_services"]["accepted"] == 3 and panels["catalog"]["not_subscribed"] == 40


def test_a_slow_service_is_cut_at_the_deadline_and_calls_run_concurrently(make_gateway):
    gw = make_gateway(PORTICO_DASHBOARD_TIMEOUT_SECONDS="3")
    account = gw.account()
    admin = gw.user(account, admin=True)
    wire(gw, account)
    subscriptions_asked, identity_asked, released = (
        threading.Event(),
        threading.Event(),
        threading.Event(),
    )

    def never_answers_in_time(**_):
        subscriptions_asked.set()
        released.wait(
            DEADLINE
        )  # set once the dashboard has answered: only a cut lets it answer first
        return SUBS_PANELS, 200

    def answers_once_both_are_asked(**_):
        # called one after the other, this call would wait for the other one until the deadline cut it
        identity_asked.set()
        assert subscriptions_asked.wait(DEADLINE)
        return {
            **IDENTITY_PANELS,
            "last_audits": {"items": [], "page": 1, "per_page": 3, "total": 0},
        }, 200

    gw.subscriptions.on("GET", "/internal/users/{u}/dashboard", never_answers_in_time)
    gw.identity.on("GET", "/internal/users/{u}/dashboard", answers_once_both_are_asked)
    session = gw.sign_in(admin)
    try:
        panels = gw.client.get("/api/v1/me/dashboard", headers=bearer(session)).get_json()
    finally:
        released.set()
    assert (
        panels["my_services"]["unavailable"] is True
        and "within 3 s" in panels["my_services"]["reason"]
    )
    assert panels["catalog"]["unavailable"] is True
    assert (
        panels["last_audits"] == [] and panels["users"] == SUMMARY
    )  # identity answered: it ran alongside


def test_a_refusing_service_is_a_marked_panel_not_an_error(gw):
    account = gw.account()
    member = gw.user(account)
    wire(gw, account)
    gw.identity.on(
        "GET",
        "/internal/users/{u}/dashboard",
        {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "No such user."},
        404,
    )
    panels = gw.client.get("/api/v1/me/dashboard", headers=bearer(gw.sign_in(member))).get_json()
    assert (
        panels["last_audits"]["unavailable"] is True
        and "No such user." in panels["last_audits"]["reason"]
    )
    assert panels["administrators"]["unavailable"] is True


def test_the_last_subscriptions_are_effective_only_once_the_portal_applies_them(gw):
    account = gw.account()
    member = gw.user(account)
    applied = gw.holding(member["id"], account, status="accepted")
    not_yet = "sub-not-yet-in-the-projection"
    refused = gw.holding(member["id"], account, status="refused")
    last = [
        {"id": sub_id, "user_id": member["id"], "status": status, "expires_on": None}
        for sub_id, status in ((applied, "accepted"), (not_yet, "accepted"), (refused, "refused"))
    ]
    wire(gw, account)
    gw.subscriptions.on(
        "GET",
        "/internal/users/{u}/dashboard",
        {**SUBS_PANELS, "my_services": {**SUBS_PANELS["my_services"], "last": last}},
    )
    panels = gw.client.get("/api/v1/me/dashboard", headers=bearer(gw.sign_in(member))).get_json()
    effective = {item["id"]: item["effective"] for item in panels["my_services"]["last"]}
    assert effective == {applied: True, not_yet: False, refused: False}
