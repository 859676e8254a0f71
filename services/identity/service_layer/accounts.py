"""Client accounts: create (optionally as a third-party associate of another), read, administrators."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from bus.pagination import Page
from services.identity.adapters import repository as repo
from services.identity.adapters.orm import accounts, administrators, users
from services.identity.service_layer.common import OPERATOR, Actor, audit
from services.identity.service_layer.errors import Conflict, Invalid, NotFound
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.views import account_view, user_view


def create_account(uow: IdentityUnitOfWork, number: str, name: str, parent_number: str | None = None,
                   relation: str | None = None, *, actor: Actor = OPERATOR) -> dict[str, Any]:
    """Create a client account, optionally as third-party associate of another."""
    session = uow.session
    if repo.get_account_by_number(session, number):
        raise Conflict(f"The client number {number} is already taken by another account.")
    parent = None
    if parent_number:
        parent = repo.get_account_by_number(session, parent_number)
        if parent is None:
            message = f"No account has the client number {parent_number}."
            raise Invalid({"parent_number": [message]}, message)
    elif relation:
        message = "A relation needs the parent_number of the account this one is associated with."
        raise Invalid({"relation": [message]}, message)
    account = {
        "id": str(uuid.uuid4()),
        "number": number,
        "name": name,
        "parent_id": parent.id if parent else None,
        "relation": (relation or "subsidiary") if parent else None,
    }
    session.execute(accounts.insert().values(**account, created_at=uow.now()))
    event = {"account_id": account["id"], **{k: account[k] for k in ("number", "name", "parent_id", "relation")}}
    uow.publish("identity.account.created", event)
    if parent is not None:
        uow.publish("identity.account.linked", {**event, "parent_number": parent.number, "parent_name": parent.name})
    audit(uow, "account_created", actor=actor, account_id=account["id"], target=f"{number} {name}",
          detail={"parent_number": parent_number, "relation": account["relation"]} if parent else None)
    return account


def get_account(uow: IdentityUnitOfWork, account_id: str) -> dict[str, Any]:
    row = repo.get_account(uow.session, account_id)
    if row is None:
        raise NotFound("No account has this id.")
    return account_view(row)


def get_account_by_number(uow: IdentityUnitOfWork, number: str) -> dict[str, Any]:
    row = repo.get_account_by_number(uow.session, number)
    if row is None:
        raise NotFound(f"No account has the client number {number}.")
    return account_view(row)


def list_administrators(uow: IdentityUnitOfWork, account_id: str, page: Page) -> dict[str, Any]:
    """The users who administer the account, by name."""
    get_account(uow, account_id)
    admin_ids = sa.select(administrators.c.user_id).where(administrators.c.account_id == account_id)
    query = (sa.select(users).where(users.c.id.in_(admin_ids))
             .order_by(users.c.name_key, users.c.id))
    now = uow.now()
    return page.answer(uow.session, query, lambda row: user_view(row, is_administrator=True, now=now))
