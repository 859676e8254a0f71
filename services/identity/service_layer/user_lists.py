"""Reading users in bulk: the administrators' list, the dashboard summary, taken e-mails."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bus.contracts.vocabulary import USER_STATUSES
from bus.pagination import Page
from services.identity.adapters import repository as repo
from services.identity.adapters.orm import administrators, users
from services.identity.domain.validation import InvalidField, normalise_email
from services.identity.service_layer.accounts import get_account
from services.identity.service_layer.errors import Invalid
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.views import status_filter, user_view

MAX_TAKEN_QUERY = 1000


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def list_users(uow: IdentityUnitOfWork, account_id: str, filters: dict[str, Any], page: Page) -> dict[str, Any]:
    """The account's users by name; `name`, `email`, `function` match parts (accents and case
    ignored), `status` is exact, `administrators_only` keeps the administrators."""
    get_account(uow, account_id)
    now = uow.now()
    query = sa.select(users).where(users.c.account_id == account_id)
    for word in repo.fold(filters.get("name")).split():
        query = query.where(users.c.name_key.like(_like(word), escape="\\"))
    if filters.get("email"):
        query = query.where(users.c.email.like(_like(filters["email"].strip().lower()), escape="\\"))
    if repo.fold(filters.get("function")):
        query = query.where(users.c.function_key.like(_like(repo.fold(filters["function"])), escape="\\"))
    status = filters.get("status")
    if status:
        if status not in USER_STATUSES:
            raise Invalid({"status": [f"The status must be one of {', '.join(USER_STATUSES)}."]})
        query = query.where(status_filter(status, now))
    admin_ids = repo.administrator_ids(uow.session, account_id)
    if _truthy(filters.get("administrators_only")):
        query = query.where(users.c.id.in_(
            sa.select(administrators.c.user_id).where(administrators.c.account_id == account_id)
        ))
    query = query.order_by(users.c.name_key, users.c.id)
    return page.answer(uow.session, query, lambda row: user_view(row, is_administrator=row.id in admin_ids, now=now))


def parse_instant(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        instant = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Invalid({field: [f"The {field} must be an ISO 8601 instant, e.g. 2025-01-31T09:00:00Z."]}) from None
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def users_summary(uow: IdentityUnitOfWork, account_id: str, since: str | None) -> dict[str, Any]:
    """The administrator's "Users" panel: counts by status and new users since `since`."""
    get_account(uow, account_id)
    instant = parse_instant(since, "since")
    now = uow.now()
    in_account = users.c.account_id == account_id

    def count(*conditions: Any) -> int:
        return uow.session.execute(
            sa.select(sa.func.count()).select_from(users).where(in_account, *conditions)
        ).scalar_one()

    return {
        "active": count(status_filter("active", now)),
        "pending_activation": count(status_filter("pending_activation", now)),
        "without_email": count(status_filter("no_email", now)),
        "locked": count(status_filter("locked", now)),
        "new_since_last_sign_in": count(users.c.created_at > instant) if instant else 0,
        "administrators": len(repo.administrator_ids(uow.session, account_id)),
        "groups": 0,
    }


def emails_taken(uow: IdentityUnitOfWork, emails: Iterable[Any]) -> dict[str, Any]:
    """Which of these addresses a user of the portal already has (the importer's dry run).

    Answers them as given; an address that is not valid is simply not taken.
    """
    emails = list(emails)
    if len(emails) > MAX_TAKEN_QUERY:
        raise Invalid({"emails": [f"Ask about at most {MAX_TAKEN_QUERY} addresses at a time."]})
    normal: dict[str, list[str]] = {}
    for email in emails:
        if not isinstance(email, str):
            continue
        try:
            normal.setdefault(normalise_email(email), []).append(email)
        except InvalidField:
            continue
    taken = repo.taken_emails(uow.session, normal)
    return {"taken": [given for key in sorted(taken) for given in normal[key]]}
