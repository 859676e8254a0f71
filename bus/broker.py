"""The broker: topology (one module, as the design asks), connections and the confirming publisher."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kombu import Connection, Exchange, Queue, binding

log = logging.getLogger(__name__)

HEADER_ATTEMPTS = "x-portico-attempts"
HEADER_REASON = "x-portico-reason"
HEADER_PART = "x-portico-part"


@contextmanager
def _one_write(transport: Any) -> Iterator[None]:
    """Send the frames of a whole batch with one socket write instead of one per message.

    py-amqp writes each message's frames through `transport._write` (the socket's sendall) from
    a buffer it reuses, hence the copies. Where that hook is missing, frames go out as usual.
    """
    send = getattr(transport, "_write", None)
    if send is None:
        yield
        return
    frames: list[bytes] = []
    transport._write = lambda data: frames.append(bytes(data))
    try:
        yield
    finally:
        transport._write = send
        if frames:
            transport.write(b"".join(frames))


@dataclass(frozen=True)
class Topology:
    """Names of the exchanges and queues. `prefix` isolates test runs from each other."""

    prefix: str = "portico"
    quorum: bool = True

    @property
    def exchange(self) -> Exchange:
        return Exchange(f"{self.prefix}.events", type="topic", durable=True)

    @property
    def dead_exchange(self) -> Exchange:
        return Exchange(f"{self.prefix}.dead", type="direct", durable=True)

    def queue_name(self, part: str) -> str:
        return f"{self.prefix}.{part}"

    def queue(self, part: str, keys: Iterable[str]) -> Queue:
        """The part's durable work queue, bound to the routing keys (message types) it handles."""
        exchange = self.exchange
        arguments = {"x-queue-type": "quorum"} if self.quorum else None
        return Queue(
            self.queue_name(part),
            exchange=exchange,
            bindings=[binding(exchange, routing_key=key) for key in sorted(set(keys))],
            durable=True,
            queue_arguments=arguments,
        )

    def dead_queue(self, part: str) -> Queue:
        arguments = {"x-queue-type": "quorum"} if self.quorum else None
        return Queue(
            f"{self.prefix}.{part}.dead",
            exchange=self.dead_exchange,
            routing_key=part,
            durable=True,
            queue_arguments=arguments,
        )


class Broker:
    """Connections to the broker named by PORTICO_BROKER_URL, with the right options."""

    def __init__(self, url: str, prefix: str = "portico") -> None:
        self.url = url
        self.is_memory = url.startswith("memory://")
        self.topology = Topology(prefix=prefix, quorum=not self.is_memory)

    def connection(self) -> Connection:
        options: dict[str, Any] = {}
        if self.is_memory:
            options["polling_interval"] = 0.002
        else:
            options["confirm_publish"] = True
        return Connection(self.url, transport_options=options, heartbeat=0, connect_timeout=5)

    def declare(self, part: str, keys: Iterable[str]) -> None:
        """Declare the exchanges, the part's queue with its bindings, and its dead-letter queue."""
        with self.connection() as conn:
            channel = conn.default_channel
            self.topology.exchange(channel).declare()
            self.topology.dead_exchange(channel).declare()
            keys = list(keys)
            if keys:
                self.topology.queue(part, keys)(channel).declare()
                self.topology.dead_queue(part)(channel).declare()

    def check(self) -> None:
        """Raise if the broker cannot be reached."""
        with self.connection() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)


class Publisher:
    """Publishes JSON bodies; on RabbitMQ each publish returns only once the broker confirmed it."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._conn: Connection | None = None
        self._producer: Any = None
        self._batch_conn: Connection | None = None
        self._batch_channel: Any = None
        self._batch_published = 0
        self._acked_upto = 0
        self._acked_single: set[int] = set()
        self._nacked: int | None = None

    def _ensure(self) -> Any:
        if self._producer is None:
            self._conn = self.broker.connection()
            self._conn.ensure_connection(max_retries=1, timeout=5)
            self._producer = self._conn.Producer(serializer=None)
        return self._producer

    def publish(
        self,
        body: str,
        *,
        routing_key: str,
        message_id: str,
        exchange: Exchange | None = None,
        headers: dict[str, Any] | None = None,
        declare: Iterable[Any] = (),
        content_type: str = "application/json",
    ) -> None:
        producer = self._ensure()
        try:
            producer.publish(
                body,
                exchange=exchange if exchange is not None else self.broker.topology.exchange,
                routing_key=routing_key,
                content_type=content_type,
                content_encoding="utf-8",
                message_id=message_id,
                delivery_mode=2,
                headers=headers or {},
                declare=list(declare),
                retry=False,
            )
        except Exception:
            self.close()
            raise

    def publish_confirmed(self, messages: list[tuple[str, str, str]]) -> tuple[int, Exception | None]:
        """Publish (body, routing_key, message_id) in order, then wait for the broker's confirms once.

        Returns how many leading messages the broker confirmed, and the error that stopped the
        rest (None when all were). One round trip per batch instead of one per message.
        """
        if not messages:
            return 0, None
        if self.broker.is_memory:
            for done, (body, routing_key, message_id) in enumerate(messages):
                try:
                    self.publish(body, routing_key=routing_key, message_id=message_id)
                except Exception as exc:  # noqa: BLE001 - reported to the relay, which backs off
                    return done, exc
            return len(messages), None
        try:
            channel = self._ensure_batch()
        except Exception as exc:  # noqa: BLE001 - reported to the relay, which backs off
            self._close_batch()
            return 0, exc
        first = self._batch_published + 1
        try:
            from amqp import Message

            exchange = self.broker.topology.exchange.name
            with _one_write(channel.connection.transport):
                for body, routing_key, message_id in messages:
                    channel.basic_publish(
                        Message(body, content_type="application/json", content_encoding="utf-8",
                                message_id=message_id, delivery_mode=2, application_headers={}),
                        exchange=exchange, routing_key=routing_key,
                    )
                    self._batch_published += 1
            last = self._batch_published
            deadline = time.monotonic() + 15
            while self._acked_upto < last and self._nacked is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the broker did not confirm the batch within 15 s")
                try:
                    self._batch_conn.drain_events(timeout=min(remaining, 1.0))  # type: ignore[union-attr]
                except TimeoutError:
                    continue
            if self._nacked is not None:
                raise RuntimeError(f"the broker refused message {self._nacked - first + 1} of the batch")
            return len(messages), None
        except Exception as exc:  # noqa: BLE001 - what was confirmed still counts
            confirmed = max(0, min(self._acked_upto, first + len(messages) - 1) - first + 1)
            if self._nacked is not None:
                confirmed = min(confirmed, self._nacked - first)
            self._close_batch()
            return max(0, confirmed), exc

    def _ensure_batch(self) -> Any:
        if self._batch_channel is None:
            self._batch_conn = Connection(self.broker.url, heartbeat=0, connect_timeout=5)
            self._batch_conn.ensure_connection(max_retries=1, timeout=5)
            channel = self._batch_conn.channel()
            # py-amqp polls the socket before every publish for a connection.blocked notice (a
            # syscall each); here the confirm wait after the batch reads any such notice anyway.
            capabilities = channel.connection.client_properties.get("capabilities")
            if isinstance(capabilities, dict):
                capabilities["connection.blocked"] = False
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            self._batch_channel = channel
            self._batch_published = 0
            self._acked_upto = 0
            self._acked_single = set()
            self._nacked = None
        return self._batch_channel

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self._acked_upto = max(self._acked_upto, delivery_tag)
        else:
            self._acked_single.add(delivery_tag)
        while self._acked_upto + 1 in self._acked_single:
            self._acked_upto += 1
            self._acked_single.discard(self._acked_upto)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked = delivery_tag if self._nacked is None else min(self._nacked, delivery_tag)

    def _close_batch(self) -> None:
        if self._batch_conn is not None:
            try:
                self._batch_conn.release()
            except Exception:  # noqa: BLE001 - closing a broken connection
                log.debug("closing a broken broker connection", exc_info=True)
        self._batch_conn = None
        self._batch_channel = None

    def close(self) -> None:
        self._close_batch()
        if self._conn is not None:
            try:
                self._conn.release()
            except Exception:  # noqa: BLE001 - closing a broken connection
                log.debug("closing a broken broker connection", exc_info=True)
        self._conn = None
        self._producer = None
