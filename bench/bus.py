"""Producer commit → consumer commit of one event over RabbitMQ and PostgreSQL, at a sustained rate.

As deployed: the producing part (its database, outbox and relay) in this process, the consuming
part (its own database) in another process; times from the system-wide monotonic clock.
Baseline, same run: a raw pika publish → confirm → consume at the same rate.
Both are timed over the same span: from just before the producer starts handing the message over
(Portico: before its transaction opens; pika: before basic_publish) to the consumer being done
with it, before its ack (Portico: after its commit; pika: on receipt).
Target: p50 ≤ 10 ms, p99 ≤ 100 ms.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid

from bench.common import Result, median, percentile
from bench.env import AMQP_URL, fresh_database

RATE = int(os.environ.get("BENCH_BUS_RATE", "200"))
SECONDS = float(os.environ.get("BENCH_BUS_SECONDS", "30"))

CONSUMER = """
import json, sys, threading, time
from tests.bus_kit import make_probe_part
database_url, amqp_url, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
part, _ = make_probe_part("subscriptions", database_url, amqp_url, prefix)
done, finished = {}, threading.Event()
def consumed(envelope):
    done[envelope.data["seq"]] = time.monotonic()
    if len(done) >= count:
        finished.set()
part.processor = (lambda original: lambda **kw: original(after_commit=consumed, **kw))(part.processor)
stop = threading.Event()
part.start_background(stop)
part.wait_ready(10)
print("ready", flush=True)
finished.wait(float(sys.argv[5]))
stop.set()
print(json.dumps(done), flush=True)
"""


def _paced(count: int, rate: int):
    start = time.monotonic()
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield i


def measure_outbox(producer_db: str, consumer_db: str) -> list[float]:
    from tests.bus_kit import make_probe_part

    prefix = f"bench{uuid.uuid4().hex[:8]}"
    count = int(RATE * SECONDS)
    consumer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CONSUMER,
            consumer_db,
            AMQP_URL,
            prefix,
            str(count),
            str(SECONDS + 60),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert consumer.stdout is not None
    if consumer.stdout.readline().strip() != "ready":
        raise RuntimeError("the consumer process did not start")
    part, _ = make_probe_part("identity", producer_db, AMQP_URL, prefix)
    part.handlers = {}  # this process only produces and relays
    stop = threading.Event()
    part.start_background(stop)
    sent: dict[int, float] = {}
    try:
        for seq in _paced(count, RATE):
            sent[seq] = (
                time.monotonic()
            )  # before the transaction opens, as the baseline before publishing
            with part.uow() as uow:
                uow.publish("bus.probe", {"key": "bench", "seq": seq})
                uow.commit()
        done = {int(k): v for k, v in json.loads(consumer.stdout.readline() or "{}").items()}
    finally:
        stop.set()
        consumer.wait(30)
        time.sleep(0.3)
        part.engine.dispose()
    return [(done[s] - sent[s]) * 1000 for s in sent if s in done]


def measure_pika() -> list[float]:
    import pika

    url = AMQP_URL[:-2] + "/%2F" if AMQP_URL.endswith("//") else AMQP_URL
    queue = f"bench.pika.{uuid.uuid4().hex[:8]}"
    count = int(RATE * SECONDS)
    sent: dict[int, float] = {}
    latencies: list[float] = []
    ready = threading.Event()
    finished = threading.Event()

    def consume() -> None:
        connection = pika.BlockingConnection(pika.URLParameters(url))
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        ready.set()

        def on_message(ch, method, properties, body) -> None:
            latencies.append((time.monotonic() - sent[int(body)]) * 1000)  # done, before its ack
            ch.basic_ack(method.delivery_tag)
            if len(latencies) >= count:
                ch.stop_consuming()

        channel.basic_qos(prefetch_count=100)
        channel.basic_consume(queue, on_message)
        channel.start_consuming()
        channel.queue_delete(queue)
        connection.close()
        finished.set()

    threading.Thread(target=consume, daemon=True).start()
    ready.wait(10)
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    for seq in _paced(count, RATE):
        sent[seq] = time.monotonic()
        channel.basic_publish("", queue, str(seq).encode(), pika.BasicProperties(delivery_mode=2))
    finished.wait(60)
    connection.close()
    return latencies


def run() -> list[Result]:
    baseline = measure_pika()
    with fresh_database("busp") as producer_db, fresh_database("busc") as consumer_db:
        ours = measure_outbox(producer_db, consumer_db)
    count = int(RATE * SECONDS)
    detail = {
        "rate_per_s": RATE,
        "seconds": SECONDS,
        "events": count,
        "consumed": len(ours),
        "baseline_p99_ms": round(percentile(baseline, 99), 3),
        "span": "before the producer's hand-off (Portico: its transaction opens; pika: basic_publish) "
        "→ the consumer done, before its ack (Portico: after its commit; pika: on receipt)",
    }
    p50, p99 = median(ours), percentile(ours, 99)
    return [
        Result(
            "bus_commit_to_commit_p50",
            "ms",
            p50,
            "pika publish→confirm→consume p50 (same span)",
            median(baseline),
            "p50 ≤ 10 ms",
            p50 <= 10 and len(ours) == count,
            detail,
        ),
        Result(
            "bus_commit_to_commit_p99",
            "ms",
            p99,
            "pika publish→confirm→consume p99 (same span)",
            percentile(baseline, 99),
            "p99 ≤ 100 ms",
            p99 <= 100 and len(ours) == count,
            detail,
        ),
    ]
