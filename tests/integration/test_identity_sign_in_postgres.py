"""Identity's sign-in on PostgreSQL, where it reads in one statement and writes in one
(adapters.sign_ins.lock_sign_in, record_sign_in): the answers, the rows written, and the
throttle row that makes attempts on one e-mail wait for each other."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bus.envelope import Envelope
from tests.integration.identity_kit import identity_part, service_client
from tests.mfa_kit import code_at

pytestmark = pytest.mark.postgres  # the bus is memory://: nothing here is about RabbitMQ

PASSWORD = "Blue-Kettle-Sings-7"


@pytest.fixture
def part(pg_url, prefix):
    yield from identity_part(pg_url, "memory://", prefix)


@pytest.fixture
def client(part):
    return service_client(part)


def rows(part, sql: str, **params):
    with part.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def active_user(part, client, email: str) -> tuple[dict, dict]:
    account = client.post(
        "/internal/accounts", json={"number": str(uuid.uuid4().int)[:10], "name": "PG"}
    ).json
    user = client.post(
        f"/internal/accounts/{account['id']}/users",
        json={
            "email": email,
            "title": "M",
            "last_name": "Post",
            "first_name": "Gres",
            "language": "en-US",
            "password_level": 2,
        },
    ).json
    body = rows(
        part, "SELECT body FROM bus_outbox WHERE type = 'identity.link.issued' ORDER BY seq DESC"
    )[0][0]
    token = Envelope.from_body(body).data["link_url"].rsplit("/", 1)[1]
    activated = client.post(
        f"/internal/activations/{token}",
        json={
            "title": "M",
            "last_name": "Post",
            "first_name": "Gres",
            "language": "en-US",
            "password": PASSWORD,
        },
    )
    assert activated.status_code == 201, activated.json
    return account, user


def sign_in(client, email: str, password: str = PASSWORD):
    return client.post(
        "/internal/sign-in",
        json={"email": email, "password": password, "ip": "192.0.2.9", "user_agent": "pg-test"},
    )


def test_a_success_answers_the_user_as_stored_and_writes_audit_and_dates(part, client):
    account, user = active_user(part, client, "ada@example.com")
    first = sign_in(client, "Ada@Example.com")
    part.clock.advance(timedelta(minutes=3))
    second = sign_in(client, "ada@example.com")
    assert first.status_code == second.status_code == 200, second.json
    answer = second.json["user"]
    stored = client.get(f"/internal/accounts/{account['id']}/users/{user['id']}").json
    assert answer == stored  # the answer is built without reading the row again: it must agree
    assert (
        answer["previous_sign_in_at"]
        == first.json["user"]["last_sign_in_at"]
        != answer["last_sign_in_at"]
    )
    assert answer["is_administrator"] is False and second.json["password_change_required"] is False
    audits = rows(
        part,
        "SELECT action, result, user_id, account_id, ip, user_agent, target FROM audit_log"
        " WHERE action = 'sign_in' ORDER BY id",
    )
    assert [tuple(a) for a in audits] == [
        (
            "sign_in",
            "succeeded",
            user["id"],
            account["id"],
            "192.0.2.9",
            "pg-test",
            "Ada@Example.com",
        ),
        (
            "sign_in",
            "succeeded",
            user["id"],
            account["id"],
            "192.0.2.9",
            "pg-test",
            "ada@example.com",
        ),
    ]
    assert rows(part, "SELECT * FROM login_throttle") == []


def test_the_administrator_flag_comes_with_the_read(part, client):
    account, user = active_user(part, client, "boss@example.com")
    with part.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO administrators (subscription_id, account_id, user_id, since)"
                " VALUES ('s1', :a, :u, now())"
            ),
            {"a": account["id"], "u": user["id"]},
        )
    assert sign_in(client, "boss@example.com").json["user"]["is_administrator"] is True


def test_unknown_and_invalid_addresses_are_counted_and_audited_like_known_ones(part, client):
    for email in ("nobody@example.com", "not an address"):
        answers = [sign_in(client, email).status_code for _ in range(5)]
        assert answers == [401, 401, 401, 401, 423], email
        assert sign_in(client, email).status_code == 423
    throttles = rows(
        part,
        "SELECT email_key, failures, locked_until IS NOT NULL FROM login_throttle"
        " ORDER BY email_key",
    )
    assert [tuple(t) for t in throttles] == [
        ("nobody@example.com", 0, True),
        ("not an address", 0, True),
    ]
    results = rows(
        part,
        "SELECT result, count(*) FROM audit_log WHERE user_id IS NULL GROUP BY result"
        " ORDER BY result",
    )
    assert [tuple(r) for r in results] == [
        ("failed", 8),
        ("failed_now_locked", 2),
        ("refused_locked", 2),
    ]


def test_a_lock_that_ran_out_ends_at_the_next_success(part, client):
    account, user = active_user(part, client, "kim@example.com")
    assert [sign_in(client, "kim@example.com", "wrong").status_code for _ in range(5)][-1] == 423
    assert rows(part, "SELECT status FROM users WHERE id = :u", u=user["id"])[0][0] == "locked"
    assert sign_in(client, "kim@example.com").status_code == 423
    part.clock.advance(timedelta(minutes=16))
    answer = sign_in(client, "kim@example.com")
    assert answer.status_code == 200 and answer.json["user"]["status"] == "active"
    assert answer.json["user"]["locked_until"] is None
    assert tuple(
        rows(part, "SELECT status, locked_until FROM users WHERE id = :u", u=user["id"])[0]
    ) == ("active", None)
    unlocked = rows(part, "SELECT body FROM bus_outbox WHERE type = 'identity.user.unlocked'")
    assert [Envelope.from_body(b).data["by"] for (b,) in unlocked] == [None]


def test_attempts_on_one_email_wait_for_each_other(part, client):
    """The read takes the throttle row's lock: a sign-in waits for another attempt's transaction,
    then counts from what that one wrote (no failure is lost, none verified past the lock)."""
    active_user(part, client, "wait@example.com")
    assert (
        sign_in(client, "wait@example.com", "wrong").status_code == 401
    )  # the row exists: 1 failure
    blocker = part.engine.connect()
    blocker.execute(
        sa.text("SELECT 1 FROM login_throttle WHERE email_key = 'wait@example.com' FOR UPDATE")
    )
    answers = []
    attempt = threading.Thread(
        target=lambda: answers.append(sign_in(client, "wait@example.com", "wrong"))
    )
    attempt.start()
    try:
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        for _ in range(200):
            if rows(part, waiting)[0][0]:
                break
            attempt.join(0.05)
        assert rows(part, waiting)[0][0] == 1 and not answers, "the second attempt did not wait"
        blocker.execute(
            sa.text("UPDATE login_throttle SET failures = 4 WHERE email_key = 'wait@example.com'")
        )
        blocker.commit()
    finally:
        blocker.close()
        attempt.join(10)
    assert answers[0].status_code == 423  # it read the 4 failures written meanwhile: the 5th locks


def test_the_second_factors_come_with_the_read(part, client):
    """The read takes the user's factors and the account's policy too: a right password leads
    to the second step, to the one-request TOTP sign-in, or to an enrolment, as on SQLite."""
    account, user = active_user(part, client, "otp@example.com")
    started = client.post(f"/internal/users/{user['id']}/mfa/totp")
    assert started.status_code == 201, started.json
    secret = started.json["secret"]
    confirmed = client.post(
        f"/internal/users/{user['id']}/mfa/totp/confirm",
        json={"code": code_at(secret, part.clock.now())},
    )
    assert confirmed.status_code == 200, confirmed.json
    part.clock.advance(timedelta(seconds=30))  # the enrolment's code is spent

    due = sign_in(client, "otp@example.com")
    assert due.status_code == 200 and due.json["mfa_required"] is True, due.json
    assert due.json["methods"] == ["totp", "recovery_code"]
    both = client.post(
        "/internal/sign-in/totp",
        json={
            "email": "otp@example.com",
            "password": PASSWORD,
            "code": code_at(secret, part.clock.now()),
            "ip": "192.0.2.9",
            "user_agent": "pg-test",
        },
    )
    assert both.status_code == 200, both.json
    assert both.json["user"]["id"] == user["id"] and "otp" in both.json["amr"]

    _, other = active_user(part, client, "plain@example.com")
    assert sign_in(client, "plain@example.com").json["enrolment_required"] is False
    with part.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO account_security (account_id, mfa_required_for, updated_at)"
                " VALUES (:a, 'everyone', now())"
            ),
            {"a": other["account_id"]},
        )
    assert sign_in(client, "plain@example.com").json["enrolment_required"] is True
