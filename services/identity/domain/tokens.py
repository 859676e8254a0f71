"""Single-use, expiring link tokens (activation, reset, e-mail change); only SHA-256s are kept."""

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from bus.contracts.vocabulary import LINK_PURPOSES

TokenState = Literal["valid", "used", "expired", "unknown"]

DEFAULT_LIFETIMES: Mapping[str, timedelta] = {
    "activation": timedelta(days=7),
    "reset": timedelta(hours=1),
    "email_change": timedelta(hours=24),
}


def new_token() -> tuple[str, str]:
    """A fresh token: the plain text for the link, and the SHA-256 hex digest to store."""
    plain = secrets.token_urlsafe(32)
    return plain, hash_token(plain)


def hash_token(plain: str) -> str:
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """What is stored about a token that was sent: never the token itself."""

    token_hash: str
    purpose: str
    expires_at: datetime
    used_at: datetime | None = None

    @classmethod
    def issue(
        cls,
        purpose: str,
        now: datetime,
        lifetimes: Mapping[str, timedelta] = DEFAULT_LIFETIMES,
    ) -> tuple[str, "IssuedToken"]:
        """A new token for `purpose`, valid from `now` for that purpose's lifetime."""
        if purpose not in LINK_PURPOSES:
            raise ValueError(f"unknown token purpose {purpose!r}; known: {LINK_PURPOSES}")
        plain, token_hash = new_token()
        return plain, cls(token_hash, purpose, expires_at=now + lifetimes[purpose])

    def state(self, purpose: str, now: datetime) -> TokenState:
        return token_state(self, purpose=purpose, now=now)

    def used(self, now: datetime) -> "IssuedToken":
        """This token once spent at `now`; the caller checks it was valid first."""
        return replace(self, used_at=now)


def token_state(token: IssuedToken | None, *, purpose: str, now: datetime) -> TokenState:
    """Whether a stored token (or None when no hash matched) may serve `purpose` at `now`.

    A token issued for another purpose is "unknown", exactly like a token never issued. A spent
    token reads "used" even once past its expiry: the more useful thing to tell the person.
    """
    if token is None or token.purpose != purpose:
        return "unknown"
    if token.used_at is not None:
        return "used"
    if now >= token.expires_at:
        return "expired"
    return "valid"
