"""The bus kit over kombu's memory:// transport and SQLite: outbox, idempotency, dead letters."""

from __future__ import annotations

import pytest
from kombu import Connection

from bus.envelope import Envelope
from tests.bus_kit import collect, count_effects, make_probe_part, start
from tests.waiting_kit import DEADLINE, eventually


@pytest.fixture
def probe(tmp_path, prefix):
    instance, effects = make_probe_part(
        "identity", f"sqlite:///{tmp_path}/p.db", "memory://", prefix
    )
    stop = start(instance)
    yield instance, effects
    stop.set()


def publish(instance, key: str, seq: int, **extra) -> Envelope:
    with instance.uow() as uow:
        env = uow.publish("bus.probe", {"key": key, "seq": seq, **extra})
        uow.commit()
    return env


def test_event_written_through_the_outbox_is_consumed_once(probe):
    instance, effects = probe
    for seq in range(50):
        publish(instance, "a", seq)
    eventually(lambda: count_effects(instance, effects, "a") == (50, 50))
    # the relay marks a row sent once the broker took it: the consumer may have been quicker
    eventually(lambda: instance.outbox.pending() == 0, what="every outbox row marked sent")


def test_rolled_back_transaction_publishes_nothing(probe):
    instance, effects = probe
    with instance.uow() as uow:
        uow.publish("bus.probe", {"key": "rolled", "seq": 1})
        # no commit: the event must vanish with the state change
    publish(instance, "after", 1)
    eventually(lambda: count_effects(instance, effects, "after") == (1, 1))
    assert count_effects(instance, effects, "rolled") == (0, 0)


def test_redelivered_message_changes_nothing(probe):
    instance, effects = probe
    processor = instance.processor()
    env = Envelope(type="bus.probe", data={"key": "dup", "seq": 7}, producer="test")
    assert processor.process(env.to_json()).kind == "handled"
    assert processor.process(env.to_json()).kind == "duplicate"
    assert count_effects(instance, effects, "dup") == (1, 1)


def test_publishing_a_message_that_breaks_its_contract_is_refused(probe):
    instance, _ = probe
    from bus.contracts import ContractError

    with instance.uow() as uow, pytest.raises(ContractError, match="seq"):
        uow.publish("bus.probe", {"key": "x"})


def drain_dead(instance, expected: int = 1) -> list:
    dead_queue = instance.broker.topology.dead_queue(instance.name)
    return collect("memory://", dead_queue, DEADLINE, expected)  # returns once `expected` came


def test_failing_message_is_dead_lettered_while_the_queue_flows(probe):
    instance, effects = probe
    publish(instance, "bad", 1, fail=True)
    for seq in range(20):
        publish(instance, "behind", seq)
    eventually(lambda: count_effects(instance, effects, "behind") == (20, 20))
    dead = drain_dead(instance)
    assert len(dead) == 1
    assert "always fails" in dead[0].headers["x-portico-reason"]
    assert dead[0].headers["x-portico-attempts"] == 2  # attempts before the last (max 3)


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"not json at all", "not JSON"),
        (b'{"type": "bus.probe", "data": {}}', "lacks id"),
        (Envelope(type="bus.unknown", data={}, producer="t").to_json(), "unknown message type"),
        (
            Envelope(type="bus.probe", data={"key": 3}, producer="t").to_json(),
            "breaks its contract",
        ),
    ],
)
def test_bad_messages_are_dead_lettered_with_the_reason(probe, body, reason):
    instance, effects = probe
    with Connection("memory://") as conn:
        conn.Producer(serializer=None).publish(
            body,
            exchange=instance.broker.topology.exchange,
            routing_key="bus.probe",
            content_type="application/json",
            content_encoding="utf-8",
        )
    dead = drain_dead(instance)
    assert len(dead) == 1
    assert reason in dead[0].headers["x-portico-reason"]
    publish(instance, "still-flowing", 1)
    eventually(lambda: count_effects(instance, effects, "still-flowing") == (1, 1))


def test_publish_many_writes_the_same_rows_as_publish(probe):
    instance, effects = probe
    with instance.uow() as uow:
        envelopes = uow.publish_many([("bus.probe", {"key": "many", "seq": n}) for n in range(30)])
        uow.commit()
    assert len({e.id for e in envelopes}) == 30
    eventually(lambda: count_effects(instance, effects, "many") == (30, 30))


def test_to_json_round_trips():
    envelope = Envelope(type="bus.probe", data={"key": "é", "seq": 1}, producer="t")
    assert Envelope.from_body(envelope.to_json()) == envelope


def test_big_messages_make_small_transactions(tmp_path, prefix):
    """A few big messages (an import's row batches) fill a transaction; small ones come 100 at once."""
    import threading

    from bus.consumer import BusWorker

    instance, effects = make_probe_part(
        "identity", f"sqlite:///{tmp_path}/b.db", "memory://", prefix
    )
    instance.declare()
    big_key = "b" * 2000  # the probe's key, made long: a 2 KB message
    for seq in range(12):
        publish(instance, big_key, seq)
    for seq in range(12):
        publish(instance, "small", seq)
    assert instance.relay().drain() == 24  # all waiting in the queue before the worker starts

    processor = instance.processor()
    batches: list[list[str]] = []
    handle = processor.process_batch

    def recording(items):
        batches.append(["big" if big_key in str(body) else "small" for body, _ in items])
        return handle(items)

    processor.process_batch = recording
    worker = BusWorker(instance.broker, processor, batch_bytes=5000)
    stop = threading.Event()
    threading.Thread(target=worker.run_until, args=(stop,), daemon=True).start()
    try:
        eventually(
            lambda: (
                count_effects(instance, effects, big_key) == (12, 12)
                and count_effects(instance, effects, "small") == (12, 12)
            )
        )
    finally:
        stop.set()
    big = [batch.count("big") for batch in batches if "big" in batch]
    assert max(big) <= 3, f"a transaction took {max(big)} messages of 2 KB over a 5,000-byte budget"
    assert max(len(batch) for batch in batches) > 3, (
        "small messages should still be handled together"
    )


def held_gauge(instance, name: str = "") -> float:
    from bus import metrics

    return sum(
        sample.value
        for family in instance.gauges()
        if family.name == (name or metrics.CONSUMER_HELD)
        for sample in family.samples
    )


def test_the_messages_a_consumer_holds_unacked_are_in_its_metrics(tmp_path, prefix):
    """The broker's queue count drops as soon as it delivers; what the worker holds unacked
    (gathered or being handled) shows in portico_consumer_held_messages until it is acked, so an
    operator (and the chaos test) can tell a backlog is through."""
    import threading

    from bus import metrics
    from bus.consumer import BusWorker

    instance, effects = make_probe_part(
        "identity", f"sqlite:///{tmp_path}/h.db", "memory://", prefix
    )
    instance.declare()
    for seq in range(5):
        publish(instance, "held", seq)
    assert instance.relay().drain() == 5

    processor = instance.processor()
    handling, release = threading.Event(), threading.Event()
    handle = processor.process_batch
    taken: list[int] = []

    def held_up(items):
        taken.append(len(items))
        handling.set()
        release.wait(DEADLINE)
        return handle(items)

    processor.process_batch = held_up
    instance.worker = BusWorker(instance.broker, processor)
    assert held_gauge(instance) == 0
    stop = threading.Event()
    threading.Thread(target=instance.worker.run_until, args=(stop,), daemon=True).start()
    try:
        assert handling.wait(DEADLINE), "the worker never took the batch"
        assert held_gauge(instance) >= taken[0] >= 1, "a batch being handled is held, unacked"
        oldest = metrics.CONSUMER_OLDEST_HELD
        first = held_gauge(instance, oldest)
        eventually(
            lambda: held_gauge(instance, oldest) > first, what="the held batch's age growing"
        )
        release.set()
        eventually(lambda: count_effects(instance, effects, "held") == (5, 5))
        eventually(lambda: held_gauge(instance) == 0, what="the batch acked, nothing held")
        assert held_gauge(instance, oldest) == 0
    finally:
        release.set()
        stop.set()
