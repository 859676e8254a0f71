"""Link tokens: issue one (and the identity.link.issued event) or many (identity.links.issued),
open one, spend it once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bus.clock import iso
from bus.contracts.batches import split
from bus.envelope import Envelope
from bus.i18n import Message, _l
from services.identity.adapters import repository as repo
from services.identity.config import IdentityConfig
from services.identity.domain.records import StoredToken, User
from services.identity.domain.tokens import IssuedToken, hash_token, token_state
from services.identity.service_layer.errors import Gone, NotFound
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork

_WHAT = {
    "activation": _l("activation link"),
    "reset": _l("password reset link"),
    "email_change": _l("e-mail change confirmation link"),
}
# A link past its end is still answered "expired" or "used" (410, with what to do) for this long;
# then its row goes, and the link is simply unknown (404).
LINKS_KEPT_AFTER_EXPIRY = timedelta(days=30)
_AGAIN = {
    "activation": _l("Ask your administrator to send you a new activation e-mail."),
    "reset": _l("Ask for a new one with “Forgotten password”."),
    "email_change": _l("Ask for the e-mail change again from your profile."),
}


def new_link(
    config: IdentityConfig,
    user: User,
    purpose: str,
    now: datetime,
    *,
    resent: bool = False,
    new_email: str | None = None,
) -> tuple[StoredToken, dict[str, Any]]:
    """A fresh token as it will be kept, and its identity.link.issued data (nothing written yet)."""
    plain, issued = IssuedToken.issue(purpose, now, config.lifetimes)
    token = StoredToken(
        token_hash=issued.token_hash,
        user_id=user.id,
        purpose=purpose,
        created_at=now,
        expires_at=issued.expires_at,
        new_email=new_email,
    )
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
    return token, event


BATCH_LINK_FIELDS = ("user_id", "recipient", "recipient_name", "language", "link_url", "expires_at")


def batch_link(event: dict[str, Any]) -> dict[str, Any]:
    """new_link's event as one entry of identity.links.issued (the batch carries the rest)."""
    return {name: event[name] for name in BATCH_LINK_FIELDS}


def issue_links(
    uow: IdentityUnitOfWork,
    users: list[User],
    purpose: str,
    *,
    resent: bool = False,
    requested_by: str | None = None,
) -> list[Envelope]:
    """issue_link for many users of one account at once: their earlier unused links of `purpose`
    stop working, the new tokens are written in one insert, and the links go out as
    identity.links.issued events of at most BATCH_LIMIT links each."""
    if not users:
        return []
    now = uow.now()
    repo.supersede_tokens_of_users(uow.session, [user.id for user in users], purpose, now)
    issued = [new_link(uow.config, user, purpose, now, resent=resent) for user in users]
    repo.add_tokens(uow.session, [token for token, _ in issued])
    head = {
        "purpose": purpose,
        "account_id": users[0].account_id,
        "resent": resent,
        "requested_by": requested_by,
    }
    return uow.publish_many(
        ("identity.links.issued", {**head, "links": part})
        for part in split([batch_link(event) for _, event in issued])
    )


def issue_link(
    uow: IdentityUnitOfWork,
    user: User,
    purpose: str,
    *,
    resent: bool = False,
    new_email: str | None = None,
) -> Envelope:
    """Send `user` a new link for `purpose`; earlier unused links of that purpose stop working."""
    now = uow.now()
    repo.supersede_tokens(uow.session, user.id, purpose, now)
    token, event = new_link(uow.config, user, purpose, now, resent=resent, new_email=new_email)
    repo.add_token(uow.session, token)
    return uow.publish("identity.link.issued", event)


def open_token(uow: IdentityUnitOfWork, plain: str, purpose: str) -> StoredToken:
    """The stored token behind `plain` when it may serve `purpose` now; else NotFound or Gone."""
    row = repo.get_token(uow.session, hash_token(plain))
    state = token_state(row.issued if row else None, purpose=purpose, now=uow.now())
    what = _WHAT[purpose]
    if state == "unknown" or row is None:
        raise NotFound(
            _l(
                "This {what} is not one we know. Check that you copied the whole link. {again}",
                code="link.unknown",
                what=what,
                again=_AGAIN[purpose],
            )
        )
    if state == "used" and row.superseded:
        raise Gone(
            _l(
                "This {what} was replaced by a newer one; use the link in the latest e-mail."
                " {again}",
                code="link.replaced",
                what=what,
                again=_AGAIN[purpose],
            )
        )
    if state == "used":
        raise Gone(_used(purpose))
    if state == "expired":
        raise Gone(
            _l(
                "This {what} has expired. {again}",
                code="link.expired",
                what=what,
                again=_AGAIN[purpose],
            )
        )
    return row


def _used(purpose: str) -> Message:
    return _l(
        "This {what} has already been used; it works only once. {again}",
        code="link.used",
        what=_WHAT[purpose],
        again=_AGAIN[purpose],
    )


def spend_token(uow: IdentityUnitOfWork, row: StoredToken) -> None:
    """Mark the token used; a concurrent spend of the same token loses (Gone)."""
    if not repo.spend_token(uow.session, row.token_hash, uow.now()):
        raise Gone(_used(row.purpose))


def revoke_links(uow: IdentityUnitOfWork, user_id: str, purpose: str) -> None:
    """Unused links of `purpose` stop working (e.g. other reset links after a reset)."""
    repo.supersede_tokens(uow.session, user_id, purpose, uow.now())


def forget_old_links(uow: IdentityUnitOfWork) -> int:
    """Periodic: delete the tokens that expired more than LINKS_KEPT_AFTER_EXPIRY ago."""
    cutoff = uow.now() - LINKS_KEPT_AFTER_EXPIRY
    return repo.delete_tokens_expired_before(uow.session, cutoff)
