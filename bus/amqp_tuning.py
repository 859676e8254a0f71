"""The bus's speed-ups over py-amqp, in one place: what reaches past kombu into py-amqp's internals.

- `ConfirmedBatches`: the relay's batch is published on a raw py-amqp channel in confirm mode,
  its frames sent in one socket write (`one_write`, through the transport's `_write` hook), and
  the broker's confirms awaited once per batch instead of once per message; the channel does
  not poll the socket before every publish for a connection.blocked notice (the
  `connection.blocked` client capability), as the wait for the confirms reads any such notice.
- `nothing_waiting`: whether the broker's socket (and py-amqp's `_read_buffer`) holds nothing
  more to read, so that the bus worker handles a lone message at once.

`tests/unit/bus/test_amqp_tuning.py` probes the installed py-amqp for each attribute touched
here and names the version and the attribute when an upgrade moved one. Where an attribute is
missing at run time, the code falls back to py-amqp's ordinary path: slower, never wrong.
"""

from __future__ import annotations

import logging
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu import Connection

log = logging.getLogger(__name__)

CONFIRM_SECONDS = 15  # how long a batch may wait for the broker's confirms


@contextmanager
def one_write(transport: Any) -> Iterator[None]:
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


def skip_blocked_poll(connection: Any) -> None:
    """Stop py-amqp from polling the socket before every publish for a connection.blocked
    notice (a syscall each); for a channel whose confirm wait reads any such notice anyway."""
    capabilities = connection.client_properties.get("capabilities")
    if isinstance(capabilities, dict):
        capabilities["connection.blocked"] = False


class ConfirmedBatches:
    """Publishes batches on one py-amqp channel in confirm mode: one write and one wait a batch."""

    def __init__(self, url: str, exchange: str) -> None:
        self.url = url
        self.exchange = exchange
        self._conn: Connection | None = None
        self._channel: Any = None
        self._published = 0
        self._acked_upto = 0
        self._acked_single: set[int] = set()
        self._nacked: int | None = None

    def publish(self, messages: list[tuple[Any, ...]]) -> tuple[int, Exception | None]:
        """Publish (body, routing_key, message_id[, headers]) in order, then wait for the
        broker's confirms.

        Returns how many leading messages the broker confirmed, and the error that stopped the
        rest (None when all were).
        """
        try:
            channel = self._ensure()
        except Exception as exc:  # noqa: BLE001 - reported to the relay, which backs off
            self.close()
            return 0, exc
        first = self._published + 1
        try:
            from amqp import Message

            with one_write(channel.connection.transport):
                for body, routing_key, message_id, *headers in messages:
                    channel.basic_publish(
                        Message(
                            body,
                            content_type="application/json",
                            content_encoding="utf-8",
                            message_id=message_id,
                            delivery_mode=2,
                            application_headers=headers[0] if headers else {},
                        ),
                        exchange=self.exchange,
                        routing_key=routing_key,
                    )
                    self._published += 1
            self._wait_confirms(self._published)
            if self._nacked is not None:
                raise RuntimeError(
                    f"the broker refused message {self._nacked - first + 1} of the batch"
                )
            return len(messages), None
        except Exception as exc:  # noqa: BLE001 - what was confirmed still counts
            confirmed = max(0, min(self._acked_upto, first + len(messages) - 1) - first + 1)
            if self._nacked is not None:
                confirmed = min(confirmed, self._nacked - first)
            self.close()
            return max(0, confirmed), exc

    def _wait_confirms(self, last: int) -> None:
        deadline = time.monotonic() + CONFIRM_SECONDS
        while self._acked_upto < last and self._nacked is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"the broker did not confirm the batch within {CONFIRM_SECONDS} s"
                )
            try:
                self._conn.drain_events(timeout=min(remaining, 1.0))  # type: ignore[union-attr]
            except TimeoutError:
                continue

    def _ensure(self) -> Any:
        if self._channel is None:
            self._conn = Connection(self.url, heartbeat=0, connect_timeout=5)
            self._conn.ensure_connection(max_retries=1, timeout=5)
            channel = self._conn.channel()
            skip_blocked_poll(channel.connection)
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            self._channel = channel
            self._published = 0
            self._acked_upto = 0
            self._acked_single = set()
            self._nacked = None
        return self._channel

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

    def close(self) -> None:
        release_quietly(self._conn)
        self._conn = None
        self._channel = None


def release_quietly(conn: Connection | None) -> None:
    """Release a connection that may be broken already; what goes wrong is only logged."""
    if conn is None:
        return
    try:
        conn.release()
    except Exception:  # noqa: BLE001 - closing a broken connection
        log.debug("closing a broken broker connection", exc_info=True)


def nothing_waiting(conn: Any) -> bool:
    """True when the broker's socket holds nothing more to read right now (AMQP only).

    py-amqp reads exactly the bytes of each frame, so what it has not read is still in the
    socket (or, after a timeout mid-frame, in its read buffer, or in the TLS layer's buffer).
    """
    transport = getattr(getattr(conn, "connection", None), "transport", None)
    sock = getattr(transport, "sock", None)
    if sock is None:
        return False  # not a socket transport: let drain_events wait its short while
    if getattr(transport, "_read_buffer", b""):
        return False
    pending = getattr(sock, "pending", None)
    if pending is not None and pending():
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False  # a closed socket: drain_events reports it
    return not readable
