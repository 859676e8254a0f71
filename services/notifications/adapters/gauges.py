"""Notifications' figures read at scrape time: e-mails waiting to be sent, and failed ones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.engine import Engine

from services.notifications.adapters.orm import outgoing
from services.notifications.domain.records import PENDING


def read(engine: Engine) -> list[Any]:
    """`portico_mails_waiting` (queued, retrying or being sent), the age of the oldest of them,
    and `portico_mails_failed` (given up on, kept until the retention sweep)."""
    with engine.connect() as conn:
        waiting, oldest = conn.execute(
            sa.select(sa.func.count(), sa.func.min(outgoing.c.created_at)).where(
                outgoing.c.status.in_(PENDING)
            )
        ).one()
        failed = conn.execute(
            sa.select(sa.func.count()).where(outgoing.c.status == "failed")
        ).scalar_one()
    age = 0.0
    if oldest is not None:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        age = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
    families = []
    for name, documentation, value in (
        ("portico_mails_waiting", "E-mails queued, retrying or being sent", waiting),
        (
            "portico_mails_oldest_waiting_age_seconds",
            "Age of the oldest e-mail waiting to be sent (0 when none waits)",
            age,
        ),
        (
            "portico_mails_failed",
            "E-mails given up on (kept until the mail retention sweep)",
            failed,
        ),
    ):
        family = GaugeMetricFamily(name, documentation)
        family.add_metric([], value)
        families.append(family)
    return families
