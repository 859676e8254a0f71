"""Session tokens and their lifetime rules: opaque random tokens, kept only as sha256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bus.i18n import _l


def new_token() -> str:
    """A fresh opaque token (256 bits of randomness, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the database keeps of a token: a stolen table gives no usable session."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_token(token: str, expected_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), expected_hash)


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lives: ended after `idle` without use, and `lifetime` after sign-in."""

    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)

    def expires_at(self, created_at: datetime) -> datetime:
        return created_at + self.lifetime

    def expiry_reason(
        self, *, created_at: datetime, last_seen_at: datetime, now: datetime
    ) -> str | None:
        """None while the session is alive, else why it ended (fit to show a person)."""
        if now >= created_at + self.lifetime:
            return _l("Your session has reached its maximum length; sign in again.")
        if now >= last_seen_at + self.idle:
            return _l("Your session ended after a period without activity; sign in again.")
        return None

    def needs_touch(self, last_seen_at: datetime, now: datetime) -> bool:
        """Write last_seen_at at most once a minute: fewer writes, idle timeout still precise enough."""
        return now - last_seen_at >= min(timedelta(minutes=1), self.idle / 10)
