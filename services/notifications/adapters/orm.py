"""Tables of the notifications service (its own database; nobody else reads it).

Projections fed by events (accounts, recipients, held services), the durable outgoing queue
and the built-in mailbox of the embedded mode.
"""

import sqlalchemy as sa

from bus.db import bus_tables

metadata = sa.MetaData()
outbox, processed = bus_tables(metadata)

Id = sa.String(64)  # the contracts' ids (UUIDs as strings, up to 64 characters)
Instant = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Projection of identity's accounts, fed by identity.account.created / .linked.
accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("number", sa.String(32), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("parent_id", Id, nullable=True),
    sa.Column("relation", sa.String(32), nullable=True),
)

# Who can be written to: identity.user.created / .updated / .activated / .deleted and
# identity.email.changed. A deleted user stays as a tombstone (status "deleted", no address).
recipients = sa.Table(
    "recipients",
    metadata,
    sa.Column("user_id", Id, primary_key=True),
    sa.Column("account_id", Id, nullable=False, index=True),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("title", sa.String(8), nullable=True),
    sa.Column("first_name", sa.String(200), nullable=True),
    sa.Column("last_name", sa.String(200), nullable=True),
    sa.Column("full_name", sa.String(400), nullable=True),
    sa.Column("language", sa.String(16), nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("updated_at", Instant, nullable=False),
)

# The subscriptions that matter here: to an account's administration (or supervision) service,
# and to a service that `notifies` of a content kind. Fed by subscriptions.subscription.*.
held_services = sa.Table(
    "held_services",
    metadata,
    sa.Column("subscription_id", Id, primary_key=True),
    sa.Column("user_id", Id, nullable=False, index=True),
    sa.Column("account_id", Id, nullable=False),
    sa.Column("service_code", sa.String(120), nullable=False),
    sa.Column("administers_account_id", Id, nullable=True, index=True),
    sa.Column("supervises", sa.Boolean(), nullable=False, default=False),
    sa.Column("notifies", sa.String(64), nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("expires_on", sa.Date(), nullable=True),
    sa.Column("changed_at", Instant, nullable=True),
)

# The durable outgoing queue: one row per (event, recipient, template), inserted by the event
# handlers in the consumer's transaction, claimed and sent by the delivery loop.
outgoing = sa.Table(
    "outgoing",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(120), nullable=False),
    sa.Column("template", sa.String(64), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("user_id", Id, nullable=True),
    sa.Column("language", sa.String(16), nullable=True),
    sa.Column("context", sa.JSON(), nullable=False),
    sa.Column("attachments", sa.JSON(), nullable=True),  # [{filename, mimetype, content}]
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, default=0),
    sa.Column("next_attempt_at", Instant, nullable=False),
    sa.Column("claimed_by", sa.String(36), nullable=True),
    sa.Column("last_answer", sa.Text(), nullable=True),
    sa.Column("subject", sa.String(500), nullable=True),
    sa.Column("message_id", sa.String(255), nullable=True),
    sa.Column("created_at", Instant, nullable=False),
    sa.Column("sent_at", Instant, nullable=True),
    sa.UniqueConstraint("event_id", "recipient", "template", name="uq_outgoing_event_recipient"),
    sa.Index(
        "ix_outgoing_due",
        "next_attempt_at",
        "id",
        postgresql_where=sa.text("status IN ('queued', 'retrying', 'sending')"),
        sqlite_where=sa.text("status IN ('queued', 'retrying', 'sending')"),
    ),
    sa.Index("ix_outgoing_status", "status", "id"),
)

# The built-in mailbox (no PORTICO_SMTP_URL): what would have been sent, viewable by the gateway.
mailbox = sa.Table(
    "mailbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("outgoing_id", BigId, nullable=True, unique=True),
    sa.Column("message_id", sa.String(255), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False, index=True),
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("html", sa.Text(), nullable=False),
    sa.Column("attachments", sa.JSON(), nullable=True),
    sa.Column("sent_at", Instant, nullable=False),
)
