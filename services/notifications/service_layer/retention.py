"""How long the delivery log and the built-in mailbox are kept: PORTICO_MAIL_KEEP_DAYS.

An `outgoing` row that was sent, or failed for good, is deleted that many days (90 by default)
after it was queued; a row still waiting (queued, sending, retrying) never is. The built-in
mailbox's e-mails go that many days after they were sent. 0 keeps everything. The worker sweeps
at start, then hourly, a few thousand rows per transaction (bus.retention.delete_in_batches).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from threading import Event
from typing import TYPE_CHECKING

from bus.periodic import periodic
from bus.retention import SWEEP_SECONDS
from services.notifications.adapters import repository as repo

if TYPE_CHECKING:
    from services.notifications.service_layer.unit_of_work import MailPart

log = logging.getLogger(__name__)


def forget_old_mail(part: MailPart) -> dict[str, int]:
    """Delete what is past the period; how many rows of each table went."""
    days = part.config.keep_days
    if days == 0:
        return {"outgoing": 0, "mailbox": 0}
    cutoff = part.clock.now() - timedelta(days=days)
    deleted = repo.forget_mail_before(part.engine, cutoff)
    if any(deleted.values()):
        log.info("notifications: deleted %s older than %s", deleted, cutoff)
    return deleted


def retention_loop(part: MailPart) -> Callable[[Event], None]:
    sweep = periodic(
        "notifications: mail retention sweep", lambda: forget_old_mail(part), SWEEP_SECONDS
    )

    def run(stop: Event) -> None:
        sweep(stop)

    return run
