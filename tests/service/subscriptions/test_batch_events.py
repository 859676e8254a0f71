"""identity.users.created: the automatic services of a whole batch granted in one transaction,
announced as subscriptions.subscriptions.accepted batches; a redelivered batch grants nothing
twice; a batch of an account not known yet waits (nothing half-written)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from bus.contracts.batches import BATCH_LIMIT
from bus.envelope import Envelope
from services.subscriptions.adapters.orm import subscriptions, users
from services.subscriptions.domain.definitions import load_definitions

from .conftest import START

AUTO = {s.code for s in load_definitions().services if s.auto_subscribe}


def batch_user(n: int, **more) -> dict:
    user_id = str(uuid.uuid4())
    return {
        "user_id": user_id,
        "email": f"bulk{n}-{user_id[:6]}@example.com",
        "title": "MME",
        "last_name": f"Martin{n}",
        "first_name": "Claire",
        "language": "fr-FR",
        "password_level": 2,
        "status": "pending_activation",
        "import_line": n + 2,
        "created_at": START.isoformat(),
        **more,
    }


def users_created(account: dict, entries: list[dict]) -> dict:
    return {
        "account_id": account["id"],
        "source": "import",
        "import_job_id": "job-1",
        "batch": 1,
        "users": entries,
        "rejected": [],
    }


def held(part) -> list[tuple[str, str]]:
    with part.engine.connect() as conn:
        return conn.execute(sa.select(subscriptions.c.user_id, subscriptions.c.service_id)).all()


def test_a_batch_of_users_gets_every_auto_service_in_one_event_per_500(
    part, make_account, feed, outbox
):
    account = make_account()
    entries = [batch_user(n) for n in range(300)]
    _, outcome = feed("identity.users.created", users_created(account, entries))
    assert outcome.kind == "handled", outcome

    with part.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one() == 300
    assert len(held(part)) == 300 * len(AUTO)
    batches = outbox("subscriptions.subscriptions.accepted")
    granted = [entry for batch in batches for entry in batch["data"]["subscriptions"]]
    assert [len(batch["data"]["subscriptions"]) for batch in batches] == [
        min(BATCH_LIMIT, 300 * len(AUTO) - start)
        for start in range(0, 300 * len(AUTO), BATCH_LIMIT)
    ]
    assert {(e["user_id"], e["service_code"]) for e in granted} == {
        (u["user_id"], code) for u in entries for code in AUTO
    }
    assert {(e["status"], e["cause"], e["account_id"]) for e in granted} == {
        ("accepted", "auto_subscribe", account["id"])
    }
    first = next(e for e in granted if e["user_id"] == entries[0]["user_id"])
    assert first["user_email"] == entries[0]["email"] and first["account_name"] == account["name"]
    assert outbox("subscriptions.subscription.accepted") == [], "no event per grant"


def test_a_redelivered_batch_grants_nothing_twice(part, make_account, feed, outbox):
    account = make_account()
    data = users_created(account, [batch_user(n) for n in range(5)])
    envelope = Envelope(type="identity.users.created", data=data, producer="identity")
    assert feed("identity.users.created", data, envelope)[1].kind == "handled"
    assert feed("identity.users.created", data, envelope)[1].kind == "duplicate"
    # the same users again under another message id (identity answered twice): still nothing more
    assert feed("identity.users.created", data)[1].kind == "handled"
    assert len(held(part)) == 5 * len(AUTO)
    assert len(outbox("subscriptions.subscriptions.accepted")) == 1


def test_a_batch_of_an_account_not_known_yet_is_retried_and_writes_nothing(part, feed, outbox):
    account = {"id": str(uuid.uuid4())}
    _, outcome = feed("identity.users.created", users_created(account, [batch_user(1)]))
    assert outcome.kind == "retry", outcome
    assert held(part) == [] and outbox("subscriptions.subscriptions.accepted") == []
    with part.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one() == 0


def test_an_operator_administrator_in_a_batch_keeps_the_single_event_identity_follows(
    part, make_account, feed, outbox
):
    account = make_account()
    admin = batch_user(1, grant_administration=True)
    feed(
        "identity.users.created",
        {**users_created(account, [admin, batch_user(2)]), "source": "operator"},
    )
    [event] = [e["data"] for e in outbox("subscriptions.subscription.accepted")]
    assert (event["user_id"], event["cause"]) == (admin["user_id"], "administration_grant")
