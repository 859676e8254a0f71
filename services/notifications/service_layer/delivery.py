"""The delivery loop: claim due outgoing rows, render them, send them over a pool of SMTP
connections, record each outcome.

Rows are claimed in batches (SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL, so replicas share
the queue) and marked `sending` with a lease before anything is sent. Each e-mail of the batch
is rendered (each template compiled once, by the renderer's Jinja environments) and put on the
batch's queue, which `PORTICO_MAIL_CONNECTIONS` connections take from, one thread each, many
messages per connection: the first ones are on their way while the rest are rendered. The
thread of a connection marks its e-mail `sent` (one statement; on PostgreSQL over one database
connection it keeps for the batch, whose commits do not wait for the disk,
repository.marks_engine and repository.SentMarks) as soon as the server has accepted it,
before it starts the next one: a crash leaves at most one e-mail per
connection accepted by the server and not marked (sent again, with the same Message-ID, when
the lease ends); a mark the database refused is written again before the next claim. Nothing
is sent once the claim's lease may have ended (a process paused past it, or unable to extend
it): another replica may have claimed those rows. The other outcomes (failures, retries, rows put back) are written by the
loop's own thread as they come. Without PORTICO_SMTP_URL the e-mails go to the mailbox table,
in the same transaction that marks them sent.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from concurrent.futures import Future, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import partial
from typing import TYPE_CHECKING

from prometheus_client import Counter

from services.notifications.adapters import repository as repo
from services.notifications.adapters.mime import message_id_header, smtp_envelope
from services.notifications.adapters.smtp import (
    PermanentFailure,
    SmtpEnvelope,
    SmtpFailure,
    SmtpPool,
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
_SENT = MAILS.labels("sent")  # one per e-mail: the labelled child looked up once


@dataclass(frozen=True, slots=True)
class _Ready:
    """A claimed row, rendered and made into what the SMTP transaction carries."""

    row: OutgoingMail
    subject: str
    message_id: str
    envelope: SmtpEnvelope


class _Ledger:
    """The outcomes of one claim as the sending threads report them.

    A thread marks its e-mails sent itself (`sent`); the other outcomes it `add`s, and the
    loop's thread `take`s them and writes them, one transaction at a time.
    """

    def __init__(self, expected: int) -> None:
        self._changed = threading.Condition()
        self._pending = Outcomes()
        self._settled = 0
        self._expected = expected
        self.server_failure: SmtpFailure | None = None  # the server failed: stop sending
        self.marks_failed: BaseException | None = None  # a mark was not written: stop sending
        self.sent = 0
        # time.monotonic() past which the claim's lease may have ended: its rows may be another
        # replica's (this process was paused, or could not extend it): nothing more is sent
        self.fence = float("inf")

    def add(self, outcome: Ended | int) -> None:
        """Add an Ended (failed, retrying), or the id of a row released untouched."""
        with self._changed:
            if isinstance(outcome, Ended):
                self._pending.ended.append(outcome)
            else:
                self._pending.released.append(outcome)
            self._settled += 1
            self._changed.notify_all()

    def settled(self, *, sent: bool) -> None:
        """A row is done with outside the ledger: marked sent, or left claimed. The loop's
        thread is woken only when the claim is all settled (nothing for it to write)."""
        with self._changed:
            self.sent += sent
            self._settled += 1
            if self._settled >= self._expected:
                self._changed.notify_all()

    def take(self, timeout: float) -> tuple[Outcomes, bool]:
        """Wait (at most `timeout`) for outcomes to write; (them, whether every row of the claim
        is settled)."""
        with self._changed:
            if not self._pending and self._settled < self._expected:
                self._changed.wait(timeout)
            outcomes, self._pending = self._pending, Outcomes()
            return outcomes, self._settled >= self._expected

    @property
    def stopped(self) -> bool:
        return (
            self.server_failure is not None
            or self.marks_failed is not None
            or time.monotonic() >= self.fence
        )


class DeliveryLoop:
    """Sends a part's outgoing rows; `deliver_due()` does one batch, `run(stop)` loops."""

    def __init__(self, part: MailPart, *, pool: SmtpPool | None = None) -> None:
        self.part = part
        self.config = part.config
        self.wake = part.wakeup.subscribe()
        if pool is None and self.config.smtp_url:
            pool = SmtpPool.from_url(self.config.smtp_url, self.config.connections)
        self.pool = pool
        # the connections' marks commit without waiting for the disk (repository.marks_engine)
        self.marks = (
            repo.marks_engine(part.engine, self.config.connections) if pool else part.engine
        )
        self.pause = 0.0  # after the SMTP server itself failed: wait before the next claim
        self._server_failures = 0
        # e-mails the server accepted whose mark could not be written (the database was away):
        # marked before anything else is claimed, so that their lease does not send them again
        self._unmarked: list[tuple[str, Sent]] = []

    # -- one batch ------------------------------------------------------------------------------

    def deliver_due(self) -> int:
        """Claim, send and record up to one batch of due rows; how many were claimed."""
        self._mark_unmarked()
        claimed_at = time.monotonic()
        token, rows = self._claim()
        if not rows:
            return 0
        if self.pool is None:
            self._keep_in_mailbox(token, rows)
        else:
            self._send(token, rows, self.pool, self._fence(claimed_at))
        return len(rows)

    def _mark_unmarked(self) -> None:
        """Mark the e-mails sent whose marks failed (raises while the database is still away)."""
        while self._unmarked:
            token, sent = self._unmarked[0]
            repo.record_outcomes(
                self.part.engine, token, Outcomes(sent=[sent]), self.part.clock.now()
            )
            self._unmarked.pop(0)

    def _fence(self, since: float) -> float:
        """The monotonic time until which a claim or extension made at `since` surely holds."""
        lease = self.config.lease_seconds
        return since + lease - min(1.0, lease / 10)

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
        rows = repo.claim_due(
            self.part.engine, now, self.config.batch_size, token, self._lease(now)
        )
        return token, rows

    def _keep_in_mailbox(self, token: str, rows: list[OutgoingMail]) -> None:
        now = self.part.clock.now()
        outcomes = Outcomes()
        for row in rows:
            try:
                rendered, message = self._compose(row, now)
            except (RenderingError, ValueError) as error:
                outcomes.ended.append(self._failed(row, f"rendering failed: {error}"))
                continue
            outcomes.kept.append(
                KeptMail(
                    outgoing_id=row.id,
                    message_id=str(message["Message-ID"]),
                    recipient=row.recipient,
                    subject=rendered.subject,
                    text=rendered.text,
                    html=rendered.html,
                    attachments=row.attachments,
                    sent_at=now,
                )
            )
            outcomes.sent.append(self._sent(row, rendered.subject, str(message["Message-ID"])))
        self._record(token, outcomes, now)

    def _compose(self, row: OutgoingMail, now: datetime) -> tuple[RenderedEmail, EmailMessage]:
        rendered = self.part.renderer.render(row.template, row.language, row.context)
        message = build_message(
            rendered,
            sender=self.config.mail_from,
            to=row.recipient,
            attachments=_attachments(row),
            message_id=message_key(row.event_id, row.template, row.recipient),
            date=now,
        )
        return rendered, message

    # -- over SMTP --------------------------------------------------------------------------------

    def _send(
        self, token: str, rows: list[OutgoingMail], pool: SmtpPool, fence: float = float("inf")
    ) -> None:
        """Render the batch and send it over the pool, each e-mail handed to a connection as soon
        as it is rendered (the connections send the first ones while the rest are rendered);
        write the outcomes as they come. Nothing is sent past `fence` (the claim's lease may have
        ended: another replica sends its rows)."""
        ledger = _Ledger(len(rows))
        ledger.fence = fence
        futures: list[Future[None]] = []
        work: queue.SimpleQueue[_Ready | None] = queue.SimpleQueue()
        try:
            try:
                self._submit_as_rendered(token, rows, pool, ledger, work, futures)
            finally:
                for _ in futures:
                    work.put(None)  # each connection's thread ends once the batch is taken
            self._write_as_they_come(token, ledger)
        except BaseException:
            ledger.marks_failed = ledger.marks_failed or RuntimeError("recording failed")
            wait(futures)
            raise
        if ledger.marks_failed is not None:
            raise ledger.marks_failed
        if ledger.server_failure is not None:
            self._server_failed(ledger.server_failure)
        elif ledger.sent:
            self._server_failures, self.pause = 0, 0.0

    def _submit_as_rendered(
        self,
        token: str,
        rows: list[OutgoingMail],
        pool: SmtpPool,
        ledger: _Ledger,
        work: queue.SimpleQueue[_Ready | None],
        futures: list[Future[None]],
    ) -> None:
        """Render each row and put it on `work`, which the pool's connections take from, one
        thread each (as many as the pool has, or the claim has rows). The first connection is
        opened before the first e-mail goes: a server that is down costs one attempt (that
        e-mail is retried, the rest of the claim goes back to the queue untouched)."""
        now = self.part.clock.now()
        senders = min(pool.size, len(rows))
        for index, row in enumerate(rows):
            item = self._prepare(row, ledger, now)
            if item is None:
                continue
            if not futures:
                try:
                    pool.connect()
                except TemporaryFailure as failure:
                    ledger.add(self._retried(row, _answer(failure), self.part.clock.now()))
                    for other in rows[index + 1 :]:
                        ledger.add(other.id)
                    ledger.server_failure = failure
                    return
            work.put(item)
            if len(futures) < senders:
                futures.append(pool.submit(partial(self._send_taken, token, ledger), work))

    def _send_taken(
        self,
        token: str,
        ledger: _Ledger,
        sender: SmtpSender,
        work: queue.SimpleQueue[_Ready | None],
    ) -> None:
        """On a thread of the pool: send the e-mails taken from `work` over `sender`'s
        connection, one at a time, each marked before the next (over one marks connection
        kept for the batch), until the batch's end (None)."""
        marks = repo.SentMarks(self.marks)
        try:
            while (item := work.get()) is not None:
                try:
                    self._send_one(token, ledger, marks, sender, item)
                except Exception:  # noqa: BLE001 - a bug: the row stays claimed (its lease)
                    log.exception("a send of the SMTP pool failed")
                    ledger.settled(sent=False)
        finally:
            marks.close()

    def _prepare(self, row: OutgoingMail, ledger: _Ledger, now: datetime) -> _Ready | None:
        """Render one row of the claim; a row that cannot be rendered fails with the reason."""
        try:
            rendered = self.part.renderer.render(row.template, row.language, row.context)
            message_id = message_key(row.event_id, row.template, row.recipient)
            envelope = smtp_envelope(
                rendered,
                sender=self.config.mail_from,
                to=row.recipient,
                message_id=message_id,
                date=now,
                attachments=_attachments(row),
            )
        except (RenderingError, ValueError) as error:
            ledger.add(self._failed(row, f"rendering failed: {error}"))
            return None
        header = message_id_header(message_id, self.config.mail_from)
        return _Ready(row, rendered.subject, header, envelope)

    def _send_one(
        self,
        token: str,
        ledger: _Ledger,
        marks: repo.SentMarks,
        sender: SmtpSender,
        item: _Ready,
    ) -> None:
        """On a thread of the pool: send one e-mail over `sender`'s connection; mark it sent at
        once (before this connection carries another), or add what happened to the ledger."""
        row = item.row
        if ledger.stopped:
            ledger.add(row.id)  # back to the queue untouched
            return
        try:
            sender.send_envelope(item.envelope)
        except PermanentFailure as failure:
            ledger.add(self._failed(row, _answer(failure)))
            return
        except TemporaryFailure as failure:
            ledger.add(self._retried(row, _answer(failure), self.part.clock.now()))
            if failure.code is None or failure.code == 421:  # the server, not this message
                ledger.server_failure = ledger.server_failure or failure
            return
        except Exception as error:  # noqa: BLE001 - an unexpected error must not lose the row
            log.exception("sending outgoing e-mail %s failed", row.id)
            answer = f"{type(error).__name__}: {error}"
            ledger.add(self._retried(row, answer, self.part.clock.now()))
            return
        sent = self._sent(row, item.subject, item.message_id)
        try:
            marks.mark(token, sent, self.part.clock.now())
        except Exception as error:  # noqa: BLE001 - the database: stop sending, mark it later
            log.exception("outgoing e-mail %s was sent and could not be marked yet", row.id)
            self._unmarked.append((token, sent))
            ledger.marks_failed = ledger.marks_failed or error
            ledger.settled(sent=False)
            return
        ledger.settled(sent=True)

    def _write_as_they_come(self, token: str, ledger: _Ledger) -> None:
        """Write the claim's other outcomes as the threads add them, until every row is
        settled; the claim's lease is extended at least every mark_every_seconds."""
        every = self.config.mark_every_seconds
        extended = time.monotonic()
        while True:
            outcomes, settled = ledger.take(every)
            # past the fence the claim is not extended: its rows may be another replica's now
            extend = not settled and time.monotonic() - extended >= every and not ledger.stopped
            if outcomes or extend:
                before = time.monotonic()
                self._record(token, outcomes, self.part.clock.now(), extend=extend)
                if extend:
                    extended = time.monotonic()
                    ledger.fence = self._fence(before)
            if settled:
                return

    # -- outcomes ---------------------------------------------------------------------------------

    def _sent(self, row: OutgoingMail, subject: str, message_id: str) -> Sent:
        _SENT.inc()
        return Sent(row.id, subject[:500], message_id[:255])

    def _failed(self, row: OutgoingMail, answer: str) -> Ended:
        MAILS.labels("failed").inc()
        log.warning(
            "outgoing e-mail %s (%s to %s) failed: %s", row.id, row.template, row.recipient, answer
        )
        return Ended(row.id, "failed", answer, row.next_attempt_at)

    def _retried(self, row: OutgoingMail, answer: str, now: datetime) -> Ended:
        attempts = row.attempts + 1
        if attempts >= self.config.max_attempts:
            return self._failed(row, f"{answer} (gave up after {attempts} attempts)")
        MAILS.labels("retrying").inc()
        wait = timedelta(seconds=self.config.backoff_seconds(attempts))
        return Ended(row.id, "retrying", answer, now + wait)

    def _server_failed(self, failure: SmtpFailure) -> None:
        self._server_failures += 1
        self.pause = min(self.config.poll_seconds * 2**self._server_failures, MAX_PAUSE_SECONDS)
        log.warning(
            "SMTP server unavailable (%s); pausing deliveries for %.1fs", failure, self.pause
        )

    def _record(
        self, token: str, outcomes: Outcomes, now: datetime, *, extend: bool = False
    ) -> None:
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
                    log.exception(
                        "delivery loop: claiming or recording failed; retry in %.1fs", delay
                    )
                    stop.wait(delay)
                    continue
                if self.pause:
                    stop.wait(self.pause)
                    self.pause = 0.0
                    continue
                if count >= self.config.batch_size:
                    continue
                if count == 0 and self.pool is not None:
                    self.pool.close()  # idle: do not hold connections to the server
                self.wake.wait(self.config.poll_seconds)
                self.wake.clear()
        finally:
            if self.pool is not None:
                self.pool.close()
            if self.marks is not self.part.engine:
                self.marks.dispose()


def _attachments(row: OutgoingMail) -> list[tuple[str, bytes, str]]:
    return [
        (item["filename"], item["content"].encode("utf-8"), item["mimetype"])
        for item in row.attachments or ()
    ]


def _answer(failure: SmtpFailure) -> str:
    """The server's answer as shown in /internal/deliveries: code, text, refused recipient."""
    return str(failure)[:1000]
