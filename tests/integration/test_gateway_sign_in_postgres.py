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
from gateway.adapters.orm import rate_limits, sessions
from gateway.bootstrap import build
from gateway.domain.ratelimit import Limit
from gateway.domain.sessions import SessionPolicy
from gateway.service_layer import ratelimit
from gateway.service_layer.sessions import find_caller, keep_profile, open_session

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


def test_a_new_session_is_found_and_the_users_kept_profiles_are_forgotten(part):
    """Opening a session (one statement) writes it and clears the GET /me answer kept on the
    user's other sessions, and on theirs only."""
    policy = SessionPolicy()
    ada, bob = {"id": "u-ada", "account_id": "acc-1"}, {"id": "u-bob", "account_id": "acc-1"}
    earlier = open_session(
        part, policy, ada, password_change_required=False, ip="10.0.0.1", user_agent="a"
    )
    others = open_session(
        part, policy, bob, password_change_required=False, ip="10.0.0.2", user_agent="b"
    )
    for opened in (earlier, others):
        info, _ = find_caller(part, policy, opened.token)
        keep_profile(part, info, {"first_name": "kept"}, part.clock.now())

    opened = open_session(
        part,
        policy,
        {**ada, "last_sign_in_at": "2026-12-01T09:00:00Z"},
        password_change_required=True,
        ip="10.0.0.3",
        user_agent="c",
    )

    info, access = find_caller(part, policy, opened.token)
    assert (
        info.user_id,
        access.account_id,
        info.password_change_required,
        info.previous_sign_in_at,
    ) == ("u-ada", "acc-1", True, "2026-12-01T09:00:00Z")
    assert info.profile is None and info.profile_version == 0
    with part.engine.connect() as conn:
        rows = {row.id: row for row in conn.execute(sa.select(sessions))}
    assert rows[earlier.info.id].profile is None and rows[earlier.info.id].profile_version == 1
    assert rows[others.info.id].profile is not None and rows[others.info.id].profile_version == 0
    assert (rows[opened.info.id].ip, rows[opened.info.id].user_agent) == ("10.0.0.3", "c")
