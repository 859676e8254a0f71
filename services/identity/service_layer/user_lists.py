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
from services.identity.service_layer.accounts import get_account, list_administrators
from services.identity.service_layer.common import list_user_audits
from services.identity.service_layer.errors import Invalid, NotFound
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

    def count(condition: Any) -> Any:
        return sa.func.count().filter(condition)

    # one pass over the account's users: every count at once
    counts = uow.session.execute(
        sa.select(
            count(status_filter("active", now)).label("active"),
            count(status_filter("pending_activation", now)).label("pending_activation"),
            count(status_filter("no_email", now)).label("without_email"),
            count(status_filter("locked", now)).label("locked"),
            (count(users.c.created_at > instant) if instant else sa.literal(0)).label("new_since_last_sign_in"),
        ).select_from(users).where(in_account)
    ).one()
    return {
        **counts._asdict(),
        "administrators": len(repo.administrator_ids(uow.session, account_id)),
        "groups": 0,
    }


def dashboard(uow: IdentityUnitOfWork, user_id: str, *, since: str | None, with_users: bool) -> dict[str, Any]:
    """The profile page's identity panels, for the user's own account: the last 3 audits, the
    account's administrators (up to 200) and, on an administrator's page, the users summary."""
    user = repo.get_user(uow.session, user_id)
    if user is None:
        raise NotFound("No user has this id.")
    panels = {
        "last_audits": list_user_audits(uow, user_id, Page(1, 3)),
        "administrators": list_administrators(uow, user.account_id, Page(1, 200)),
    }
    if with_users:
        panels["users"] = users_summary(uow, user.account_id, since)
    return panels


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
