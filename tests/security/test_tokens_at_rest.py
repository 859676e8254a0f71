"""A raw link token lives in the e-mail and, until the message is delivered, in the rows that
carry it there; afterwards no table of any part holds it (the built-in mailbox is the e-mail)."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bus.contracts import REDACTED
from bus.outbox import OutboxRelay
from tests.bus_kit import make_probe_part
from tests.security.real_portal import start_portal

TOKEN = "Zq3-rawLinkToken_" + uuid.uuid4().hex
LINK = {
    "purpose": "activation",
    "user_id": "u-1",
    "account_id": "a-1",
    "recipient": "ada@example.com",
    "recipient_name": "Ada Lovelace",
    "language": "en-US",
    "link_url": f"https://portal.example.com/activate/{TOKEN}",
    "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
}


class Publisher:
    """Stands in for the broker: confirms the first `confirms` messages, keeps what it was sent."""

    def __init__(self, confirms: int | None = None) -> None:
        self.confirms = confirms
        self.sent: list[str] = []

    def publish_confirmed(self, messages):
        count = len(messages) if self.confirms is None else min(self.confirms, len(messages))
        self.sent.extend(body for body, _, _ in messages[:count])
        return count, (None if count == len(messages) else ConnectionError("broker gone"))

    def close(self) -> None:
        pass


@pytest.fixture
def part(tmp_path):
    instance, _ = make_probe_part(
        "identity", f"sqlite:///{tmp_path}/p.db", "memory://", f"t{uuid.uuid4().hex[:8]}"
    )
    yield instance
    instance.engine.dispose()


def publish(part, *events: tuple[str, dict]) -> None:
    with part.uow() as uow:
        for type_, data in events:
            uow.publish(type_, data)
        uow.commit()


def bodies(part) -> list[dict]:
    table = part.outbox_table
    with part.engine.connect() as conn:
        rows = conn.execute(
            sa.select(table.c.body, table.c.published_at).order_by(table.c.seq)
        ).all()
    return [{**json.loads(row.body), "sent": row.published_at is not None} for row in rows]


def test_the_broker_gets_the_link_and_the_sent_row_keeps_no_token(part):
    publish(part, ("identity.link.issued", LINK), ("bus.probe", {"key": "k", "seq": 1}))
    assert TOKEN in bodies(part)[0]["data"]["link_url"], (
        "an unsent row carries the link to the broker"
    )

    publisher = Publisher()
    assert OutboxRelay(part.outbox, publisher).drain() == 2

    assert TOKEN in publisher.sent[0], "the message itself is unchanged"
    link, probe = bodies(part)
    assert link["sent"] and probe["sent"]
    assert link["data"]["link_url"] == REDACTED
    assert TOKEN not in json.dumps(link)
    assert link["data"] == {**LINK, "link_url": REDACTED}, "everything else is kept"
    assert probe["data"] == {"key": "k", "seq": 1}


def test_on_postgresql_too(pg_url):
    """The relay's claim and its blanking are one transaction there as well (bind parameters,
    RETURNING, executemany)."""
    instance, _ = make_probe_part("identity", pg_url, "memory://", f"t{uuid.uuid4().hex[:8]}")
    try:
        publish(
            instance, *[("identity.link.issued", {**LINK, "user_id": f"u-{n}"}) for n in range(3)]
        )
        OutboxRelay(instance.outbox, Publisher()).drain()
        assert [body["data"]["link_url"] for body in bodies(instance)] == [REDACTED] * 3
    finally:
        instance.engine.dispose()


def test_a_row_the_broker_did_not_confirm_keeps_its_link_for_the_retry(part):
    publish(part, ("bus.probe", {"key": "k", "seq": 1}), ("identity.link.issued", LINK))
    with pytest.raises(ConnectionError):
        OutboxRelay(part.outbox, Publisher(confirms=1)).publish_pending()
    probe, link = bodies(part)
    assert probe["sent"] and not link["sent"]
    assert link["data"]["link_url"] == LINK["link_url"]

    publisher = Publisher()
    OutboxRelay(part.outbox, publisher).drain()
    assert TOKEN in publisher.sent[0]
    assert bodies(part)[1]["data"]["link_url"] == REDACTED


def every_value(engine, skip: set[str]) -> str:
    """Every row of every table of one database, as one text."""
    found = []
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            if table in skip:
                continue
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                found.append(f"{table}: {tuple(row)!r}")
    return "\n".join(found)


def test_no_table_of_any_part_keeps_a_link_token_once_the_e_mail_is_out(tmp_path):
    portal = start_portal(tmp_path / "data", f"t{uuid.uuid4().hex[:8]}", with_demo=False)
    try:
        client = portal.client
        number = str(uuid.uuid4().int)[:10]
        answer = client.post(
            "/api/v1/operator/accounts",
            json={"number": number, "name": "Rest Ltd"},
            headers=portal.operator,
        )
        assert answer.status_code == 201, answer.get_json()
        email = f"rest-{uuid.uuid4().hex[:8]}@example.com"
        answer = client.post(
            f"/api/v1/operator/accounts/{number}/administrators",
            headers=portal.operator,
            json={
                "email": email,
                "title": "MME",
                "last_name": "Rest",
                "first_name": "Ada",
                "language": "en-US",
            },
        )
        assert answer.status_code == 201, answer.get_json()

        parts = portal.embedded.parts
        mailbox = parts["notifications"].metadata.tables["mailbox"]
        outgoing = parts["notifications"].metadata.tables["outgoing"]
        deadline = time.monotonic() + 60
        while True:
            with parts["notifications"].engine.connect() as conn:
                mails = conn.execute(
                    sa.select(mailbox.c.text).where(mailbox.c.recipient == email)
                ).all()
                waiting = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(outgoing)
                    .where(outgoing.c.status != "sent")
                ).scalar()
            unsent = sum(part.outbox.pending() for part in parts.values())
            if mails and waiting == 0 and unsent == 0:
                break
            assert time.monotonic() < deadline, (
                f"mails {len(mails)}, waiting {waiting}, unsent rows {unsent}"
            )
            time.sleep(0.2)
        token = re.search(r"/activate/([A-Za-z0-9_~.-]+)", mails[0].text).group(1)

        for name, part in parts.items():
            kept = every_value(part.engine, skip={"mailbox"} if name == "notifications" else set())
            assert token not in kept, f"{name} keeps the raw link token:\n" + "\n".join(
                line for line in kept.splitlines() if token in line
            )
    finally:
        portal.stop()
