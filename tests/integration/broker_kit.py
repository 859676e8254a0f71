"""The local RabbitMQ node in integration tests: restart it for real, count what reaches a queue.

Restarting (`rabbitmqctl stop_app` then `start_app`) cuts every client of the node, the
teammates' tests included, for a few seconds: `restarted_broker` always starts the node again
and waits until it takes AMQP connections before it returns.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from urllib.parse import urlparse

from tests.missing_kit import missing
from tests.waiting_kit import DEADLINE, eventually

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def rabbitmqctl(*args: str, timeout: float = DEADLINE) -> str:
    done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()[-1000:]}"
    return done.stdout


def require_local_broker(amqp_url: str) -> None:
    """The node must be this machine's and rabbitmqctl must reach it."""
    host = urlparse(amqp_url).hostname or "127.0.0.1"
    if host not in LOCAL_HOSTS:
        missing(f"the broker restart needs the local RabbitMQ node, not {host}")
    if shutil.which("rabbitmqctl") is None:
        missing("the rabbitmqctl command is not installed (it comes with rabbitmq-server)")


def answers(amqp_url: str) -> bool:
    from kombu import Connection

    try:
        with Connection(amqp_url, connect_timeout=2) as conn:
            conn.connect()
            return True
    except Exception:  # noqa: BLE001 - not yet back
        return False


def restart_broker(amqp_url: str) -> None:
    """Stop the RabbitMQ application (every connection drops), start it again, wait until it answers."""
    try:
        rabbitmqctl("stop_app")
    finally:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
        eventually(lambda: answers(amqp_url), what="RabbitMQ answering again after its restart")


def queue_messages(name: str) -> int:
    """Messages in queue `name` of vhost /, ready and unacknowledged together."""
    for line in rabbitmqctl(
        "list_queues", "-q", "--no-table-headers", "name", "messages"
    ).splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == name:
            return int(fields[1])
    raise AssertionError(f"no queue {name} on the broker")


def pika_url(amqp_url: str) -> str:
    """kombu writes the default vhost as "//"; pika wants it percent-encoded."""
    return amqp_url[:-2] + "/%2F" if amqp_url.endswith("//") else amqp_url


class Witness:
    """A durable queue bound beside the consumer's, read with pika: every copy of every message the
    broker routed, counted by message id before any consumer's de-duplication."""

    def __init__(self, amqp_url: str, exchange: str, routing_key: str, name: str) -> None:
        self.amqp_url, self.exchange, self.routing_key, self.name = (
            amqp_url,
            exchange,
            routing_key,
            name,
        )
        self.copies: Counter[str] = Counter()

    def _channel(self):
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(pika_url(self.amqp_url)))
        return connection, connection.channel()

    def declare(self) -> None:
        connection, channel = self._channel()
        try:
            channel.queue_declare(self.name, durable=True)
            channel.queue_bind(self.name, self.exchange, routing_key=self.routing_key)
        finally:
            connection.close()

    def read_all(self, expected: int) -> Counter[str]:
        """Take every message off the queue (at least `expected` distinct ids, then until it is empty)."""
        connection, channel = self._channel()
        deadline = time.monotonic() + 4 * DEADLINE
        try:
            channel.basic_qos(prefetch_count=500)
            for method, properties, _ in channel.consume(self.name, inactivity_timeout=1):
                if method is not None:
                    self.copies[properties.message_id] += 1
                    channel.basic_ack(method.delivery_tag)
                    continue
                left = channel.queue_declare(self.name, passive=True).method.message_count
                if len(self.copies) >= expected and left == 0:
                    break
                assert time.monotonic() < deadline, (
                    f"the witness queue held {len(self.copies)} of {expected} messages"
                )
            channel.cancel()
        finally:
            connection.close()
        return self.copies

    def delete(self) -> None:
        connection, channel = self._channel()
        try:
            channel.queue_delete(self.name)
        finally:
            connection.close()

    @property
    def republished(self) -> int:
        """Copies beyond the first of each message: what the relay sent again."""
        return sum(self.copies.values()) - len(self.copies)
