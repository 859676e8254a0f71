"""deploy/ against the real broker: the definitions import cleanly before the workers declare,
the workers dead-letter what they cannot handle (and keep handling what follows), and dead
letters can be inspected and replayed into the part that failed them."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from kombu import Connection, Exchange

from bus.broker import Broker, Publisher
from bus.envelope import Envelope
from portico import parts
from tests.e2e.harness import eventually
from tests.waiting_kit import DEADLINE

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
            channel.exchange_declare(
                exchange=e["name"],
                type=e["type"],
                durable=e["durable"],
                auto_delete=e["auto_delete"],
                arguments=e["arguments"],
            )
        for q in definitions["queues"]:
            channel.queue_declare(
                queue=q["name"],
                durable=q["durable"],
                auto_delete=q["auto_delete"],
                arguments=q["arguments"],
            )
        for b in definitions["bindings"]:
            channel.queue_bind(
                queue=b["destination"], exchange=b["source"], routing_key=b["routing_key"]
            )


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
                count = (
                    conn.channel()
                    .queue_declare(queue=f"{prefix}.{name}", passive=True)
                    .message_count
                )
                assert count == (1 if some_type in handled else 0), name
    finally:
        delete_names(amqp_url, prefix)


def ddl(cluster, part: str, statement: str) -> None:
    with cluster.engine(part).begin() as conn:
        conn.execute(sa.text(statement))


def run_tool(cluster, *args: str, part: str = "gateway") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEPLOY / "dead_letters.py"), *args],
        env=cluster.env_for(part),
        capture_output=True,
        text=True,
        timeout=60,
    )


def receipt(cluster, part: str, message_id: str) -> list:
    return cluster.query(part, "SELECT 1 FROM bus_processed WHERE message_id = :m", m=message_id)


def account_event(cluster, account_id: str) -> str:
    """The id of identity.account.created for `account_id`, once identity's relay published it."""
    return eventually(
        lambda: [
            r.message_id
            for r in cluster.query(
                "identity",
                "SELECT message_id, body FROM bus_outbox WHERE type = 'identity.account.created' "
                "AND published_at IS NOT NULL",
            )
            if account_id in r.body
        ],
        timeout=DEADLINE,
        what="identity.account.created of the new account published",
    )[0]


def test_a_dead_letter_is_listed_then_replayed_into_the_part(cluster):
    """A real event the part's worker failed until it gave up (its table was gone) is dead-lettered
    by that worker, listed with the reason, and replayed into the part once the table is back.

    The part is subscriptions, not the gateway: the gateway's receipts feed the propagation-lag
    check of test_propagation_histogram.py, which a replayed (hence late) event would skew."""
    part = "subscriptions"
    ddl(cluster, part, "ALTER TABLE accounts RENAME TO accounts_away")  # every attempt now fails
    try:
        account = cluster.create_account("Replayed Ltd")
        event_id = account_event(cluster, account["id"])

        def dead_letters() -> dict:
            listed = run_tool(cluster, "list", part, "--limit", "100", part=part)
            assert listed.returncode == 0, listed.stderr
            return {
                json.loads(line)["message_id"]: json.loads(line)
                for line in listed.stdout.splitlines()
            }

        letters = eventually(
            lambda: event_id in dead_letters() and dead_letters(),
            timeout=DEADLINE,
            what=f"the event dead-lettered by the {part} worker",
        )
    finally:
        ddl(cluster, part, "ALTER TABLE accounts_away RENAME TO accounts")
    assert letters[event_id]["type"] == "identity.account.created"
    assert letters[event_id]["reason"].startswith("failed 5 time(s): ProgrammingError"), letters[
        event_id
    ]
    assert 'relation "accounts" does not exist' in letters[event_id]["reason"], letters[event_id]
    assert not receipt(cluster, part, event_id), f"{part} applied the event before its replay"

    replayed = run_tool(cluster, "replay", part, "--id", event_id, part=part)
    assert replayed.returncode == 0, replayed.stderr
    assert "1 dead letter(s) moved back" in replayed.stderr
    eventually(
        lambda: receipt(cluster, part, event_id),
        timeout=DEADLINE,
        what=f"the replayed event applied by {part}",
    )
    assert cluster.query(part, "SELECT 1 FROM accounts WHERE id = :a", a=account["id"])
    again = run_tool(cluster, "list", part, "--limit", "100", part=part).stdout.splitlines()
    assert event_id not in {json.loads(line)["message_id"] for line in again}


def test_a_message_that_breaks_its_contract_is_dead_lettered_and_the_next_one_is_handled(cluster):
    """The gateway's worker files a poison message itself, and the next message (a real account's
    event, from identity's outbox) is still applied."""
    envelope = Envelope(type="identity.account.created", producer="identity", data={"number": 12})
    broker = Broker(cluster.amqp_url, cluster.prefix)
    publisher = Publisher(broker)
    try:
        publisher.publish(
            envelope.to_json(),
            routing_key=envelope.type,
            message_id=envelope.id,
            exchange=Exchange(f"{cluster.prefix}.events", type="topic", durable=True),
        )
    finally:
        publisher.close()

    def listed() -> dict:
        result = run_tool(cluster, "list", "gateway", "--limit", "100")
        letters = {
            json.loads(line)["message_id"]: json.loads(line) for line in result.stdout.splitlines()
        }
        return letters.get(envelope.id, {})

    letter = eventually(listed, timeout=DEADLINE, what="the broken message in portico.gateway.dead")
    assert letter["reason"].startswith("invalid"), letter
    assert not receipt(cluster, "gateway", envelope.id), "the gateway applied the broken message"
    # the queue flows after the broken message was filed: the next event is applied
    behind = cluster.create_account("After The Poison Ltd")
    event_id = account_event(cluster, behind["id"])
    # the receipt, not the projection: the gateway's own write on the operator's request fills that
    eventually(
        lambda: receipt(cluster, "gateway", event_id),
        timeout=DEADLINE,
        what="the event after the poison applied by the gateway's worker",
    )
