"""The chaos cluster: the end-to-end cluster with two replicas of every `serve` and `worker`.

Built on tests/e2e/harness.py. Each part's two `serve` replicas sit behind a round-robin TCP
proxy on the part's URL (the gateway calls the services through theirs, clients call the
gateway through its own, as through a load balancer that sets X-Forwarded-For:
PORTICO_PROXY_COUNT=1). Every process reaches PostgreSQL and the SMTP sink through a proxy too,
so that a fault can cut them for a while without touching the machine's PostgreSQL. Every
message the sink receives is also appended to a JSON-lines journal, which the load generator (a
process of its own: locust patches the standard library with gevent) reads for its links.

    cluster = ChaosCluster(workdir, amqp_url, pg_admin_url).start()
    cluster.kill("notifications-worker-0"); cluster.revive("notifications-worker-0")
    cluster.cut("postgres"); cluster.restore("postgres")
    cluster.ready_now()  # every serve and worker replica answers 200 on /readyz
"""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from portico import parts
from tests.chaos.proxy import Proxies, Proxy
from tests.e2e.harness import (
    Cluster,
    Mail,
    Mailbox,
    Process,
    SmtpSink,
    free_port,
    portico_argv,
)

REPLICAS = 2
START_RETRIES = 5
TOO_MANY_CLIENTS = "too many clients already"
# The lease of the claims of a part's worker (its e-mails, its import jobs), in seconds.
LEASES = {"notifications": 15, "importer": 10}
# Short retry and lease times, so that the faults of a few minutes' run are recovered from in it.
CHAOS_ENV = {
    "PORTICO_PROXY_COUNT": "1",  # the gateway's proxy stands for the load balancer
    "PORTICO_MAIL_RETRY_SECONDS": "2",
    "PORTICO_MAIL_RETRY_MAX_SECONDS": "8",
    "PORTICO_MAIL_LEASE_SECONDS": str(LEASES["notifications"]),
    "PORTICO_IMPORT_LEASE_SECONDS": str(LEASES["importer"]),
    "PORTICO_EXPIRY_INTERVAL": "2",  # the expiry job of every subscriptions worker, often
    # 20 processes share the machine's PostgreSQL (100 connections for everyone's tests): one
    # connection kept per process, up to 3 more at a peak (deploy/README.md, "Database connections")
    "PORTICO_DB_POOL_SIZE": "1",
    "PORTICO_DB_MAX_OVERFLOW": "3",
    "PORTICO_MAIL_CONNECTIONS": "2",  # each a connection to the SMTP sink and one to PostgreSQL
}


class JournalMailbox(Mailbox):
    """A Mailbox that also appends each message (recipients, subject, Message-ID, links) to a file."""

    def __init__(self, journal: Path) -> None:
        super().__init__()
        self.journal = journal
        self._lock = threading.Lock()

    def add(self, mail: Mail) -> None:
        line = json.dumps(
            {
                "to": [r.lower() for r in mail.recipients],
                "subject": mail.subject,
                "message_id": str(mail.message.get("Message-ID", "")),
                "links": mail.links,
                "at": time.time(),
            }
        )
        with self._lock, self.journal.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
        super().add(mail)


class FailingSmtpSink(SmtpSink):
    """The SMTP sink, which can fail for a while: every message is answered "421 try again
    later" and not filed, so that the sender knows for sure it was not taken (a connection
    broken after the sink filed a message but before its answer reached the sender would make
    that message be sent again, as any SMTP client would)."""

    failing = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        if self.failing:
            return "421 4.3.2 Service not available, try again later"
        return await super().handle_DATA(server, session, envelope)


@dataclass
class Connections:
    """What the connection watcher saw: the cluster's peak, and when the server was full."""

    every: float = 0.5  # seconds between two counts
    peak: int = 0
    server_peak: int = 0
    full_at: list[float] = field(default_factory=list)  # times (time.time()) it was full
    errors: int = 0  # counts that failed (the watcher connects again)

    def note(self, ours: int, everyone: int, most: int) -> None:
        self.peak = max(self.peak, ours)
        self.server_peak = max(self.server_peak, everyone)
        if everyone >= most - 1:  # the watcher's own connection included: no slot left
            self.full_at.append(time.time())


@dataclass
class ChaosCluster(Cluster):
    """Two replicas of every serve and worker, behind proxies that faults can cut."""

    replicas: int = REPLICAS
    web_workers: int = 1  # per serve replica: 2 cores for the whole machine
    env: dict[str, str] = field(default_factory=lambda: dict(CHAOS_ENV))

    def __post_init__(self) -> None:
        super().__post_init__()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.mail = JournalMailbox(self.workdir / "mail.jsonl")
        self.smtp = FailingSmtpSink(self.mail)
        self.proxies = Proxies()
        # self.ports / self.urls (from the harness) are now the proxies' ports
        self.replica_ports = {
            name: [free_port() for _ in range(self.replicas)] for name in parts.PARTS
        }
        for name in parts.PARTS:
            self.proxies.add(
                Proxy(
                    name,
                    self.ports[name],
                    [("127.0.0.1", port) for port in self.replica_ports[name]],
                )
            )
        self.replica_worker_urls = {
            name: [f"http://127.0.0.1:{free_port()}" for _ in range(self.replicas)]
            for name in parts.PARTS
        }
        self.worker_urls = {name: urls[0] for name, urls in self.replica_worker_urls.items()}
        admin = sa.engine.make_url(self.pg_admin_url)
        self.postgres = self.proxies.add(
            Proxy("postgres", free_port(), [(admin.host or "127.0.0.1", admin.port or 5432)])
        )
        self.db_urls = {
            name: sa.engine.make_url(url)
            .set(host="127.0.0.1", port=self.postgres.port)
            .render_as_string(hide_password=False)
            for name, url in self.db_urls.items()
        }
        self._starting = False
        self._retries: dict[str, int] = {}
        self.smtp_proxy = self.proxies.add(
            Proxy("smtp", free_port(), [("127.0.0.1", self.smtp.port)])
        )

    # processes ---------------------------------------------------------------------------

    def env_for(self, name: str) -> dict[str, str]:
        env = super().env_for(name)
        env["PORTICO_SMTP_URL"] = f"smtp://127.0.0.1:{self.smtp_proxy.port}"
        # Behind a load balancer, gunicorn keeps idle connections longer than the balancer does
        # (its default 2 s closed connections the virtual users, idle 0.5 to 6 s between
        # requests, were sending on: an unanswered request). The proxies are plain pipes.
        env["GUNICORN_CMD_ARGS"] = f"{env.get('GUNICORN_CMD_ARGS', '')} --keep-alive 30".strip()
        return env

    def replica_names(self, name: str) -> list[str]:
        return [f"{name}-{role}-{r}" for role in ("serve", "worker") for r in range(self.replicas)]

    def _replica(self, name: str, role: str, r: int) -> Process:
        env = self.env_for(name)
        if role == "serve":
            argv = portico_argv(
                "serve",
                name,
                "--bind",
                f"127.0.0.1:{self.replica_ports[name][r]}",
                "--workers",
                str(self.web_workers),
            )
        else:
            env["PORTICO_METRICS_PORT"] = self.replica_worker_urls[name][r].rsplit(":", 1)[1]
            argv = portico_argv("worker", name)
        return Process(
            f"{name}-{role}-{r}", argv, env, self.logs_dir / f"{name}-{role}-{r}.log", self.workdir
        )

    def start(self) -> ChaosCluster:
        from tests.e2e.harness import ClusterError

        try:
            self.proxies.start()
            self.smtp.start()
            self._create_databases()
            self._migrate()
            for name in parts.PARTS:
                for r in range(self.replicas):
                    for role in ("serve", "worker"):
                        self.processes[f"{name}-{role}-{r}"] = self._replica(name, role, r).start()
            self._starting = True
            self.wait_ready()
            self._starting = False
        except BaseException as exc:
            logs = self.logs()
            self.stop()
            if isinstance(exc, ClusterError | AssertionError):
                raise ClusterError(f"the cluster did not start: {exc}\n\n{logs}") from None
            raise
        return self

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self.proxies.stop()

    # readiness (the harness's, for every replica) -------------------------------------------

    def readyz_urls(self, name: str) -> dict[str, str]:
        urls = {
            f"{name}-serve-{r}": f"http://127.0.0.1:{port}"
            for r, port in enumerate(self.replica_ports[name])
        }
        urls.update(
            {f"{name}-worker-{r}": url for r, url in enumerate(self.replica_worker_urls[name])}
        )
        return urls

    def _ready(self, client: httpx.Client, name: str) -> bool:
        for process, url in self.readyz_urls(name).items():
            self._assert_running(process)
            try:
                response = client.get(f"{url}/readyz")
            except httpx.HTTPError as exc:
                raise AssertionError(f"{process}: {exc}") from None
            assert response.status_code == 200, (
                f"{process} /readyz answered {response.status_code}: {response.text[:300]}"
            )
        return True

    def _consuming(self, name: str) -> bool:
        for r in range(self.replicas):
            self._assert_running(f"{name}-worker-{r}")
        return self.consumers(f"{self.prefix}.{name}") >= self.replicas

    def _assert_running(self, process: str) -> None:
        if process.endswith(("-serve", "-worker")):  # the harness's names: every replica
            for r in range(self.replicas):
                self._assert_running(f"{process}-{r}")
            return
        proc = self.processes[process]
        if (
            not proc.running
            and self._starting
            and self._retries.get(process, 0) < START_RETRIES
            and TOO_MANY_CLIENTS in proc.tail(5)
        ):
            # The machine's PostgreSQL is shared: at start-up it may briefly have no connection
            # left for us (`serve` and `worker` then refuse to start). Start that replica again.
            self._retries[process] = self._retries.get(process, 0) + 1
            self.revive(process)
            return
        super()._assert_running(process)

    def not_ready(self) -> list[str]:
        """The replicas whose /readyz does not answer 200 now (empty: all ready)."""
        down = []
        with httpx.Client(timeout=3) as client:
            for name in parts.PARTS:
                for process, url in self.readyz_urls(name).items():
                    try:
                        ok = (
                            self.processes[process].running
                            and client.get(f"{url}/readyz").status_code == 200
                        )
                    except httpx.HTTPError:
                        ok = False
                    if not ok:
                        down.append(process)
        return down

    # faults ------------------------------------------------------------------------------

    def kill(self, process: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to a replica's whole process group (kill -9 by default)."""
        self.processes[process].signal(sig)
        if sig == signal.SIGKILL:
            self.processes[process].wait(10)

    def revive(self, process: str) -> None:
        """Start a killed replica again with its command (as a supervisor would); no waiting."""
        old = self.processes[process]
        assert not old.running, f"{process} is running"
        self.processes[process] = Process(old.name, old.argv, old.env, old.log, old.cwd).start()

    def cut(self, proxy: str) -> None:
        """PostgreSQL: its proxy refuses connections and breaks the open ones. SMTP: the sink
        answers 421 and its proxy refuses new connections."""
        if proxy == "smtp":
            self.smtp.failing = True
            self.proxies.cut(proxy, drop_open=False)
            return
        self.proxies.cut(proxy)

    def restore(self, proxy: str) -> None:
        self.proxies.restore(proxy)
        if proxy == "smtp":
            self.smtp.failing = False

    def worker_gauge(self, metric: str) -> dict[str, float]:
        """`metric` summed over each worker replica's /metrics (one that does not answer:
        infinity)."""
        from prometheus_client.parser import text_string_to_metric_families

        found: dict[str, float] = {}
        with httpx.Client(timeout=5) as client:
            for name, urls in self.replica_worker_urls.items():
                for r, url in enumerate(urls):
                    try:
                        text = client.get(f"{url}/metrics").text
                    except httpx.HTTPError:
                        found[f"{name}-worker-{r}"] = float("inf")
                        continue
                    found[f"{name}-worker-{r}"] = sum(
                        sample.value
                        for family in text_string_to_metric_families(text)
                        if family.name == metric
                        for sample in family.samples
                    )
        return found

    def outbox_pending(self) -> dict[str, float]:
        """portico_outbox_pending of every worker replica (one that does not answer: infinity)."""
        return self.worker_gauge("portico_outbox_pending")

    def consumers_holding(self) -> dict[str, float]:
        """portico_consumer_held_messages of every worker replica: what the broker delivered to
        it and it has not yet acknowledged (the queue's own count cannot see these)."""
        return self.worker_gauge("portico_consumer_held_messages")

    def nothing_waiting(self) -> bool:
        """Every outbox row published and every queue empty: whatever was written before now
        is acked or held by a consumer."""
        return not any(self.outbox_pending().values()) and not self.queued()

    def handled_since(self, moment: float) -> bool:
        """Every consumer's oldest unacked message was delivered after `moment` (time.time()):
        what it held at that moment is acked. With `nothing_waiting()` true at `moment`, every
        message written before it has been handled, however busy the cluster is since."""
        elapsed = time.time() - moment
        return all(
            age < elapsed
            for age in self.worker_gauge("portico_consumer_oldest_held_seconds").values()
        )

    def watch_connections(self, stop: threading.Event, every: float = 0.5) -> Connections:
        """Count PostgreSQL's connections every `every` seconds until `stop` (in a thread, on
        one connection of its own, straight to the server): the cluster's, and whether the
        whole server was full (other tests share it), filled in as it goes."""
        seen = Connections(every=every)
        names = list(self.db_names.values())
        query = sa.text(
            "SELECT count(*) FILTER (WHERE datname = ANY(:names)), count(*),"
            " current_setting('max_connections')::int FROM pg_stat_activity"
        )

        def watch() -> None:
            url = sa.engine.make_url(self.pg_admin_url).set(drivername="postgresql+psycopg")
            engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
            while not stop.is_set():
                try:
                    with engine.connect() as conn:
                        while not stop.is_set():
                            ours, everyone, most = conn.execute(query, {"names": names}).one()
                            seen.note(int(ours), int(everyone), int(most))
                            stop.wait(every)
                except Exception as exc:  # noqa: BLE001 - connect again (the server may be full)
                    if "too many clients" in str(exc):
                        seen.full_at.append(time.time())
                    seen.errors += 1
                    stop.wait(every)
            engine.dispose()

        threading.Thread(target=watch, name="chaos-connections", daemon=True).start()
        return seen

    def queued(self) -> int:
        """Messages ready in the parts' queues, not yet taken by a consumer."""
        total = 0
        for name in parts.PARTS:
            try:
                total += self.messages(f"{self.prefix}.{name}")
            except Exception:  # noqa: BLE001 - a part without consumers has no queue
                pass
        return total

    def dead_letters(self) -> dict[str, int]:
        """Messages waiting in each part's dead-letter queue."""
        found = {}
        for name in parts.PARTS:
            try:
                found[name] = self.messages(f"{self.prefix}.{name}.dead")
            except Exception:  # noqa: BLE001 - a part without consumers has no dead-letter queue
                found[name] = 0
        return found
