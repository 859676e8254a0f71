"""What SQLAlchemy's own road would cost in place of the gateway's compiled-statement cache.

The gateway's request path runs its fixed statements through CallerReader
(gateway/adapters/caller_reader.py): on PostgreSQL, SQL compiled once and sent straight on the
driver over autocommit connections. The library's road is `engine.connect()` and `execute`,
with SQLAlchemy's own compiled cache. This prints the client CPU per statement of each, on the
same PostgreSQL server. Run: `PORTICO_TEST_DATABASE_URL=postgresql://... python -m bench.statement_cache`.
"""

from __future__ import annotations

import os
import sys
import time

import sqlalchemy as sa

from bus.db import make_engine
from gateway.adapters.caller_reader import CallerReader

# a module-level statement, as the request path's are
ONE_ROW = sa.select(
    (sa.bindparam("n", type_=sa.Integer) + 1).label("next"),
    sa.bindparam("who", type_=sa.String).label("who"),
)


def cpu_per_statement(run, statements: int) -> float:
    """Microseconds of this process's CPU per statement (after a warm-up)."""
    for n in range(50):
        run(n)
    started = time.process_time()
    for n in range(statements):
        run(n)
    return 1e6 * (time.process_time() - started) / statements


def main(argv: list[str]) -> None:
    statements = int(argv[0]) if argv else 3000
    url = os.environ.get(
        "PORTICO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    reader = CallerReader(engine)

    def cached(n: int) -> object:
        return reader.run(ONE_ROW, {"n": n, "who": "zoe"})

    def library(n: int) -> object:
        with engine.connect() as conn:
            return [dict(row) for row in conn.execute(ONE_ROW, {"n": n, "who": "zoe"}).mappings()]

    assert cached(1) == library(1) == [{"next": 2, "who": "zoe"}]
    hand = cpu_per_statement(cached, statements)
    plain = cpu_per_statement(library, statements)
    print(
        f"{statements} statements, client CPU per statement: compiled cache on the driver "
        f"{hand:.0f} µs, SQLAlchemy engine {plain:.0f} µs ({plain / hand:.1f}x)"
    )
    engine.dispose()
    if reader.raw is not None:
        reader.raw.dispose()


if __name__ == "__main__":
    main(sys.argv[1:])
