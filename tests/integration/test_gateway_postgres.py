"""The gateway's database on PostgreSQL: its migration builds exactly the tables its code uses."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bus.config import Settings
from gateway.adapters.orm import metadata
from gateway.bootstrap import build

pytestmark = pytest.mark.integration


def test_the_migration_matches_the_tables(pg_url, prefix):
    part = build(Settings(part="gateway", database_url=pg_url, broker_url="memory://", bus_prefix=prefix))
    try:
        part.migrate()
        with part.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        part.engine.dispose()
    assert differences == [], f"the migration and gateway/adapters/orm.py differ: {differences}"
