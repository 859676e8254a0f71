"""What the `limits` library (the one Flask-Limiter uses) would cost in place of the gateway's
own rate limiter.

The gateway counts attempts in its own database (gateway/domain/ratelimit.py,
gateway/service_layer/ratelimit.py): a fixed window per key, and a sign-in's two counters (per
IP, per address) in one INSERT … ON CONFLICT … RETURNING on the request path's driver road, so
that every gunicorn worker and every replica sees the same counts. The library's way to share
counts between processes is a storage server: `limits` has no SQL storage, and Redis is the one
Flask-Limiter deployments use, so the baseline is `limits`' FixedWindowRateLimiter on its Redis
storage (the `redis` client), one `hit` per counter (a Lua INCR + EXPIRE; its window starts at a
key's first hit, ours on the clock's minute). Portico runs no Redis: taking the library would add
one to every deployment.

Both count the same sign-in checks under the default limits (20/60 per IP, 10/60 per address;
a new IP every 10 checks and a new address every 5, so no check is refused and both do the same
writes), in alternating rounds so that a busy machine weighs on both alike. Printed, same run:
the client CPU per check (this process only; PostgreSQL's and Redis's own CPU are not counted)
and the checks per second of each (one thread, the server's round trip and, for PostgreSQL, the
commit included). Run, with PostgreSQL and `redis-server` on this machine (apt-get install
redis-server; the bench starts its own on a free port and stops it):

    PORTICO_TEST_DATABASE_URL=postgresql://... .venv/bin/python -m bench.rate_limiter [CHECKS]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from bench.env import fresh_database
from bus.config import Settings
from gateway.adapters.caller_reader import caller_reader
from gateway.domain.ratelimit import Limit
from gateway.service_layer import ratelimit

PER_IP = Limit.parse("20/60")  # the gateway's defaults (PORTICO_RATE_SIGN_IN_PER_*)
PER_EMAIL = Limit.parse("10/60")
ROUNDS = 6


def attempt(n: int) -> tuple[str, str]:
    """The n-th sign-in attempt's IP and address: every counter stays under its limit."""
    ip = n // 10
    return f"10.{ip >> 16 & 255}.{ip >> 8 & 255}.{ip & 255}", f"user{n // 5}@example.test"


@contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away redis-server on a free port (nothing saved to disk): its URL."""
    from tests.service.notifications.smtp_sink import free_port

    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed: apt-get install redis-server")
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("redis-server did not start") from None
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(30)


def ours(url: str) -> tuple[Callable[[str, str], int | None], Callable[[], None]]:
    """The gateway's check on its own database: both counters in one statement."""
    from gateway.bootstrap import build

    settings = Settings(
        part="gateway",
        database_url=url,
        broker_url="memory://",
        bus_prefix=f"bench{uuid.uuid4().hex[:8]}",
    )
    part = build(settings)
    part.migrate()

    def check(ip: str, email: str) -> int | None:
        hits = [(f"sign-in:ip:{ip}", PER_IP), (f"sign-in:email:{email}", PER_EMAIL)]
        return ratelimit.hit_all(part, hits, datetime.now(UTC))

    def close() -> None:
        reader = caller_reader(part.engine)
        if reader.raw is not None:
            reader.raw.dispose()
        part.engine.dispose()

    return check, close


def library(url: str) -> tuple[Callable[[str, str], int | None], Callable[[], None]]:
    """The same check with `limits` on Redis: one hit per counter, the wait read when refused."""
    from limits import RateLimitItemPerSecond
    from limits.storage import storage_from_string
    from limits.strategies import FixedWindowRateLimiter

    limiter = FixedWindowRateLimiter(storage_from_string(url))
    per_ip = RateLimitItemPerSecond(PER_IP.count, PER_IP.seconds)
    per_email = RateLimitItemPerSecond(PER_EMAIL.count, PER_EMAIL.seconds)

    def check(ip: str, email: str) -> int | None:
        refused = [
            (item, key)
            for item, key in ((per_ip, ("ip", ip)), (per_email, ("email", email)))
            if not limiter.hit(item, "sign-in", *key)
        ]
        if not refused:
            return None
        resets = [
            limiter.get_window_stats(item, "sign-in", *key).reset_time for item, key in refused
        ]
        return max(1, round(max(resets) - time.time()))

    return check, lambda: None  # its connections end with the throw-away Redis server


def agree(check: Callable[[str, str], int | None]) -> None:
    """The 11th attempt on one address within a minute is refused, the 10th is not (tried on a
    second address when a window ended in the middle)."""
    for email in ("zoe@example.test", "zoe2@example.test"):
        outcomes = [check("192.0.2.1", email) for _ in range(PER_EMAIL.count + 1)]
        if outcomes[-1] is not None:
            break
    assert outcomes[:-1] == [None] * PER_EMAIL.count, outcomes
    assert outcomes[-1] is not None and 1 <= outcomes[-1] <= PER_EMAIL.seconds, outcomes


def main(argv: list[str]) -> None:
    checks = int(argv[0]) if argv else 3000
    per_round = max(1, checks // ROUNDS)
    with fresh_database("ratelimit") as database, redis_server() as redis_url:
        opened = {"gateway (PostgreSQL)": ours(database), "limits (Redis)": library(redis_url)}
        roads = {name: check for name, (check, _close) in opened.items()}
        cpu = dict.fromkeys(roads, 0.0)
        wall = dict.fromkeys(roads, 0.0)
        for check in roads.values():
            agree(check)
            for n in range(100):  # warm-up: connections, compiled statements
                check(*attempt(n))
        for round_ in range(ROUNDS):
            names = list(roads) if round_ % 2 == 0 else list(reversed(roads))
            for name in names:
                check = roads[name]
                start = 100 + round_ * per_round
                started, cpu_started = time.perf_counter(), time.process_time()
                for n in range(start, start + per_round):
                    check(*attempt(n))
                cpu[name] += time.process_time() - cpu_started
                wall[name] += time.perf_counter() - started
        for _check, close in opened.values():
            close()
    done = per_round * ROUNDS
    (hand, lib) = (1e6 * cpu[name] / done for name in roads)
    (hand_rate, lib_rate) = (done / wall[name] for name in roads)
    print(
        f"{done} sign-in checks (2 counters each), client CPU per check: gateway on PostgreSQL "
        f"{hand:.0f} µs, limits on Redis {lib:.0f} µs ({lib / hand:.2f}x); checks per second: "
        f"gateway {hand_rate:.0f}/s, limits {lib_rate:.0f}/s ({lib_rate / hand_rate:.2f}x)"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
