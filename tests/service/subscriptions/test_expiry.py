"""The expiry job: moved by the FakeClock, idempotent, keeping the last administrator."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest

from services.subscriptions.bootstrap import jobs
from services.subscriptions.service_layer.expiry import expire_subscriptions
from tests.waiting_kit import DEADLINE, eventually

from .conftest import START

TODAY = START.date()


@pytest.fixture
def account(make_account):
    return make_account()


@pytest.fixture
def admin(account, make_admin):
    return make_admin(account)


def grant(api, account, user, code, services_of, days: int, actor=None):
    service_id = services_of(account)[code]["id"]
    answer = api.post(
        f"/internal/accounts/{account['id']}/users/{user['id']}/subscriptions",
        {"service_ids": [service_id], "expires_on": (TODAY + timedelta(days=days)).isoformat()},
        actor=actor,
    )
    assert answer.status_code == 201, answer.json
    return answer.json["items"][0]


def status_of(api, user, subscription_id):
    items = api.get(f"/internal/users/{user['id']}/subscriptions", per_page=200).json["items"]
    return next(s for s in items if s["id"] == subscription_id)


def test_a_subscription_runs_through_its_date_then_expires(
    api, account, admin, make_user, services_of, clock, outbox
):
    user = make_user(account)
    held = grant(api, account, user, "view_faqs", services_of, days=2)
    clock.advance(timedelta(days=2))
    assert api.post("/internal/jobs/expire").json["expired"] == []
    assert status_of(api, user, held["id"])["effective"] is True

    clock.advance(timedelta(days=1))
    assert status_of(api, user, held["id"])["effective"] is False  # past its date, job not run
    report = api.post("/internal/jobs/expire").json
    assert report["expired"] == [held["id"]]
    assert report["today"] == (TODAY + timedelta(days=3)).isoformat()
    event = outbox("subscriptions.subscription.expired")[-1]
    assert report["event_ids"] == [event["id"]]
    assert (event["data"]["cause"], event["data"]["status"]) == ("expiry", "expired")
    assert event["data"]["expires_on"] == (TODAY + timedelta(days=2)).isoformat()
    assert status_of(api, user, held["id"])["status"] == "expired"

    again = api.post("/internal/jobs/expire").json
    assert again["expired"] == [] and len(outbox("subscriptions.subscription.expired")) == 1


def test_the_job_takes_today_from_the_body(api, account, admin, make_user, services_of):
    user = make_user(account)
    held = grant(api, account, user, "view_faqs", services_of, days=5)
    report = api.post(
        "/internal/jobs/expire", {"today": (TODAY + timedelta(days=6)).isoformat()}
    ).json
    assert report["expired"] == [held["id"]]
    assert api.post("/internal/jobs/expire", {"today": "soon"}).status_code == 422


def test_the_last_administrator_is_kept_and_reported(
    api, account, admin, make_user, services_of, clock, outbox, caplog
):
    code = f"user_admin:{account['id']}"
    mine = next(
        s
        for s in api.get(f"/internal/users/{admin['id']}/subscriptions", per_page=200).json["items"]
        if s["service"]["code"] == code
    )
    second = make_user(account)
    theirs = grant(api, account, second, code, services_of, days=1)
    # The first administrator leaves (allowed: another remains), then the second's date passes.
    assert (
        api.delete(f"/internal/users/{admin['id']}/subscriptions/{mine['id']}").status_code == 204
    )
    clock.advance(timedelta(days=5))
    with caplog.at_level("WARNING"):
        report = api.post("/internal/jobs/expire").json
    assert report["expired"] == [] and report["skipped_last_admin"] == [theirs["id"]]
    assert "last administrator" in caplog.text
    assert outbox("subscriptions.subscription.expired") == []
    assert status_of(api, second, theirs["id"])["status"] == "accepted"


def test_of_two_administrators_due_together_the_one_meant_to_stay_longest_is_kept(
    api, account, admin, make_user, services_of, clock
):
    code = f"user_admin:{account['id']}"
    mine = next(
        s
        for s in api.get(f"/internal/users/{admin['id']}/subscriptions", per_page=200).json["items"]
        if s["service"]["code"] == code
    )
    first, second = make_user(account), make_user(account)
    early = grant(api, account, first, code, services_of, days=1)
    late = grant(api, account, second, code, services_of, days=3)
    api.delete(f"/internal/users/{admin['id']}/subscriptions/{mine['id']}")
    clock.advance(timedelta(days=10))
    report = api.post("/internal/jobs/expire").json
    assert (report["expired"], report["skipped_last_admin"]) == ([early["id"]], [late["id"]])


def test_the_worker_job_runs_the_expiry_until_stopped(
    part, api, account, admin, make_user, services_of, clock, outbox
):
    user = make_user(account)
    held = grant(api, account, user, "view_faqs", services_of, days=1)
    clock.advance(timedelta(days=2))
    part.settings = replace(part.settings, extra={"PORTICO_EXPIRY_INTERVAL": "3600"})
    (job,) = jobs(part)
    stop = threading.Event()
    thread = threading.Thread(target=job, args=(stop,), daemon=True)
    thread.start()
    try:
        eventually(
            lambda: outbox("subscriptions.subscription.expired"),
            what="the job's first run expiring the subscription",
        )
    finally:
        stop.set()
    thread.join(timeout=DEADLINE)
    assert not thread.is_alive()
    assert [e["data"]["subscription_id"] for e in outbox("subscriptions.subscription.expired")] == [
        held["id"]
    ]


def test_expire_subscriptions_is_callable_from_the_service_layer(
    part, api, account, admin, make_user, services_of
):
    user = make_user(account)
    held = grant(api, account, user, "view_faqs", services_of, days=1)
    report = expire_subscriptions(part.uow(), TODAY + timedelta(days=2))
    assert report.expired == [held["id"]]
    assert expire_subscriptions(part.uow(), TODAY + timedelta(days=2)).expired == []
