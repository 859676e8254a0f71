"""Gateway metrics: how long a change takes to become visible in the portal."""

from prometheus_client import Histogram

PROPAGATION_SECONDS = Histogram(
    "portico_propagation_seconds",
    "Time from an event's occurrence to its application in the gateway's projections",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
