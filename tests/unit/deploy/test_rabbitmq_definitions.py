"""deploy/rabbitmq-definitions.json is what the workers declare, recomputed from EVENT_HANDLERS."""

from __future__ import annotations

import importlib.util
import json

import pytest

from bus.broker import Topology
from bus.config import Settings
from portico import parts
from tests.unit.deploy.sources import ROOT

DEFINITIONS = ROOT / "deploy" / "rabbitmq-definitions.json"
REGENERATE = "regenerate it: .venv/bin/python deploy/rabbitmq_definitions.py > deploy/rabbitmq-definitions.json"


@pytest.fixture(scope="module")
def shipped() -> dict:
    return json.loads(DEFINITIONS.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def handlers(tmp_path_factory) -> dict[str, set[str]]:
    """Each part's consumed message types, from the EVENT_HANDLERS of the part its bootstrap builds."""
    folder = tmp_path_factory.mktemp("parts")
    keys = {}
    for name in parts.PARTS:
        settings = Settings(
            part=name, database_url=f"sqlite:///{folder}/{name}.db", broker_url="memory://"
        )
        part = parts.bootstrap(name).build(settings)
        keys[name] = set(part.handlers)
        part.engine.dispose()
    return keys


def bound_keys(definitions: dict, queue: str) -> set[str]:
    return {b["routing_key"] for b in definitions["bindings"] if b["destination"] == queue}


def test_each_work_queue_is_bound_to_exactly_the_types_its_part_handles(shipped, handlers):
    for name, keys in handlers.items():
        bound = bound_keys(shipped, f"portico.{name}")
        missing, extra = keys - bound, bound - keys
        assert not missing and not extra, (
            f"portico.{name}: bindings missing {sorted(missing)}, stale {sorted(extra)}; {REGENERATE}"
        )
        assert all(
            b["source"] == "portico.events"
            for b in shipped["bindings"]
            if b["destination"] == f"portico.{name}"
        )


def test_each_part_has_a_quorum_work_queue_and_a_dead_letter_queue(shipped):
    queues = {q["name"]: q for q in shipped["queues"]}
    for name in parts.PARTS:
        for queue in (f"portico.{name}", f"portico.{name}.dead"):
            assert queue in queues, f"{queue} is missing; {REGENERATE}"
            assert queues[queue]["durable"] is True and queues[queue]["auto_delete"] is False
            assert queues[queue]["arguments"] == {"x-queue-type": "quorum"}, queue
        assert bound_keys(shipped, f"portico.{name}.dead") == {name}
        dead_sources = {
            b["source"] for b in shipped["bindings"] if b["destination"] == f"portico.{name}.dead"
        }
        assert dead_sources == {"portico.dead"}


def test_exchanges_are_the_durable_topic_and_direct_ones(shipped):
    exchanges = {e["name"]: e for e in shipped["exchanges"]}
    assert exchanges["portico.events"]["type"] == "topic"
    assert exchanges["portico.dead"]["type"] == "direct"
    assert all(e["durable"] and not e["auto_delete"] for e in exchanges.values())


def test_arguments_equal_those_the_code_declares(shipped):
    """A queue or exchange declared with other arguments than the broker holds is refused
    (PRECONDITION_FAILED), so the file must carry exactly the code's."""
    topology = Topology(prefix="portico", quorum=True)
    queues = {q["name"]: q for q in shipped["queues"]}
    for name in parts.PARTS:
        work, dead = topology.queue(name, []), topology.dead_queue(name)
        for queue in (work, dead):
            assert queues[queue.name]["arguments"] == dict(queue.queue_arguments or {}), queue.name
            assert queues[queue.name]["durable"] == bool(queue.durable), queue.name
    exchanges = {e["name"]: e for e in shipped["exchanges"]}
    for exchange in (topology.exchange, topology.dead_exchange):
        declared = exchanges[exchange.name]
        assert declared["type"] == exchange.type
        assert declared["durable"] == bool(exchange.durable)
        assert declared["arguments"] == dict(exchange.arguments or {})


def test_the_file_is_what_the_generator_writes_today(shipped):
    spec = importlib.util.spec_from_file_location(
        "rabbitmq_definitions", ROOT / "deploy" / "rabbitmq_definitions.py"
    )
    assert spec and spec.loader
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.render(generator.definitions()) == DEFINITIONS.read_text(encoding="utf-8"), (
        REGENERATE
    )
