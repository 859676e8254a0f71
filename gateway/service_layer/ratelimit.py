"""Attempt counters in the gateway's database, so every gunicorn worker sees the same counts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite

from bus.part import Part
from gateway.adapters.orm import rate_limits
from gateway.domain.ratelimit import Limit


def hit(part: Part, key: str, limit: Limit, now: datetime) -> int | None:
    """Count one attempt under `key`; seconds to wait when over the limit, else None."""
    if not limit.enabled:
        return None
    window = limit.window_start(now)
    insert = (postgresql.insert if part.engine.dialect.name == "postgresql" else sqlite.insert)(rate_limits)
    statement = insert.values(key=key[:320], window_start=window, count=1).on_conflict_do_update(
        index_elements=["key", "window_start"], set_={"count": rate_limits.c.count + 1}
    ).returning(rate_limits.c.count)
    with part.uow() as uow:
        count = uow.session.execute(statement).scalar_one()
        uow.commit()
    return limit.retry_after(now) if count > limit.count else None


def purge_old_counters(part: Part, now: datetime, keep: timedelta = timedelta(days=1)) -> int:
    with part.uow() as uow:
        result = uow.session.execute(
            rate_limits.delete().where(rate_limits.c.window_start < int((now - keep).timestamp())))
        uow.commit()
    return result.rowcount or 0
