"""Tables of the gateway: sessions, rate limits and the projections it authorises from."""

import sqlalchemy as sa

from bus.db import bus_tables

metadata = sa.MetaData()
outbox, processed = bus_tables(metadata)

# The account tree, fed by identity.account.created / .linked.
accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("number", sa.String(32), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("parent_id", sa.String(36), nullable=True, index=True),
    sa.Column("relation", sa.String(32), nullable=True),
    sa.Column("applied_event_id", sa.String(36), nullable=True),
)
