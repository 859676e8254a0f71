"""The whole portal under load and faults (the chaos test).

Two replicas of every `serve` and `worker` (tests/chaos/cluster.py) on RabbitMQ and PostgreSQL;
locust virtual users do the manual's journeys at once (tests/chaos/load.py) while a seeded fault
schedule (tests/chaos/faults.py; replay with PORTICO_CHAOS_SEED) kills, cuts and pauses parts one
after another. Then the invariant checker (tests/chaos/invariants.py) reads every part through
its API and the SMTP sink, and the report (tests/chaos/report.py) is printed.

`make test` (CI) runs the short version: 6 virtual users for about two minutes of load and one
of each fault (one part's worker killed, the SMTP sink cut 15 s), about 3.5 minutes with the
cluster's start. `make test-chaos` runs the full one (PORTICO_CHAOS=full): 20 virtual users for
at least 3 minutes, three imports of 200 rows, a worker of every part killed, the SMTP sink cut
30 s. Both are sized for a 2-core machine shared with other work; the output says the size.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Producer

from portico import parts
from tests.chaos import faults as schedule
from tests.chaos import invariants, report
from tests.chaos.cluster import ChaosCluster

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

LAG_DEADLINE = 30.0  # seconds after the last fault for every outbox to be empty
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Size:
    users: int
    seconds: float  # of load at least (the fault schedule may make it longer)
    imports: int
    import_rows: int
    worker_kills: int  # parts whose worker is killed
    gap: float  # seconds of plain load before and between faults
    smtp_hold: float  # seconds the SMTP sink refuses connections

    def describe(self) -> str:
        return (
            f"{self.users} virtual users for at least {self.seconds:g}s, {self.imports} import(s) of "
            f"{self.import_rows} rows, {self.worker_kills} worker kill(s), {self.gap:g}s between "
            f"faults, SMTP cut {self.smtp_hold:g}s"
        )


# About 3.5 minutes in all on a 2-core machine shared with other tests, cluster start included.
SHORT = Size(users=6, seconds=60, imports=1, import_rows=100, worker_kills=1, gap=5, smtp_hold=15)
FULL = Size(
    users=20,
    seconds=180,
    imports=3,
    import_rows=200,
    worker_kills=len(parts.PARTS),
    gap=10,
    smtp_hold=30,
)


def plant_dead_letter(cluster: ChaosCluster) -> dict[str, int]:
    """A content.published that breaks its contract: notifications dead-letters it (planted)."""
    body = {
        "id": str(uuid.uuid4()),
        "type": "content.published",
        "version": 1,
        "occurred_at": "2026-01-01T00:00:00Z",
        "producer": "chaos-test",
        "correlation_id": None,
        "causation_id": None,
        "account_id": None,
        "data": {"kind": 42},
    }
    with Connection(cluster.amqp_url, connect_timeout=5) as conn:
        exchange = Exchange(f"{cluster.prefix}.events", type="topic", durable=True, passive=True)
        Producer(conn.channel(), exchange=exchange).publish(
            json.dumps(body),
            routing_key="content.published",
            content_type="application/json",
            message_id=body["id"],
            delivery_mode=2,
        )
    return {"notifications": 1}


def run(cluster: ChaosCluster, size: Size, workdir: Path) -> None:
    seed = int(os.environ.get("PORTICO_CHAOS_SEED") or random.randrange(1_000_000))
    plan = schedule.plan(seed, size.worker_kills, size.smtp_hold)
    load_text = (
        f"{size.describe()}; two replicas of every serve (1 gunicorn worker each) and worker; "
        f"machine shared with other tests"
    )
    print(
        f"\nchaos: PORTICO_CHAOS_SEED={seed}; faults in order: {', '.join(map(str, plan))}",
        flush=True,
    )
    planted = plant_dead_letter(cluster)
    watching = threading.Event()
    connections = cluster.watch_connections(watching)

    files = {
        name: workdir / f"{name}"
        for name in ("requests.jsonl", "ledger.jsonl", "stop", "load.json")
    }
    files["load.json"].write_text(
        json.dumps(
            {
                "gateway_url": cluster.gateway_url,
                "operator_token": cluster.operator_token,
                "mail_journal": str(cluster.mail.journal),
                "requests": str(files["requests.jsonl"]),
                "ledger": str(files["ledger.jsonl"]),
                "stop_file": str(files["stop"]),
                "users": size.users,
                "spawn_rate": 2,
                "max_seconds": size.seconds + 900,
                "imports": size.imports,
                "import_rows": size.import_rows,
                "seed": seed,
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    env["PYTHONPATH"] = str(ROOT)
    with (workdir / "load.log").open("w") as out:
        load = subprocess.Popen(
            [sys.executable, "-m", "tests.chaos.load", str(files["load.json"])],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    began = time.monotonic()
    sampler = report.PropagationSampler(cluster).start(watching)
    try:
        for fault in plan:
            time.sleep(size.gap)  # plain load between faults: the schedule's spacing
            schedule.apply(cluster, fault, lambda line: print(f"chaos: {line}", flush=True))
        time.sleep(max(size.gap, size.seconds - (time.monotonic() - began)))
        last_fault = plan[-1].undone
        while True:  # every outbox empty within LAG_DEADLINE of the last fault
            lag = cluster.outbox_pending()
            if not any(lag.values()) or time.time() >= last_fault + LAG_DEADLINE:
                break
            time.sleep(0.5)
    finally:
        watching.set()
        files["stop"].write_text("stop")
        try:
            load.wait(timeout=120)
        except subprocess.TimeoutExpired:
            load.kill()
    print(
        f"chaos: load stopped after {time.monotonic() - began:.0f}s: "
        f"{(workdir / 'load.log').read_text()[-400:]}",
        flush=True,
    )

    ledger = invariants.read_ledger(files["ledger.jsonl"])
    problems, resent = invariants.check(cluster, ledger, planted, plan)
    requests = report.read_requests(files["requests.jsonl"])
    server_full = report.full_server_windows(connections.full_at, connections.every)
    outside, whole, slow = sampler.split(report.windows(plan, server_full))
    text, figures = report.render(requests, plan, outside, whole, load_text, server_full)
    for start, end, count in slow:
        text += (
            f"\npropagation slower than 1s outside fault windows: {count:.0f} event(s) applied "
            f"between {time.strftime('%H:%M:%S', time.gmtime(start))} and "
            f"{time.strftime('%H:%M:%S', time.gmtime(end))} UTC"
        )
    kinds: dict[str, int] = {}
    for entry in ledger:
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
    text += f"\nwrites answered 2xx (ledger): {kinds}; e-mails received: {len(cluster.mail)}"
    text += f"\noutbox pending {LAG_DEADLINE:g}s after the last fault: {lag}"
    text += (
        f"\ne-mails sent again with their Message-ID (a notifications worker killed or paused "
        f"between the SMTP server's acceptance and the 'sent' mark): {len(resent)} "
        f"(at most {invariants.resends_allowed(cluster, plan)} allowed by this schedule)"
        + "".join(f"\n  {line}" for line in resent)
    )
    text += (
        f"\nPostgreSQL connections of the cluster: at most {connections.peak} (the whole "
        f"server's: {connections.server_peak}) "
        f"(PORTICO_DB_POOL_SIZE={cluster.env['PORTICO_DB_POOL_SIZE']}, "
        f"PORTICO_DB_MAX_OVERFLOW={cluster.env['PORTICO_DB_MAX_OVERFLOW']} per process)"
    )
    print(text, flush=True)
    (workdir / "report.txt").write_text(text)

    assert figures["requests"] > 0 and kinds.get("user", 0) > 0, f"the load did nothing:\n{text}"
    broken = list(problems)
    if figures["errors_outside"]:
        broken.append(
            f"{figures['errors_outside']} 5xx or unanswered requests outside fault windows"
        )
    if figures["refused_outside"]:
        broken.append(
            f"{figures['refused_outside']} 4xx answers outside fault windows (a journey's step "
            "refused: a follow-up call did not read the caller's own write?)"
        )
    if not figures["propagation_p99_outside"] <= 1.0:
        broken.append(
            f"propagation p99 outside fault windows {figures['propagation_p99_outside']}s > 1s"
        )
    for fault in plan:
        if fault.recovery is None or fault.recovery > schedule.RECOVERY_TARGET:
            late = f"{fault}: not ready within {schedule.RECOVERY_TARGET:g}s ({fault.recovery})"
            end = fault.ready or fault.undone + schedule.RECOVERY_DEADLINE
            if any(w.overlaps(fault.started, end) for w in server_full):
                # a replica could not start: the shared server had no connection left for it
                print(f"chaos: {late}, while the shared PostgreSQL was full", flush=True)
            else:
                broken.append(late)
    if any(lag.values()):
        broken.append(f"outbox not empty {LAG_DEADLINE:g}s after the last fault: {lag}")
    assert not broken, "\n".join(broken[:60]) + f"\n\n{text}"


@pytest.mark.chaos_short
def test_the_portal_keeps_its_promises_under_a_short_load_and_one_of_each_fault(
    chaos_cluster, tmp_path
):
    run(chaos_cluster, SHORT, tmp_path)


@pytest.mark.chaos_full
def test_the_portal_keeps_its_promises_under_load_and_faults(chaos_cluster, tmp_path):
    run(chaos_cluster, FULL, tmp_path)
