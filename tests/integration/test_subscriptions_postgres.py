"""The subscriptions service on PostgreSQL: its migration, and the expiry job racing itself.

Two replicas running the expiry job at the same moment must expire (and announce) each due
subscription exactly once, and keep each account's last administrator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from kombu import Queue, binding

from bus.clock import FakeClock
from bus.config import Settings
from bus.envelope import Envelope
from services.subscriptions.adapters import orm
from services.subscriptions.adapters import repository as repo
from services.subscriptions.bootstrap import build
from services.subscriptions.domain.errors import AlreadySubscribed
from services.subscriptions.service_layer.lifecycle import (
    cancel_subscription,
    grant_subscriptions,
    request_subscription,
)
from services.subscriptions.service_layer.queries import user_dashboard
from tests.bus_kit import collect
from tests.waiting_kit import DEADLINE, eventually

pytestmark = pytest.mark.integration

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
TODAY = START.date()
EXPIRED = "subscriptions.subscription.expired"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def part(pg_url, amqp_url, prefix):
    settings = Settings(
        part="subscriptions", database_url=pg_url, broker_url=amqp_url, bus_prefix=prefix
    )
    instance = build(settings)
    instance.migrate()
    instance.clock = FakeClock(START)
    yield instance
    instance.engine.dispose()


def feed(part, type_: str, data: dict) -> None:
    outcome = part.processor().process(
        Envelope(type=type_, data=data, producer="identity").to_json()
    )
    assert outcome.kind == "handled", outcome


def make_account(part, number: int) -> str:
    account_id = str(uuid.uuid4())
    feed(
        part,
        "identity.account.created",
        {
            "account_id": account_id,
            "number": str(number),
            "name": f"Client {number}",
            "parent_id": None,
            "relation": None,
        },
    )
    return account_id


def make_user(part, account_id: str, *, admin: bool = False) -> str:
    user_id = str(uuid.uuid4())
    feed(
        part,
        "identity.user.created",
        {
            "user_id": user_id,
            "account_id": account_id,
            "email": f"{user_id[:8]}@example.com",
            "title": "M",
            "last_name": "Doe",
            "first_name": "John",
            "language": "en-GB",
            "function": None,
            "password_level": 2,
            "status": "active",
            "source": "operator" if admin else "admin",
            "grant_administration": admin,
            "created_at": START.isoformat(),
        },
    )
    return user_id


def service_id(part, account_id: str, code: str) -> str:
    with part.engine.connect() as conn:
        return conn.execute(
            sa.select(orm.catalog.c.id).where(
                orm.catalog.c.account_id == account_id, orm.catalog.c.code == code
            )
        ).scalar_one()


def grant(part, account_id: str, user_id: str, code: str, days: int) -> str:
    written = grant_subscriptions(
        part.uow(),
        account_id,
        user_id,
        [service_id(part, account_id, code)],
        TODAY + timedelta(days=days),
        "operator",
    )
    return written.items[0].subscription.id


def expired_events(part) -> list[dict]:
    table = part.outbox_table
    with part.engine.connect() as conn:
        bodies = conn.execute(sa.select(table.c.body).where(table.c.type == EXPIRED)).scalars()
        return [json.loads(body) for body in bodies]


def test_the_migration_builds_exactly_the_tables_of_the_code(part):
    with part.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), orm.metadata)
        indexes = {i["name"]: i for i in sa.inspect(conn).get_indexes("subscriptions")}
    assert differences == []
    assert indexes["uq_subscriptions_current"]["unique"]
    part.migrate()  # a second run is a no-op


def test_a_second_concurrent_request_for_a_service_is_409_not_500(part):
    account = make_account(part, 1)
    user = make_user(part, account)
    faqs = service_id(part, account, "view_faqs")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def ask() -> None:
        barrier.wait()
        try:
            request_subscription(part.uow(), user, faqs)
            outcomes.append("accepted")
        except AlreadySubscribed:
            outcomes.append("409")

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["409", "accepted"]


def test_the_dashboard_counts_a_large_account_in_sql(part):
    account, other = make_account(part, 200), make_account(part, 201)
    user = make_user(part, account)
    part.clock.advance(timedelta(minutes=1))  # after the user's auto-subscriptions
    request_subscription(part.uow(), user, service_id(part, account, "view_faqs"))
    for number in range(40):
        colleague = make_user(part, account)
        grant(part, account, colleague, "view_faqs", days=number % 2)  # half end today
        request_subscription(part.uow(), colleague, service_id(part, account, "invoice_viewing"))
        request_subscription(
            part.uow(), make_user(part, other), service_id(part, other, "bank_key_conversion")
        )
    part.clock.advance(timedelta(days=1))  # those ending today are no longer held
    with part.uow() as uow:
        offered = repo.catalog_services(uow.session, account)
    statements: list[str] = []
    sa.event.listen(part.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    panels = user_dashboard(part.uow(), user, None)

    held = {"view_faqs"} | {s.code for s in offered if s.auto_subscribe}  # no administrator
    assert panels["catalog"]["without_subscriber"] == len(offered) - len(held)
    assert panels["catalog"]["pending_validation"] == 40
    assert panels["my_services"]["last"][0].service.subscriber_count == 21
    assert len(statements) == 5


REPLICA = """
import json, sys
from datetime import datetime
from bus.clock import FakeClock
from bus.config import Settings
from services.subscriptions.bootstrap import build
from services.subscriptions.service_layer.expiry import expire_subscriptions
database_url, amqp_url, prefix, now = sys.argv[1:5]
part = build(Settings(part="subscriptions", database_url=database_url, broker_url=amqp_url, bus_prefix=prefix))
part.clock = FakeClock(datetime.fromisoformat(now))
print("ready", flush=True)
assert sys.stdin.readline().strip() == "go"
reports = []
for _ in range(3):  # three races; the later ones find nothing left to do
    report = expire_subscriptions(part.uow())
    reports.append({"expired": list(report.expired), "skipped_last_admin": list(report.skipped_last_admin)})
part.relay().drain()
print(json.dumps(reports), flush=True)
"""


def race_in_two_processes(part, now: datetime) -> list[dict]:
    """Two replicas of the expiry job, each its own process with its own engine and broker
    connection on the one database and broker; their reports (their relays drained too).

    So that they truly overlap, the test holds the subscriptions table in SHARE mode while they
    start: each takes its due rows (a row lock, a read) but no write can pass. The gate opens once
    both are stopped at their write, or one is and the other has ended having found every due
    row taken (what SKIP LOCKED is for)."""
    url = part.settings.database_url
    argv = [
        sys.executable,
        "-c",
        REPLICA,
        url,
        part.settings.broker_url,
        part.settings.bus_prefix,
        now.isoformat(),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    replicas = [
        subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    try:
        for replica in replicas:
            assert replica.stdout.readline().strip() == "ready", "a replica did not start"
        with part.engine.connect() as gate:
            gate.execute(sa.text(f"LOCK TABLE {orm.subscriptions.name} IN SHARE MODE"))
            for replica in replicas:
                replica.stdin.write("go\n")
                replica.stdin.flush()

            def both_raced() -> bool:
                ended = sum(replica.poll() is not None for replica in replicas)
                return waiting_writes(part) + ended == 2 and waiting_writes(part) >= 1

            eventually(
                both_raced, what="both replicas at their write (or one done, having found nothing)"
            )
            gate.rollback()  # the gate opens
        reports = []
        for replica in replicas:
            out, _ = replica.communicate(timeout=DEADLINE * 2)
            assert replica.returncode == 0, f"a replica failed ({replica.returncode})"
            reports.extend(json.loads(out))
        return reports
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.kill()
                replica.wait()


def waiting_writes(part) -> int:
    """Transactions waiting for a lock on the subscriptions table."""
    with part.engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                " WHERE c.relname = :table AND NOT l.granted"
            ),
            {"table": orm.subscriptions.name},
        ).scalar_one()


def test_two_replicas_expire_each_subscription_exactly_once(part, amqp_url, prefix):
    due: set[str] = set()
    last_admins: set[str] = set()
    for number in range(3):
        account = make_account(part, 100 + number)
        first_admin = make_user(part, account, admin=True)
        for _ in range(8):
            user = make_user(part, account)
            due.add(grant(part, account, user, "view_faqs", days=1))
            due.add(grant(part, account, user, "e_learning", days=2))
        # The only administrator left is due too: the job must keep them.
        second_admin = make_user(part, account)
        last_admins.add(grant(part, account, second_admin, f"user_admin:{account}", days=1))
        with part.uow() as uow:
            mine = next(
                s
                for s in repo.catalog_services(uow.session, account)
                if s.code == f"user_admin:{account}"
            )
            held = uow.session.execute(
                sa.select(orm.subscriptions.c.id).where(
                    orm.subscriptions.c.user_id == first_admin,
                    orm.subscriptions.c.service_id == mine.id,
                )
            ).scalar_one()
        cancel_subscription(part.uow(), first_admin, held)

    watcher = Queue(
        f"{prefix}.watch",
        exchange=part.broker.topology.exchange,
        bindings=[binding(part.broker.topology.exchange, routing_key=EXPIRED)],
        durable=False,
        auto_delete=False,
    )
    with part.broker.connection() as conn:
        part.broker.topology.exchange(conn.default_channel).declare()
        watcher(conn.default_channel).declare()

    reports = race_in_two_processes(part, START + timedelta(days=10))
    expired = [subscription_id for report in reports for subscription_id in report["expired"]]
    assert Counter(expired) == Counter(due)
    assert {s for report in reports for s in report["skipped_last_admin"]} == last_admins
    per_subscription = Counter(e["data"]["subscription_id"] for e in expired_events(part))
    assert set(per_subscription) == due and set(per_subscription.values()) == {1}

    assert part.relay().drain() == 0  # the two processes' relays sent every event
    published = collect(amqp_url, watcher, timeout=DEADLINE, expected=len(due))
    announced = Counter(
        json.loads(message.body)["data"]["subscription_id"] for message in published
    )
    assert set(announced) == due and set(announced.values()) == {1}
