"""The idempotent consumer: validate, dispatch, commit with a receipt, then ack.

A message is acked only after its effects committed (or after it was dead-lettered), so a
crash between commit and ack means a redelivery, which the receipt turns into a no-op.
Failures are retried by republishing with an attempt counter; after `max_attempts`, or at
once for a message that can never succeed (not an envelope, breaks its contract, no handler,
or a handler raising `Reject`), the message goes to the part's dead-letter queue with the
reason in its headers, and the queue behind it keeps flowing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kombu import Exchange
from kombu.mixins import ConsumerMixin
from sqlalchemy.exc import DBAPIError, OperationalError

from bus import contracts, tracing
from bus.amqp_tuning import nothing_waiting
from bus.broker import HEADER_ATTEMPTS, HEADER_PART, HEADER_REASON, Broker, Publisher
from bus.envelope import Envelope, EnvelopeError
from bus.metrics import HANDLE_SECONDS, MESSAGES_CONSUMED, MESSAGES_DEAD_LETTERED
from bus.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, Envelope], None]

# Once a message is in hand, how long the worker waits for another before handling what it has,
# where it cannot look at the broker's socket (the in-memory transport). Over AMQP it takes what
# the socket already holds (a burst becomes one transaction) and waits for nothing more.
BATCH_GATHER_SECONDS = 0.001


class Reject(Exception):
    """Raised by a handler for a message that can never succeed: dead-letter it at once."""


class NotYet(Exception):
    """Raised by a handler whose message needs another one not applied yet (a user whose
    account's `created` event the other replica is still handling): tried again later without
    counting an attempt, while the message is younger than NOT_YET_SECONDS."""


# How long a message may wait for the one it needs; then its attempts count as failures.
NOT_YET_SECONDS = 300.0


@dataclass(frozen=True)
class Outcome:
    kind: str  # handled | duplicate | retry | dead | requeue
    reason: str = ""
    counted: bool = True  # a retry that counts as an attempt (not one of NotYet)


class MessageProcessor:
    """Transport-free core: turns one raw body into an outcome, committing effects once."""

    def __init__(
        self,
        part: str,
        uow_factory: Callable[[], UnitOfWork],
        handlers: Mapping[str, Handler],
        *,
        max_attempts: int = 5,
        after_commit: Callable[[Envelope], None] | None = None,
    ) -> None:
        self.part = part
        self.uow_factory = uow_factory
        self.handlers = dict(handlers)
        self.max_attempts = max_attempts
        self.after_commit = after_commit

    def process(self, body: Any, attempts: int = 0, traceparent: str | None = None) -> Outcome:
        """Handle one message; `traceparent` (its header) makes the handling a span of the
        trace that published it (bus.tracing)."""
        try:
            envelope = Envelope.from_body(body)
            contracts.validate(envelope.type, envelope.version, envelope.data, strict=False)
        except (EnvelopeError, contracts.ContractError) as exc:
            return self._count(Outcome("dead", f"invalid: {exc}"), "invalid")
        handler = self.handlers.get(envelope.type)
        if handler is None:
            return self._count(
                Outcome("dead", f"invalid: no handler for {envelope.type} in {self.part}"),
                envelope.type,
            )
        started = time.perf_counter()
        try:
            with self.uow_factory() as uow:
                uow.cause = envelope
                if not uow.mark_processed(envelope):
                    return self._count(Outcome("duplicate"), envelope.type)
                with tracing.consumer_span(self.part, envelope, traceparent):
                    handler(uow, envelope)
                uow.commit()
        except Reject as exc:
            return self._count(Outcome("dead", f"rejected: {exc}"), envelope.type)
        except (OperationalError, DBAPIError) as exc:
            if getattr(exc, "connection_invalidated", False) or isinstance(exc, OperationalError):
                log.warning("%s: database unavailable (%s); message requeued", self.part, exc)
                return self._count(Outcome("requeue", str(exc)), envelope.type)
            return self._failed(envelope, exc, attempts)
        except NotYet as exc:
            return self._not_yet(envelope, exc, attempts)
        except Exception as exc:  # noqa: BLE001 - a handler bug or bad data: count the attempt
            return self._failed(envelope, exc, attempts)
        finally:
            HANDLE_SECONDS.labels(self.part).observe(time.perf_counter() - started)
        if self.after_commit is not None:
            self.after_commit(envelope)
        return self._count(Outcome("handled"), envelope.type)

    def process_batch(self, items: list[tuple[Any, ...]]) -> list[Outcome]:
        """Handle several messages in ONE transaction (one receipt insert, one commit).

        If anything in the batch fails, nothing of it is kept and each message is handled on
        its own, so one bad message never holds back the others. An item is (body, attempts)
        or (body, attempts, traceparent).
        """
        if len(items) == 1:
            return [self.process(*items[0])]
        outcomes: list[Outcome | None] = [None] * len(items)
        parsed: list[tuple[int, Envelope]] = []
        for index, (body, *_rest) in enumerate(items):
            try:
                envelope = Envelope.from_body(body)
                contracts.validate(envelope.type, envelope.version, envelope.data, strict=False)
            except (EnvelopeError, contracts.ContractError):
                outcomes[index] = self.process(body)  # dead-letters it with the reason
                continue
            if envelope.type not in self.handlers:
                outcomes[index] = self.process(body)
                continue
            parsed.append((index, envelope))
        fresh: list[tuple[int, Envelope]] = []
        if parsed:
            started = time.perf_counter()
            try:
                with self.uow_factory() as uow:
                    done = uow.already_processed([envelope.id for _, envelope in parsed])
                    for index, envelope in parsed:
                        if envelope.id in done:
                            outcomes[index] = self._count(Outcome("duplicate"), envelope.type)
                        else:
                            done.add(envelope.id)
                            fresh.append((index, envelope))
                    uow.mark_processed_many([envelope for _, envelope in fresh])
                    for index, envelope in fresh:
                        uow.cause = envelope
                        with tracing.consumer_span(self.part, envelope, _traceparent(items[index])):
                            self.handlers[envelope.type](uow, envelope)
                    uow.commit()
            except Exception:  # noqa: BLE001 - fall back to one transaction per message
                log.info(
                    "%s: a batch of %d failed; handling its messages one by one",
                    self.part,
                    len(parsed),
                )
                for index, _ in parsed:
                    outcomes[index] = self.process(*items[index])
                return [outcome or Outcome("dead", "invalid: unprocessed") for outcome in outcomes]
            HANDLE_SECONDS.labels(self.part).observe(
                (time.perf_counter() - started) / max(1, len(parsed))
            )
            for index, envelope in fresh:
                if self.after_commit is not None:
                    self.after_commit(envelope)
                outcomes[index] = self._count(Outcome("handled"), envelope.type)
        return [outcome or Outcome("dead", "invalid: unprocessed") for outcome in outcomes]

    def _not_yet(self, envelope: Envelope, exc: NotYet, attempts: int) -> Outcome:
        waited = (datetime.now(UTC) - envelope.occurred).total_seconds()
        if waited >= NOT_YET_SECONDS:
            return self._failed(envelope, exc, attempts)
        log.info("%s: %s %s waits: %s", self.part, envelope.type, envelope.id, exc)
        return self._count(Outcome("retry", f"not yet: {exc}", counted=False), envelope.type)

    def _failed(self, envelope: Envelope, exc: Exception, attempts: int) -> Outcome:
        attempts += 1
        reason = f"failed {attempts} time(s): {type(exc).__name__}: {exc}"
        log.warning("%s: %s %s %s", self.part, envelope.type, envelope.id, reason)
        if attempts >= self.max_attempts:
            return self._count(Outcome("dead", reason), envelope.type)
        return self._count(Outcome("retry", reason), envelope.type)

    def _count(self, outcome: Outcome, type_: str) -> Outcome:
        MESSAGES_CONSUMED.labels(self.part, type_, outcome.kind).inc()
        if outcome.kind == "dead":
            reason = outcome.reason.split(":", 1)[0].split(" ", 1)[0]  # invalid, rejected, failed
            MESSAGES_DEAD_LETTERED.labels(self.part, type_, reason).inc()
            log.error("%s: dead-lettered a %s message: %s", self.part, type_, outcome.reason)
        return outcome


class BusWorker(ConsumerMixin):
    """Consumes a part's queue with a MessageProcessor (kombu ConsumerMixin: reconnects itself)."""

    def __init__(
        self,
        broker: Broker,
        processor: MessageProcessor,
        *,
        prefetch: int = 200,
        batch_size: int = 100,
        batch_bytes: int = 1 << 20,
    ) -> None:
        self.broker = broker
        self.batch_size = batch_size
        # Many small events make one transaction; a few big commands (an import's 500-row
        # batches) are enough for one: the transaction's memory and the wait for its events stay small.
        self.batch_bytes = batch_bytes
        self._buffer: list[Any] = []
        self._buffered_bytes = 0
        self._settling = 0  # messages of the batch being handled, not yet acked
        # time.monotonic() of the delivery of the oldest message held (gathered or being
        # handled), None when nothing is held
        self._buffer_since: float | None = None
        self._settling_since: float | None = None
        self.processor = processor
        self.prefetch = prefetch
        self.connection = broker.connection()
        self.queue = broker.topology.queue(processor.part, processor.handlers)
        self.dead_queue = broker.topology.dead_queue(processor.part)
        self.publisher = Publisher(broker)
        self.ready = threading.Event()

    def get_consumers(self, Consumer: Any, channel: Any) -> list[Any]:  # noqa: N803 - kombu's name
        self.dead_queue(channel).declare()
        return [
            Consumer(
                queues=[self.queue],
                on_message=self.on_message,
                prefetch_count=self.prefetch,
                accept=["json"],
            )
        ]

    def on_consume_ready(
        self, connection: Any, channel: Any, consumers: Any, **kwargs: Any
    ) -> None:
        self.ready.set()

    def on_message(self, message: Any) -> None:
        if not self._buffer:
            self._buffer_since = time.monotonic()
        self._buffer.append(message)
        self._buffered_bytes += len(message.body or b"")

    def held(self) -> int:
        """Messages the broker delivered to this worker that are not yet acked: gathered for
        the next batch, or in the batch being handled. The broker's own queue counts cannot see
        them; `portico_consumer_held_messages` shows them (a backlog is through when the queue
        and every consumer's hold are empty)."""
        return len(self._buffer) + self._settling

    def oldest_held_seconds(self) -> float:
        """How long ago the oldest message this worker holds unacked was delivered (0: none).
        Every message published before a moment when the queue was empty has been handled once
        this is shorter than the time since that moment."""
        since = [t for t in (self._settling_since, self._buffer_since) if t is not None]
        return time.monotonic() - min(since) if since else 0.0

    def on_connection_revived(self) -> None:
        self._buffer.clear()  # deliveries of a dead channel come again; they cannot be acked
        self._buffered_bytes = 0
        self._buffer_since = None

    def consume(
        self, limit: Any = None, timeout: Any = None, safety_interval: float = 1, **kwargs: Any
    ) -> Any:
        """Drain what the broker has ready (up to `batch_size`), then handle it as one batch."""
        with self.consumer_context(**kwargs) as (conn, _channel, _consumers):
            while not self.should_stop:
                self.on_iteration()
                if self._buffer and nothing_waiting(conn):
                    self._flush()  # a lone message is handled at once, not after a timeout
                    continue
                try:
                    conn.drain_events(
                        timeout=BATCH_GATHER_SECONDS if self._buffer else safety_interval
                    )
                except TimeoutError:
                    if self._buffer:
                        self._flush()
                    else:
                        conn.heartbeat_check()
                    continue
                except OSError:
                    if not self.should_stop:
                        raise
                    return
                if len(self._buffer) >= self.batch_size or self._buffered_bytes >= self.batch_bytes:
                    self._flush()
                yield

    def _flush(self) -> None:
        self._settling, self._settling_since = len(self._buffer), self._buffer_since
        messages, self._buffer, self._buffered_bytes = self._buffer, [], 0
        self._buffer_since = None
        try:
            items = [_item(m) for m in messages]
            for message, (_, attempts, *_trace), outcome in zip(
                messages, items, self.processor.process_batch(items), strict=True
            ):
                self._settle(message, attempts, outcome)
                if self.broker.is_memory:
                    message.ack()  # kombu's in-memory channel acks one tag at a time
            if messages and not self.broker.is_memory:
                # Every message of the batch is settled (committed, retried or dead-lettered),
                # and every earlier delivery on this channel was acked: one ack covers them all.
                messages[-1].ack(multiple=True)
        finally:
            self._settling, self._settling_since = 0, None

    def _settle(self, message: Any, attempts: int, outcome: Outcome) -> None:
        """Everything but the ack: put back, retry later or dead-letter, as the outcome says."""
        headers = dict(message.headers or {})
        if outcome.kind == "requeue":
            # The database is away: wait, then put the message back at the tail ourselves —
            # a broker requeue would count as a delivery (quorum queues cap those).
            time.sleep(1)
            self._republish(message, headers)
        elif outcome.kind == "retry":
            time.sleep(min(0.01 * 2**attempts, 0.5) if outcome.counted else 0.1)
            attempts += outcome.counted
            self._republish(
                message, {**headers, HEADER_ATTEMPTS: attempts, HEADER_REASON: outcome.reason}
            )
        elif outcome.kind == "dead":
            self._dead_letter(message, headers, outcome.reason, attempts)

    def _republish(self, message: Any, headers: dict[str, Any]) -> None:
        self.publisher.publish(
            _raw(message.body),
            routing_key=self.queue.name,
            message_id=str(message.properties.get("message_id") or ""),
            exchange=Exchange(""),
            headers=headers,
        )

    def _dead_letter(
        self, message: Any, headers: dict[str, Any], reason: str, attempts: int
    ) -> None:
        self.publisher.publish(
            _raw(message.body),
            routing_key=self.processor.part,
            message_id=str(message.properties.get("message_id") or ""),
            exchange=self.broker.topology.dead_exchange,
            content_type=message.content_type or "application/octet-stream",
            headers={
                **headers,
                HEADER_REASON: reason[:1000],
                HEADER_ATTEMPTS: attempts,
                HEADER_PART: self.processor.part,
                "x-portico-dead-at": datetime.now(UTC).isoformat(),
                "x-portico-routing-key": message.delivery_info.get("routing_key", ""),
            },
        )

    def run_until(self, stop: threading.Event) -> None:
        """Consume until `stop` is set (for threads in the embedded mode and tests)."""
        watcher = threading.Thread(target=self._watch, args=(stop,), daemon=True)
        watcher.start()
        self.run()
        self.publisher.close()

    def _watch(self, stop: threading.Event) -> None:
        stop.wait()
        self.should_stop = True


def _item(message: Any) -> tuple[Any, ...]:
    """(body, attempts), with the traceparent header third when the message has one."""
    headers = message.headers or {}
    attempts = int(headers.get(HEADER_ATTEMPTS, 0) or 0)
    traceparent = headers.get(tracing.TRACEPARENT)
    return (message.body, attempts) if not traceparent else (message.body, attempts, traceparent)


def _traceparent(item: tuple[Any, ...]) -> str | None:
    return item[2] if len(item) > 2 else None


def _raw(body: Any) -> str:
    if isinstance(body, bytes | bytearray):
        return body.decode("utf-8", errors="replace")
    return body if isinstance(body, str) else str(body)
