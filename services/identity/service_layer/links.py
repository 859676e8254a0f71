"""Link tokens: issue one (and the identity.link.issued event), open one, spend it once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bus.envelope import Envelope
from services.identity.adapters.orm import tokens
from services.identity.adapters.repository import aware, iso
from services.identity.config import IdentityConfig
from services.identity.domain.tokens import IssuedToken, hash_token, token_state
from services.identity.service_layer.errors import Gone, NotFound
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork

_WHAT = {
    "activation": "activation link",
    "reset": "password reset link",
    "email_change": "e-mail change confirmation link",
}
# A link past its end is still answered "expired" or "used" (410, with what to do) for this long;
# then its row goes, and the link is simply unknown (404).
LINKS_KEPT_AFTER_EXPIRY = timedelta(days=30)
_AGAIN = {
    "activation": "Ask your administrator to send you a new activation e-mail.",
    "reset": "Ask for a new one with “Forgotten password”.",
    "email_change": "Ask for the e-mail change again from your profile.",
}


def new_link(config: IdentityConfig, user: Any, purpose: str, now: datetime, *, resent: bool = False,
             new_email: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fresh token's row and its identity.link.issued data (nothing written yet)."""
    plain, issued = IssuedToken.issue(purpose, now, config.lifetimes)
    row = {"token_hash": issued.token_hash, "user_id": user.id, "purpose": purpose, "created_at": now,
           "expires_at": issued.expires_at, "used_at": None, "superseded": False, "new_email": new_email}
    event = {
        "purpose": purpose,
        "user_id": user.id,
        "account_id": user.account_id,
        "recipient": new_email or user.email,
        "recipient_name": f"{user.first_name} {user.last_name}".strip() or None,
        "language": user.language,
        "link_url": config.link_url(purpose, plain),
        "expires_at": iso(issued.expires_at),
        "resent": resent,
        "old_email": user.email if new_email else None,
    }
    return row, event


def issue_link(uow: IdentityUnitOfWork, user: Any, purpose: str, *, resent: bool = False,
               new_email: str | None = None) -> Envelope:
    """Send `user` a new link for `purpose`; earlier unused links of that purpose stop working."""
    now = uow.now()
    uow.session.execute(
        tokens.update()
        .where(tokens.c.user_id == user.id, tokens.c.purpose == purpose, tokens.c.used_at.is_(None))
        .values(used_at=now, superseded=True)
    )
    row, event = new_link(uow.config, user, purpose, now, resent=resent, new_email=new_email)
    uow.session.execute(tokens.insert().values(**row))
    return uow.publish("identity.link.issued", event)


def open_token(uow: IdentityUnitOfWork, plain: str, purpose: str) -> Any:
    """The stored token behind `plain` when it may serve `purpose` now; else NotFound or Gone."""
    row = uow.session.execute(
        sa.select(tokens).where(tokens.c.token_hash == hash_token(plain)).with_for_update()
    ).first()
    issued = None
    if row is not None:
        expires_at = aware(row.expires_at)
        assert expires_at is not None  # a NOT NULL column
        issued = IssuedToken(row.token_hash, row.purpose, expires_at, aware(row.used_at))
    state = token_state(issued, purpose=purpose, now=uow.now())
    what = _WHAT[purpose]
    if state == "unknown":
        raise NotFound(f"This {what} is not one we know. Check that you copied the whole link. "
                       + _AGAIN[purpose])
    if state == "used" and row is not None and row.superseded:
        raise Gone(f"This {what} was replaced by a newer one; use the link in the latest e-mail. "
                   + _AGAIN[purpose])
    if state == "used":
        raise Gone(f"This {what} has already been used; it works only once. " + _AGAIN[purpose])
    if state == "expired":
        raise Gone(f"This {what} has expired. " + _AGAIN[purpose])
    return row


def spend_token(uow: IdentityUnitOfWork, row: Any) -> None:
    """Mark the token used; a concurrent spend of the same token loses (Gone)."""
    spent = uow.session.execute(
        tokens.update().where(tokens.c.token_hash == row.token_hash, tokens.c.used_at.is_(None))
        .values(used_at=uow.now())
    )
    if spent.rowcount != 1:
        raise Gone(f"This {_WHAT[row.purpose]} has already been used; it works only once. "
                   + _AGAIN[row.purpose])


def revoke_links(uow: IdentityUnitOfWork, user_id: str, purpose: str) -> None:
    """Unused links of `purpose` stop working (e.g. other reset links after a reset)."""
    uow.session.execute(
        tokens.update()
        .where(tokens.c.user_id == user_id, tokens.c.purpose == purpose, tokens.c.used_at.is_(None))
        .values(used_at=uow.now(), superseded=True)
    )


def forget_old_links(uow: IdentityUnitOfWork) -> int:
    """Periodic: delete the tokens that expired more than LINKS_KEPT_AFTER_EXPIRY ago."""
    cutoff = uow.now() - LINKS_KEPT_AFTER_EXPIRY
    return uow.session.execute(tokens.delete().where(tokens.c.expires_at < cutoff)).rowcount
