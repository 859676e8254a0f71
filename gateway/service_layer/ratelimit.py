"""Attempt counters in the gateway's database, so every gunicorn worker sees the same counts.

A hit is one statement built once per dialect and number of keys, run on the request path's
driver road (gateway/adapters/caller_reader.py): on PostgreSQL one round trip, committed by
itself, with no SQL compiled per request (compiling the multi-row upsert was a third of a
sign-in's CPU in the gateway).
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bus.db import changed_rows
from bus.part import Part
from gateway.adapters.caller_reader import caller_reader
from gateway.adapters.orm import rate_limits
from gateway.domain.ratelimit import Limit


def hit(part: Part, key: str, limit: Limit, now: datetime) -> int | None:
    """Count one attempt under `key`; seconds to wait when over the limit, else None."""
    return hit_all(part, [(key, limit)], now)


def hit_all(part: Part, hits: list[tuple[str, Limit]], now: datetime) -> int | None:
    """Count one attempt under each key, in one statement; the longest wait over any limit, else None."""
    enabled = {key[:320]: limit for key, limit in hits if limit.enabled}
    if not enabled:
        return None
    params: dict[str, object] = {}
    for index, (key, limit) in enumerate(enabled.items()):
        params[f"key_{index}"], params[f"window_{index}"] = key, limit.window_start(now)
    rows = caller_reader(part.engine).write(
        _counting(part.engine.dialect.name, len(enabled)), params
    )
    counts = {row["key"]: row["count"] for row in rows}
    waits = [limit.retry_after(now) for key, limit in enabled.items() if counts[key] > limit.count]
    return max(waits, default=None)


@functools.cache
def _counting(dialect: str, keys: int) -> sa.Insert:
    """INSERT … ON CONFLICT DO UPDATE count + 1 RETURNING the counts, for `keys` keys (bound as
    key_0, window_0, key_1, ...): built once, so its SQL is compiled once."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(rate_limits)
    return (
        insert.values(
            [
                {
                    "key": sa.bindparam(f"key_{i}", type_=rate_limits.c.key.type),
                    "window_start": sa.bindparam(
                        f"window_{i}", type_=rate_limits.c.window_start.type
                    ),
                    "count": 1,
                }
                for i in range(keys)
            ]
        )
        .on_conflict_do_update(
            index_elements=["key", "window_start"], set_={"count": rate_limits.c.count + 1}
        )
        .returning(rate_limits.c.key, rate_limits.c.count)
    )


def waiting(part: Part, key: str, limit: Limit, now: datetime) -> int | None:
    """Seconds to wait when `key` has already used up its limit in this window (counts nothing)."""
    if not limit.enabled:
        return None
    with part.engine.connect() as conn:
        count = conn.execute(
            sa.select(rate_limits.c.count).where(
                rate_limits.c.key == key[:320],
                rate_limits.c.window_start == limit.window_start(now),
            )
        ).scalar()
    return limit.retry_after(now) if count is not None and count >= limit.count else None


def purge_old_counters(part: Part, now: datetime, keep: timedelta = timedelta(days=1)) -> int:
    with part.uow() as uow:
        result = uow.session.execute(
            rate_limits.delete().where(rate_limits.c.window_start < int((now - keep).timestamp()))
        )
        uow.commit()
    return changed_rows(result)
