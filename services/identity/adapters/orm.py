"""Tables of the identity service (its own database; nobody else reads it).

Instants are stored in UTC; SQLite hands them back naive, so readers pass them through
`bus.clock.as_utc` (the repository hands out records with aware instants).
"""

import sqlalchemy as sa

from bus.db import bus_tables

metadata = sa.MetaData()
outbox, processed = bus_tables(metadata)

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("number", sa.String(32), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("parent_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("relation", sa.String(32), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False, index=True
    ),
    # Normalised and lower-cased (domain.validation.normalise_email): shown and written to.
    sa.Column("email", sa.String(254), nullable=True, unique=True),
    # The e-mail's login key (bus.login.login_key): what uniqueness, sign-in and every counter
    # compare, so that no two users share a login whichever way it is spelt. Null without e-mail.
    sa.Column("login_key", sa.String(254), nullable=True),
    sa.Column("title", sa.String(8), nullable=True),
    sa.Column("last_name", sa.String(100), nullable=False),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("function", sa.String(100), nullable=True),
    sa.Column("office_phone", sa.String(32), nullable=True),
    sa.Column("mobile_phone", sa.String(32), nullable=True),
    sa.Column("password_level", sa.SmallInteger(), nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    # Folded (no accents, casefolded) copies for the administrators' searches.
    sa.Column("name_key", sa.String(210), nullable=False),
    sa.Column("function_key", sa.String(100), nullable=True),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reset_mail_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("import_job_id", sa.String(64), nullable=True),
    sa.Column("import_line", sa.Integer(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("previous_sign_in_at", sa.DateTime(timezone=True), nullable=True),
    # Bumped by every write of the user's row: the SCIM ETag (If-Match) of the user.
    sa.Column("version", sa.Integer(), nullable=False, default=1, server_default="1"),
    # The id the account's directory knows the user by (SCIM externalId), if it sent one.
    sa.Column("external_id", sa.String(200), nullable=True),
    sa.Index("ix_users_account_name", "account_id", "name_key"),
    sa.Index("ix_users_account_external_id", "account_id", "external_id"),
    sa.Index("ux_users_login_key", "login_key", unique=True),
)

password_history = sa.Table(
    "password_history",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_password_history_user", "user_id", "id"),
)

# Link tokens: only the SHA-256 of a token is kept (domain.tokens).
tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    # Set when a newer link of the same purpose replaced this one before it was used.
    sa.Column("superseded", sa.Boolean(), nullable=False, default=False),
    sa.Column("new_email", sa.String(254), nullable=True),
    sa.Index("ix_tokens_user_purpose", "user_id", "purpose"),
    sa.Index(
        "ix_tokens_expires_at", "expires_at"
    ),  # the minute job's sweep (links.forget_old_links)
)

# Failed sign-ins per login key of the typed e-mail (domain.lockout.throttle_key), known to the
# portal or not.
login_throttle = sa.Table(
    "login_throttle",
    metadata,
    sa.Column("email_key", sa.String(320), primary_key=True),
    sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Who administers which account, learnt from subscriptions' events (one row per subscription to
# the account's "User Management - Administration").
administrators = sa.Table(
    "administrators",
    metadata,
    sa.Column("subscription_id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(36), nullable=False, index=True),
    sa.Column("user_id", sa.String(36), nullable=False, index=True),
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
)

# The audit trail: every sign-in attempt and every security or administrative action.
# `user_id` is whom it is about (none for a sign-in with an unknown e-mail); `actor` who did it
# (a user id, "operator", or none when the person acted on their own account).
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("account_id", sa.String(36), nullable=True),
    sa.Column("user_id", sa.String(36), nullable=True),
    sa.Column("actor", sa.String(64), nullable=True),
    # self | admin | operator | import | system | scim:<the SCIM token's name>
    sa.Column("source", sa.String(120), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("result", sa.String(40), nullable=True),
    sa.Column("target", sa.String(320), nullable=True),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.String(512), nullable=True),
    sa.Column("detail", sa.Text(), nullable=True),
    sa.Index("ix_audit_account_at", "account_id", "id"),
    sa.Index("ix_audit_user_at", "user_id", "id"),
)

# --- second factors (domain.mfa): TOTP, passkeys, recovery codes, their one-time challenges ---

# A user's authenticator application: the secret encrypted (domain.mfa.MfaKey); `last_used_step`
# is the RFC 6238 step of the last code accepted, so no code is accepted twice.
mfa_totp = sa.Table(
    "mfa_totp",
    metadata,
    sa.Column(
        "user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("secret_encrypted", sa.String(255), nullable=False),
    sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),  # NULL while enrolling
    sa.Column("last_used_step", sa.BigInteger(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# WebAuthn credentials (passkeys) registered by a user.
mfa_passkeys = sa.Table(
    "mfa_passkeys",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "user_id",
        sa.String(36),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("credential_id", sa.String(1400), nullable=False, unique=True),  # base64url
    sa.Column("public_key", sa.Text(), nullable=False),  # base64url of the COSE key
    sa.Column("sign_count", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("transports", sa.String(200), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
)

# Recovery codes: only a keyed hash of each (domain.mfa.MfaKey.hash_recovery_code).
mfa_recovery_codes = sa.Table(
    "mfa_recovery_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column(
        "user_id",
        sa.String(36),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
)

# One-time steps: the sign-in's mfa_token (`purpose` sign_in or enrolment) and WebAuthn
# challenges (passkey_register, passkey_sign_in, passkey_mfa), each kept as its SHA-256 only.
mfa_challenges = sa.Table(
    "mfa_challenges",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("purpose", sa.String(24), nullable=False),
    sa.Column(
        "user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    ),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
)

# An account's second-factor policy (domain.mfa.MfaPolicy); no row = nobody.
account_security = sa.Table(
    "account_security",
    metadata,
    sa.Column(
        "account_id",
        sa.String(36),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("mfa_required_for", sa.String(16), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=True),
)
