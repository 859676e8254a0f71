"""What a SCIM write ends at once in the gateway: the sessions of a user the directory
deactivated or deleted (and a deleted user's holdings), without waiting for identity's event."""

from __future__ import annotations

from bus.part import Part
from gateway.adapters.orm import holdings, sessions


def end_sessions(part: Part, user_id: str, *, holdings_too: bool = False) -> None:
    with part.uow() as uow:
        uow.session.execute(sessions.delete().where(sessions.c.user_id == user_id))
        if holdings_too:
            uow.session.execute(holdings.delete().where(holdings.c.user_id == user_id))
        uow.commit()
