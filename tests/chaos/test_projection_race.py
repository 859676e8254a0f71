"""Regression the chaos test found: two gateway workers project one subscription at once.

With two replicas of the gateway's worker, `subscriptions.subscription.requested` and
`.refused` of one subscription were applied at the same moment: both saw no holding, both
inserted it, and the second failed on the primary key (a retried message, an error in the log,
and an update that could land on an older state). apply_holding now inserts with ON CONFLICT
DO NOTHING and updates the row under a lock, keeping the newer state.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bus.config import Settings
from gateway.adapters.orm import holdings
from gateway.service_layer.projections import apply_holding
from portico import parts
from tests.e2e.harness import eventually

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(pg_url: str, tmp_path):
    settings = Settings(
        part="gateway",
        database_url=pg_url,
        broker_url="memory://",
        bus_prefix=f"race{uuid.uuid4().hex[:8]}",
        data_dir=str(tmp_path),
    )
    part = parts.bootstrap("gateway").build(settings)
    part.migrate()
    yield part.engine
    part.engine.dispose()


def holding(status: str) -> dict:
    return {
        "subscription_id": "sub-1",
        "user_id": "user-1",
        "account_id": "acc-1",
        "service_id": "svc-1",
        "service_code": "invoice_viewing",
        "service_title": "Invoice viewing service",
        "family": "administrative",
        "gates": "invoices",
        "notifies": None,
        "administers_account_id": None,
        "supervises": False,
        "status": status,
        "expires_on": None,
    }


def test_two_workers_projecting_one_new_subscription_at_once_keep_the_newer_state(engine):
    requested_at = datetime.now(UTC)
    refused_at = requested_at + timedelta(seconds=1)
    outcome: dict[str, object] = {}
    first = Session(engine)
    try:
        # worker 1 applies the refusal and has not committed yet
        assert apply_holding(first, holding("refused"), refused_at, "event-refused", refused_at)
        first.flush()

        def second_worker() -> None:  # worker 2 applies the older request meanwhile
            with Session(engine) as second:
                try:
                    outcome["changed"] = apply_holding(
                        second, holding("pending"), requested_at, "event-requested", refused_at
                    )
                    second.commit()
                except Exception as exc:  # noqa: BLE001 - the failure is the finding
                    outcome["error"] = exc

        thread = threading.Thread(target=second_worker)
        thread.start()
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        # worker 2 reaches worker 1's uncommitted row and waits; each look in its own transaction
        # (pg_stat_activity is read once per transaction: a second look in one would not change)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watch:
            eventually(
                lambda: watch.execute(sa.text(waiting)).scalar() or not thread.is_alive(),
                timeout=30,
                what="worker 2 waiting on worker 1's row",
            )
        first.commit()
        thread.join(timeout=30)
    finally:
        first.close()
    assert "error" not in outcome, outcome.get("error")
    assert outcome["changed"] is False  # the older state changed nothing
    with engine.connect() as conn:
        rows = conn.execute(sa.select(holdings.c.status, holdings.c.applied_event_id)).all()
    assert [tuple(r) for r in rows] == [("refused", "event-refused")]
