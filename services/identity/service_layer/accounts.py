"""Client accounts: create (optionally as a third-party associate of another), read, administrators."""

from __future__ import annotations

import uuid
from typing import Any

from bus.envelope import Envelope
from bus.i18n import _l
from bus.pagination import Page
from services.identity.adapters import repository as repo
from services.identity.domain.records import Account
from services.identity.service_layer.common import NO_SUCH_ACCOUNT, OPERATOR, Actor, audit
from services.identity.service_layer.errors import Conflict, Invalid, NotFound
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.users import create_user
from services.identity.service_layer.views import account_view, page_view, user_view


def create_account(
    uow: IdentityUnitOfWork,
    number: str,
    name: str,
    parent_number: str | None = None,
    relation: str | None = None,
    *,
    actor: Actor = OPERATOR,
) -> dict[str, Any]:
    """Create a client account, optionally as third-party associate of another."""
    session = uow.session
    if repo.get_account_by_number(session, number):
        raise Conflict(
            _l(
                "The client number {number} is already taken by another account.",
                code="account.number_taken",
                number=number,
            )
        )
    parent = None
    if parent_number:
        parent = repo.get_account_by_number(session, parent_number)
        if parent is None:
            message = _l(
                "No account has the client number {number}.",
                code="account.parent_not_found",
                number=parent_number,
            )
            raise Invalid({"parent_number": [message]}, message)
    elif relation:
        message = _l(
            "A relation needs the parent_number of the account this one is associated with.",
            code="account.parent_needed",
        )
        raise Invalid({"relation": [message]}, message)
    account = Account(
        id=str(uuid.uuid4()),
        number=number,
        name=name,
        parent_id=parent.id if parent else None,
        relation=(relation or "subsidiary") if parent else None,
        created_at=uow.now(),
    )
    repo.add_account(session, account)
    event = {
        "account_id": account.id,
        "number": number,
        "name": name,
        "parent_id": account.parent_id,
        "relation": account.relation,
    }
    uow.publish("identity.account.created", event)
    if parent is not None:
        uow.publish(
            "identity.account.linked",
            {**event, "parent_number": parent.number, "parent_name": parent.name},
        )
    audit(
        uow,
        "account_created",
        actor=actor,
        account_id=account.id,
        target=f"{number} {name}",
        detail={"parent_number": parent_number, "relation": account.relation} if parent else None,
    )
    return account_view(account)


def existing_account(uow: IdentityUnitOfWork, account_id: str) -> Account:
    account = repo.get_account(uow.session, account_id)
    if account is None:
        raise NotFound(NO_SUCH_ACCOUNT)
    return account


def account_by_number(uow: IdentityUnitOfWork, number: str) -> Account:
    account = repo.get_account_by_number(uow.session, number)
    if account is None:
        raise NotFound(
            _l(
                "No account has the client number {number}.",
                code="account.not_found",
                number=number,
            )
        )
    return account


def get_account(uow: IdentityUnitOfWork, account_id: str) -> dict[str, Any]:
    return account_view(existing_account(uow, account_id))


def get_account_by_number(uow: IdentityUnitOfWork, number: str) -> dict[str, Any]:
    return account_view(account_by_number(uow, number))


def create_administrator(
    uow: IdentityUnitOfWork, number: str, data: dict[str, Any]
) -> tuple[dict[str, Any], Envelope]:
    """The operator creates an administrator of the account with this client number: a user
    whose identity.user.created asks subscriptions to grant the administration service."""
    account = account_by_number(uow, number)
    return create_user(
        uow,
        account.id,
        {"password_level": 2, **data},
        actor=OPERATOR,
        source="operator",
        grant_administration=True,
    )


def list_administrators(uow: IdentityUnitOfWork, account_id: str, page: Page) -> dict[str, Any]:
    """The users who administer the account, by name."""
    existing_account(uow, account_id)
    now = uow.now()
    return page_view(
        page,
        repo.list_administrators(uow.session, account_id, page),
        lambda user: user_view(user, is_administrator=True, now=now),
    )
