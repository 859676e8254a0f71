"""What the service knows and answers with: accounts, users, catalog entries, stored subscriptions.

Plain values, no I/O: the adapters build them from rows, the service layer reasons on them
with the rest of the domain, the entry points shape them into JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from .definitions import (
    AccountLike,
    ServiceDefinition,
    administered_account,
    get_definition,
    scope_of,
    supervised_account,
)
from .model import Subscription


@dataclass(frozen=True, slots=True)
class Account:
    """A client account as identity announced it."""

    id: str
    number: str
    name: str
    parent_id: str | None = None
    relation: str | None = None
    created_at: datetime | None = None  # None while only known from a link

    @property
    def label(self) -> str:
        return f"{self.number} {self.name}"


@dataclass(frozen=True, slots=True)
class User:
    """A user as identity announced it (the fields this service needs)."""

    id: str
    account_id: str
    last_name: str
    first_name: str
    language: str
    password_level: int
    status: str
    email: str | None = None
    title: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True, slots=True)
class CatalogService:
    """A service as one account offers it: the definition plus the account's id and settings."""

    id: str
    account_id: str
    code: str
    family: str
    title: str
    description: str
    min_password_level: int
    requires_validation: bool
    auto_subscribe: bool
    added_at: datetime | None = None
    removed_at: datetime | None = None
    gates: str | None = None
    notifies: str | None = None
    subscriber_count: int = 0

    @property
    def administers_account_id(self) -> str | None:
        """The account its holders administer: this account, or the supervised child."""
        return scope_of(self.code)

    @property
    def supervises(self) -> bool:
        return supervised_account(self.code) is not None

    @property
    def is_administration(self) -> bool:
        """Holders of this service are the administrators of its account."""
        return administered_account(self.code) is not None

    @property
    def in_catalog(self) -> bool:
        return self.removed_at is None

    def counted(self, subscriber_count: int) -> CatalogService:
        return replace(self, subscriber_count=subscriber_count)


@dataclass(eq=False)
class StoredSubscription(Subscription):
    """A subscription with where it lives: its account and the catalog entry it is for."""

    account_id: str = ""
    service_id: str = ""
    granted_directly: bool = False


def scoped_definition(code: str, scope: AccountLike | None) -> ServiceDefinition:
    """The definition behind a code, with an account-scoped title filled from `scope`.

    `scope` is the account an account-scoped code is about (the administered account, or the
    supervised child); unknown, its placeholders read as the account id. KeyError when the
    code is not a shipped service.
    """
    definition = get_definition(code)
    account_id = scope_of(code)
    if account_id is None:
        return definition
    label = (
        {"number": scope.number, "name": scope.name}
        if scope
        else {"number": account_id, "name": "(unknown)"}
    )
    return replace(
        definition,
        title=definition.title.format(**label),
        description=definition.description.format(**label),
    )
