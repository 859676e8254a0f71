"""Reading users in bulk: the users' list and summary, the dashboard's panels, taken e-mails."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, TypeVar

from bus.contracts.vocabulary import USER_STATUSES
from bus.i18n import _l
from bus.pagination import Page
from services.identity.adapters import repository as repo
from services.identity.adapters import user_lists as lists
from services.identity.domain.records import Listed, UserSearch, UsersSummary
from services.identity.domain.validation import InvalidField, login_key_of
from services.identity.service_layer.accounts import existing_account
from services.identity.service_layer.common import NO_SUCH_USER
from services.identity.service_layer.errors import Invalid, NotFound
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.views import audit_view, page_view, user_view

T = TypeVar("T")

MAX_TAKEN_QUERY = 1000
DASHBOARD_AUDITS = 3
DASHBOARD_ADMINISTRATORS = 200


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def list_users(
    uow: IdentityUnitOfWork, account_id: str, filters: dict[str, Any], page: Page
) -> dict[str, Any]:
    """The account's users by name; `name`, `email`, `function` match parts (accents and case
    ignored), `status` is exact, `administrators_only` keeps the administrators."""
    existing_account(uow, account_id)
    now = uow.now()
    status = filters.get("status")
    if status and status not in USER_STATUSES:
        raise Invalid(
            {
                "status": [
                    _l(
                        "The status must be one of {choices}.",
                        code="validation.not_a_choice",
                        choices=", ".join(USER_STATUSES),
                    )
                ]
            }
        )
    search = UserSearch(
        name=filters.get("name"),
        email=filters.get("email"),
        function=filters.get("function"),
        status=status or None,
        administrators_only=_truthy(filters.get("administrators_only")),
    )
    admin_ids = repo.administrator_ids(uow.session, account_id)
    found = lists.search_users(uow.session, account_id, search, now, page)
    return page_view(
        page, found, lambda user: user_view(user, is_administrator=user.id in admin_ids, now=now)
    )


def parse_instant(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        instant = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(
            {
                field: [
                    _l(
                        "The {field} must be an ISO 8601 instant, e.g. 2025-01-31T09:00:00Z.",
                        code="validation.not_an_instant",
                        field=field,
                    )
                ]
            }
        ) from None
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def _summary_view(summary: UsersSummary) -> dict[str, Any]:
    return {**asdict(summary), "groups": 0}


def _first_page_view(listed: Listed[T], per_page: int, shape: Callable[[T], Any]) -> dict[str, Any]:
    return page_view(Page(1, per_page), listed, shape)


def users_summary(uow: IdentityUnitOfWork, account_id: str, since: str | None) -> dict[str, Any]:
    """The administrator's "Users" panel: counts by status and new users since `since`."""
    existing_account(uow, account_id)
    instant = parse_instant(since, "since")
    return _summary_view(lists.users_summary(uow.session, account_id, uow.now(), instant))


def dashboard(
    uow: IdentityUnitOfWork, user_id: str, *, since: str | None, with_users: bool
) -> dict[str, Any]:
    """The profile page's identity panels, for the user's own account: the last 3 audits, the
    account's administrators (up to 200) and, on an administrator's page, the users summary.

    Three statements: the user (with the summary), the audits and the administrators, each
    page with its total.
    """
    session = uow.session
    try:
        instant = parse_instant(since, "since") if with_users else None
    except Invalid:
        if lists.account_of_user(session, user_id) is None:  # a 404 comes first
            raise NotFound(NO_SUCH_USER) from None
        raise
    now = uow.now()
    summary = None
    if with_users:
        found = lists.account_and_summary_of_user(session, user_id, now, instant)
        account_id, summary = found if found else (None, None)
    else:
        account_id = lists.account_of_user(session, user_id)
    if account_id is None:
        raise NotFound(NO_SUCH_USER)
    audits = lists.last_audits_of_user(session, user_id, DASHBOARD_AUDITS)
    admins = lists.first_administrators(session, account_id, DASHBOARD_ADMINISTRATORS)
    panels = {
        "last_audits": _first_page_view(audits, DASHBOARD_AUDITS, audit_view),
        "administrators": _first_page_view(
            admins,
            DASHBOARD_ADMINISTRATORS,
            lambda user: user_view(user, is_administrator=True, now=now),
        ),
    }
    if summary is not None:
        panels["users"] = _summary_view(summary)
    return panels


def emails_taken(uow: IdentityUnitOfWork, emails: Iterable[Any]) -> dict[str, Any]:
    """Which of these addresses a user of the portal already has (the importer's dry run).

    Answers them as given; an address is taken when a user's address is one login with it (the
    same login key, bus.login), and an address that is not valid is simply not taken.
    """
    emails = list(emails)
    if len(emails) > MAX_TAKEN_QUERY:
        raise Invalid(
            {
                "emails": [
                    _l(
                        "Ask about at most {n} addresses at a time.",
                        code="validation.too_many",
                        n=MAX_TAKEN_QUERY,
                    )
                ]
            }
        )
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
