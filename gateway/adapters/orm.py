"""Tables of the gateway: sessions, rate limits and the projections it authorises from."""

import sqlalchemy as sa

from bus.db import bus_tables

metadata = sa.MetaData()
outbox, processed = bus_tables(metadata)

# The account tree, fed by identity.account.created / .linked (and the operator's own writes).
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

# Who holds which service, fed by subscriptions.subscription.* (and the actor's own writes).
# Administrators and supervisors are derived from it: a row with administers_account_id = A,
# accepted and unexpired, makes its user administrator of A (supervisor of A when `supervises`).
holdings = sa.Table(
    "holdings",
    metadata,
    sa.Column("subscription_id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("account_id", sa.String(64), nullable=True),
    sa.Column("service_id", sa.String(64), nullable=True),
    sa.Column("service_code", sa.String(200), nullable=True),
    sa.Column("service_title", sa.String(300), nullable=True),
    sa.Column("family", sa.String(40), nullable=True),
    sa.Column("gates", sa.String(40), nullable=True),
    sa.Column("notifies", sa.String(40), nullable=True),
    sa.Column("administers_account_id", sa.String(64), nullable=True, index=True),
    sa.Column("supervises", sa.Boolean(), nullable=False, default=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("expires_on", sa.Date(), nullable=True),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("applied_event_id", sa.String(36), nullable=True),
)

# Signed-in sessions. Only hashes of the token and of its CSRF companion are kept.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("csrf_hash", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("account_id", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("password_change_required", sa.Boolean(), nullable=False, default=False),
    # Set while this session's own password change is in flight: its identity.password.changed
    # event then ends the user's other sessions but not this one.
    sa.Column("own_password_change", sa.Boolean(), nullable=False, default=False),
    # The account's policy requires a second factor the user lacks: this session may only enrol one.
    sa.Column(
        "mfa_enrolment_required",
        sa.Boolean(),
        nullable=False,
        default=False,
        server_default=sa.false(),
    ),
    sa.Column("previous_sign_in_at", sa.String(40), nullable=True),
    # How the user signed in (RFC 8176 amr values, space-separated), for the provider's ID tokens.
    sa.Column("amr", sa.String(40), nullable=False, default="pwd", server_default="pwd"),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.String(300), nullable=True),
    # GET /api/v1/me's answer from identity, kept for a short while (JSON; NULL = ask identity).
    # Every change of the user or their account through the gateway, and every identity event
    # about them, clears it and bumps profile_version; a fill only lands on the version it read.
    sa.Column("profile", sa.Text(), nullable=True),
    sa.Column("profile_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("profile_version", sa.Integer(), nullable=False, default=0, server_default="0"),
)

# Attempt counters of the rate limits, one row per key and fixed window (shared by every worker).
rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", sa.String(320), primary_key=True),
    sa.Column("window_start", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("count", sa.Integer(), nullable=False),
)

# Read-your-writes across services: the events a caller's own writes produced, one row per
# service that may have to apply one before that caller's next call there is forwarded
# (service_layer/read_your_writes.py). A row goes once that service has applied the event, or
# once waited for; rows older than a few minutes are ignored and swept.
pending_events = sa.Table(
    "pending_events",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("service", sa.String(32), primary_key=True),
    sa.Column("actor", sa.String(64), nullable=False, index=True),
    sa.Column("event_type", sa.String(120), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
