"""The chaos test's figures: requests, error rates in and out of fault windows, latency per
journey, propagation p99 from the gateway's portico_propagation_seconds, recovery per fault."""

from __future__ import annotations

import json
import math
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.chaos.cluster import ChaosCluster
from tests.chaos.faults import Fault

GRACE = 2.0  # seconds after a fault's recovery still counted inside its window


@dataclass
class Window:
    start: float
    end: float

    def overlaps(self, start: float, end: float) -> bool:
        return start <= self.end and end >= self.start


def windows(faults: list[Fault], outside: Sequence[Window] = ()) -> list[Window]:
    """A fault's window: from its start until its backlog is through (every replica ready, and
    every outbox, queue and consumer hold empty), plus GRACE; and the `outside` faults' windows (the shared PostgreSQL
    full of other tests' connections)."""
    return [
        Window(f.started, (f.drained or f.ready or f.undone + 120) + GRACE)
        for f in faults
        if f.started
    ] + list(outside)


def full_server_windows(full_at: list[float], every: float) -> list[Window]:
    """The moments the shared PostgreSQL had no connection left (sampled every `every` seconds)
    as windows: a fault from outside the cluster, from the sample before to GRACE after."""
    found: list[Window] = []
    for t in sorted(full_at):
        if found and t - every <= found[-1].end:
            found[-1].end = t + GRACE
        else:
            found.append(Window(t - every, t + GRACE))
    return found


def read_requests(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def is_error(status: int) -> bool:
    return status == 0 or status >= 500


def split(
    requests: list[dict[str, Any]], faults: list[Fault], outside: Sequence[Window] = ()
) -> tuple[list[dict], list[dict]]:
    """The requests inside some fault window, and those outside every one."""
    spans = windows(faults, outside)
    inside, outside = [], []
    for r in requests:
        start = r["t"] - r["ms"] / 1000
        (inside if any(w.overlaps(start, r["t"]) for w in spans) else outside).append(r)
    return inside, outside


# --- the gateway's propagation histogram ----------------------------------------------------


Buckets = dict[float, float]  # upper bound → cumulative count, summed over the gateway's workers


def propagation_buckets(
    cluster: ChaosCluster, previous: dict[str, Buckets] | None = None
) -> dict[str, Buckets]:
    """Per gateway worker replica, its portico_propagation_seconds buckets now (a replica that
    does not answer keeps its `previous` buckets: its next answer is compared with those)."""
    found: dict[str, Buckets] = dict(previous or {})
    with httpx.Client(timeout=5) as client:
        for r, url in enumerate(cluster.replica_worker_urls["gateway"]):
            try:
                text = client.get(f"{url}/metrics").text
            except httpx.HTTPError:
                continue
            buckets: Buckets = {}
            for family in text_string_to_metric_families(text):
                if family.name == "portico_propagation_seconds":
                    for sample in family.samples:
                        if sample.name.endswith("_bucket"):
                            bound = float(sample.labels["le"])
                            buckets[bound] = buckets.get(bound, 0.0) + sample.value
            found[f"gateway-worker-{r}"] = buckets
    return found


def delta(before: dict[str, Buckets], after: dict[str, Buckets]) -> Buckets:
    """What was observed between two snapshots (a restarted worker starts from zero)."""
    total: Buckets = defaultdict(float)
    for worker, now in after.items():
        then = before.get(worker, {})
        restarted = sum(now.values()) < sum(then.values())
        for bound, count in now.items():
            total[bound] += count - (0 if restarted else then.get(bound, 0.0))
    return dict(total)


def add(a: Buckets, b: Buckets) -> Buckets:
    return {bound: a.get(bound, 0.0) + b.get(bound, 0.0) for bound in set(a) | set(b)}


def later_than(buckets: Buckets, seconds: float) -> float:
    """How many observations took longer than `seconds` (a bucket bound)."""
    return buckets.get(math.inf, 0.0) - buckets.get(seconds, 0.0)


class PropagationSampler:
    """The gateway workers' propagation buckets, read every `every` seconds in a thread, so
    that what was observed between two reads is put inside or outside the fault windows by when
    it was observed, as the requests are."""

    def __init__(self, cluster: ChaosCluster, every: float = 1.0) -> None:
        self.cluster = cluster
        self.every = every
        self.samples: list[tuple[float, dict[str, Buckets]]] = []

    def start(self, stop: threading.Event) -> PropagationSampler:
        def sample() -> None:
            last: dict[str, Buckets] = {}
            while True:
                try:
                    last = propagation_buckets(self.cluster, last)
                    self.samples.append((time.time(), last))
                except Exception:  # noqa: BLE001 - the next read makes up for it
                    pass
                if stop.wait(self.every):
                    break

        threading.Thread(target=sample, name="chaos-propagation", daemon=True).start()
        return self

    def split(
        self, spans: Sequence[Window]
    ) -> tuple[Buckets, Buckets, list[tuple[float, float, float]]]:
        """(observed outside every window, observed over the whole run, and the intervals
        outside the windows that observed events slower than 1 s: start, end, how many)."""
        outside: Buckets = {}
        whole: Buckets = {}
        slow: list[tuple[float, float, float]] = []
        for (start, before), (end, after) in zip(self.samples, self.samples[1:], strict=False):
            observed = delta(before, after)
            whole = add(whole, observed)
            if not any(w.overlaps(start, end) for w in spans):
                outside = add(outside, observed)
                if later_than(observed, 1.0) > 0:
                    slow.append((start, end, later_than(observed, 1.0)))
        return outside, whole, slow


def bucket_quantile(buckets: Buckets, q: float) -> tuple[float, float]:
    """(the upper bound of the bucket holding quantile q, how many observations)."""
    ordered = sorted(buckets.items())
    if not ordered or ordered[-1][1] <= 0:
        return math.nan, 0.0
    count = ordered[-1][1]
    for bound, cumulative in ordered:
        if cumulative >= q * count:
            return bound, count
    return math.inf, count


# --- the printed report ---------------------------------------------------------------------


def render(
    requests: list[dict[str, Any]],
    faults: list[Fault],
    propagation_outside: Buckets,
    propagation_all: Buckets,
    load: str,
    server_full: Sequence[Window] = (),
) -> tuple[str, dict[str, Any]]:
    inside, outside = split(requests, faults, server_full)
    figures: dict[str, Any] = {
        "requests": len(requests),
        "errors_outside": sum(is_error(r["status"]) for r in outside),
        "requests_outside": len(outside),
        "errors_inside": sum(is_error(r["status"]) for r in inside),
        "requests_inside": len(inside),
        # a journey's step answered 4xx: not what the journey expects (read-your-writes broken)
        "refused_outside": sum(400 <= r["status"] < 500 for r in outside),
    }
    p99_out, n_out = bucket_quantile(propagation_outside, 0.99)
    p99_all, n_all = bucket_quantile(propagation_all, 0.99)
    figures["propagation_p99_outside"] = p99_out
    lines = [
        f"chaos run: {load}",
        f"requests: {len(requests)} ({len(outside)} outside fault windows, {len(inside)} inside)",
    ]
    for name, part in (("outside", outside), ("inside", inside)):
        errors = [r for r in part if is_error(r["status"])]
        rate = 100 * len(errors) / len(part) if part else 0.0
        kinds = defaultdict(int)
        for r in errors:
            kinds[f"{r['status'] or 'no answer'} {r['step']}"] += 1
        detail = "; ".join(f"{k}: {n}" for k, n in sorted(kinds.items())) or "none"
        lines.append(
            f"errors (5xx or no answer) {name} fault windows: {len(errors)} = {rate:.2f}% ({detail})"
        )
    for name, part in (("outside", outside), ("inside", inside)):
        refused: dict[str, int] = defaultdict(int)
        for r in part:
            if 400 <= r["status"] < 500:
                refused[f"{r['status']} {r['step']}"] += 1
        detail = "; ".join(f"{k}: {n}" for k, n in sorted(refused.items())) or "none"
        lines.append(f"4xx answers {name} fault windows: {detail}")
    lines.append("latency per journey step (ms): step, requests, p50, p99")
    by_step: dict[str, list[float]] = defaultdict(list)
    for r in requests:
        by_step[r["step"]].append(r["ms"])
    for step, values in sorted(by_step.items()):
        lines.append(
            f"  {step:<40} {len(values):>6} {percentile(values, 0.5):>8.0f} {percentile(values, 0.99):>8.0f}"
        )
    lines.append(
        f"propagation p99 (portico_propagation_seconds, bucket bound): outside fault windows "
        f"<= {p99_out:g}s over {n_out:.0f} events; whole run <= {p99_all:g}s over {n_all:.0f} events"
    )
    for name, buckets in (
        ("outside fault windows", propagation_outside),
        ("whole run", propagation_all),
    ):
        ordered = sorted(buckets.items())
        counts = [
            (bound, n - (ordered[i - 1][1] if i else 0)) for i, (bound, n) in enumerate(ordered)
        ]
        lines.append(
            f"propagation events per bucket, {name}: "
            + ", ".join(f"<={bound:g}s: {n:.0f}" for bound, n in counts if n)
        )
    if server_full:
        seconds = sum(w.end - w.start for w in server_full)
        lines.append(
            f"the machine's shared PostgreSQL was full (other tests' connections) {len(server_full)} "
            f"time(s), {seconds:.0f}s in all: requests then are counted inside fault windows"
        )
    lines.append("faults (recovery = every replica's /readyz 200 again, from the undoing):")
    for f in faults:
        recovery = "NOT RECOVERED" if f.recovery is None else f"{f.recovery:.1f}s"
        drained = (
            ""
            if f.drained is None
            else f", outboxes, queues and consumers empty {f.drained - f.undone:.1f}s after"
        )
        when = time.strftime("%H:%M:%S", time.gmtime(f.started)) if f.started else "not run"
        window = ""
        if f.started:
            end = (f.drained or f.ready or f.undone + 120) + GRACE
            window = f", window until {time.strftime('%H:%M:%S', time.gmtime(end))}"
        lines.append(
            f"  {f} at {when} UTC: recovery {recovery}{drained}{window} {' '.join(f.notes)}"
        )
    return "\n".join(lines), figures
