"""Regressions the chaos test found: a part keeps working once its database is back.

The chaos test's PostgreSQL fault (its proxy breaks every open connection for 10 s) left the
gateway answering 500 to every signed-in request long after the database was back: the request
path's driver pool (gateway/adapters/caller_reader.py) handed its broken connections out again.
Then the first unit of work of each process idle through the cut still failed on its pooled
connection, after the fault: a checkout now replaces a connection the database closed
(bus/db.py, `_replace_dropped`).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from bus.db import make_engine
from gateway.adapters.caller_reader import CallerReader
from services.notifications.adapters.repository import marks_engine
from tests.chaos.proxy import Proxies, Proxy
from tests.e2e.harness import free_port

pytestmark = pytest.mark.postgres

ONE = sa.select(sa.literal(1).label("one"))
TABLE = sa.table("chaos_reconnect", sa.column("n"))
ADD = sa.insert(TABLE).values(n=sa.bindparam("n")).returning(TABLE.c.n)


@pytest.fixture
def proxied(pg_url: str):
    """(the database's URL through a proxy that can be cut, the proxies)."""
    url = sa.engine.make_url(pg_url)
    proxies = Proxies()
    proxy = proxies.add(
        Proxy("postgres", free_port(), [(url.host or "127.0.0.1", url.port or 5432)])
    )
    proxies.start()
    yield url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), proxies
    proxies.stop()


def test_the_request_paths_reader_reads_again_once_the_database_is_back(proxied):
    url, proxies = proxied
    engine = make_engine(url)
    reader = CallerReader(engine)
    try:
        assert [reader.run(ONE, {}) for _ in range(3)] == [[{"one": 1}]] * 3
        proxies.cut("postgres")  # every open connection breaks
        proxies.restore("postgres")  # and the database answers again
        assert reader.run(ONE, {}) == [{"one": 1}]
        assert reader.run(ONE, {}) == [{"one": 1}]
    finally:
        engine.dispose()


def test_the_request_paths_writer_writes_again_once_the_database_is_back(proxied):
    url, proxies = proxied
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE chaos_reconnect (n integer)"))
    reader = CallerReader(engine)
    try:
        assert reader.run(ONE, {}) == [{"one": 1}]
        proxies.cut("postgres")
        proxies.restore("postgres")
        assert reader.write(ADD, {"n": 7}) == [{"n": 7}]  # at once: no read found it first
        engine.dispose()  # this test's own connection broke too
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT n FROM chaos_reconnect")).scalars().all() == [7]
    finally:
        engine.dispose()


def test_the_first_unit_of_work_after_the_database_closed_idle_connections_succeeds(proxied):
    url, proxies = proxied
    engine = make_engine(url)
    try:
        with engine.connect() as first, engine.connect() as second:  # two pooled connections
            assert first.execute(ONE).scalar() == second.execute(ONE).scalar() == 1
        proxies.cut("postgres")  # both break while idle in the pool
        proxies.restore("postgres")
        for _ in range(2):
            with engine.begin() as conn:
                assert conn.execute(ONE).scalar() == 1
    finally:
        engine.dispose()


def test_the_mail_senders_marks_pool_replaces_connections_the_database_closed(proxied):
    # the pool the SMTP connections mark their e-mails 'sent' with: a mark that failed on a
    # dropped connection made the e-mail be sent again once its lease ended
    url, proxies = proxied
    engine = make_engine(url)
    marks = marks_engine(engine, 2)
    try:
        with marks.connect() as conn:
            assert conn.execute(ONE).scalar() == 1
        proxies.cut("postgres")
        proxies.restore("postgres")
        with marks.connect() as conn:
            assert conn.execute(ONE).scalar() == 1
    finally:
        marks.dispose()
        engine.dispose()
