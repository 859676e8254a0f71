"""A PostgreSQL server that is full for a moment delays a new connection instead of failing it.

Found by the chaos test on a machine whose PostgreSQL other tests share: while the server
answered "too many clients" for a few seconds, every part's unit of work that needed a new
connection failed at once (the API answered 503, the mail sender could not mark what it had
sent). A connection is now tried again while the server says it is full, for up to
PORTICO_DB_CONNECT_TIMEOUT seconds.
"""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from bus.db import Pool, make_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def one_connection_role(pg_url: str):
    """(a URL of a role allowed one connection at a time, the admin engine)."""
    role = f"portico_busy_{uuid.uuid4().hex[:8]}"
    admin = make_engine(pg_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 1'))
    url = sa.engine.make_url(pg_url).set(username=role, password=None)
    yield url.render_as_string(hide_password=False), admin
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
            {"r": role},
        )
        conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()


def test_a_connection_waits_while_the_server_is_full_then_succeeds(one_connection_role):
    url, _ = one_connection_role
    holder = make_engine(url, pool=Pool(size=1, overflow=0))
    patient = make_engine(url, pool=Pool(size=1, overflow=0, connect_timeout=5))
    try:
        held = holder.connect()  # the role's one connection: the server is "full" for it
        held.execute(sa.text("SELECT 1"))
        threading.Timer(0.5, held.close).start()  # back to its pool...
        threading.Timer(0.6, holder.dispose).start()  # ...and closed: a slot frees up
        with patient.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        holder.dispose()
        patient.dispose()


def test_a_server_still_full_after_the_connect_timeout_fails_with_the_servers_reason(
    one_connection_role,
):
    url, _ = one_connection_role
    holder = make_engine(url, pool=Pool(size=1, overflow=0))
    patient = make_engine(url, pool=Pool(size=1, overflow=0, connect_timeout=1))
    try:
        with holder.connect() as held:
            held.execute(sa.text("SELECT 1"))
            with pytest.raises(sa.exc.OperationalError, match="too many connections"):
                patient.connect()
    finally:
        holder.dispose()
        patient.dispose()
