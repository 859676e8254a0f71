"""The batch events' contracts: a bound on their lists, the producer's split, and the links'
raw tokens blanked inside the list once the outbox row is sent."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from bus import contracts
from bus.contracts import REDACTED, ContractError
from bus.contracts.batches import BATCH_LIMIT, split
from bus.outbox import OutboxRelay
from tests.bus_kit import make_probe_part


def created_user(n: int) -> dict:
    return {
        "user_id": f"u-{n}",
        "email": f"user{n}@example.com",
        "title": "MME",
        "last_name": f"Martin{n}",
        "first_name": "Claire",
        "language": "fr-FR",
        "password_level": 2,
        "status": "pending_activation",
        "import_line": n + 2,
        "created_at": "2026-12-04T21:00:00Z",
    }


def issued_link(n: int, token: str = "tok") -> dict:
    return {
        "user_id": f"u-{n}",
        "recipient": f"user{n}@example.com",
        "recipient_name": "Claire Martin",
        "language": "fr-FR",
        "link_url": f"https://portal.example.com/activate/{token}{n}",
        "expires_at": "2026-12-11T21:00:00Z",
    }


def users_created(count: int) -> dict:
    return {
        "account_id": "a-1",
        "source": "import",
        "import_job_id": "j-1",
        "batch": 1,
        "users": [created_user(n) for n in range(count)],
        "rejected": [],
    }


def links_issued(count: int, token: str = "tok") -> dict:
    return {
        "purpose": "activation",
        "account_id": "a-1",
        "links": [issued_link(n, token) for n in range(count)],
    }


SERVICES = [
    {
        "service_id": f"svc-{n}",
        "service_code": f"info_{n}",
        "service_title": f"Service {n}",
        "family": "information_flow",
        "administers_account_id": None,
        "supervises": False,
        "notifies": None,
        "gates": None,
    }
    for n in range(5)
]


def subscriptions_accepted(count: int) -> dict:
    """A batch of automatic grants: 5 services described once, `count` users with 5 each."""
    return {
        "account_id": "a-1",
        "cause": "auto_subscribe",
        "changed_at": "2026-12-04T21:00:00Z",
        "services": SERVICES,
        "users": [
            {
                "user_id": f"u-{n}",
                "user_email": f"user{n}@example.com",
                "user_name": "Claire Martin",
                "user_language": "fr-FR",
                "subscription_ids": [f"s-{n}-{s}" for s in range(len(SERVICES))],
                "service_ids": [service["service_id"] for service in SERVICES],
            }
            for n in range(count)
        ],
    }


def test_a_full_batch_fits_its_contract():
    contracts.validate("identity.users.created", 1, users_created(BATCH_LIMIT), strict=True)
    contracts.validate("identity.links.issued", 1, links_issued(BATCH_LIMIT), strict=True)
    contracts.validate(
        "subscriptions.subscriptions.accepted", 1, subscriptions_accepted(BATCH_LIMIT), strict=True
    )


@pytest.mark.parametrize(
    "type_, data",
    [
        ("identity.users.created", users_created(BATCH_LIMIT + 1)),
        ("identity.links.issued", links_issued(BATCH_LIMIT + 1)),
        ("subscriptions.subscriptions.accepted", subscriptions_accepted(BATCH_LIMIT + 1)),
    ],
)
def test_a_batch_over_the_bound_breaks_its_contract_on_publish(type_, data):
    with pytest.raises(ContractError, match=r"users|links"):
        contracts.validate(type_, 1, data, strict=True)


def test_a_batch_stays_well_under_one_mebibyte():
    body = json.dumps(users_created(BATCH_LIMIT)) + json.dumps(links_issued(BATCH_LIMIT))
    assert len(body.encode()) < 512 * 1024
    # 2,500 automatic grants of 500 users: each service said once, each grant two ids
    assert len(json.dumps(subscriptions_accepted(BATCH_LIMIT)).encode()) < 512 * 1024


def test_a_bad_entry_is_named_by_its_place_in_the_list():
    data = users_created(3)
    data["users"][1]["password_level"] = 7
    with pytest.raises(ContractError, match=r"users\.1\.password_level"):
        contracts.validate("identity.users.created", 1, data, strict=False)


def test_the_producer_splits_in_order_under_the_bound():
    chunks = list(split(list(range(1201))))
    assert [len(chunk) for chunk in chunks] == [500, 500, 201]
    assert [n for chunk in chunks for n in chunk] == list(range(1201))
    assert list(split([])) == []


class Publisher:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def publish_confirmed(self, messages):
        self.sent.extend(body for body, _, _ in messages)
        return len(messages), None

    def close(self) -> None:
        pass


def test_the_sent_outbox_row_keeps_no_token_of_any_link_in_the_list(tmp_path):
    part, _ = make_probe_part(
        "identity", f"sqlite:///{tmp_path}/p.db", "memory://", f"t{uuid.uuid4().hex[:8]}"
    )
    token = "rawToken_" + uuid.uuid4().hex
    try:
        with part.uow() as uow:
            uow.publish("identity.links.issued", links_issued(3, token))
            uow.commit()
        publisher = Publisher()
        assert OutboxRelay(part.outbox, publisher).drain() == 1
        assert publisher.sent[0].count(token) == 3, "the broker gets every link"
        with part.engine.connect() as conn:
            body = json.loads(conn.execute(sa.select(part.outbox_table.c.body)).scalar_one())
        assert token not in json.dumps(body)
        assert [link["link_url"] for link in body["data"]["links"]] == [REDACTED] * 3
        assert body["data"]["links"][0] == {**issued_link(0, token), "link_url": REDACTED}
    finally:
        part.engine.dispose()
