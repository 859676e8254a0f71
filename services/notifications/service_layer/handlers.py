"""Handlers of the notifications service: one function per command or event, verb_noun."""

from __future__ import annotations

from bus.envelope import Envelope
from bus.uow import UnitOfWork
from services.notifications.adapters.orm import accounts


def record_account(uow: UnitOfWork, event: Envelope) -> None:
    """Keep the account projection (numbers and names for lists, e-mails and catalogs)."""
    data = event.data
    values = {k: data.get(k) for k in ("number", "name", "parent_id", "relation")}
    updated = uow.session.execute(accounts.update().where(accounts.c.id == data["account_id"]).values(**values))
    if updated.rowcount == 0:
        uow.session.execute(accounts.insert().values(id=data["account_id"], **values))


EVENT_HANDLERS = {
    "identity.account.created": record_account,
    "identity.account.linked": record_account,
}
