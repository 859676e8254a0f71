"""What identity knows and answers with: accounts, users, link tokens, audit entries, counts.

Plain values, no I/O: the repository (adapters/repository.py) builds them from rows, with every
instant timezone-aware in UTC; the service layer reasons on them; the views shape them into JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from .lockout import LoginThrottle
from .mfa import Factors
from .model import UserStatus
from .tokens import IssuedToken

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Account:
    """A client account, and the account it is a third-party associate of (if any)."""

    id: str
    number: str
    name: str
    parent_id: str | None = None
    relation: str | None = None
    created_at: datetime | None = None

    @property
    def label(self) -> str:
        return f"{self.number} {self.name}"


@dataclass(frozen=True, slots=True)
class User:
    """A user as stored: profile, login, credentials' dates and where the user came from.

    `email` is the normalised address shown and written to; `login_key` its login key
    (bus.login.login_key), what every comparison uses. Both are None for a contact without e-mail.
    """

    id: str
    account_id: str
    last_name: str
    first_name: str
    language: str
    password_level: int
    status: str
    source: str
    created_at: datetime
    updated_at: datetime
    email: str | None = None
    login_key: str | None = None
    title: str | None = None
    function: str | None = None
    office_phone: str | None = None
    mobile_phone: str | None = None
    password_hash: str | None = None
    password_changed_at: datetime | None = None
    locked_until: datetime | None = None
    reset_mail_at: datetime | None = None
    created_by: str | None = None
    import_job_id: str | None = None
    import_line: int | None = None
    activated_at: datetime | None = None
    last_sign_in_at: datetime | None = None
    previous_sign_in_at: datetime | None = None
    version: int = 1  # bumped by every write of the row (the SCIM ETag)
    external_id: str | None = None  # the directory's id of the user (SCIM externalId)

    def effective_status(self, now: datetime) -> str:
        """The stored status, except that a lock whose time has passed reads `active`."""
        if (
            self.status == UserStatus.LOCKED
            and self.locked_until is not None
            and self.locked_until <= now
        ):
            return UserStatus.ACTIVE.value
        return str(self.status)

    @property
    def label(self) -> str:
        """How the audit trail names the user: the address, or the names of a contact without one."""
        return self.email or f"{self.last_name} {self.first_name}"


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A link token as kept: its SHA-256 (never the token), whose it is, for what, until when."""

    token_hash: str
    user_id: str
    purpose: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    superseded: bool = False  # a newer link of the same purpose replaced it before it was used
    new_email: str | None = None  # an e-mail change's new address

    @property
    def issued(self) -> IssuedToken:
        return IssuedToken(self.token_hash, self.purpose, self.expires_at, self.used_at)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit trail: what happened (`action`, `result`) to whom, by whom, from where.

    `user_id` is whom it is about (none for a sign-in with an unknown e-mail); `actor` who did it
    (a user id, "operator", or none); `detail` a JSON object as text. `id` is None until stored.
    """

    at: datetime
    action: str
    source: str
    account_id: str | None = None
    user_id: str | None = None
    actor: str | None = None
    result: str | None = None
    target: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    detail: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class SignInState:
    """What a sign-in starts from: the typed login's throttle and, for an address, its user
    (with its second factors, when the same statement read them: None when not read)."""

    throttle: LoginThrottle
    user: User | None = None
    is_administrator: bool = False
    factors: Factors | None = None


@dataclass(frozen=True, slots=True)
class UserSearch:
    """An administrator's filters on the account's users (as typed; the repository folds them)."""

    name: str | None = None
    email: str | None = None
    function: str | None = None
    status: str | None = None
    administrators_only: bool = False


@dataclass(frozen=True, slots=True)
class UsersSummary:
    """The administrator's "Users" panel: users by effective status, new ones, administrators."""

    active: int
    pending_activation: int
    without_email: int
    locked: int
    new_since_last_sign_in: int
    administrators: int


@dataclass(frozen=True, slots=True)
class Listed(Generic[T]):
    """One page of a list and the number of items in the whole list."""

    items: list[T]
    total: int
