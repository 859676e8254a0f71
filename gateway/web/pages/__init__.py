"""The page handlers, one module per area of the portal; importing this package attaches their routes."""

from gateway.web.pages import (
    account,
    auth,
    content,
    imports,
    mailbox,
    mfa,
    oidc,
    requests,
    scim,
    services,
    users,
)

__all__ = [
    "account",
    "auth",
    "content",
    "imports",
    "mailbox",
    "mfa",
    "oidc",
    "requests",
    "scim",
    "services",
    "users",
]
