"""deploy/ against the real broker: the definitions import cleanly before the workers declare,
and dead letters can be inspected and replayed into the part that failed them."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest
from kombu import Connection, Exchange

from bus.broker import Broker, Publisher
from bus.envelope import Envelope
from portico import parts
from tests.e2e.harness import eventually

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DEPLOY / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def renamed(definitions: dict, prefix: str) -> dict:
    """The shipped definitions with `portico.` names turned into `<prefix>.` (test isolation)."""
    text = json.dumps(definitions).replace('"portico.', f'"{prefix}.')
    return json.loads(text)


def import_definitions(amqp_url: str, definitions: dict) -> None:
    """What `rabbitmqadmin import` does for these three kinds, over AMQP."""
    with Connection(amqp_url) as conn:
        channel = conn.channel()
        for e in definitions["exchanges"]:
            channel.exchange_declare(exchange=e["name"], type=e["type"], durable=e["durable"],
                                     auto_delete=e["auto_delete"], arguments=e["arguments"])
        for q in definitions["queues"]:
            channel.queue_declare(queue=q["name"], durable=q["durable"], auto_delete=q["auto_delete"],
                                  arguments=q["arguments"])
        for b in definitions["bindings"]:
            channel.queue_bind(queue=b["destination"], exchange=b["source"], routing_key=b["routing_key"])


def delete_names(amqp_url: str, prefix: str) -> None:
    with Connection(amqp_url) as conn:
        for name in parts.PARTS:
            for queue in (f"{prefix}.{name}", f"{prefix}.{name}.dead"):
                conn.channel().queue_delete(queue=queue)
        for exchange in (f"{prefix}.events", f"{prefix}.dead"):
            conn.channel().exchange_delete(exchange=exchange)


def test_the_definitions_import_and_the_workers_then_declare_the_same(amqp_url, prefix):
    shipped = json.loads((DEPLOY / "rabbitmq-definitions.json").read_text(encoding="utf-8"))
    generator = load("rabbitmq_definitions")
    try:
        import_definitions(amqp_url, renamed(shipped, prefix))
        broker = Broker(amqp_url, prefix)
        for name in parts.PARTS:
            # What `portico worker <name>` does first; a different argument would be refused
            # by the broker with PRECONDITION_FAILED.
            broker.declare(name, generator.handled_keys(name))
        # An event published now reaches every queue bound to its type, before any worker runs.
        keys = {name: set(generator.handled_keys(name)) for name in parts.PARTS}
        some_type = next(iter(sorted(set().union(*keys.values()))))
        Publisher(broker).publish("{}", routing_key=some_type, message_id=str(uuid.uuid4()))
        with Connection(amqp_url) as conn:
            for name, handled in keys.items():
                count = conn.channel().queue_declare(queue=f"{prefix}.{name}", passive=True).message_count
                assert count == (1 if some_type in handled else 0), name
    finally:
        delete_names(amqp_url, prefix)


def take_from_queue(amqp_url: str, queue: str, message_id: str):
    """Remove one message from a queue (the others go back when the channel closes)."""
    with Connection(amqp_url) as conn:
        channel = conn.channel()
        try:
            while (message := channel.basic_get(queue, no_ack=False)) is not None:
                if message.properties.get("message_id") == message_id:
                    channel.basic_ack(message.delivery_info["delivery_tag"])
                    return message
            raise AssertionError(f"{message_id} is not in {queue}")
        finally:
            channel.close()


def dead_letter(amqp_url: str, prefix: str, part: str, message, reason: str) -> None:
    """File a message as the part's worker does when it gives up (bus.consumer._dead_letter)."""
    broker = Broker(amqp_url, prefix)
    publisher = Publisher(broker)
    try:
        publisher.publish(
            message.body.decode() if isinstance(message.body, bytes) else message.body,
            routing_key=part, message_id=message.properties["message_id"],
            exchange=broker.topology.dead_exchange,
            headers={"x-portico-reason": reason, "x-portico-attempts": 5, "x-portico-part": part,
                     "x-portico-dead-at": "2026-01-01T00:00:00+00:00",
                     "x-portico-routing-key": message.delivery_info.get("routing_key", "")},
        )
    finally:
        publisher.close()


def run_tool(cluster, *args: str, part: str = "gateway") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DEPLOY / "dead_letters.py"), *args], env=cluster.env_for(part),
                          capture_output=True, text=True, timeout=60)


def receipt(cluster, part: str, message_id: str) -> list:
    return cluster.query(part, "SELECT 1 FROM bus_processed WHERE message_id = :m", m=message_id)


def test_a_dead_letter_is_listed_then_replayed_into_the_part(cluster):
    """A real event dead-lettered while a part's worker was down is replayed into that part.

    The part is subscriptions, not the gateway: the gateway's receipts feed the propagation-lag
    check of test_propagation_histogram.py, which a replayed (hence late) event would skew."""
    part = "subscriptions"
    cluster.stop_process(f"{part}-worker")
    try:
        account = cluster.create_account("Replayed Ltd")
        event_id = eventually(
            lambda: [r.message_id for r in cluster.query(
                "identity", "SELECT message_id, body FROM bus_outbox WHERE type = 'identity.account.created' "
                "AND published_at IS NOT NULL") if account["id"] in r.body],
            timeout=20, what="identity.account.created of the new account published")[0]
        queue = f"{cluster.prefix}.{part}"
        eventually(lambda: cluster.messages(queue) > 0, timeout=10, what=f"the event waiting in {queue}")
        dead_letter(cluster.amqp_url, cluster.prefix, part, take_from_queue(cluster.amqp_url, queue, event_id),
                    "failed 5 time(s): OperationalError: the database is down")
    finally:
        cluster.start_process(f"{part}-worker")

    listed = run_tool(cluster, "list", part, "--limit", "100", part=part)
    assert listed.returncode == 0, listed.stderr
    letters = {json.loads(line)["message_id"]: json.loads(line) for line in listed.stdout.splitlines()}
    assert letters[event_id]["type"] == "identity.account.created"
    assert letters[event_id]["reason"] == "failed 5 time(s): OperationalError: the database is down"
    assert not receipt(cluster, part, event_id), f"{part} applied the event before its replay"

    replayed = run_tool(cluster, "replay", part, "--id", event_id, part=part)
    assert replayed.returncode == 0, replayed.stderr
    assert "1 dead letter(s) moved back" in replayed.stderr
    eventually(lambda: receipt(cluster, part, event_id), timeout=20, what=f"the replayed event applied by {part}")
    again = run_tool(cluster, "list", part, "--limit", "100", part=part).stdout.splitlines()
    assert event_id not in {json.loads(line)["message_id"] for line in again}


def test_a_message_that_breaks_its_contract_is_dead_lettered_with_the_reason(cluster):
    envelope = Envelope(type="identity.account.created", producer="identity", data={"number": 12})
    broker = Broker(cluster.amqp_url, cluster.prefix)
    publisher = Publisher(broker)
    try:
        publisher.publish(envelope.to_json(), routing_key=envelope.type, message_id=envelope.id,
                          exchange=Exchange(f"{cluster.prefix}.events", type="topic", durable=True))
    finally:
        publisher.close()

    def listed() -> dict:
        result = run_tool(cluster, "list", "gateway", "--limit", "100")
        letters = {json.loads(line)["message_id"]: json.loads(line) for line in result.stdout.splitlines()}
        return letters.get(envelope.id, {})

    letter = eventually(listed, timeout=20, what="the broken message in portico.gateway.dead")
    assert letter["reason"].startswith("invalid"), letter
    # the parts keep working: the queue behind the broken message flows
    assert cluster.http.get("/readyz").status_code == 200

