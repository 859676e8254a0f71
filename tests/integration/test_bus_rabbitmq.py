"""The bus against real RabbitMQ and PostgreSQL: nothing lost, nothing twice, dead letters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from urllib.parse import urlparse

import pytest

from bus import contracts
from bus.envelope import Envelope
from bus.metrics import MESSAGES_CONSUMED
from tests.bus_kit import collect, count_effects, make_probe_part, start
from tests.proxy import OutageProxy

pytestmark = pytest.mark.integration


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: not reached within {timeout}s")


def publish_many(instance, key: str, count: int, per_tx: int = 50) -> None:
    """`per_tx` events a transaction: one by one, and every other transaction all at once (which
    PostgreSQL takes with COPY from bus.outbox.COPY_FROM events)."""
    seq, transactions = 0, 0
    while seq < count:
        size = min(per_tx, count - seq)
        with instance.uow() as uow:
            if transactions % 2:
                uow.publish_many([("bus.probe", {"key": key, "seq": s}) for s in range(seq, seq + size)])
            else:
                for s in range(seq, seq + size):
                    uow.publish("bus.probe", {"key": key, "seq": s})
            uow.commit()
        seq, transactions = seq + size, transactions + 1


def test_ten_thousand_events_survive_two_broker_outages(amqp_url, pg_url, prefix):
    target = urlparse(amqp_url)
    proxy = OutageProxy(target.hostname or "127.0.0.1", target.port or 5672).start()
    via_proxy = amqp_url.replace(
        f"{target.hostname}:{target.port or 5672}", f"127.0.0.1:{proxy.port}"
    )
    if "@" in amqp_url and f"{target.hostname}:{target.port or 5672}" not in amqp_url:
        via_proxy = amqp_url.replace(f"@{target.hostname}", f"@127.0.0.1:{proxy.port}")
    instance, effects = make_probe_part("identity", pg_url, via_proxy, prefix)
    stop = start(instance)
    total = 10_000
    writer = threading.Thread(target=publish_many, args=(instance, "outage", total))
    try:
        writer.start()
        for _ in range(2):
            time.sleep(1.0)
            proxy.cut()  # the broker is gone for every client
            time.sleep(1.5)
            proxy.restore()
        writer.join(timeout=120)
        assert not writer.is_alive(), "the producer did not finish writing its events"
        wait_for(
            lambda: count_effects(instance, effects, "outage")[1] == total,
            240,
            "every event consumed after the outages",
        )
        time.sleep(1)  # let any redelivery land before counting duplicates
        rows, distinct = count_effects(instance, effects, "outage")
        assert distinct == total, f"{total - distinct} events lost"
        assert rows == total, f"{rows - total} effects applied twice"
        assert instance.outbox.pending() == 0
    finally:
        stop.set()
        proxy.cut()


KILL_AFTER_COMMIT = """
import os, sys, threading
from tests.bus_kit import make_probe_part, start
instance, effects = make_probe_part("identity", sys.argv[1], sys.argv[2], sys.argv[3])
instance.processor = (lambda original: lambda **kw: original(after_commit=lambda env: os._exit(17)))(instance.processor)
stop = start(instance)
threading.Event().wait(60)
"""


def test_consumer_killed_between_commit_and_ack_applies_the_effect_once(amqp_url, pg_url, prefix):
    instance, effects = make_probe_part("identity", pg_url, amqp_url, prefix)
    instance.declare()
    with instance.uow() as uow:
        uow.publish("bus.probe", {"key": "killed", "seq": 1})
        uow.commit()
    instance.relay().drain()
    child = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_COMMIT, pg_url, amqp_url, prefix],
        cwd=os.getcwd(),
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        timeout=60,
    )
    assert child.returncode == 17, "the consumer should have died right after its commit"
    assert count_effects(instance, effects, "killed") == (1, 1)
    duplicates = MESSAGES_CONSUMED.labels("identity", "bus.probe", "duplicate")
    before = duplicates._value.get()
    assert _queue_depth(amqp_url, instance) == 1, "the unacked message went back to the queue"
    stop = start(instance)  # a new consumer gets the unacked message again
    try:
        wait_for(lambda: duplicates._value.get() == before + 1, 20, "redelivery recognised")
        wait_for(lambda: _queue_depth(amqp_url, instance) == 0, 20, "redelivered message acked")
        assert count_effects(instance, effects, "killed") == (1, 1)
    finally:
        stop.set()


def _queue_depth(amqp_url: str, instance) -> int:
    from kombu import Connection

    with Connection(amqp_url) as conn:
        queue = instance.broker.topology.queue(instance.name, ["bus.probe"])(conn.default_channel)
        _, count, _ = queue.queue_declare(passive=True)
        return count


def test_always_failing_message_goes_to_the_dead_letter_queue_and_the_rest_flows(
    amqp_url, pg_url, prefix
):
    instance, effects = make_probe_part("identity", pg_url, amqp_url, prefix, max_attempts=3)
    stop = start(instance)
    try:
        with instance.uow() as uow:
            uow.publish("bus.probe", {"key": "poison", "seq": 1, "fail": True})
            uow.commit()
        publish_many(instance, "behind", 100)
        wait_for(
            lambda: count_effects(instance, effects, "behind") == (100, 100),
            30,
            "messages behind processed",
        )
        dead = collect(amqp_url, instance.broker.topology.dead_queue("identity"), 10, expected=1)
        assert len(dead) == 1
        assert "always fails" in dead[0].headers["x-portico-reason"]
        assert dead[0].headers["x-portico-attempts"] == 2
        assert json.loads(dead[0].body)["data"]["key"] == "poison"
    finally:
        stop.set()


def test_an_independent_amqp_client_reads_and_validates_our_event(amqp_url, pg_url, prefix):
    import pika

    instance, _ = make_probe_part("identity", pg_url, amqp_url, prefix)
    instance.declare()
    # kombu writes the default vhost as "//"; pika wants it percent-encoded.
    pika_url = amqp_url[:-2] + "/%2F" if amqp_url.endswith("//") else amqp_url
    params = pika.URLParameters(pika_url)
    connection = pika.BlockingConnection(params)
    channel = connection.channel()
    declared = channel.queue_declare(queue="", exclusive=True)
    channel.queue_bind(declared.method.queue, f"{prefix}.events", routing_key="identity.#")
    with instance.uow() as uow:
        sent = uow.publish(
            "identity.account.created",
            {
                "account_id": "a1",
                "number": "90293531",
                "name": "Retail IT",
                "parent_id": None,
                "relation": None,
            },
        )
        uow.commit()
    instance.relay().drain()
    method, properties, body = None, None, None
    deadline = time.monotonic() + 10
    while method is None and time.monotonic() < deadline:
        method, properties, body = channel.basic_get(declared.method.queue, auto_ack=True)
        if method is None:
            time.sleep(0.05)
    connection.close()
    assert method is not None, "pika received nothing"
    assert properties.message_id == sent.id
    assert properties.content_type == "application/json"
    assert properties.delivery_mode == 2
    envelope = json.loads(body)
    assert envelope["type"] == method.routing_key == "identity.account.created"
    contracts.validate(envelope["type"], envelope["version"], envelope["data"], strict=True)
    assert Envelope.from_body(body) == sent
