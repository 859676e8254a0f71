"""Test helpers for the bus: a probe part whose handler counts effects in its own table."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

import bus.retention
from bus.config import Settings
from bus.consumer import Reject
from bus.db import bus_tables
from bus.envelope import Envelope
from bus.part import Part
from bus.uow import UnitOfWork
from tests.waiting_kit import DEADLINE


def probe_metadata() -> tuple[sa.MetaData, sa.Table]:
    metadata = sa.MetaData()
    bus_tables(metadata)
    effects = sa.Table(
        "effects",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
    )
    return metadata, effects


def make_probe_part(
    part: str, database_url: str, broker_url: str, prefix: str, max_attempts: int = 3
) -> tuple[Part, sa.Table]:
    metadata, effects = probe_metadata()

    def record_probe(uow: UnitOfWork, envelope: Envelope) -> None:
        if envelope.data.get("fail"):
            raise RuntimeError(f"probe {envelope.data['seq']} always fails")
        if envelope.data.get("key") == "reject":
            raise Reject("probe asked to be rejected")
        uow.session.execute(
            effects.insert().values(
                key=envelope.data["key"], seq=envelope.data["seq"], message_id=envelope.id
            )
        )

    settings = Settings(
        part=part,
        broker_url=broker_url,
        database_url=database_url,
        bus_prefix=prefix,
        max_attempts=max_attempts,
    )
    instance = Part(settings, metadata, {"bus.probe": record_probe}, Path("unused"))
    metadata.create_all(instance.engine)
    return instance, effects


def count_effects(instance: Part, effects: sa.Table, key: str) -> tuple[int, int]:
    """(rows, distinct seqs) recorded for `key`."""
    with instance.engine.connect() as conn:
        rows = conn.execute(
            sa.select(sa.func.count()).select_from(effects).where(effects.c.key == key)
        ).scalar_one()
        distinct = conn.execute(
            sa.select(sa.func.count(sa.distinct(effects.c.seq))).where(effects.c.key == key)
        ).scalar_one()
    return rows, distinct


def start(instance: Part) -> threading.Event:
    stop = threading.Event()
    instance.start_background(stop)
    assert instance.wait_ready(DEADLINE), "the bus worker did not start consuming"
    return stop


def collect(broker_url: str, queue, timeout: float = 5.0, expected: int | None = None) -> list:
    """Take every message (raw, undecoded) off `queue` until it stays empty for `timeout`."""
    import time

    from kombu import Connection, Consumer

    found: list = []

    def keep(message) -> None:
        found.append(message)
        message.ack()

    with Connection(broker_url, transport_options={"polling_interval": 0.01}) as conn:
        with Consumer(conn, queues=[queue], on_message=keep, accept=None):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and (expected is None or len(found) < expected):
                try:
                    conn.drain_events(timeout=0.2)
                except TimeoutError:
                    pass
    return found


def retention_scenario(instance: Part, monkeypatch) -> None:
    """Old published outbox rows and old processed ids go, in batches; unsent and recent ones stay."""
    monkeypatch.setattr(bus.retention, "BATCH", 2)  # 5 old rows: three batches
    now = datetime.now(UTC)
    outbox, processed = instance.outbox_table, instance.processed_table

    def row(name: str, created: datetime, published: datetime | None) -> dict[str, object]:
        return {
            "message_id": name,
            "type": "bus.probe",
            "body": "{}",
            "created_at": created,
            "published_at": published,
        }

    with instance.engine.begin() as conn:
        conn.execute(
            outbox.insert(),
            [row(f"old-{i}", now - timedelta(days=21), now - timedelta(days=20)) for i in range(5)]
            + [
                row("old-unsent", now - timedelta(days=30), None),
                row("recent", now - timedelta(days=1), now - timedelta(days=1)),
            ],
        )
        conn.execute(
            processed.insert(),
            [
                {
                    "message_id": "done-long-ago",
                    "type": "bus.probe",
                    "processed_at": now - timedelta(days=15),
                },
                {
                    "message_id": "done-lately",
                    "type": "bus.probe",
                    "processed_at": now - timedelta(days=13),
                },
            ],
        )
    retention = instance.retention()
    assert retention is not None and retention.keep == timedelta(days=14)
    assert retention.sweep() == {"bus_outbox": 5, "bus_processed": 1}
    with instance.engine.connect() as conn:
        assert sorted(conn.execute(sa.select(outbox.c.message_id)).scalars()) == [
            "old-unsent",
            "recent",
        ]
        assert list(conn.execute(sa.select(processed.c.message_id)).scalars()) == ["done-lately"]
    assert retention.sweep() == {"bus_outbox": 0, "bus_processed": 0}
