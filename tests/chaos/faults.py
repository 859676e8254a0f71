"""The chaos test's fault schedule: seeded, printed, replayable (PORTICO_CHAOS_SEED).

One fault after another, each held for its time then undone, and the time every replica takes to
answer 200 on /readyz again is measured from the undoing:
- `kill-worker`: kill -9 a worker replica of a part (a supervisor starts it again at once);
- `kill-serve`: kill -9 a `serve` replica (its gunicorn master and workers), then start it again;
- `rabbitmq`: `rabbitmqctl stop_app`, then `start_app` (always, in a `finally`), waiting until
  the broker answers;
- `postgres`: the proxy between the cluster and PostgreSQL refuses connections for 10 s (the
  machine's PostgreSQL is shared, so it is not restarted);
- `smtp`: the SMTP sink answers 421 to every message, and its proxy refuses new connections,
  for 30 s (the short run: 15 s);
- `pause`: SIGSTOP a worker replica past its lease (mail or import claims), then SIGCONT.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kombu import Connection

from portico import parts
from tests.chaos.cluster import LEASES, ChaosCluster

RECOVERY_TARGET = 30.0  # seconds for every replica to be ready again after a fault
RECOVERY_DEADLINE = 120.0  # how long the schedule waits before it records a fault as unrecovered


@dataclass
class Fault:
    """One fault of the schedule and what happened to it."""

    kind: str
    target: str
    hold: float  # seconds between doing and undoing
    started: float = 0.0  # wall-clock times (time.time()), to compare with the load's requests
    undone: float = 0.0
    ready: float | None = None  # every replica ready again (None: not within the deadline)
    drained: float | None = (
        None  # then every outbox, queue and consumer hold empty: its backlog is through
    )
    notes: list[str] = field(default_factory=list)

    @property
    def recovery(self) -> float | None:
        return None if self.ready is None else self.ready - self.undone

    def __str__(self) -> str:
        return f"{self.kind}({self.target}, {self.hold:g}s)"


def plan(seed: int, worker_kills: int, smtp_hold: float = 30.0) -> list[Fault]:
    """The schedule for `seed`: the same seed gives the same faults in the same order."""
    pick = random.Random(seed)
    killed = pick.sample(list(parts.PARTS), k=min(worker_kills, len(parts.PARTS)))
    faults = [Fault("kill-worker", f"{name}-worker-{pick.randrange(2)}", 2.0) for name in killed]
    faults.append(Fault("kill-serve", f"{pick.choice(parts.PARTS)}-serve-{pick.randrange(2)}", 2.0))
    faults.append(Fault("rabbitmq", "rabbitmq", 5.0))
    faults.append(Fault("postgres", "postgres", 10.0))
    faults.append(Fault("smtp", "smtp", smtp_hold))
    paused = pick.choice(sorted(LEASES))
    # past the lease of its claims (e-mails, import jobs): another replica takes them over
    faults.append(Fault("pause", f"{paused}-worker-{pick.randrange(2)}", LEASES[paused] + 5.0))
    pick.shuffle(faults)
    return faults


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def broker_answers(amqp_url: str) -> bool:
    try:
        with Connection(amqp_url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
        return True
    except Exception:  # noqa: BLE001 - not yet
        return False


def restart_exited(cluster: ChaosCluster, fault: Fault) -> None:
    """Start again a replica that has exited, as a supervisor's restart policy does (a revived
    process may exit at once when the machine's shared PostgreSQL has no connection left)."""
    for name, process in list(cluster.processes.items()):
        if name.endswith(("-migrate",)) or process.running:
            continue
        cluster.revive(name)
        fault.notes.append(f"{name} exited ({process.status}) and was started again")


def apply(cluster: ChaosCluster, fault: Fault, log: Callable[[str], None]) -> None:
    """Do the fault, hold it, undo it, and wait (bounded) until every replica is ready."""
    fault.started = time.time()
    log(f"fault {fault} begins")
    if fault.kind == "kill-worker" or fault.kind == "kill-serve":
        cluster.kill(fault.target)
        time.sleep(fault.hold)  # the fault's own duration, not a wait for a result
        cluster.revive(fault.target)
    elif fault.kind == "rabbitmq":
        try:
            rabbitmqctl("stop_app")
            time.sleep(fault.hold)
        finally:
            rabbitmqctl("start_app")
            deadline = time.monotonic() + RECOVERY_DEADLINE
            while not broker_answers(cluster.amqp_url) and time.monotonic() < deadline:
                time.sleep(0.5)
    elif fault.kind in ("postgres", "smtp"):
        cluster.cut(fault.target)
        try:
            time.sleep(fault.hold)
        finally:
            cluster.restore(fault.target)
    elif fault.kind == "pause":
        cluster.kill(fault.target, signal.SIGSTOP)
        try:
            time.sleep(fault.hold)
        finally:
            cluster.kill(fault.target, signal.SIGCONT)
    else:
        raise ValueError(f"unknown fault {fault.kind}")
    fault.undone = time.time()
    deadline = time.monotonic() + RECOVERY_DEADLINE
    while time.monotonic() < deadline:
        restart_exited(cluster, fault)
        down = cluster.not_ready()
        if not down:
            fault.ready = time.time()
            break
        time.sleep(0.5)
    else:
        fault.notes.append(f"not ready after {RECOVERY_DEADLINE:g}s: {down}")
    # Drained: a moment when every outbox and queue was empty, then every consumer's oldest
    # unacked message delivered after that moment: the fault's backlog is through, even while
    # the load goes on writing new messages (those are not the fault's).
    empty_at: float | None = None
    while fault.ready is not None and time.monotonic() < deadline:
        if empty_at is None:
            if cluster.nothing_waiting():
                empty_at = time.time()
        elif cluster.handled_since(empty_at):
            fault.drained = time.time()
            break
        time.sleep(0.25)
    recovery = (
        "not recovered" if fault.recovery is None else f"ready again {fault.recovery:.1f}s after"
    )
    if fault.drained is not None:
        recovery += (
            f", outboxes, queues and consumers empty {fault.drained - fault.undone:.1f}s after"
        )
    log(f"fault {fault} undone; {recovery}")
