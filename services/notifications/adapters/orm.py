"""Tables of the notifications service (its own database; nobody else reads it)."""

import sqlalchemy as sa

from bus.db import bus_tables

metadata = sa.MetaData()
outbox, processed = bus_tables(metadata)

# Projection of identity's accounts, fed by identity.account.created / .linked.
accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("number", sa.String(32), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("parent_id", sa.String(36), nullable=True),
    sa.Column("relation", sa.String(32), nullable=True),
)
