"""The bus's bookkeeping is kept PORTICO_BUS_KEEP_DAYS (bus/retention.py), on SQLite."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from bus.config import ConfigError, Settings
from bus.part import Part
from tests.bus_kit import make_probe_part, retention_scenario
from tests.waiting_kit import eventually


@pytest.fixture
def probe(tmp_path):
    instance, _ = make_probe_part(
        "identity", f"sqlite:///{tmp_path}/probe.db", "memory://", "t-retention"
    )
    yield instance
    instance.engine.dispose()


def with_setting(instance: Part, value: str) -> Part:
    settings = instance.settings
    instance.settings = Settings(
        **{**settings.__dict__, "extra": {**settings.extra, "PORTICO_BUS_KEEP_DAYS": value}}
    )
    return instance


def deleted(table: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "portico_bus_retention_deleted_total", {"part": "identity", "table": table}
        )
        or 0.0
    )


def test_old_published_rows_and_processed_ids_go_unsent_and_recent_ones_stay(probe, monkeypatch):
    before = deleted("bus_outbox"), deleted("bus_processed")
    retention_scenario(probe, monkeypatch)
    assert (deleted("bus_outbox") - before[0], deleted("bus_processed") - before[1]) == (5, 1)


def test_the_period_is_a_setting_and_0_keeps_everything(probe):
    assert with_setting(probe, "3").retention().keep == timedelta(days=3)
    assert with_setting(probe, "0").retention() is None
    with pytest.raises(ConfigError, match="PORTICO_BUS_KEEP_DAYS=-1 cannot be negative"):
        with_setting(probe, "-1").retention()
    with pytest.raises(
        ConfigError, match="PORTICO_BUS_KEEP_DAYS='two weeks' must be a whole number"
    ):
        with_setting(probe, "two weeks").retention()


def test_a_running_part_sweeps_at_start(probe):
    now = datetime.now(UTC)
    with probe.engine.begin() as conn:
        conn.execute(
            probe.processed_table.insert().values(
                message_id="ancient", type="bus.probe", processed_at=now - timedelta(days=400)
            )
        )
    stop = threading.Event()
    probe.start_background(stop)
    try:
        assert any(thread.name == "identity-retention" for thread in probe.threads)

        def receipts_left() -> int:
            with probe.engine.connect() as conn:
                return conn.execute(
                    sa.select(sa.func.count()).select_from(probe.processed_table)
                ).scalar_one()

        eventually(lambda: receipts_left() == 0, what="the retention thread's sweep at start")
    finally:
        stop.set()
