"""A sign-in's writes in the gateway on PostgreSQL, on the request path's driver road
(gateway/adapters/caller_reader.py): the rate-limit counters and the new session, each one
statement committed by itself."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bus.config import Settings
from gateway.adapters.caller_reader import caller_reader
from gateway.adapters.orm import rate_limits
from gateway.bootstrap import build
from gateway.domain.ratelimit import Limit
from gateway.service_layer import ratelimit

pytestmark = pytest.mark.postgres  # the bus is memory://: nothing here is about RabbitMQ

NOW = datetime(2026, 12, 4, 12, 0, 30, tzinfo=UTC)


@pytest.fixture
def part(pg_url, prefix):
    part = build(
        Settings(part="gateway", database_url=pg_url, broker_url="memory://", bus_prefix=prefix)
    )
    part.migrate()
    assert caller_reader(part.engine).raw is not None  # the driver's road, not the engine's
    yield part
    part.engine.dispose()


def counts(part) -> dict[tuple[str, int], int]:
    with part.engine.connect() as conn:  # another connection: what is committed
        return {
            (row.key, row.window_start): row.count for row in conn.execute(sa.select(rate_limits))
        }


def test_concurrent_attempts_are_each_counted_once_and_committed(part):
    """Eight workers' threads hit the same two keys at once: every attempt counts, on both keys,
    and the counts are committed when the hit returns (another connection reads them)."""
    limits = [
        ("sign-in:ip:10.0.0.1", Limit(1000, 60)),
        ("sign-in:email:ada@example.com", Limit(1000, 60)),
    ]
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def attempts() -> None:
        start.wait()
        try:
            for _ in range(25):
                assert ratelimit.hit_all(part, limits, NOW) is None
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            failures.append(exc)

    threads = [threading.Thread(target=attempts) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    window = Limit(1000, 60).window_start(NOW)
    assert counts(part) == {
        ("sign-in:ip:10.0.0.1", window): 200,
        ("sign-in:email:ada@example.com", window): 200,
    }


def test_the_attempt_over_either_limit_waits_for_its_window(part):
    ip, email = Limit(3, 60), Limit(2, 60)
    hits = [("sign-in:ip:10.0.0.2", ip), ("sign-in:email:bob@example.com", email)]
    assert [ratelimit.hit_all(part, hits, NOW) for _ in range(2)] == [None, None]
    assert ratelimit.hit_all(part, hits, NOW) == 30  # the e-mail's 3rd: 30 s until its window ends
    assert ratelimit.hit(part, "sign-in:ip:10.0.0.2", ip, NOW) == 30  # the IP's 4th
    later = datetime(2026, 12, 4, 12, 1, 0, tzinfo=UTC)  # the next window: counted afresh
    assert ratelimit.hit_all(part, hits, later) is None
    assert counts(part)[("sign-in:email:bob@example.com", email.window_start(later))] == 1
