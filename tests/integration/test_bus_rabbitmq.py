"""The bus against real RabbitMQ and PostgreSQL: nothing lost, nothing twice, dead letters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from bus import contracts
from bus.envelope import Envelope
from bus.metrics import MESSAGES_CONSUMED
from tests.bus_kit import collect, count_effects, make_probe_part, start
from tests.integration.broker_kit import (
    Witness,
    queue_messages,
    require_local_broker,
    restart_broker,
)
from tests.waiting_kit import DEADLINE, eventually

pytestmark = pytest.mark.integration


def publish_many(instance, key: str, count: int, per_tx: int = 50) -> None:
    """`per_tx` events a transaction: one by one, and every other transaction all at once (which
    PostgreSQL takes with COPY from bus.outbox.COPY_FROM events)."""
    seq, transactions = 0, 0
    while seq < count:
        size = min(per_tx, count - seq)
        with instance.uow() as uow:
            if transactions % 2:
                uow.publish_many(
                    [("bus.probe", {"key": key, "seq": s}) for s in range(seq, seq + size)]
                )
            else:
                for s in range(seq, seq + size):
                    uow.publish("bus.probe", {"key": key, "seq": s})
            uow.commit()
        seq, transactions = seq + size, transactions + 1


def test_ten_thousand_events_survive_two_broker_restarts(amqp_url, pg_url, prefix):
    """The real node is restarted twice while the relay publishes: what reached a witness queue
    bound beside the consumer's (pika, before any de-duplication) shows every event arrived and
    how many the relay sent again; the consumer applied each one exactly once."""
    require_local_broker(amqp_url)
    instance, effects = make_probe_part("identity", pg_url, amqp_url, prefix)
    instance.declare()
    witness = Witness(amqp_url, f"{prefix}.events", "bus.probe", f"{prefix}.witness")
    witness.declare()
    stop = start(instance)
    total = 10_000
    writer = threading.Thread(target=publish_many, args=(instance, "outage", total))
    try:
        writer.start()
        for applied in (total // 5, total // 2):  # restart while the relay is still publishing
            eventually(
                lambda at=applied: count_effects(instance, effects, "outage")[1] >= at,
                what=f"{applied} events applied before a restart",
            )
            restart_broker(amqp_url)
        writer.join(timeout=DEADLINE * 2)
        assert not writer.is_alive(), "the producer did not finish writing its events"
        eventually(
            lambda: count_effects(instance, effects, "outage")[1] == total,
            timeout=DEADLINE * 4,
            what="every event consumed after the restarts",
        )
        eventually(lambda: instance.outbox.pending() == 0, what="the outbox sent")
        # nothing left for the consumer, ready or unacknowledged: no redelivery can come any more
        eventually(
            lambda: queue_messages(f"{prefix}.identity") == 0, what="the consumer's queue empty"
        )
    finally:
        stop.set()
    copies = witness.read_all(expected=total)
    witness.delete()
    print(
        f"broker restarts: {len(copies)} distinct events reached the queue, {witness.republished} "
        "copies re-published by the relay"
    )
    assert len(copies) == total, f"{total - len(copies)} events never reached the broker"
    # a restart may cost the batch that was awaiting its confirms, once per restart: not more
    in_flight = instance.relay().batch_size
    assert witness.republished <= 2 * in_flight, (
        f"{witness.republished} copies re-published for 2 restarts"
    )
    rows, distinct = count_effects(instance, effects, "outage")
    assert distinct == total, f"{total - distinct} events lost"
    assert rows == total, (
        f"{rows - total} effects applied twice ({witness.republished} copies re-published)"
    )


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
    # the broker requeues the dead consumer's unacked message once it has seen the connection go
    eventually(
        lambda: _queue_depth(amqp_url, instance) == 1, what="the unacked message back in the queue"
    )
    stop = start(instance)  # a new consumer gets the unacked message again
    try:
        eventually(lambda: duplicates._value.get() == before + 1, what="redelivery recognised")
        eventually(lambda: _queue_depth(amqp_url, instance) == 0, what="redelivered message acked")
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
        eventually(
            lambda: count_effects(instance, effects, "behind") == (100, 100),
            what="messages behind processed",
        )
        dead = collect(
            amqp_url, instance.broker.topology.dead_queue("identity"), DEADLINE, expected=1
        )
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

    def received():
        got = channel.basic_get(declared.method.queue, auto_ack=True)
        return got if got[0] is not None else None

    method, properties, body = eventually(received, what="the event in pika's queue")
    connection.close()
    assert properties.message_id == sent.id
    assert properties.content_type == "application/json"
    assert properties.delivery_mode == 2
    envelope = json.loads(body)
    assert envelope["type"] == method.routing_key == "identity.account.created"
    contracts.validate(envelope["type"], envelope["version"], envelope["data"], strict=True)
    assert Envelope.from_body(body) == sent
