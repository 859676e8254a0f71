"""Prometheus metrics of every part: HTTP requests, the bus, and figures read at scrape time.

Counters and histograms are recorded where things happen (one registry per process; under
gunicorn, prometheus_client's multiprocess mode merges the worker processes, see
`bus.http.metrics_text`). What is a state rather than an event — outbox rows waiting, import
jobs by status, e-mails waiting — is read from the part's database when /metrics is scraped
(`Part.gauges()`), so every process and replica tells the same, current figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from logging import Logger
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

HTTP_REQUESTS = Counter(
    "portico_http_requests_total",
    "HTTP requests answered, by route template (never the raw path), method and status",
    ["part", "route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "portico_http_request_seconds",
    "Time to answer an HTTP request, by route template and method",
    ["part", "route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
MESSAGES_CONSUMED = Counter(
    "portico_messages_consumed_total",
    "Messages taken from the part's queue, by type and outcome "
    "(handled, duplicate, retry, requeue, dead)",
    ["part", "type", "outcome"],
)
MESSAGES_DEAD_LETTERED = Counter(
    "portico_messages_dead_lettered_total",
    "Messages sent to the dead-letter queue, by type and reason (invalid, rejected, failed)",
    ["part", "type", "reason"],
)
OUTBOX_PUBLISHED = Counter("portico_outbox_published_total", "Outbox rows published", ["part"])
OUTBOX_ERRORS = Counter("portico_outbox_errors_total", "Relay attempts that failed", ["part"])
RETENTION_DELETED = Counter(
    "portico_bus_retention_deleted_total",
    "Published outbox rows and processed message ids deleted after PORTICO_BUS_KEEP_DAYS",
    ["part", "table"],
)
HANDLE_SECONDS = Histogram(
    "portico_handle_seconds",
    "Time to handle one message",
    ["part"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

# Read at scrape time (Part.gauges): their names, for the docs and the alert rules' test.
OUTBOX_PENDING = "portico_outbox_pending"
OUTBOX_OLDEST_AGE = "portico_outbox_oldest_age_seconds"
READY = "portico_ready"
CONSUMER_HELD = "portico_consumer_held_messages"
CONSUMER_OLDEST_HELD = "portico_consumer_oldest_held_seconds"


def gauge(name: str, documentation: str, labels: dict[str, str], value: float) -> GaugeMetricFamily:
    """One gauge family with one sample, for `Part.gauges()`."""
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


def readiness_gauge(part: str, report: dict[str, str]) -> GaugeMetricFamily:
    """`portico_ready{part, check}`: 1 when the check of /readyz is ok, else 0."""
    family = GaugeMetricFamily(
        READY, "1 when the dependency /readyz checks answers, else 0", labels=["part", "check"]
    )
    for check, state in sorted(report.items()):
        family.add_metric([part, check], 1.0 if state == "ok" else 0.0)
    return family


class ScrapeTime(Collector):
    """A collector that yields what the given callables read when it is collected.

    With `log`, a source that fails (its database away) is logged and left out of this
    scrape: the rest is still answered, and `portico_ready` says what is wrong.
    """

    def __init__(self, *sources: Callable[[], Iterable[Any]], log: Logger | None = None) -> None:
        self.sources = sources
        self.log = log

    def describe(self) -> Iterable[Any]:
        return []

    def collect(self) -> Iterable[Any]:
        for source in self.sources:
            if self.log is None:
                yield from source()
                continue
            try:
                families = list(source())
            except Exception as exc:  # noqa: BLE001 - a scrape answers what it can
                self.log.warning("metrics: a figure could not be read at scrape time: %s", exc)
                continue
            yield from families
