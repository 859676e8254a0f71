"""The importer's figures read at scrape time: import jobs by status and rows processed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy.engine import Engine

from services.importer.adapters.orm import import_jobs
from services.importer.domain.jobs import JobStatus


def read(engine: Engine) -> list[Any]:
    """`portico_import_jobs{status}` and `portico_import_rows_processed_total` (the rows of
    every job kept, read from the database: the same figure from every process and replica)."""
    with engine.connect() as conn:
        counts = dict(
            conn.execute(
                sa.select(import_jobs.c.status, sa.func.count()).group_by(import_jobs.c.status)
            ).all()
        )
        rows = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(import_jobs.c.processed), 0))
        ).scalar_one()
    jobs = GaugeMetricFamily(
        "portico_import_jobs", "Import jobs kept, by status", labels=["status"]
    )
    for status in JobStatus:
        jobs.add_metric([status.value], counts.get(status.value, 0))
    processed = CounterMetricFamily(
        "portico_import_rows_processed", "Rows of the import jobs kept that were processed"
    )
    processed.add_metric([], int(rows))
    return [jobs, processed]
