"""Small things every handler module uses: who acts, pages of lists, the audit trail."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from services.identity.adapters.orm import audit_log
from services.identity.service_layer.errors import Invalid
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.views import audit_view

MAX_PER_PAGE = 200


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


@dataclass(frozen=True)
class Page:
    page: int = 1
    per_page: int = 10

    @classmethod
    def parse(cls, page: Any, per_page: Any) -> Page:
        errors: dict[str, list[str]] = {}
        values = {}
        for name, raw, default in (("page", page, 1), ("per_page", per_page, 10)):
            try:
                values[name] = default if raw in (None, "") else int(raw)
            except (TypeError, ValueError):
                errors[name] = [f"The {name} must be a whole number."]
                continue
            if values[name] < 1:
                errors[name] = [f"The {name} must be at least 1."]
        if "per_page" in values and values["per_page"] > MAX_PER_PAGE:
            errors["per_page"] = [f"The per_page must be at most {MAX_PER_PAGE}."]
        if errors:
            raise Invalid(errors)
        return cls(values["page"], values["per_page"])

    def answer(self, uow: IdentityUnitOfWork, query: sa.Select, shape: Any) -> dict[str, Any]:
        """{items, page, per_page, total} of `query` (already ordered), each row through `shape`."""
        total = uow.session.execute(
            sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
        ).scalar_one()
        rows = uow.session.execute(query.limit(self.per_page).offset((self.page - 1) * self.per_page)).all()
        return {"items": [shape(row) for row in rows], "page": self.page, "per_page": self.per_page,
                "total": total}


def audit(
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
) -> None:
    """Add one entry to the audit trail, in the caller's transaction."""
    uow.session.execute(audit_log.insert().values(
        at=uow.now(), account_id=account_id, user_id=user_id, actor=actor.id, source=actor.source,
        action=action, result=result, target=(target or None) and target[:320],
        ip=(ip or None) and ip[:64], user_agent=(user_agent or None) and user_agent[:512],
        detail=json.dumps(detail, sort_keys=True) if detail else None,
    ))


def list_account_audit(uow: IdentityUnitOfWork, account_id: str, page: Page) -> dict[str, Any]:
    query = sa.select(audit_log).where(audit_log.c.account_id == account_id).order_by(audit_log.c.id.desc())
    return page.answer(uow, query, audit_view)


def list_user_audits(uow: IdentityUnitOfWork, user_id: str, page: Page) -> dict[str, Any]:
    query = sa.select(audit_log).where(audit_log.c.user_id == user_id).order_by(audit_log.c.id.desc())
    return page.answer(uow, query, audit_view)
