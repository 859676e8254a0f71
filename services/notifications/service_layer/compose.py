"""Event → outgoing rows: who gets which e-mail, with which context.

Handlers only INSERT into the outgoing queue, inside the consumer's transaction, so the rows and
the message's receipt commit together; the delivery loop renders and sends them later. An event
that names nobody we can write to, or an e-mail we do not have, is rejected (dead-lettered with
the reason); a known user without an address (status no_email, or deleted) is skipped.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from bus.consumer import Reject
from bus.envelope import Envelope
from services.notifications.adapters import repository as repo
from services.notifications.domain.catalog import TEMPLATES
from services.notifications.domain.mail import (
    Recipient,
    acceptance_template,
    anomalies_by_line,
    full_name,
    json_safe,
    reason_text,
    report_csv,
)
from services.notifications.domain.records import QueuedMail

from .recipients import administrators_of, holders_of
from .unit_of_work import NotificationsUnitOfWork

log = logging.getLogger(__name__)

# identity.link.issued: the e-mail of each link purpose.
LINK_TEMPLATES = {
    "activation": "activation",
    "reset": "password_reset",
    "email_change": "email_change_confirmation",
}
REPORT_FILENAME = "import-report.csv"


# -- identity ---------------------------------------------------------------------------------


def link_template(data: dict[str, Any]) -> str:
    """The template of a link's e-mail (a single link event, or one link of a batch)."""
    purpose = data["purpose"]
    template = LINK_TEMPLATES.get(purpose)
    if template is None:
        raise Reject(f"no e-mail is known for links of purpose {purpose!r}")
    if purpose == "activation" and data.get("resent"):
        return "activation_resent"
    return template


def send_link(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.link.issued: activation (or its resending), password reset, e-mail change."""
    data = event.data
    purpose = data["purpose"]
    template = link_template(data)
    address = (data.get("recipient") or "").strip()
    if not address:
        raise Reject(f"the {purpose} link of user {data['user_id']} has no recipient address")
    known = repo.get_user(uow.session, data["user_id"])
    name = data.get("recipient_name") or (known.full_name if known else None)
    to = Recipient(address, name, data["language"], data["user_id"])
    context: dict[str, Any] = {"link_url": data["link_url"], "expires_at": data["expires_at"]}
    if purpose == "activation":
        context.update(
            email=address, account_name=repo.account_name(uow.session, data["account_id"])
        )
    elif purpose == "email_change":
        context.update(new_email=address, old_email=data.get("old_email"))
    queue_mail(uow, event, template, [to], context)


def send_links(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.links.issued: one e-mail per link of the batch, queued in one insert.

    The receipt is the outgoing row of (event id, recipient): a redelivered batch, or one whose
    first try stopped half-way, queues nobody twice. A link without an address cannot be sent:
    the rest of the batch goes through and that link is kept as a failed delivery saying why
    (the operator's deliveries list, and portico_emails_failed), never dropped in silence.
    """
    data = event.data
    purpose = data["purpose"]
    template = link_template(data)
    spec = TEMPLATES[template]
    account_name = repo.account_name(uow.session, data["account_id"])
    now = uow.now()
    mails: dict[str, QueuedMail] = {}
    unsendable: list[QueuedMail] = []
    for link in data["links"]:
        address = (link.get("recipient") or "").strip()
        context: dict[str, Any] = {
            "link_url": link["link_url"],
            "expires_at": link["expires_at"],
            "recipient_name": link.get("recipient_name"),
        }
        if purpose == "activation":
            context.update(email=address, account_name=account_name)
        mail = QueuedMail(
            event_id=event.id,
            event_type=event.type,
            template=template,
            recipient=address,
            user_id=link["user_id"],
            language=link["language"],
            context=json_safe(context),
            attachments=None,
        )
        missing = [key for key in spec.required if context.get(key) is None]
        if not address or missing:
            why = "no recipient address" if not address else f"lacks {', '.join(missing)}"
            log.error(
                "%s %s: the %s link of user %s %s; kept as a failed delivery",
                event.type,
                event.id,
                purpose,
                link["user_id"],
                why,
            )
            unsendable.append(
                dataclasses.replace(
                    mail, recipient=address or f"(none: user {link['user_id']})", context={}
                )
            )
            continue
        mails.setdefault(address.lower(), mail)
    repo.queue_mails(uow.session, mails.values(), now)
    repo.queue_failed(
        uow.session,
        unsendable,
        now,
        "The link cannot be e-mailed: "
        "the user has no address (ask identity to issue it again once they do).",
    )
    uow.queued += len(mails)


def confirm_activation(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.user.activated: the account works now."""
    to = recipient_of(uow, event, event.data["user_id"])
    if to is not None:
        queue_mail(uow, event, "account_activated", [to], {"email": to.address})


def confirm_password_change(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.password.changed: tell the user (not at activation: that has its own e-mail)."""
    if event.data.get("via") == "activation":
        return
    to = recipient_of(uow, event, event.data["user_id"])
    if to is not None:
        queue_mail(uow, event, "password_changed", [to], {"changed_at": event.occurred_at})


def warn_locked_user(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.user.locked: the sign-in is locked after failures; say until when and how out."""
    to = recipient_of(uow, event, event.data["user_id"])
    if to is not None:
        context = {"email": to.address, "locked_until": event.data.get("until")}
        queue_mail(uow, event, "login_locked", [to], context)


def report_mfa_change(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.mfa.changed: the user learns of every change of their second factors."""
    data = event.data
    to = recipient_of(uow, event, data["user_id"])
    if to is not None:
        context = {
            "change": data["change"],
            "changed_at": event.occurred_at,
            "passkey_name": data.get("name"),
            "recovery_codes_left": data.get("recovery_codes_left"),
        }
        queue_mail(uow, event, "mfa_changed", [to], context)


def report_mfa_policy(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.account.security_changed: every administrator of the account is told."""
    data = event.data
    admins = administrators_of(uow, data["account_id"], uow.today())
    if not admins:
        log.info("no administrator of account %s is known: no e-mail", data["account_id"])
        return
    context = {
        "account_name": repo.account_name(uow.session, data["account_id"]),
        "mfa_required_for": data["mfa_required_for"],
        "changed_at": event.occurred_at,
    }
    queue_mail(uow, event, "mfa_policy_changed", admins, context)


def notify_email_change(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.email.changed: the OLD address learns that the login changed."""
    data = event.data
    old = (data.get("old_email") or "").strip()
    if not old:
        raise Reject(f"the e-mail change of user {data['user_id']} has no old address")
    known = repo.get_user(uow.session, data["user_id"])
    if known is not None and known.status == "deleted":
        return
    to = Recipient(
        old, known.full_name if known else None, known.language if known else None, data["user_id"]
    )
    context = {"old_email": old, "new_email": data["new_email"]}
    queue_mail(uow, event, "email_change_notice", [to], context)


def report_user_deletion(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """identity.user.deleted: the administrator who deleted the user gets a confirmation."""
    data = event.data
    deleted_by = data.get("deleted_by")
    if (
        not deleted_by
        or deleted_by in ("operator", data["user_id"])
        or deleted_by.startswith("scim:")
    ):
        return  # the operator, the user themselves or a directory (SCIM): no administrator to tell
    to = recipient_of(uow, event, deleted_by)
    if to is None:
        return
    context = {
        "user_name": full_name(data.get("first_name"), data.get("last_name"))
        or data.get("email")
        or data["user_id"],
        "user_email": data.get("email") or "",
        "account_name": repo.account_name(uow.session, data["account_id"]),
        "deleted_at": event.occurred_at,
    }
    queue_mail(uow, event, "user_deleted", [to], context)


# -- subscriptions ------------------------------------------------------------------------------


def ask_administrators(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """subscriptions.subscription.requested (pending): every administrator of the account."""
    data = event.data
    if data["status"] != "pending":
        return
    requester = repo.get_user(uow.session, data["user_id"])
    requester_email = data.get("user_email") or (requester.email if requester else None)
    if not requester_email:
        raise Reject(f"the request of user {data['user_id']} names nobody we know")
    admins = administrators_of(uow, data["account_id"], uow.today())
    others = [admin for admin in admins if admin.user_id != data["user_id"]]
    if not admins:
        raise Reject(f"no administrator of account {data['account_id']} is known to notifications")
    context = {
        "requester_name": data.get("user_name")
        or (requester.full_name if requester else None)
        or requester_email,
        "requester_email": requester_email,
        "service_title": data["service_title"],
        "validation_url": uow.config.validation_url,
        "account_name": data.get("account_name")
        or repo.account_name(uow.session, data["account_id"]),
        "requested_at": data.get("requested_at") or event.occurred_at,
    }
    queue_mail(uow, event, "request_pending", others or admins, context)


def announce_acceptance(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """subscriptions.subscription.accepted: at once, or a pending request accepted."""
    data = event.data
    template = acceptance_template(data)
    if template is None:
        return
    to = subscriber(uow, event)
    if to is not None:
        context = {"service_title": data["service_title"], "expires_on": data.get("expires_on")}
        if template == "request_accepted":
            context["decided_by_name"] = data.get("decided_by_name")
        queue_mail(uow, event, template, [to], context)


def announce_refusal(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """subscriptions.subscription.refused: the requester, with the administrator's reason."""
    data = event.data
    to = subscriber(uow, event)
    if to is not None:
        context = {
            "service_title": data["service_title"],
            "reason": data.get("reason"),
            "decided_by_name": data.get("decided_by_name"),
        }
        queue_mail(uow, event, "request_refused", [to], context)


def announce_expiry(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """subscriptions.subscription.expired: the subscriber, with the day it ended."""
    data = event.data
    to = subscriber(uow, event)
    if to is not None:
        context = {
            "service_title": data["service_title"],
            "expired_on": data.get("expires_on") or event.occurred_at[:10],
        }
        queue_mail(uow, event, "subscription_expired", [to], context)


# -- importer and content -------------------------------------------------------------------------


def report_import(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """importer.import.finished: counts and every anomaly by line, with the report as CSV; the
    anomalies and a failed import's reason in the requester's language, as the rest of the
    e-mail."""
    data = event.data
    if not data.get("requested_by"):
        log.info("import %s names no requester: no e-mail", data["import_job_id"])
        return
    to = recipient_of(uow, event, data["requested_by"])
    if to is None:
        return
    anomalies = anomalies_by_line(data["anomalies"], to.language)
    context = {
        "file_name": data["filename"],
        "rows": data["rows"],
        "created": data["created"],
        "rejected": data["rejected"],
        "anomalies": anomalies,
        "finished_at": event.occurred_at,
        "failed": data.get("status") == "failed",
        "failed_reason": reason_text(data, to.language),
        "dry_run": bool(data.get("dry_run")),
        "would_create": data.get("would_create"),
        "anomalies_total": data.get("anomalies_total"),
        "report_url": _web_url(data.get("report_url"), uow.config.public_url),
    }
    report = {"filename": REPORT_FILENAME, "mimetype": "text/csv", "content": report_csv(anomalies)}
    queue_mail(uow, event, "import_finished", [to], context, attachments=[report])


def announce_content(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    """content.published: every holder of a service that notifies of this kind, once each."""
    data = event.data
    holders = holders_of(uow, data["kind"], uow.today())
    context = {"kind": data["kind"], "title": data["title"], "url": data["url"]}
    queue_mail(uow, event, "content_published", holders, context)


def _web_url(url: str | None, public_url: str) -> str | None:
    """An absolute http(s) URL for a link in an e-mail: a path is taken to be the portal's."""
    if not url:
        return None
    if url.startswith(("https://", "http://")):
        return url
    return f"{public_url}{url}" if url.startswith("/") else None


# -- shared steps -------------------------------------------------------------------------------


def recipient_of(uow: NotificationsUnitOfWork, event: Envelope, user_id: str) -> Recipient | None:
    """The user to write to; Reject when unknown, None when known but without an address."""
    known = repo.get_user(uow.session, user_id)
    if known is None:
        raise Reject(
            f"{event.type}: user {user_id} is unknown to notifications and the event carries "
            "no e-mail address"
        )
    to = known.recipient()
    if to is None:
        log.info(
            "%s %s: user %s has no address (%s); no e-mail",
            event.type,
            event.id,
            user_id,
            known.status,
        )
    return to


def subscriber(uow: NotificationsUnitOfWork, event: Envelope) -> Recipient | None:
    """The subscription's user from the projection, else from the event's own fields."""
    data = event.data
    known = repo.get_user(uow.session, data["user_id"])
    if known is not None:
        to = known.recipient()
        if to is not None:
            return Recipient(
                to.address,
                to.name or data.get("user_name"),
                to.language or data.get("user_language"),
                to.user_id,
            )
        return None
    if data.get("user_email"):
        return Recipient(
            data["user_email"], data.get("user_name"), data.get("user_language"), data["user_id"]
        )
    return recipient_of(uow, event, data["user_id"])  # rejects


def queue_mail(
    uow: NotificationsUnitOfWork,
    event: Envelope,
    template: str,
    to: Iterable[Recipient],
    context: Mapping[str, Any],
    *,
    attachments: list[dict[str, str]] | None = None,
) -> int:
    """Insert one outgoing row per recipient; a row already there (same event, recipient and
    template) is kept as it is. Returns how many rows were asked for."""
    spec = TEMPLATES.get(template)
    if spec is None:
        raise Reject(
            f"{event.type} {event.id} asks for the e-mail template {template!r}, "
            "which does not exist"
        )
    missing = [key for key in spec.required if context.get(key) is None]
    if missing:
        raise Reject(
            f"{event.type} {event.id} lacks {', '.join(missing)} for the e-mail {template!r}"
        )
    base = json_safe(dict(context))
    mails: dict[str, QueuedMail] = {}
    for recipient in to:
        if recipient.key not in mails:
            mails[recipient.key] = QueuedMail(
                event_id=event.id,
                event_type=event.type,
                template=template,
                recipient=recipient.address.strip(),
                user_id=recipient.user_id,
                language=recipient.language,
                context={**base, "recipient_name": recipient.name},
                attachments=attachments,
            )
    if mails:
        repo.queue_mails(uow.session, mails.values(), uow.now())
        uow.queued += len(mails)
    return len(mails)
