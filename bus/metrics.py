"""Prometheus metrics of the bus, labelled by part (one registry per process)."""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_CONSUMED = Counter(
    "portico_messages_consumed_total", "Messages handled, by outcome", ["part", "type", "outcome"]
)
MESSAGES_DEAD_LETTERED = Counter(
    "portico_messages_dead_lettered_total",
    "Messages sent to the dead-letter queue",
    ["part", "reason"],
)
OUTBOX_PUBLISHED = Counter("portico_outbox_published_total", "Outbox rows published", ["part"])
OUTBOX_PENDING = Gauge(
    "portico_outbox_pending", "Outbox rows not yet confirmed by the broker", ["part"]
)
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
