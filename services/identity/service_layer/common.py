"""Small things every handler module uses: who acts, and the audit trail."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bus.i18n import _l
from bus.pagination import Page
from services.identity.adapters import repository as repo
from services.identity.domain.records import AuditEntry
from services.identity.service_layer.errors import NotFound
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.views import audit_view, page_view

NO_SUCH_ACCOUNT = _l("No account has this id.", code="account.not_found")
NO_SUCH_USER = _l("No user has this id.", code="user.not_found")


@dataclass(frozen=True)
class Actor:
    """Who acts: a user id, "operator", or None; `source` says in which role."""

    id: str | None
    source: str  # self | admin | operator | import | system

    @classmethod
    def from_header(cls, value: str | None) -> Actor:
        """The X-Portico-Actor of an administrative call (a user id, or `operator`)."""
        value = (value or "").strip()[:64] or None
        return cls(value, "operator" if value == "operator" else "admin")


SYSTEM = Actor(None, "system")
OPERATOR = Actor("operator", "operator")


def audit(uow: IdentityUnitOfWork, action: str, *, actor: Actor, **fields: Any) -> None:
    """Add one entry to the audit trail, in the caller's transaction (fields: as audit_entry)."""
    repo.add_audit(uow.session, audit_entry(uow, action, actor=actor, **fields))


def audit_entry(
    uow: IdentityUnitOfWork,
    action: str,
    *,
    actor: Actor,
    account_id: str | None = None,
    user_id: str | None = None,
    target: str | None = None,
    result: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """One audit entry, for a caller that writes it with other rows (bounded as the columns are)."""
    return AuditEntry(
        at=uow.now(),
        account_id=account_id,
        user_id=user_id,
        actor=actor.id,
        source=actor.source,
        action=action,
        result=result,
        target=(target or None) and target[:320],
        ip=(ip or None) and ip[:64],
        user_agent=(user_agent or None) and user_agent[:512],
        detail=json.dumps(detail, sort_keys=True) if detail else None,
    )


def list_account_audit(uow: IdentityUnitOfWork, account_id: str, page: Page) -> dict[str, Any]:
    """The account's audit trail, newest first (404 for an unknown account)."""
    if repo.get_account(uow.session, account_id) is None:
        raise NotFound(NO_SUCH_ACCOUNT)
    return page_view(page, repo.audits_of_account(uow.session, account_id, page), audit_view)


def list_user_audits(uow: IdentityUnitOfWork, user_id: str, page: Page) -> dict[str, Any]:
    """The user's audit trail, newest first (404 for an unknown user)."""
    if repo.get_user(uow.session, user_id) is None:
        raise NotFound(NO_SUCH_USER)
    return page_view(page, repo.audits_of_user(uow.session, user_id, page), audit_view)
