"""The broker: topology (one module, as the design asks), connections and the confirming publisher."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kombu import Connection, Exchange, Queue, binding

from bus import memory_transport
from bus.amqp_tuning import ConfirmedBatches, release_quietly

HEADER_ATTEMPTS = "x-portico-attempts"
HEADER_REASON = "x-portico-reason"
HEADER_PART = "x-portico-part"


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
        if self.is_memory:
            # kombu's in-memory transport, woken by each put rather than polling every 2 ms
            return Connection(self.url, transport=memory_transport.Transport, heartbeat=0)
        options: dict[str, Any] = {"confirm_publish": True}
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
        self._batches = ConfirmedBatches(broker.url, broker.topology.exchange.name)

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

    def publish_confirmed(self, messages: list[tuple[Any, ...]]) -> tuple[int, Exception | None]:
        """Publish (body, routing_key, message_id[, headers]) in order, then wait for the broker's
        confirms once.

        Returns how many leading messages the broker confirmed, and the error that stopped the
        rest (None when all were). On RabbitMQ, one write and one round trip per batch instead of
        one per message (bus.amqp_tuning.ConfirmedBatches).
        """
        if not messages:
            return 0, None
        if self.broker.is_memory:
            for done, (body, routing_key, message_id, *headers) in enumerate(messages):
                try:
                    self.publish(
                        body,
                        routing_key=routing_key,
                        message_id=message_id,
                        headers=headers[0] if headers else None,
                    )
                except Exception as exc:  # noqa: BLE001 - reported to the relay, which backs off
                    return done, exc
            return len(messages), None
        return self._batches.publish(messages)

    def close(self) -> None:
        self._batches.close()
        release_quietly(self._conn)
        self._conn = None
        self._producer = None
