"""The end-to-end cluster: every part as its own processes, exactly as in the distributed mode.

For each part: `portico migrate <part>`, then `portico serve <part> --bind 127.0.0.1:<port>
--workers 2` and `portico worker <part>`, against real RabbitMQ (a bus prefix of its own) and
PostgreSQL (one fresh database per part), e-mail going to an SMTP sink in the test process.
Each process writes to its own log file; readiness is polled with a deadline, never slept on.

    cluster = Cluster(workdir, amqp_url, pg_admin_url).start()    # tests take the `cluster` fixture
    account = cluster.create_account("Acme Ltd")                   # operator API, fresh number
    cluster.http.get("/api/v1/me", headers=...)                    # httpx, based at cluster.gateway_url
    before = len(cluster.mail)
    mail = cluster.mail.wait_for_mail(to="ada@example.com", subject_contains="activ", after=before)
    mail.links, mail.text, mail.html, mail.subject                 # what the SMTP sink received
    cluster.query("gateway", "SELECT * FROM accounts WHERE number = :n", n=account["number"])
    eventually(lambda: ..., what="...")                            # poll with a deadline
    cluster.urls[part], cluster.worker_urls[part]                  # serve API; worker /metrics /readyz
    cluster.service_headers, cluster.operator_headers, cluster.db_urls, cluster.prefix
    cluster.stop_process("gateway-worker"); cluster.start_process("gateway-worker")
    cluster.logs()                                                 # last lines of every process's log
    cluster.stop()
"""

from __future__ import annotations

import email
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from portico import parts
from tests.waiting_kit import DEADLINE

T = TypeVar("T")

START_TIMEOUT = 120.0  # seconds for every part to migrate, start and report ready
STOP_TIMEOUT = 25.0  # seconds for every process to leave after SIGTERM, then SIGKILL
WEB_WORKERS = 2
# Where each part finds the services it calls (as in docker-compose.yml).
CALLS = {"gateway": parts.SERVICES, "importer": ("identity",)}


class ClusterError(RuntimeError):
    """The cluster could not start; the message carries the logs of its processes."""


def unique_number() -> str:
    """A client number no other test uses."""
    return str(uuid.uuid4().int)[:12]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def eventually(
    check: Callable[[], T],
    *,
    timeout: float = DEADLINE,
    interval: float = 0.1,
    what: str = "the condition",
) -> T:
    """Call `check` until it returns something truthy (which is returned) or stops failing an
    assertion; raise AssertionError with the last reason when `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
            last = f"still {result!r}"
        except AssertionError as exc:
            last = str(exc) or repr(exc)
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not reached within {timeout:g}s ({last})")
        time.sleep(interval)


# --- e-mail ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    """One message the SMTP sink received."""

    sender: str
    recipients: tuple[str, ...]  # SMTP envelope (RCPT TO)
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def to(self) -> str:
        return str(self.message.get("To", ""))

    def _part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None else ""

    @property
    def text(self) -> str:
        return self._part("plain")

    @property
    def html(self) -> str:
        return self._part("html")

    @property
    def links(self) -> list[str]:
        """Every http(s) URL of the plain-text body, in order."""
        return re.findall(r"https?://[^\s<>\"')]+", self.text)

    def is_to(self, address: str) -> bool:
        wanted = address.lower()
        return any(r.lower() == wanted for r in self.recipients) or wanted in self.to.lower()


class Mailbox(list[Mail]):
    """The messages received, in order; `wait_for_mail` waits for one with a deadline."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = threading.Condition()

    def add(self, mail: Mail) -> None:
        with self._changed:
            self.append(mail)
            self._changed.notify_all()

    def matching(
        self, to: str | None = None, subject_contains: str | None = None, after: int = 0
    ) -> list[Mail]:
        with self._changed:
            found = list(self[after:])
        if to is not None:
            found = [m for m in found if m.is_to(to)]
        if subject_contains is not None:
            found = [m for m in found if subject_contains.lower() in m.subject.lower()]
        return found

    def wait_for_mail(
        self,
        to: str | None = None,
        subject_contains: str | None = None,
        timeout: float = DEADLINE,
        after: int = 0,
    ) -> Mail:
        """The first message (from index `after` on) to `to` whose subject contains
        `subject_contains` (both case-insensitive); AssertionError after `timeout` seconds.
        Take `after = len(cluster.mail)` before an action to see only what it sends."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = self.matching(to, subject_contains, after)
                if found:
                    return found[0]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [f"{m.recipients} {m.subject!r}" for m in self[after:]] or ["nothing"]
                    raise AssertionError(
                        f"no e-mail to {to!r} with a subject containing {subject_contains!r} "
                        f"within {timeout:g}s; received: {'; '.join(seen)}"
                    )
                self._changed.wait(remaining)


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that files every message in a Mailbox."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox
        self.port = free_port()
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=policy.default)
        self.mailbox.add(Mail(envelope.mail_from, tuple(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


# --- processes --------------------------------------------------------------------------------


@dataclass
class Process:
    """One `portico ...` process, in its own process group, writing to its own log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    cwd: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"--- {time.strftime('%H:%M:%S')} $ {' '.join(self.argv)}\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def status(self) -> str:
        if self.popen is None:
            return "not started"
        code = self.popen.poll()
        return "running" if code is None else f"exited with {code}"

    def signal(self, sig: int) -> None:
        if self.running:
            assert self.popen is not None
            try:
                os.killpg(self.popen.pid, sig)  # gunicorn's workers too
            except ProcessLookupError:
                pass

    def wait(self, timeout: float) -> int | None:
        if self.popen is None:
            return None
        try:
            return self.popen.wait(timeout=max(timeout, 0))
        except subprocess.TimeoutExpired:
            return None

    def tail(self, lines: int = 80) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def stop_all(processes: Iterable[Process], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM every process group, wait up to `timeout` in all, then SIGKILL what is left."""
    processes = [p for p in processes if p.running]
    for process in processes:
        process.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        if process.wait(deadline - time.monotonic()) is None:
            process.signal(signal.SIGKILL)
            process.wait(5)


def portico_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "portico.cli", *args]


# --- the cluster ------------------------------------------------------------------------------


@dataclass
class Cluster:
    """Every part as its own processes against real RabbitMQ, PostgreSQL and an SMTP sink."""

    workdir: Path
    amqp_url: str
    pg_admin_url: str
    env: dict[str, str] = field(default_factory=dict)  # extra PORTICO_* settings for every part
    web_workers: int = WEB_WORKERS

    def __post_init__(self) -> None:
        self.prefix = f"e2e{uuid.uuid4().hex[:10]}"
        self.logs_dir = self.workdir / "logs"
        self.ports = {name: free_port() for name in parts.PARTS}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        # each worker's /metrics, /healthz and /readyz (PORTICO_METRICS_PORT)
        self.worker_urls = {name: f"http://127.0.0.1:{free_port()}" for name in parts.PARTS}
        self.gateway_url = self.urls["gateway"]
        # strong secrets of this cluster alone: `serve` and `worker` refuse weak ones (bus/secrets.py)
        self.operator_token = secrets.token_urlsafe(32)
        self.service_token = secrets.token_urlsafe(32)
        self.secret_key = secrets.token_urlsafe(32)
        self.operator_headers = {"Authorization": f"Bearer {self.operator_token}"}
        self.service_headers = {"Authorization": f"Bearer {self.service_token}"}
        self.mail = Mailbox()
        self.smtp = SmtpSink(self.mail)
        admin = sa.engine.make_url(self.pg_admin_url)
        self.db_names = {name: f"{self.prefix}_{name}" for name in parts.PARTS}
        self.db_urls = {
            name: admin.set(drivername="postgresql+psycopg", database=db).render_as_string(
                hide_password=False
            )
            for name, db in self.db_names.items()
        }
        self.http = httpx.Client(base_url=self.gateway_url, timeout=20)
        self.processes: dict[str, Process] = {}
        self._engines: dict[str, Engine] = {}
        self._created: list[str] = []

    # environment -------------------------------------------------------------------------

    def env_for(self, name: str) -> dict[str, str]:
        """The environment of one part's processes: its own database only, as in production."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "GUNICORN_CMD_ARGS": "--no-control-socket",  # no socket shared in $HOME between masters
                "PORTICO_BROKER_URL": self.amqp_url,
                "PORTICO_BUS_PREFIX": self.prefix,
                f"PORTICO_{name.upper()}_DATABASE_URL": self.db_urls[name],
                "PORTICO_SMTP_URL": self.smtp.url,
                "PORTICO_MAIL_FROM": "administrateur@portico.test",
                "PORTICO_PUBLIC_URL": self.gateway_url,
                "PORTICO_SECRET_KEY": self.secret_key,
                "PORTICO_OPERATOR_TOKEN": self.operator_token,
                "PORTICO_SERVICE_TOKEN": self.service_token,
                "PORTICO_DATA_DIR": str(self.workdir / "data" / name),  # shared by serve and worker
                "PORTICO_LOG_LEVEL": "INFO",
                "PORTICO_METRICS_HOST": "127.0.0.1",
                "PORTICO_METRICS_PORT": self.worker_urls[name].rsplit(":", 1)[
                    1
                ],  # read by `worker` only
            }
        )
        for service in CALLS.get(name, ()):
            env[f"PORTICO_{service.upper()}_URL"] = self.urls[service]
        env.update(self.env)
        return env

    def _process(self, name: str, role: str, *args: str) -> Process:
        return Process(
            f"{name}-{role}",
            portico_argv(*args),
            self.env_for(name),
            self.logs_dir / f"{name}-{role}.log",
            self.workdir,
        )

    # lifecycle ---------------------------------------------------------------------------

    def start(self) -> Cluster:
        try:
            self.smtp.start()
            self._create_databases()
            self._migrate()
            for name in parts.PARTS:
                port = self.ports[name]
                self.processes[f"{name}-serve"] = self._process(
                    name,
                    "serve",
                    "serve",
                    name,
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(self.web_workers),
                ).start()
                self.processes[f"{name}-worker"] = self._process(
                    name, "worker", "worker", name
                ).start()
            self.wait_ready(START_TIMEOUT)
        except BaseException as exc:
            logs = self.logs()
            self.stop()
            if isinstance(exc, ClusterError | AssertionError):
                raise ClusterError(f"the cluster did not start: {exc}\n\n{logs}") from None
            raise
        return self

    def _create_databases(self) -> None:
        admin = self._admin()
        try:
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for db in self.db_names.values():
                    conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
                    self._created.append(db)
        finally:
            admin.dispose()

    def _migrate(self) -> None:
        migrations = {
            name: self._process(name, "migrate", "migrate", name).start() for name in parts.PARTS
        }
        self.processes.update({f"{name}-migrate": process for name, process in migrations.items()})
        deadline = time.monotonic() + START_TIMEOUT
        failed = []
        for process in migrations.values():
            code = process.wait(deadline - time.monotonic())
            if code != 0:
                process.signal(signal.SIGKILL)
                failed.append(f"--- {process.name} ({process.status}):\n{process.tail()}")
        if failed:
            raise ClusterError("`portico migrate` failed:\n" + "\n".join(failed))

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Every serve and worker process answers 200 on /readyz (the gateway's covers every
        service) and every worker with handlers consumes its queue."""
        deadline = time.monotonic() + timeout
        handled = {name: bool(self._handlers(name)) for name in parts.PARTS}
        with httpx.Client(timeout=5) as client:
            for name in (*parts.SERVICES, "gateway"):
                eventually(
                    lambda name=name: self._ready(client, name),
                    timeout=max(deadline - time.monotonic(), 0),
                    interval=0.2,
                    what=f"{name}: GET /readyz answering 200",
                )
        for name in parts.PARTS:
            if handled[name]:
                eventually(
                    lambda name=name: self._consuming(name),
                    timeout=max(deadline - time.monotonic(), 0),
                    interval=0.2,
                    what=f"{name} worker consuming {self.prefix}.{name}",
                )
            else:
                self._assert_running(f"{name}-worker")

    def _ready(self, client: httpx.Client, name: str) -> bool:
        self._assert_running(f"{name}-serve")
        self._assert_running(f"{name}-worker")
        for what, url in (
            (f"{name}-serve", self.urls[name]),
            (f"{name}-worker", self.worker_urls[name]),
        ):
            try:
                response = client.get(f"{url}/readyz")
            except httpx.HTTPError as exc:
                raise AssertionError(f"{what}: {exc}") from None
            assert response.status_code == 200, (
                f"{what} /readyz answered {response.status_code}: {response.text[:300]}"
            )
        return True

    def _assert_running(self, process: str) -> None:
        proc = self.processes[process]
        assert proc.running, f"{process} {proc.status}:\n{proc.tail(40)}"

    def _consuming(self, name: str) -> bool:
        self._assert_running(f"{name}-worker")
        return self.consumers(f"{self.prefix}.{name}") > 0

    def consumers(self, queue: str) -> int:
        """How many consumers a queue has (0 when it does not exist yet)."""
        from kombu import Connection

        with Connection(self.amqp_url, connect_timeout=5) as conn:
            channel = conn.channel()
            try:
                return channel.queue_declare(queue=queue, passive=True).consumer_count
            except Exception:  # noqa: BLE001 - not declared yet
                return 0
            finally:
                try:
                    channel.close()
                except Exception:  # noqa: BLE001 - the broker closed it already
                    pass

    def messages(self, queue: str) -> int:
        """How many ready messages a queue holds."""
        from kombu import Connection

        with Connection(self.amqp_url, connect_timeout=5) as conn:
            return conn.channel().queue_declare(queue=queue, passive=True).message_count

    @staticmethod
    def _handlers(name: str) -> set[str]:
        import tempfile

        from bus.config import Settings

        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(
                part=name, database_url=f"sqlite:///{folder}/x.db", broker_url="memory://"
            )
            part = parts.bootstrap(name).build(settings)
            part.engine.dispose()
            return set(part.handlers)

    def stop_process(self, process: str) -> None:
        """Stop one process (e.g. "gateway-worker") as a deployment would: SIGTERM, then SIGKILL."""
        stop_all([self.processes[process]])

    def start_process(self, process: str) -> None:
        """Start a stopped process again with the same command, and wait until all is ready."""
        old = self.processes[process]
        assert not old.running, f"{process} is running"
        self.processes[process] = Process(old.name, old.argv, old.env, old.log, old.cwd).start()
        self.wait_ready()

    def restart(self, process: str) -> None:
        self.stop_process(process)
        self.start_process(process)

    def stop(self) -> None:
        """Terminate every process, stop the SMTP sink, drop the databases and the broker names."""
        stop_all(self.processes.values())
        self.smtp.stop()
        self.http.close()
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        self._drop_broker_names()
        self._drop_databases()

    def _drop_databases(self) -> None:
        if not self._created:
            return
        admin = self._admin()
        try:
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for db in self._created:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            self._created.clear()
        finally:
            admin.dispose()

    def _drop_broker_names(self) -> None:
        from kombu import Connection

        try:
            with Connection(self.amqp_url, connect_timeout=5) as conn:
                for name in parts.PARTS:
                    for queue in (f"{self.prefix}.{name}", f"{self.prefix}.{name}.dead"):
                        channel = conn.channel()
                        try:
                            channel.queue_delete(queue=queue)
                        except Exception:  # noqa: BLE001 - never declared
                            pass
                for exchange in (f"{self.prefix}.events", f"{self.prefix}.dead"):
                    channel = conn.channel()
                    try:
                        channel.exchange_delete(exchange=exchange)
                    except Exception:  # noqa: BLE001 - never declared
                        pass
        except Exception:  # noqa: BLE001 - the broker is gone; nothing left to tidy
            pass

    def _admin(self) -> Engine:
        from bus.db import make_engine

        return make_engine(self.pg_admin_url)

    # acting ----------------------------------------------------------------------------

    def create_account(self, name: str, number: str | None = None, **fields: Any) -> dict[str, Any]:
        """POST /api/v1/operator/accounts (a fresh client number unless given); the account."""
        number = number or unique_number()
        response = self.http.post(
            "/api/v1/operator/accounts",
            json={"number": number, "name": name, **fields},
            headers=self.operator_headers,
        )
        assert response.status_code == 201, f"{response.status_code}: {response.text}"
        return response.json()

    # looking inside ----------------------------------------------------------------------

    def engine(self, name: str) -> Engine:
        """An engine on one part's database (tests read it; the parts never read each other's)."""
        if name not in self._engines:
            self._engines[name] = sa.create_engine(self.db_urls[name], pool_size=2)
        return self._engines[name]

    def query(self, name: str, sql: str, **params: Any) -> list[sa.Row[Any]]:
        with self.engine(name).connect() as conn:
            return list(conn.execute(sa.text(sql), params))

    def logs(self, lines: int = 80) -> str:
        """The last lines of every process's log, with its status."""
        blocks = [
            f"===== {process.name} ({process.status}) — {process.log}\n{process.tail(lines)}"
            for process in self.processes.values()
        ]
        return "\n".join(blocks) if blocks else "(no process started)"
