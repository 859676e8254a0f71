"""What the notifications service does with each event: update its projection, then queue the
e-mails the event calls for. Read this dict to know what happens on an event."""

from __future__ import annotations

from collections.abc import Callable

from bus.envelope import Envelope

from .compose import (
    announce_acceptance,
    announce_content,
    announce_expiry,
    announce_refusal,
    ask_administrators,
    confirm_activation,
    confirm_password_change,
    notify_email_change,
    report_import,
    report_mfa_change,
    report_mfa_policy,
    report_user_deletion,
    send_link,
    send_links,
    warn_locked_user,
)
from .recipients import (
    forget_user,
    record_account,
    record_email_change,
    record_subscription,
    record_subscriptions,
    record_user,
    record_users,
)
from .unit_of_work import NotificationsUnitOfWork

Step = Callable[[NotificationsUnitOfWork, Envelope], None]


def steps(*handlers: Step) -> Step:
    """One handler running `handlers` in order, in the same transaction."""

    def handle(uow: NotificationsUnitOfWork, event: Envelope) -> None:
        for handler in handlers:
            handler(uow, event)

    handle.__name__ = "_then_".join(handler.__name__ for handler in handlers)
    return handle


EVENT_HANDLERS: dict[str, Step] = {
    "identity.account.created": record_account,
    "identity.account.linked": record_account,
    "identity.user.created": record_user,
    "identity.user.updated": record_user,
    "identity.user.activated": steps(record_user, confirm_activation),
    "identity.user.deleted": steps(report_user_deletion, forget_user),
    "identity.user.locked": warn_locked_user,
    "identity.password.changed": confirm_password_change,
    "identity.email.changed": steps(notify_email_change, record_email_change),
    "identity.link.issued": send_link,
    "identity.mfa.changed": report_mfa_change,
    "identity.account.security_changed": report_mfa_policy,
    # Batch events of bulk commands (an import batch, a mass re-send): one transaction each.
    "identity.users.created": record_users,
    "identity.links.issued": send_links,
    "subscriptions.subscription.requested": steps(record_subscription, ask_administrators),
    "subscriptions.subscription.accepted": steps(record_subscription, announce_acceptance),
    "subscriptions.subscription.refused": steps(record_subscription, announce_refusal),
    "subscriptions.subscription.expired": steps(record_subscription, announce_expiry),
    "subscriptions.subscription.cancelled": record_subscription,
    "subscriptions.subscriptions.accepted": record_subscriptions,
    "importer.import.finished": report_import,
    "content.published": announce_content,
}
