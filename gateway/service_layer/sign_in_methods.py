"""How a session's user signed in: RFC 8176 "amr" values (identity names them: `pwd`, then `otp`,
`hwk` or `swk` and `mfa` after a second step), kept on the session for the OpenID Connect
provider's ID tokens.

The session is opened with them (sessions.open_session); the provider reads them back when
it gives a code.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from bus.part import Part
from gateway.adapters.orm import sessions

PASSWORD_ONLY = ("pwd",)
KNOWN = frozenset({"pwd", "otp", "hwk", "swk", "mfa"})


def cleaned(amr: Iterable[object] | None) -> tuple[str, ...]:
    """The known values of an answer's amr, in their order, once each (`pwd` when none is left)."""
    kept: list[str] = []
    for value in amr or ():
        if isinstance(value, str) and value in KNOWN and value not in kept:
            kept.append(value)
    return tuple(kept) or PASSWORD_ONLY


def of_session(part: Part, session_id: str) -> tuple[str, ...]:
    """How the session was signed in (`pwd` for a session that no longer exists)."""
    with part.engine.connect() as conn:
        found = conn.execute(sa.select(sessions.c.amr).where(sessions.c.id == session_id)).first()
    return cleaned(found.amr.split()) if found else PASSWORD_ONLY
