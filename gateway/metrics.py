"""Gateway metrics: how long a change takes to become visible in the portal."""

from prometheus_client import Counter, Histogram

PROPAGATION_SECONDS = Histogram(
    "portico_propagation_seconds",
    "Time from an event's occurrence to its application in the gateway's projections",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)

OWN_EVENTS_WAIT_SECONDS = Histogram(
    "portico_own_events_wait_seconds",
    "How long a caller's call waited for a service to apply the caller's own earlier events "
    "(read-your-writes across services), by service",
    ["service"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)

OWN_EVENTS_LATE = Counter(
    "portico_own_events_late",
    "Calls forwarded although the service had not applied the caller's own events within "
    "PORTICO_OWN_EVENTS_WAIT_SECONDS, by service",
    ["service"],
)
