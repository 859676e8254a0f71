"""Handlers of the identity service: one function per command or event, verb_noun."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bus.http import Problem
from bus.uow import UnitOfWork
from services.identity.adapters.orm import accounts


def create_account(uow: UnitOfWork, number: str, name: str, parent_number: str | None = None,
                   relation: str | None = None) -> dict[str, Any]:
    """Create a client account, optionally as third-party associate of another."""
    session = uow.session
    if session.execute(sa.select(accounts.c.id).where(accounts.c.number == number)).first():
        raise Problem(409, "Conflict", f"The client number {number} is already taken by another account.")
    parent = None
    if parent_number:
        parent = session.execute(sa.select(accounts).where(accounts.c.number == parent_number)).first()
        if parent is None:
            raise Problem(422, "Unprocessable Entity", f"No account has the client number {parent_number}.",
                          errors={"parent_number": [f"No account has the client number {parent_number}."]})
    account = {
        "id": str(uuid.uuid4()),
        "number": number,
        "name": name,
        "parent_id": parent.id if parent else None,
        "relation": (relation or "subsidiary") if parent else None,
    }
    session.execute(accounts.insert().values(**account, created_at=datetime.now(UTC)))
    event = {"account_id": account["id"], **{k: account[k] for k in ("number", "name", "parent_id", "relation")}}
    uow.publish("identity.account.created", event)
    if parent is not None:
        uow.publish("identity.account.linked", {**event, "parent_number": parent.number, "parent_name": parent.name})
    return account


EVENT_HANDLERS: dict = {}
