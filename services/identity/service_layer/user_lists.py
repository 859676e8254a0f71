"""Reading users in bulk: the users' list and summary, the dashboard's panels, taken e-mails."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bus.contracts.vocabulary import USER_STATUSES
from bus.pagination import Page
from services.identity.adapters import repository as repo
from services.identity.adapters.orm import administrators, audit_log, users
from services.identity.domain.validation import InvalidField, login_key_of
from services.identity.service_layer.accounts import get_account
from services.identity.service_layer.errors import Invalid, NotFound
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.views import audit_view, status_filter, user_view

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


def _count(condition: Any, name: str) -> sa.Label[int]:
    return sa.func.count().filter(condition).label(name)


def _administrator_count(account_id: Any) -> sa.Label[int]:
    """How many users administer the account (one may hold several subscriptions)."""
    return sa.select(sa.func.count(sa.distinct(administrators.c.user_id))).where(
        administrators.c.account_id == account_id).scalar_subquery().label("administrators")


# --- statements built once, as the profile page reads them on every view. The summary counts
# the rows of `users` in one pass, at b_now; with a NULL b_since nobody is new.
_NOW = sa.bindparam("b_now", type_=users.c.locked_until.type)
_SINCE = sa.bindparam("b_since", type_=users.c.created_at.type)
_SUMMARY_COUNTS = (
    _count(status_filter("active", _NOW), "active"),
    _count(status_filter("pending_activation", _NOW), "pending_activation"),
    _count(status_filter("no_email", _NOW), "without_email"),
    _count(status_filter("locked", _NOW), "locked"),
    _count(users.c.created_at > _SINCE, "new_since_last_sign_in"),
)
_SUMMARY_FIELDS = (*(column.name for column in _SUMMARY_COUNTS), "administrators")
_SUMMARY = sa.select(*_SUMMARY_COUNTS, _administrator_count(sa.bindparam("b_account"))).where(
    users.c.account_id == sa.bindparam("b_account"))

# The dashboard's user (`me`): its row stands for the account check, as users.account_id
# references accounts; with the summary, `users` are the members of its account.
_me = users.alias("me")
_USER = sa.select(_me.c.account_id).where(_me.c.id == sa.bindparam("b_user"))
_USER_AND_SUMMARY = (
    sa.select(_me.c.account_id, *_SUMMARY_COUNTS, _administrator_count(_me.c.account_id))
    .select_from(_me.join(users, users.c.account_id == _me.c.account_id))
    .where(_me.c.id == sa.bindparam("b_user"))
    .group_by(_me.c.account_id)
)


def _with_total(query: sa.Select[Any], per_page: int) -> sa.Select[Any]:
    """The first page of `query` (already ordered), each row with the number of rows in all."""
    total = sa.select(sa.func.count()).select_from(query.order_by(None).subquery()).scalar_subquery()
    return query.add_columns(total.label("total")).limit(per_page)


_LAST_AUDITS = _with_total(
    sa.select(audit_log).where(audit_log.c.user_id == sa.bindparam("b_user")).order_by(audit_log.c.id.desc()),
    3,
)
_ADMINISTRATORS = _with_total(
    sa.select(users).where(users.c.id.in_(
        sa.select(administrators.c.user_id).where(administrators.c.account_id == sa.bindparam("b_account"))
    )).order_by(users.c.name_key, users.c.id),
    200,
)


def _first_page(rows: list[Any], per_page: int, shape: Callable[[Any], Any]) -> dict[str, Any]:
    """{items, page, per_page, total} of rows read with `_with_total`, as Page.answer gives them."""
    return {"items": [shape(row) for row in rows], "page": 1, "per_page": per_page,
            "total": rows[0].total if rows else 0}


def users_summary(uow: IdentityUnitOfWork, account_id: str, since: str | None) -> dict[str, Any]:
    """The administrator's "Users" panel: counts by status and new users since `since`."""
    get_account(uow, account_id)
    instant = parse_instant(since, "since")
    params = {"b_account": account_id, "b_now": uow.now(), "b_since": instant}
    counts = uow.session.execute(_SUMMARY, params).one()
    return {**counts._asdict(), "groups": 0}


def dashboard(uow: IdentityUnitOfWork, user_id: str, *, since: str | None, with_users: bool) -> dict[str, Any]:
    """The profile page's identity panels, for the user's own account: the last 3 audits, the
    account's administrators (up to 200) and, on an administrator's page, the users summary.

    Three statements: the user (with the summary), the audits and the administrators, each
    page with its total.
    """
    session = uow.session
    try:
        instant = parse_instant(since, "since") if with_users else None
    except Invalid:
        if session.execute(_USER, {"b_user": user_id}).first() is None:  # a 404 comes first
            raise NotFound("No user has this id.") from None
        raise
    now = uow.now()
    if with_users:
        params = {"b_user": user_id, "b_now": now, "b_since": instant}
        me = session.execute(_USER_AND_SUMMARY, params).first()
    else:
        me = session.execute(_USER, {"b_user": user_id}).first()
    if me is None:
        raise NotFound("No user has this id.")
    audits = session.execute(_LAST_AUDITS, {"b_user": user_id}).all()
    admins = session.execute(_ADMINISTRATORS, {"b_account": me.account_id}).all()
    panels = {
        "last_audits": _first_page(audits, 3, audit_view),
        "administrators": _first_page(admins, 200,
                                      lambda row: user_view(row, is_administrator=True, now=now)),
    }
    if with_users:
        panels["users"] = {**{name: getattr(me, name) for name in _SUMMARY_FIELDS}, "groups": 0}
    return panels


def emails_taken(uow: IdentityUnitOfWork, emails: Iterable[Any]) -> dict[str, Any]:
    """Which of these addresses a user of the portal already has (the importer's dry run).

    Answers them as given; an address is taken when a user's address is one login with it (the
    same login key, bus.login), and an address that is not valid is simply not taken.
    """
    emails = list(emails)
    if len(emails) > MAX_TAKEN_QUERY:
        raise Invalid({"emails": [f"Ask about at most {MAX_TAKEN_QUERY} addresses at a time."]})
    normal: dict[str, list[str]] = {}
    for email in emails:
        if not isinstance(email, str):
            continue
        try:
            normal.setdefault(login_key_of(email), []).append(email)
        except InvalidField:
            continue
    taken = repo.taken_login_keys(uow.session, normal)
    return {"taken": [given for key in sorted(taken) for given in normal[key]]}
