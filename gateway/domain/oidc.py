"""The OpenID Connect provider's rules, with no I/O: lifetimes, redirect URI matching, what a
client may ask, the claims of a user, and how long a retired signing key stays published."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

SCOPES = ("openid", "profile", "email", "offline_access")
SIGNING_ALG = "ES256"
# The claims of the contract (docs/api.md): an ID token and userinfo carry all of them.
CLAIMS = (
    "sub",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "locale",
    "portico_account",
    "portico_services",
    "portico_administers",
)


@dataclass(frozen=True)
class ProviderPolicy:
    """How long what the provider hands out lives (PORTICO_OIDC_* settings)."""

    code: timedelta = timedelta(seconds=60)
    access_token: timedelta = timedelta(minutes=10)
    id_token: timedelta = timedelta(minutes=10)
    refresh_token: timedelta = timedelta(days=30)

    def key_published_until(self, retired_at: datetime) -> datetime:
        """A retired key stays in JWKS until the last ID token it signed has expired (and a
        minute more, for clocks that drift)."""
        return retired_at + self.id_token + timedelta(minutes=1)


def new_secret() -> str:
    """A client secret, a code or a token: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def new_client_id() -> str:
    return "portico-" + secrets.token_hex(8)


def digest(value: str) -> str:
    """What the database keeps of a secret, a code or a token (each is 256 random bits, so a
    plain SHA-256 is enough: nothing to guess, nothing to slow down)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def same_digest(value: str, expected: str) -> bool:
    return hmac.compare_digest(digest(value), expected)


def redirect_uri_problem(uri: str) -> str | None:
    """Why `uri` cannot be registered as a redirect URI (None when it can): absolute, http(s),
    no fragment; plain http only for the local machine (a native or development app)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an absolute https URL"
    if parts.fragment or "#" in uri:
        return "must not carry a fragment (#...)"
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return "must use https (plain http is accepted for 127.0.0.1 and localhost only)"
    return None


def registered(uri: str | None, uris: Iterable[str]) -> bool:
    """Exact, character for character (no prefix, no normalisation: RFC 9700 section 2.1)."""
    return uri is not None and any(
        hmac.compare_digest(uri.encode(), known.encode()) for known in uris
    )


def allowed_scope(asked: str | None) -> str:
    """The scopes of `asked` the provider knows, in its order (unknown ones are dropped)."""
    wanted = set((asked or "").split())
    return " ".join(scope for scope in SCOPES if scope in wanted)


def locale_of(language: str | None) -> str | None:
    """A BCP 47 tag as OpenID Connect writes `locale` (en-GB stays en-GB)."""
    return language or None


def user_claims(
    profile: Mapping[str, Any],
    account: Mapping[str, Any] | None,
    services: Iterable[str],
    administers: Iterable[str],
) -> dict[str, Any]:
    """The claims of a user (ID token and userinfo): identity's profile, the account, and the
    codes of the services the gateway's projection holds effective for them."""
    given, family = profile.get("first_name") or "", profile.get("last_name") or ""
    return {
        "sub": str(profile["id"]),
        "email": profile.get("email"),
        # an address becomes the login only through its activation (or change) link
        "email_verified": profile.get("status") == "active" and bool(profile.get("email")),
        "name": " ".join(part for part in (given, family) if part) or None,
        "given_name": given or None,
        "family_name": family or None,
        "locale": locale_of(profile.get("language")),
        "portico_account": (
            {"id": account.get("id"), "number": account.get("number"), "name": account.get("name")}
            if account
            else None
        ),
        "portico_services": sorted(set(services)),
        "portico_administers": sorted(set(administers)),
    }


@dataclass(frozen=True)
class RefreshVerdict:
    """What a presented refresh token may do: be exchanged, or not and why (`revoke_family`:
    a rotated token came back, so whoever holds the family's live one may be a thief)."""

    usable: bool
    reason: str = ""
    revoke_family: bool = False


def judge_refresh(
    *, rotated_at: datetime | None, revoked_at: datetime | None, expires_at: datetime, now: datetime
) -> RefreshVerdict:
    if revoked_at is not None:
        return RefreshVerdict(False, "The refresh token was revoked.")
    if rotated_at is not None:
        return RefreshVerdict(
            False,
            "The refresh token was already used; every token of its sign-in is revoked.",
            revoke_family=True,
        )
    if now >= expires_at:
        return RefreshVerdict(False, "The refresh token has expired; sign in again.")
    return RefreshVerdict(True)


# -- fresh sign-ins asked by the application (OpenID Connect Core 3.1.2.1) ---------------------------


class BadMaxAge(ValueError):
    """max_age is not a whole number of seconds, zero or more."""


def max_age_of(value: str | None) -> int | None:
    """The request's max_age in seconds (None when absent); BadMaxAge when it is not one."""
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise BadMaxAge("'max_age' must be a whole number of seconds, zero or more.")
    return int(value)


def fresh_sign_in_needed(
    prompt: str | None, max_age: int | None, auth_time: datetime, now: datetime
) -> bool:
    """Whether the application asks for a sign-in newer than the session's: `prompt=login`, or a
    session signed in longer ago than `max_age` seconds (`max_age=0` is `prompt=login`)."""
    if "login" in (prompt or "").split():
        return True
    return max_age is not None and (max_age == 0 or now - auth_time > timedelta(seconds=max_age))


def without_fresh_sign_in(query: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The authorize request to come back to once the person has signed in again: `login` taken
    out of `prompt` and `max_age=0` dropped, so that the new sign-in is not asked for again (a
    max_age above zero stays: the new session meets it)."""
    kept: list[tuple[str, str]] = []
    for name, value in query:
        if name == "prompt":
            rest = " ".join(word for word in value.split() if word != "login")
            if rest:
                kept.append((name, rest))
        elif not (name == "max_age" and value.strip() == "0"):
            kept.append((name, value))
    return kept
