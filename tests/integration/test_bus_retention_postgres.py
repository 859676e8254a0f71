"""The bus's bookkeeping kept PORTICO_BUS_KEEP_DAYS (bus/retention.py), on PostgreSQL."""

from __future__ import annotations

import pytest

from tests.bus_kit import make_probe_part, retention_scenario

pytestmark = pytest.mark.postgres  # the bus is memory://: nothing here is about RabbitMQ


def test_old_published_rows_and_processed_ids_go_unsent_and_recent_ones_stay(
    pg_url, prefix, monkeypatch
):
    instance, _ = make_probe_part("identity", pg_url, "memory://", prefix)
    try:
        retention_scenario(instance, monkeypatch)
    finally:
        instance.engine.dispose()
