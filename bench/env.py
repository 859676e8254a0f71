"""Where the benchmarks find RabbitMQ and PostgreSQL, and fresh databases for a run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from bus.db import make_engine

AMQP_URL = os.environ.get("PORTICO_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
PG_URL = os.environ.get(
    "PORTICO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def fresh_database(label: str) -> Iterator[str]:
    name = f"portico_bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
