"""How many PostgreSQL connections a process may hold, from its settings (deploy/README.md).

Found by the chaos test: two replicas of every part met PostgreSQL's "too many clients" — each
process could open 30 connections (45 in a gateway worker, with a second pool of its own) and
nothing set fewer.
"""

from __future__ import annotations

import pytest

from bus.config import ConfigError, Settings
from bus.db import Pool, make_engine
from bus.part import pool_of
from gateway.adapters.caller_reader import CallerReader

POSTGRES = "postgresql+psycopg://portico@db.invalid:5432/portico"  # never connected to here


def settings(**extra: str) -> Settings:
    return Settings(part="identity", database_url=POSTGRES, extra=extra)


def test_a_process_holds_few_connections_unless_told_otherwise():
    pool = pool_of(settings())
    assert pool == Pool()
    assert pool.most <= 10


def test_the_pool_is_sized_by_the_settings():
    pool = pool_of(
        settings(
            PORTICO_DB_POOL_SIZE="2",
            PORTICO_DB_MAX_OVERFLOW="1",
            PORTICO_DB_POOL_TIMEOUT="3",
            PORTICO_DB_CONNECT_TIMEOUT="4",
        )
    )
    engine = make_engine(POSTGRES, pool=pool)
    assert (engine.pool.size(), engine.pool._max_overflow, engine.pool._timeout) == (2, 1, 3)  # type: ignore[attr-defined]
    assert pool.most == 3


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORTICO_DB_POOL_SIZE", "0"),
        ("PORTICO_DB_MAX_OVERFLOW", "-1"),
        ("PORTICO_DB_POOL_TIMEOUT", "0"),
        ("PORTICO_DB_POOL_SIZE", "some"),
    ],
)
def test_a_pool_setting_that_cannot_work_is_refused_with_its_name(name, value):
    with pytest.raises(ConfigError, match=name):
        pool_of(settings(**{name: value}))


def test_the_gateways_request_path_uses_the_parts_own_pool():
    engine = make_engine(POSTGRES, pool=Pool(size=1, overflow=0))
    reader = CallerReader(engine)
    assert reader.raw is engine  # no second pool per process
    assert reader.reads.pool is engine.pool
