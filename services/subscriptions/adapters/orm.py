"""Tables of the subscriptions service (its own database; nobody else reads it)."""

import sqlalchemy as sa

from bus.db import bus_tables

metadata = sa.MetaData()
outbox, processed = bus_tables(metadata)

UTC_INSTANT = sa.DateTime(timezone=True)

# Projection of identity's accounts, fed by identity.account.created / .linked. A row may be
# known from a link before its own `created` event arrives; `created_at` is then still empty
# and the account has no default catalog yet.
accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("number", sa.String(32), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("parent_id", sa.String(36), nullable=True),
    sa.Column("relation", sa.String(32), nullable=True),
    sa.Column("created_at", UTC_INSTANT, nullable=True),
    sa.Index("ix_accounts_number", "number"),
)

# Each account's catalog: one row per (account, service) with a stable id (the public
# `service_id`) and the account's two settings. The rest of a service (family, title, level,
# gates) comes from the shipped definitions. A service the contracts no longer give keeps its
# row, with `removed_at` set, so its id stays the same if it comes back.
catalog = sa.Table(
    "catalog",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("code", sa.String(120), nullable=False),
    sa.Column("requires_validation", sa.Boolean(), nullable=False),
    sa.Column("auto_subscribe", sa.Boolean(), nullable=False),
    sa.Column("added_at", UTC_INSTANT, nullable=False),
    sa.Column("removed_at", UTC_INSTANT, nullable=True),
    sa.UniqueConstraint("account_id", "code", name="uq_catalog_account_code"),
)

# Projection of identity's users, fed by identity.user.created / .updated / .activated /
# .deleted: the password level for the min-level rule, names and e-mail for lists and events.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(36), nullable=False),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("title", sa.String(8), nullable=True),
    sa.Column("last_name", sa.String(200), nullable=False),
    sa.Column("first_name", sa.String(200), nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("password_level", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("created_at", UTC_INSTANT, nullable=False),
    sa.Column("deleted_at", UTC_INSTANT, nullable=True),
    sa.Index("ix_users_account", "account_id"),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(36), nullable=False),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("service_id", sa.String(36), sa.ForeignKey("catalog.id"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("requested_at", UTC_INSTANT, nullable=False),
    sa.Column("decided_at", UTC_INSTANT, nullable=True),
    sa.Column("decided_by", sa.String(64), nullable=True),
    sa.Column("expires_on", sa.Date(), nullable=True),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("ended_at", UTC_INSTANT, nullable=True),
    sa.Column("ended_by", sa.String(64), nullable=True),
    sa.Column("granted_directly", sa.Boolean(), nullable=False, default=False),
    sa.Index("ix_subscriptions_user", "user_id"),
    sa.Index("ix_subscriptions_account_status", "account_id", "status"),
    sa.Index("ix_subscriptions_service_status", "service_id", "status"),
    sa.Index("ix_subscriptions_due", "status", "expires_on"),
    # A user holds, or waits for, a service at most once: the database says no to a second
    # concurrent request even when two replicas race.
    sa.Index(
        "uq_subscriptions_current",
        "user_id",
        "service_id",
        unique=True,
        postgresql_where=sa.text("status IN ('pending', 'accepted')"),
        sqlite_where=sa.text("status IN ('pending', 'accepted')"),
    ),
)
