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


def grants_of(batches: list[dict]) -> list[dict]:
    """Every grant of these subscriptions.subscriptions.accepted events, with its user and the
    service the batch describes once."""
    found = []
    for batch in batches:
        services = {s["service_id"]: s for s in batch["data"]["services"]}
        for user in batch["data"]["users"]:
            for subscription_id, service_id in zip(
                user["subscription_ids"], user["service_ids"], strict=True
            ):
                found.append({**user, **services[service_id], "subscription_id": subscription_id})
    return found


def test_a_batch_of_users_gets_every_auto_service_in_one_event_per_500_users(
    part, make_account, feed, outbox
):
    account = make_account()
    entries = [batch_user(n) for n in range(700)]
    for chunk in (entries[:BATCH_LIMIT], entries[BATCH_LIMIT:]):  # as identity splits them
        _, outcome = feed("identity.users.created", users_created(account, chunk))
        assert outcome.kind == "handled", outcome

    with part.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one() == 700
    assert len(held(part)) == 700 * len(AUTO)
    batches = outbox("subscriptions.subscriptions.accepted")
    assert [len(batch["data"]["users"]) for batch in batches] == [BATCH_LIMIT, 200]
    for batch in batches:  # each service said once per event
        codes = [s["service_code"] for s in batch["data"]["services"]]
        assert sorted(codes) == sorted(AUTO)
        assert (batch["data"]["cause"], batch["data"]["account_name"]) == (
            "auto_subscribe",
            account["name"],
        )
    granted = grants_of(batches)
    assert sorted((g["user_id"], g["service_code"]) for g in granted) == sorted(
        (u["user_id"], code) for u in entries for code in AUTO
    )
    with part.engine.connect() as conn:
        stored = dict(conn.execute(sa.select(subscriptions.c.id, subscriptions.c.status)).all())
    assert {g["subscription_id"]: "accepted" for g in granted} == stored
    first = next(g for g in granted if g["user_id"] == entries[0]["user_id"])
    assert first["user_email"] == entries[0]["email"]
    assert outbox("subscriptions.subscription.accepted") == [], "no event per grant"


def test_a_service_above_a_users_level_is_not_granted_in_a_batch(part, make_account, feed):
    account = make_account()
    needing = {s.code: s.min_password_level for s in load_definitions().services if s.code in AUTO}
    low = batch_user(1, password_level=1)
    feed("identity.users.created", users_created(account, [low]))
    with part.engine.connect() as conn:
        codes = set(
            conn.execute(
                sa.text("SELECT c.code FROM subscriptions s JOIN catalog c ON c.id = s.service_id")
            ).scalars()
        )
    assert codes == {code for code, level in needing.items() if level <= 1}


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


def test_a_bulk_grant_to_more_users_than_the_bound_is_split_by_the_producer(
    part, make_account, feed, outbox
):
    from services.subscriptions.adapters import repository as repo
    from services.subscriptions.service_layer.events import Announcer, Granted

    account = make_account()
    with part.uow() as uow:
        services = [s for s in repo.catalog_services(uow.session, account["id"]) if s.code in AUTO]
        granted = [
            Granted(f"s-{n}-{s.id}", f"u-{n}", s) for n in range(BATCH_LIMIT + 20) for s in services
        ]
        Announcer(uow).accepted_grants(account["id"], granted, cause="grant")
        uow.commit()
    batches = outbox("subscriptions.subscriptions.accepted")
    assert [len(batch["data"]["users"]) for batch in batches] == [BATCH_LIMIT, 20]
    assert [g["subscription_id"] for g in grants_of(batches)] == [
        g.subscription_id for g in granted
    ]
