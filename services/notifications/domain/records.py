"""What the service knows and works with: accounts, users and their holdings as the events told
them, outgoing e-mails and their outcomes, and the e-mails of the built-in mailbox.

Plain values, no I/O: `adapters/repository.py` builds them from rows and stores them, the
service layer decides with them, the entry points shape them into JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .mail import REACHABLE, Recipient

# Statuses of an outgoing e-mail; those a delivery loop may claim: waiting, waiting again, or
# claimed by a loop whose lease ran out (`next_attempt_at` then holds the end of the lease).
STATUSES = ("queued", "sending", "retrying", "sent", "failed")
PENDING = ("queued", "retrying", "sending")

Attachment = dict[str, str]  # {filename, mimetype, content}


# -- the projection ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Account:
    """A client account as identity announced it (its name is in some e-mails)."""

    id: str
    number: str | None
    name: str | None
    parent_id: str | None = None
    relation: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    """A user as identity's (or a subscription's) events described them; a deleted user stays as
    a tombstone, status "deleted", without personal data."""

    user_id: str
    account_id: str
    status: str
    email: str | None = None
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    language: str | None = None

    def recipient(self) -> Recipient | None:
        """This user as someone to write to; None when deleted or without an address."""
        if not self.email or self.status not in REACHABLE:
            return None
        return Recipient(self.email, self.full_name, self.language, self.user_id)


@dataclass(frozen=True, slots=True)
class Holding:
    """A subscription that matters here: to an account's administration (or supervision)
    service, or to a service that `notifies` of a content kind."""

    subscription_id: str
    user_id: str
    account_id: str
    service_code: str
    status: str
    administers_account_id: str | None = None
    supervises: bool = False
    notifies: str | None = None
    expires_on: date | None = None
    changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Administrator:
    """A current holder of an account's administration service, or of its supervision."""

    user: User
    supervises: bool


# -- outgoing e-mails ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueuedMail:
    """One e-mail an event calls for: (event, recipient, template) is its key."""

    event_id: str
    event_type: str
    template: str
    recipient: str
    user_id: str | None
    language: str | None
    context: dict[str, Any]
    attachments: list[Attachment] | None = None


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """An outgoing e-mail a delivery loop has claimed: what it needs to render and send it."""

    id: int
    event_id: str
    template: str
    recipient: str
    language: str | None
    context: dict[str, Any]
    attachments: list[Attachment] | None
    attempts: int
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """An outgoing e-mail as the delivery log shows it (without its context and attachments)."""

    id: int
    event_id: str
    event_type: str
    template: str
    recipient: str
    user_id: str | None
    language: str | None
    status: str
    attempts: int
    last_answer: str | None
    next_attempt_at: datetime | None
    subject: str | None
    message_id: str | None
    created_at: datetime
    sent_at: datetime | None

    @property
    def waiting(self) -> bool:
        return self.status in ("queued", "retrying")


@dataclass(frozen=True, slots=True)
class Sent:
    """The server took the e-mail (or the mailbox kept it)."""

    id: int
    subject: str
    message_id: str


@dataclass(frozen=True, slots=True)
class Ended:
    """An attempt that did not send: `failed` for good, or `retrying` at `next_attempt_at`."""

    id: int
    status: str
    answer: str
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class KeptMail:
    """An e-mail of the built-in mailbox: kept instead of sent when no SMTP server is set."""

    recipient: str
    subject: str
    sent_at: datetime
    message_id: str = ""
    text: str = ""
    html: str = ""
    attachments: list[Attachment] | None = None
    outgoing_id: int | None = None
    id: int | None = None  # given by the database


@dataclass
class Outcomes:
    """What happened to the e-mails of one claim, waiting to be written in one transaction."""

    sent: list[Sent] = field(default_factory=list)
    ended: list[Ended] = field(default_factory=list)  # failed or retrying
    released: list[int] = field(default_factory=list)  # back to the queue untouched
    kept: list[KeptMail] = field(default_factory=list)  # into the mailbox

    def __bool__(self) -> bool:
        return bool(self.sent or self.ended or self.released)
