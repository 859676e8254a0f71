"""bus.db.upsert on PostgreSQL: two writers inserting the same new row at once both succeed."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from bus.db import make_engine, upsert

pytestmark = pytest.mark.integration


def test_two_writers_of_the_same_new_row_never_fail_on_its_other_unique_index(pg_url):
    """An actor's own write and the event's consumer insert the same account at the same moment:
    ON CONFLICT (id) alone let the second fail on the number's unique index now and then."""
    metadata = sa.MetaData()
    accounts = sa.Table(
        "accounts",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("number", sa.String(20), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
    )
    engine = make_engine(pg_url)
    metadata.create_all(engine)
    errors: list[BaseException] = []
    rounds = 150
    try:
        for attempt in range(rounds):
            row = {"id": str(uuid.uuid4()), "number": f"{attempt:08d}", "name": "Race Ltd"}
            together = threading.Barrier(2)

            def write(name: str, row: dict = row, together: threading.Barrier = together) -> None:
                try:
                    with engine.begin() as conn:
                        together.wait()
                        upsert(conn, accounts, {**row, "name": name})
                except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                    errors.append(exc)

            writers = [
                threading.Thread(target=write, args=(name,)) for name in ("own write", "event")
            ]
            for writer in writers:
                writer.start()
            for writer in writers:
                writer.join()
        assert not errors, f"{len(errors)} of {2 * rounds} writes failed, e.g. {errors[0]!r}"
        with engine.connect() as conn:
            assert (
                conn.execute(sa.select(sa.func.count()).select_from(accounts)).scalar_one()
                == rounds
            )
    finally:
        engine.dispose()
