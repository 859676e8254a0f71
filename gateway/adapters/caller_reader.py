"""The request path's fixed statements (every request's session, the dashboard's holdings, a
sign-in's rate-limit counters and its new session), straight on the database driver: on
PostgreSQL, the part's pool's connections in autocommit, so that a statement is one round
trip (it is its own transaction); elsewhere (SQLite) the part's engine."""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# What the request path runs: a read, or one write (with or without RETURNING).
Statement = sa.Select[Any] | sa.Insert | sa.Update | sa.Delete


class Disconnected(Exception):
    """The database dropped the connection a statement was sent on (`error`, the driver's)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class CallerReader:
    """Runs the request path's fixed statements, each a module-level statement compiled once:
    reads (`run`) and single-statement writes (`write`). On PostgreSQL: straight on the driver,
    on the part's pool's connections in autocommit, so that a statement is one round trip
    (no BEGIN, no COMMIT or ROLLBACK; the autocommit switch stays on the client) and skips
    SQLAlchemy's execution layers. Elsewhere (SQLite) it goes through the part's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.raw: Engine | None = None
        # statement → (SQL, its literals' values); the statement itself is the key, so that it is
        # kept alive: an id could be reused by another statement
        self.compiled: dict[Statement, tuple[str, dict[str, Any]]] = {}
        # single reads of other code on the request path (`read_engine`), in autocommit too
        self.reads: Engine = engine
        if engine.dialect.name == "postgresql":
            # The part's own pool (one per process: deploy/README.md counts the connections); a
            # checkout is put in autocommit, which psycopg sets on the client, without a round trip.
            self.raw = engine
            self.reads = engine.execution_options(isolation_level="AUTOCOMMIT")

    def run(self, statement: Statement, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows of `statement`, a module-level constant (compiled once), with `params` for
        its bind parameters. A read that meets a connection the database dropped (a restart,
        a network cut) is run once more on a new one."""
        if self.raw is None:
            with self.engine.connect() as conn:
                return [dict(row) for row in conn.execute(statement, params).mappings()]
        try:
            return self._on_driver(statement, params)
        except Disconnected:
            return self._on_driver(statement, params)

    def write(self, statement: Statement, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run `statement`, one write (a module-level constant, compiled once; with RETURNING,
        its rows), as its own transaction: committed when this returns."""
        if self.raw is None:
            with self.engine.begin() as conn:
                result = conn.execute(statement, params)
                return [dict(row) for row in result.mappings()] if result.returns_rows else []
        try:
            return self._on_driver(statement, params)
        except Disconnected as exc:  # whether it was written is unknown: not run again
            raise exc.error from None

    def _on_driver(self, statement: Statement, params: dict[str, Any]) -> list[dict[str, Any]]:
        assert self.raw is not None
        sql, constants = self.compiled.get(statement) or self._compile(statement)
        connection = self.raw.raw_connection()
        driver: Any = connection.driver_connection
        try:
            driver.autocommit = True  # the statement is its own transaction
            cursor = connection.cursor()
            cursor.execute(sql, {**constants, **params})
            found = []
            if cursor.description is not None:  # a write without RETURNING has no rows
                names = [column[0] for column in cursor.description]
                found = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            cursor.close()
        except self.raw.dialect.loaded_dbapi.Error as exc:
            if not self.raw.dialect.is_disconnect(exc, connection.dbapi_connection, None):
                raise
            # Straight on the driver, SQLAlchemy's own handling of a lost connection does not
            # run: without this, the broken connections would go back to the pool and fail
            # every request until recycled. The others of the pool went the same way.
            connection.invalidate(exc)
            self.raw.dispose()
            raise Disconnected(exc) from exc
        finally:
            with contextlib.suppress(Exception):  # a broken connection is discarded anyway
                driver.autocommit = False  # as the pool's other users expect it
            connection.close()  # back to the pool (an invalidated one is discarded)
        return found

    def _compile(self, statement: Statement) -> tuple[str, dict[str, Any]]:
        assert self.raw is not None
        compiled = statement.compile(dialect=self.raw.dialect)
        # the literals' parameters ("accepted"...); the caller gives the named ones
        named = {name for name, bind in compiled.binds.items() if bind.required}
        constants = {
            name: value
            for name, value in compiled.construct_params(dict.fromkeys(named)).items()
            if name not in named
        }
        self.compiled[statement] = (str(compiled), constants)
        return self.compiled[statement]


@functools.cache
def caller_reader(engine: Engine) -> CallerReader:
    """The one reader (and driver pool) of a part's engine, built on first use."""
    return CallerReader(engine)


def read_engine(engine: Engine) -> Engine:
    """For single reads on a request's path: the autocommit pool on PostgreSQL (one round trip a
    query), the part's engine elsewhere."""
    return caller_reader(engine).reads
