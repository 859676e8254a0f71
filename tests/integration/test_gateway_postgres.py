"""The gateway's database on PostgreSQL: its migration builds exactly the tables its code uses;
the request path's reads on the driver."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bus.config import Settings
from gateway.adapters.caller_reader import caller_reader
from gateway.adapters.orm import holdings, metadata
from gateway.bootstrap import build
from gateway.domain.sessions import SessionPolicy
from gateway.service_layer.access import HOLDINGS_OF_USER, states_of
from gateway.service_layer.sessions import SessionEnded, find_caller, open_session

pytestmark = pytest.mark.postgres  # the bus is memory://: nothing here is about RabbitMQ


def test_the_migration_matches_the_tables(pg_url, prefix):
    part = build(
        Settings(part="gateway", database_url=pg_url, broker_url="memory://", bus_prefix=prefix)
    )
    try:
        part.migrate()
        with part.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        part.engine.dispose()
    assert differences == [], f"the migration and gateway/adapters/orm.py differ: {differences}"


def holding(user_id: str, subscription_id: str, **values: object) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "subscription_id": subscription_id,
        "user_id": user_id,
        "account_id": "acc-1",
        "status": "accepted",
        "supervises": False,
        "administers_account_id": None,
        "expires_on": None,
        "occurred_at": now,
        "applied_at": now,
        **values,
    }


def test_the_request_path_reads_answer_on_the_driver_as_through_sqlalchemy(pg_url, prefix):
    """Every request's session read and the dashboard's holdings read run straight on psycopg
    (compiled once); their answers are those of the same statements through SQLAlchemy."""
    part = build(
        Settings(part="gateway", database_url=pg_url, broker_url="memory://", bus_prefix=prefix)
    )
    try:
        part.migrate()
        policy = SessionPolicy()
        opened = open_session(
            part,
            policy,
            {"id": "u-1", "account_id": "acc-1"},
            password_change_required=False,
            ip="127.0.0.1",
            user_agent="test",
        )
        today = date.today()
        with part.engine.begin() as conn:
            conn.execute(
                holdings.insert(),
                [
                    holding("u-1", "s-admin", administers_account_id="acc-1"),
                    holding("u-1", "s-supervises", administers_account_id="acc-2", supervises=True),
                    holding(
                        "u-1",
                        "s-expired",
                        administers_account_id="acc-3",
                        expires_on=today - timedelta(days=1),
                    ),
                    holding(
                        "u-1", "s-pending", status="pending", expires_on=today + timedelta(days=9)
                    ),
                    holding("u-2", "s-other"),
                ],
            )
        reader = caller_reader(part.engine)
        assert reader.raw is not None  # the driver's road, not the engine's

        info, rights = find_caller(part, policy, opened.token)
        assert (info.user_id, rights.administers, rights.supervises) == (
            "u-1",
            frozenset({"acc-1"}),
            frozenset({"acc-2"}),
        )
        states = states_of(reader.run(HOLDINGS_OF_USER, {"user_id": "u-1"}))
        assert states == {
            "s-admin": ("accepted", None),
            "s-supervises": ("accepted", None),
            "s-expired": ("accepted", today - timedelta(days=1)),
            "s-pending": ("pending", today + timedelta(days=9)),
        }
        with part.engine.connect() as conn:
            through_sqlalchemy = conn.execute(HOLDINGS_OF_USER, {"user_id": "u-1"}).mappings().all()
        assert states_of(through_sqlalchemy) == states
        with pytest.raises(SessionEnded):
            find_caller(part, policy, "not-a-token")
    finally:
        part.engine.dispose()
