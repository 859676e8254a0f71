"""Databases: engines with sane defaults, the bus's own tables, and alembic migrations."""

from __future__ import annotations

import select
import time
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from psycopg import pq
from sqlalchemy import event
from sqlalchemy.engine import CursorResult, Engine, Result, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Pool:
    """How many connections one process's engine may hold on PostgreSQL: `size` kept open,
    `overflow` more opened at a peak and closed once returned; a unit of work waits up to
    `timeout` seconds for one (then fails, and the HTTP API answers 503), and opening one gives
    up after `connect_timeout` seconds. deploy/README.md has the formula for the whole cluster."""

    size: int = 5
    overflow: int = 5
    timeout: float = 10.0
    connect_timeout: int = 5

    def __post_init__(self) -> None:
        if self.size < 1 or self.overflow < 0 or self.timeout <= 0 or self.connect_timeout < 1:
            raise ValueError(
                f"a database pool needs at least one connection, no negative overflow and "
                f"positive timeouts (size={self.size}, overflow={self.overflow}, "
                f"timeout={self.timeout:g}, connect timeout={self.connect_timeout})"
            )

    @property
    def most(self) -> int:
        """The most connections the engine opens at once."""
        return self.size + self.overflow


def make_engine(
    url: str,
    *,
    pool_size: int | None = None,
    pool: Pool | None = None,
    connect_args: dict[str, Any] | None = None,
) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL a pool
    of `pool` (or the default Pool with `pool_size` kept open), `connect_args` for the driver."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    # No pre-ping (a round trip per checkout): a checkout looks at the socket instead
    # (`_dropped`), and a connection broken while in use fails its one unit of work (consumers
    # requeue on OperationalError, the HTTP APIs answer 503) and the pool is renewed.
    pool = pool or (Pool(size=pool_size) if pool_size else Pool())
    engine = sa.create_engine(
        parsed,
        pool_size=pool.size,
        max_overflow=pool.overflow,
        pool_timeout=pool.timeout,
        pool_recycle=1800,
        connect_args={"connect_timeout": pool.connect_timeout, **(connect_args or {})},
    )
    event.listen(engine, "checkout", _replace_dropped)
    event.listen(engine, "do_connect", partial(_connect_patiently, patience=pool.connect_timeout))
    return engine


# What PostgreSQL answers a new connection when it is full or restarting: passing states.
BUSY_SERVER = (
    "too many clients",
    "too many connections",
    "remaining connection slots are reserved",
    "the database system is starting up",
    "the database system is shutting down",
)


def _connect_patiently(
    dialect: Any, _record: Any, cargs: Any, cparams: Any, *, patience: float
) -> Any:
    """Open a connection; while the server is full ("too many clients", a shared server's
    other clients at a peak) or restarting, try again for up to `patience` seconds (the pool's
    own wait) before failing: a passing peak delays a request instead of failing it."""
    deadline = time.monotonic() + patience
    pause = 0.05
    while True:
        try:
            return dialect.loaded_dbapi.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.OperationalError as exc:
            busy = any(text in str(exc) for text in BUSY_SERVER)
            if not busy or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 1.0)


def _replace_dropped(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection that the server or the network closed while it was idle (a database
    restart, a cut) is replaced at checkout: SQLAlchemy retries with a new one on
    DisconnectionError. Otherwise the next unit of work after an outage, in every process that
    was idle through it, would fail."""
    if _dropped(dbapi_connection):
        raise sa.exc.DisconnectionError("the database closed this idle connection")


def _dropped(dbapi_connection: Any) -> bool:
    """Whether an idle psycopg connection is closed, without a round trip: the server sends an
    idle connection nothing but the odd notice, so a socket with something to read is read, and
    a closed one (or a FATAL message before the close) makes libpq mark it bad."""
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:
        return False
    try:
        readable, _, _ = select.select([pgconn.socket], [], [], 0)
        if readable:
            pgconn.consume_input()
    except Exception:  # noqa: BLE001 - a socket that cannot be read is a closed connection
        return True
    return bool(dbapi_connection.broken or pgconn.status != pq.ConnStatus.OK)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy, not the driver, emit BEGIN: savepoints and transactions then work as documented.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection) -> None:
    # IMMEDIATE takes the write lock up front, so two writers wait for each other (busy timeout)
    # instead of failing on a lock upgrade. The embedded mode favours correctness over speed.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def bus_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """Add the outbox and processed-message tables to a part's metadata."""
    outbox = sa.Table(
        "bus_outbox",
        metadata,
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("message_id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Index(
            "ix_bus_outbox_unsent",
            "seq",
            postgresql_where=sa.text("published_at IS NULL"),
            sqlite_where=sa.text("published_at IS NULL"),
        ),
    )
    processed = sa.Table(
        "bus_processed",
        metadata,
        sa.Column("message_id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    return outbox, processed


def migrate(engine: Engine, script_location: Path, revision: str = "head") -> None:
    """Bring the part's database to `revision` with its own alembic scripts."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("path_separator", "os")
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two replicas starting at once: the second waits, then finds nothing to do.
            key = zlib.crc32(str(script_location).encode()) & 0x7FFFFFFF
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def bulk_insert(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) in the session's transaction: with COPY on
    PostgreSQL (one statement, no per-row binding in Python), else one executemany."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(table.insert(), rows)
        return
    names = list(rows[0])
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    driver = connection.connection.driver_connection  # psycopg's own connection
    assert driver is not None, "a checked-out connection has its driver connection"
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {quote(table.name)} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row([row[name] for name in names])


def changed_rows(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched. SQLAlchemy types `Session.execute` as returning a
    `Result` whatever the statement; a DML statement's is a `CursorResult`, which has the count."""
    return cast(CursorResult[Any], result).rowcount or 0


def unavailable_errors() -> tuple[type[Exception], ...]:
    """The errors that say the database cannot serve now (refused or dropped connections, too
    many clients, a statement cancelled by the server, the pool's wait ran out), not that the
    request is wrong: SQLAlchemy's and, for statements sent straight on the driver, psycopg's."""
    import psycopg

    return (
        sa.exc.OperationalError,
        sa.exc.InterfaceError,
        sa.exc.TimeoutError,
        psycopg.OperationalError,
        psycopg.InterfaceError,
    )


def unavailable(exc: BaseException) -> bool:
    """Whether `exc`, or an error it was raised from, says the database cannot serve now."""
    errors = unavailable_errors()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, errors):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def check_database(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def upsert(
    session_or_conn, table: sa.Table, values: dict, *, keys: tuple[str, ...] = ("id",)
) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE, on PostgreSQL and SQLite alike.

    Projections use it so that two writers of the same row (an actor's own write applied at once,
    and the event's consumer) never collide. ON CONFLICT covers the index of `keys` only: when both
    insert the same new row at once, the row's other unique indexes (an account's number) can still
    raise in the second writer. On PostgreSQL the statement therefore runs in a savepoint and is
    tried again once: by then the first writer has committed and the second one updates.
    """
    dialect = (
        session_or_conn.get_bind().dialect.name
        if hasattr(session_or_conn, "get_bind")
        else session_or_conn.dialect.name
    )
    from sqlalchemy.dialects import postgresql, sqlite

    dialect_insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = dialect_insert(table).values(**values)
    changes = {name: statement.excluded[name] for name in values if name not in keys}
    if changes:
        statement = statement.on_conflict_do_update(index_elements=list(keys), set_=changes)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    if dialect != "postgresql":
        session_or_conn.execute(statement)  # SQLite: one writer at a time (BEGIN IMMEDIATE)
        return
    for attempt in (1, 2):
        savepoint = session_or_conn.begin_nested()
        try:
            session_or_conn.execute(statement)
        except IntegrityError:
            savepoint.rollback()
            if attempt == 2:
                raise
            continue
        savepoint.commit()
        return
