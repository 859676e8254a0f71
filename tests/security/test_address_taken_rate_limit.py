"""The "address already taken" answers are limited per caller (security issue, item 11, that part).

Creating a user or changing an e-mail address answers 409 when the address already has an account:
an oracle of which addresses exist. Past PORTICO_RATE_ADDRESS_TAKEN_PER_CALLER such answers, the
caller's next attempts with an address are 429 with Retry-After, before identity is asked; other
callers are not affected, and the window's end (moved on the gateway's clock) lifts it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from bus.clock import FakeClock
from portico import demo
from tests.security.real_portal import start_portal

TAKEN = [
    demo.ADMINS["90293531"]["email"],
    demo.ADMINS["90293532"]["email"],
    demo.USERS[1][0]["email"],
]


def new_user(email):
    return {
        "email": email,
        "title": "M",
        "last_name": "Probe",
        "first_name": "Address",
        "language": "en-GB",
        "password_level": 1,
    }


@pytest.fixture
def portal(tmp_path, prefix):
    instance = start_portal(
        tmp_path, prefix, env={"PORTICO_RATE_ADDRESS_TAKEN_PER_CALLER": "3/900"}
    )
    instance.embedded.parts["gateway"].clock = FakeClock(datetime.now(UTC))
    yield instance
    instance.stop()


def assert_429(answer):
    assert answer.status_code == 429, (answer.status_code, answer.get_json())
    assert answer.mimetype == "application/problem+json"
    wait = int(answer.headers["Retry-After"])
    assert 0 < wait <= 900 and answer.get_json()["retry_after"] == wait
    assert "already has an account" in answer.get_json()["detail"]


def test_an_administrator_probing_addresses_is_stopped_then_let_through_after_the_window(portal):
    claire = portal.admin()
    account = portal.accounts(claire)["90293531"]
    users = f"/api/v1/accounts/{account}/users"
    for email in TAKEN:
        assert portal.client.post(users, headers=claire, json=new_user(email)).status_code == 409

    fresh = new_user(f"fresh.{time.time_ns()}@retail-it.example")
    assert_429(portal.client.post(users, headers=claire, json=fresh))
    assert (
        portal.client.get(f"{users}?email={fresh['email']}", headers=claire).get_json()["total"]
        == 0
    )
    sophie_id = portal.client.get(f"{users}?email=sophie", headers=claire).get_json()["items"][0][
        "id"
    ]
    assert_429(
        portal.client.patch(f"{users}/{sophie_id}", headers=claire, json={"email": fresh["email"]})
    )
    # a change that names no address is not an oracle: it is not limited
    assert (
        portal.client.patch(
            f"{users}/{sophie_id}", headers=claire, json={"function": "Audit"}
        ).status_code
        == 200
    )

    portal.embedded.parts["gateway"].clock.advance(timedelta(minutes=15))
    assert portal.client.post(users, headers=claire, json=fresh).status_code == 201


def test_the_limit_is_per_caller_and_covers_the_email_change(portal):
    sophie = portal.user()
    for email in TAKEN:
        answer = portal.client.post(
            "/api/v1/me/email-change", headers=sophie, json={"new_email": email}
        )
        assert answer.status_code == 409, answer.get_json()
    assert_429(
        portal.client.post(
            "/api/v1/me/email-change",
            headers=sophie,
            json={"new_email": f"new.{time.time_ns()}@retail-it.example"},
        )
    )

    claire = portal.admin()  # another caller: still answered
    account = portal.accounts(claire)["90293531"]
    assert (
        portal.client.post(
            f"/api/v1/accounts/{account}/users", headers=claire, json=new_user(TAKEN[0])
        ).status_code
        == 409
    )
