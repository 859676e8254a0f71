"""Attempt counters in the gateway's database, so every gunicorn worker sees the same counts."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bus.part import Part
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
    insert = (postgresql.insert if part.engine.dialect.name == "postgresql" else sqlite.insert)(rate_limits)
    statement = insert.values([
        {"key": key, "window_start": limit.window_start(now), "count": 1} for key, limit in enabled.items()
    ]).on_conflict_do_update(
        index_elements=["key", "window_start"], set_={"count": rate_limits.c.count + 1}
    ).returning(rate_limits.c.key, rate_limits.c.count)
    with part.engine.begin() as conn:
        counts = {key: count for key, count in conn.execute(statement).all()}
    waits = [limit.retry_after(now) for key, limit in enabled.items() if counts[key] > limit.count]
    return max(waits, default=None)


def waiting(part: Part, key: str, limit: Limit, now: datetime) -> int | None:
    """Seconds to wait when `key` has already used up its limit in this window (counts nothing)."""
    if not limit.enabled:
        return None
    with part.engine.connect() as conn:
        count = conn.execute(sa.select(rate_limits.c.count).where(
            rate_limits.c.key == key[:320], rate_limits.c.window_start == limit.window_start(now))).scalar()
    return limit.retry_after(now) if count is not None and count >= limit.count else None


def purge_old_counters(part: Part, now: datetime, keep: timedelta = timedelta(days=1)) -> int:
    with part.uow() as uow:
        result = uow.session.execute(
            rate_limits.delete().where(rate_limits.c.window_start < int((now - keep).timestamp())))
        uow.commit()
    return result.rowcount or 0
