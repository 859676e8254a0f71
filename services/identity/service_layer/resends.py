"""Mass activation re-sends: the request answers at once, the links go out in batches.

`request_resends` (POST …/activation-emails) reads the selected users once, answers which of
them will get a new link and which are skipped, writes the audit entries and leaves one
`identity.resend_activations` command per BATCH_LIMIT users in the outbox, all in the request's
transaction: a 10,000-user re-send answers 202 without issuing a single token. Identity's own
worker then handles each command in one transaction (`resend_activation_batch`): the users
still pending get a new link (their earlier one stops working), announced as one
identity.links.issued; a redelivered command is stopped by the bus receipt.
"""

from __future__ import annotations

from typing import Any

from bus.contracts.batches import split
from bus.envelope import Envelope
from services.identity.adapters import repository as repo
from services.identity.domain.model import UserStatus
from services.identity.service_layer.common import NO_SUCH_ACCOUNT, Actor, audit_entry
from services.identity.service_layer.errors import NotFound
from services.identity.service_layer.links import issue_links
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork

RESEND = "identity.resend_activations"


def request_resends(
    uow: IdentityUnitOfWork, account_id: str, user_ids: list[str], *, actor: Actor
) -> dict[str, Any]:
    """Answer a mass re-send: each selected user `sent` (pending activation) or `skipped` (with
    the reason); the links themselves are issued by resend_activation_batch."""
    if repo.get_account(uow.session, account_id) is None:
        raise NotFound(NO_SUCH_ACCOUNT)
    found = repo.users_of_account(uow.session, account_id, user_ids)
    results: list[dict[str, Any]] = []
    pending = []
    for user_id in dict.fromkeys(user_ids):
        user = found.get(user_id)
        if user is None:
            results.append({"user_id": user_id, "result": "skipped", "reason": "not_found"})
        elif user.status != UserStatus.PENDING_ACTIVATION:
            results.append({"user_id": user_id, "result": "skipped", "reason": str(user.status)})
        else:
            pending.append(user)
            results.append({"user_id": user_id, "result": "sent"})
    head = {"account_id": account_id, "requested_by": actor.id}
    uow.publish_many(
        (RESEND, {**head, "user_ids": [user.id for user in part]}) for part in split(pending)
    )
    repo.add_audits(
        uow.session,
        [
            audit_entry(
                uow,
                "activation_sent",
                actor=actor,
                account_id=account_id,
                user_id=user.id,
                target=user.email,
            )
            for user in pending
        ],
    )
    sent = len(pending)
    return {"sent": sent, "skipped": len(results) - sent, "results": results}


def resend_activation_batch(uow: IdentityUnitOfWork, envelope: Envelope) -> None:
    """identity.resend_activations: a new activation link for each of the command's users still
    pending (one activated meanwhile is left alone), in one identity.links.issued."""
    data = envelope.data
    found = repo.users_of_account(uow.session, data["account_id"], data["user_ids"])
    pending = [
        found[user_id]
        for user_id in dict.fromkeys(data["user_ids"])
        if user_id in found and found[user_id].status == UserStatus.PENDING_ACTIVATION
    ]
    issue_links(uow, pending, "activation", resent=True, requested_by=data.get("requested_by"))
