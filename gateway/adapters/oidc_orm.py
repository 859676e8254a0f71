"""Tables of the OpenID Connect provider, on the gateway's metadata: clients, signing keys,
authorization codes and tokens. Secrets, codes and tokens are kept as SHA-256 digests only;
private keys are encrypted (adapters/oidc_keys.py)."""

import sqlalchemy as sa

from gateway.adapters.orm import metadata

# Applications registered by the operator. redirect_uris / post_logout_redirect_uris: JSON lists.
oidc_clients = sa.Table(
    "oidc_clients",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("redirect_uris", sa.Text(), nullable=False),
    sa.Column("post_logout_redirect_uris", sa.Text(), nullable=False),
    sa.Column("service_code", sa.String(200), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Signing keys: the newest unretired one signs; a retired one stays published until `drop_after`.
oidc_keys = sa.Table(
    "oidc_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("alg", sa.String(16), nullable=False),
    sa.Column("public_jwk", sa.Text(), nullable=False),
    sa.Column("private_jwk", sa.Text(), nullable=False),  # Fernet token of the private JWK
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("drop_after", sa.DateTime(timezone=True), nullable=True),
)

# Authorization codes: single use (used_at), short-lived; a used code that comes back revokes
# the tokens it gave (`family_id`).
oidc_codes = sa.Table(
    "oidc_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("redirect_uri", sa.Text(), nullable=False),
    sa.Column("scope", sa.String(200), nullable=False),
    sa.Column("nonce", sa.String(300), nullable=True),
    sa.Column("code_challenge", sa.String(128), nullable=False),
    sa.Column("code_challenge_method", sa.String(8), nullable=False),
    sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
    # how the session's user signed in (RFC 8176 amr values, space-separated): the ID token's amr
    sa.Column("amr", sa.String(40), nullable=False, server_default="pwd"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("family_id", sa.String(36), nullable=True),
)

# One row per token response: its access token and its refresh token. The rows of one sign-in
# share `family_id`; refreshing marks the row `rotated_at` and adds the next one.
oidc_tokens = sa.Table(
    "oidc_tokens",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("family_id", sa.String(36), nullable=False, index=True),
    sa.Column("client_id", sa.String(64), nullable=False, index=True),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("scope", sa.String(200), nullable=False),
    sa.Column("access_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("refresh_hash", sa.String(64), nullable=True, unique=True),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)
