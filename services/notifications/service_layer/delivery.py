"""The delivery loop: claim due outgoing rows, render, send, record the outcome.

Rows are claimed in batches (SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL, so replicas share
the queue) and marked `sending` with a lease before anything is sent; outcomes are written in
batches (at the end of a batch, and at least every `mark_every_seconds` while one is sent). One
SMTP connection carries every message of a loop. Without PORTICO_SMTP_URL the e-mails go to the
mailbox table, in the same transaction that marks them sent.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING

from prometheus_client import Counter

from services.notifications.adapters import repository as repo
from services.notifications.adapters.smtp import (
    PermanentFailure,
    SmtpFailure,
    SmtpSender,
    TemporaryFailure,
)
from services.notifications.domain.mail import message_key
from services.notifications.domain.records import Ended, KeptMail, Outcomes, OutgoingMail, Sent
from services.notifications.domain.rendering import RenderedEmail, RenderingError, build_message

if TYPE_CHECKING:
    from services.notifications.service_layer.unit_of_work import MailPart

log = logging.getLogger(__name__)

MAILS = Counter(
    "portico_mail_deliveries_total", "Outgoing e-mails by outcome of an attempt", ["outcome"]
)
MAX_PAUSE_SECONDS = 60.0


class DeliveryLoop:
    """Sends a part's outgoing rows; `deliver_due()` does one batch, `run(stop)` loops."""

    def __init__(self, part: MailPart, *, sender: SmtpSender | None = None) -> None:
        self.part = part
        self.config = part.config
        self.wake = part.wakeup.subscribe()
        if sender is None and self.config.smtp_url:
            sender = SmtpSender.from_url(self.config.smtp_url)
        self.sender = sender
        self.pause = 0.0  # after the SMTP server itself failed: wait before the next claim
        self._server_failures = 0

    # -- one batch ------------------------------------------------------------------------------

    def deliver_due(self) -> int:
        """Claim, send and record up to one batch of due rows; how many were claimed."""
        token, rows = self._claim()
        if not rows:
            return 0
        if self.sender is None:
            self._keep_in_mailbox(token, rows)
        else:
            self._send(token, rows, self.sender)
        return len(rows)

    def drain(self) -> int:
        """Deliver until nothing is due (tests, benchmarks); how many rows were claimed."""
        total = 0
        while True:
            count = self.deliver_due()
            total += count
            if count == 0 or self.pause:
                return total

    def _claim(self) -> tuple[str, list[OutgoingMail]]:
        now = self.part.clock.now()
        token = uuid.uuid4().hex
        rows = repo.claim_due(self.part.engine, now, self.config.batch_size, token,
                              self._lease(now))
        return token, rows

    def _keep_in_mailbox(self, token: str, rows: list[OutgoingMail]) -> None:
        now = self.part.clock.now()
        outcomes = Outcomes()
        for row in rows:
            try:
                rendered, message = self._compose(row, now)
            except (RenderingError, ValueError) as error:
                self._fail(outcomes, row, f"rendering failed: {error}")
                continue
            outcomes.kept.append(KeptMail(
                outgoing_id=row.id,
                message_id=str(message["Message-ID"]),
                recipient=row.recipient,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                attachments=row.attachments,
                sent_at=now,
            ))
            self._sent(outcomes, row, rendered, message)
        self._record(token, outcomes, now)

    def _send(self, token: str, rows: list[OutgoingMail], sender: SmtpSender) -> None:
        outcomes = Outcomes()
        last_mark = time.monotonic()
        for index, row in enumerate(rows):
            now = self.part.clock.now()
            try:
                rendered, message = self._compose(row, now)
            except (RenderingError, ValueError) as error:
                self._fail(outcomes, row, f"rendering failed: {error}")
                continue
            try:
                sender.send(message)
            except PermanentFailure as failure:
                self._fail(outcomes, row, _answer(failure))
            except TemporaryFailure as failure:
                self._retry(outcomes, row, _answer(failure), now)
                if failure.code is None or failure.code == 421:  # the server, not this message
                    outcomes.released = [later.id for later in rows[index + 1:]]
                    self._server_failed(failure)
                    break
            except Exception as error:  # noqa: BLE001 - an unexpected error must not lose the row
                log.exception("sending outgoing e-mail %s failed", row.id)
                self._retry(outcomes, row, f"{type(error).__name__}: {error}", now)
            else:
                self._sent(outcomes, row, rendered, message)
                self._server_failures, self.pause = 0, 0.0
            if time.monotonic() - last_mark >= self.config.mark_every_seconds:
                self._record(token, outcomes, now, extend=True)
                outcomes, last_mark = Outcomes(), time.monotonic()
        self._record(token, outcomes, self.part.clock.now())

    def _compose(self, row: OutgoingMail, now: datetime) -> tuple[RenderedEmail, EmailMessage]:
        rendered = self.part.renderer.render(row.template, row.language, row.context)
        attachments = [
            (item["filename"], item["content"].encode("utf-8"), item["mimetype"])
            for item in row.attachments or ()
        ]
        message = build_message(
            rendered,
            sender=self.config.mail_from,
            to=row.recipient,
            attachments=attachments,
            message_id=message_key(row.event_id, row.template, row.recipient),
            date=now,
        )
        return rendered, message

    # -- outcomes ---------------------------------------------------------------------------------

    def _sent(
        self, outcomes: Outcomes, row: OutgoingMail, rendered: RenderedEmail,
        message: EmailMessage,
    ) -> None:
        MAILS.labels("sent").inc()
        outcomes.sent.append(
            Sent(row.id, rendered.subject[:500], str(message["Message-ID"])[:255])
        )

    def _fail(self, outcomes: Outcomes, row: OutgoingMail, answer: str) -> None:
        MAILS.labels("failed").inc()
        log.warning("outgoing e-mail %s (%s to %s) failed: %s", row.id, row.template,
                    row.recipient, answer)
        outcomes.ended.append(Ended(row.id, "failed", answer, row.next_attempt_at))

    def _retry(self, outcomes: Outcomes, row: OutgoingMail, answer: str, now: datetime) -> None:
        attempts = row.attempts + 1
        if attempts >= self.config.max_attempts:
            self._fail(outcomes, row, f"{answer} (gave up after {attempts} attempts)")
            return
        MAILS.labels("retrying").inc()
        wait = timedelta(seconds=self.config.backoff_seconds(attempts))
        outcomes.ended.append(Ended(row.id, "retrying", answer, now + wait))

    def _server_failed(self, failure: SmtpFailure) -> None:
        self._server_failures += 1
        self.pause = min(self.config.poll_seconds * 2 ** self._server_failures, MAX_PAUSE_SECONDS)
        log.warning("SMTP server unavailable (%s); pausing deliveries for %.1fs",
                    failure, self.pause)

    def _record(self, token: str, outcomes: Outcomes, now: datetime, *,
                extend: bool = False) -> None:
        """Write a claim's outcomes (and its mailbox rows) in one transaction."""
        if not outcomes and not extend:
            return
        lease_until = self._lease(now) if extend else None  # the rest of the claim stays ours
        repo.record_outcomes(self.part.engine, token, outcomes, now, lease_until=lease_until)

    def _lease(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.config.lease_seconds)

    # -- the thread -------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Deliver until `stop` is set: at once when woken after a commit, else every poll."""
        outages = 0
        try:
            while not stop.is_set():
                try:
                    count = self.deliver_due()
                    outages = 0
                except Exception:  # noqa: BLE001 - a database outage must not end the loop
                    outages += 1
                    delay = min(self.config.poll_seconds * 2**outages, MAX_PAUSE_SECONDS)
                    log.exception("delivery loop: claiming or recording failed; retry in %.1fs",
                                  delay)
                    stop.wait(delay)
                    continue
                if self.pause:
                    stop.wait(self.pause)
                    self.pause = 0.0
                    continue
                if count >= self.config.batch_size:
                    continue
                if count == 0 and self.sender is not None:
                    self.sender.close()  # idle: do not hold a connection to the server
                self.wake.wait(self.config.poll_seconds)
                self.wake.clear()
        finally:
            if self.sender is not None:
                self.sender.close()


def _answer(failure: SmtpFailure) -> str:
    """The server's answer as shown in /internal/deliveries: code, text, refused recipient."""
    return str(failure)[:1000]
