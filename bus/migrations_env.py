"""The alembic environment every part's migrations/env.py delegates to."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context


def run(metadata: sa.MetaData) -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.get_main_option("sqlalchemy.url")
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            _run(connection, metadata)
        return
    _run(connection, metadata)


def _run(connection: sa.Connection, metadata: sa.MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
