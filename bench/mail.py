"""10,000 activation e-mails through the notifications service's delivery path, per second.

Ours: identity.link.issued events handled by the service (rows queued in the outgoing table,
100 events per transaction as the bus worker batches them), then the delivery loop claims,
renders, sends over one SMTP connection and marks them sent. The rate is that of the delivery
(queue rows → loop → SMTP); the queueing rate is reported beside it.
Baseline, same run: bare Jinja2 rendering of the same templates plus a bare smtplib send of the
same messages over one connection. The two are timed in alternating rounds of 500 e-mails, so
load from elsewhere on the machine weighs on both alike.
Sinks: aiosmtpd on 127.0.0.1, each in its own process, counting what they accept. Database: a
SQLite file (the embedded mode), or PostgreSQL with BENCH_MAIL_DATABASE=postgresql.
Target: ≥ 0.5× the bare rate.
"""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import jinja2

from bench.common import Result

COUNT = int(os.environ.get("BENCH_MAIL_COUNT", "10000"))
ROUND = 500  # e-mails per timed round (a multiple of the delivery batch)
DATABASE = os.environ.get("BENCH_MAIL_DATABASE", "sqlite")
SENDER = "administrateur@portico.local"
PUBLIC_URL = "https://portal.example.test"
EXPIRES = datetime(2027, 3, 8, 9, 0, tzinfo=UTC)


def _recipients() -> list[tuple[str, str, str]]:
    """(address, name, language tag) of each e-mail; one in four in French."""
    return [
        (f"user{i}@example.test", f"User{i} TEST", "fr-FR" if i % 4 == 0 else "en-US")
        for i in range(COUNT)
    ]


def bare_environments() -> dict[str, jinja2.Environment]:
    """Plain Jinja2 environments over the same template files (with the same date filters)."""
    from services.notifications.domain.dates import format_date
    from services.notifications.domain.dates import format_datetime as write_datetime
    from services.notifications.domain.rendering import DEFAULT_TEMPLATES_DIR

    environments = {}
    for language in ("en", "fr"):
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(DEFAULT_TEMPLATES_DIR / language),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        environment.filters["date"] = lambda value, lang=language: format_date(value, lang)
        environment.filters["datetime"] = lambda value, lang=language: write_datetime(value, lang)
        environment.globals.update(portal_name="Portico", portal_url=PUBLIC_URL)
        environments[language] = environment
    return environments


def send_bare(smtp: smtplib.SMTP, environments: dict[str, jinja2.Environment],
              recipients: list[tuple[int, str, str, str]]) -> None:
    """Render each activation e-mail with bare Jinja2 and send it with bare smtplib."""
    for index, address, name, tag in recipients:
        environment = environments[tag[:2]]
        context = {
            "recipient_name": name, "email": address, "account_name": "RETAIL IT LIMITED",
            "link_url": f"{PUBLIC_URL}/activate/tok{index}", "expires_at": EXPIRES,
        }
        subject = environment.get_template("activation.subject.txt").render(context).strip()
        context["subject"] = subject
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = SENDER
        message["To"] = address
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain="portico.local")
        message.set_content(
            environment.get_template("activation.txt").render(context), cte="quoted-printable"
        )
        message.add_alternative(
            environment.get_template("activation.html").render(context),
            subtype="html", cte="quoted-printable",
        )
        smtp.send_message(message)


def _database(stack: ExitStack) -> str:
    if DATABASE.startswith("postgres"):
        from bench.env import fresh_database

        return stack.enter_context(fresh_database("mail"))
    folder = stack.enter_context(tempfile.TemporaryDirectory())
    return f"sqlite:///{folder}/notifications.db"


def measure(bare_url: str, our_url: str) -> dict[str, float]:
    """Queue COUNT e-mails through the service, then deliver them in rounds, each round timed
    once through the bare path and once through the service's delivery loop, so that a machine
    busy with something else slows both alike."""
    from bus.config import Settings
    from bus.envelope import Envelope
    from services.notifications.bootstrap import build
    from services.notifications.service_layer.delivery import DeliveryLoop

    recipients = _recipients()
    with ExitStack() as stack:
        settings = Settings(
            part="notifications", database_url=_database(stack), broker_url="memory://",
            bus_prefix=f"bench{uuid.uuid4().hex[:8]}", smtp_url=our_url, mail_from=SENDER,
            public_url=PUBLIC_URL,
        )
        part = build(settings)
        part.migrate()
        processor = part.processor()
        envelopes = [
            Envelope(type="identity.link.issued", producer="identity", data={
                "purpose": "activation", "user_id": str(uuid.uuid4()), "account_id": "acc",
                "recipient": address, "recipient_name": name, "language": tag,
                "link_url": f"{PUBLIC_URL}/activate/tok{index}", "expires_at": EXPIRES.isoformat(),
            }).to_json()
            for index, (address, name, tag) in enumerate(recipients)
        ]
        started = time.perf_counter()
        for start in range(0, COUNT, 100):
            outcomes = processor.process_batch([(body, 0) for body in envelopes[start:start + 100]])
            if any(outcome.kind != "handled" for outcome in outcomes):
                raise RuntimeError(f"an event was not handled: {outcomes}")
        queued = time.perf_counter() - started

        loop = DeliveryLoop(part)
        environments = bare_environments()
        host, port = bare_url.removeprefix("smtp://").split(":")
        smtp = stack.enter_context(smtplib.SMTP(host, int(port)))
        numbered = [(index, *recipient) for index, recipient in enumerate(recipients)]
        bare = ours = 0.0
        for round_, start in enumerate(range(0, COUNT, ROUND)):
            size = min(ROUND, COUNT - start)
            for turn in ((0, 1) if round_ % 2 == 0 else (1, 0)):
                started = time.perf_counter()
                if turn == 0:
                    send_bare(smtp, environments, numbered[start:start + size])
                    bare += time.perf_counter() - started
                else:
                    claimed = 0
                    while claimed < size:
                        claimed += loop.deliver_due()
                    ours += time.perf_counter() - started
        loop.sender.close()  # type: ignore[union-attr]
        sent = _count_sent(part)
        part.engine.dispose()
    if sent != COUNT:
        raise RuntimeError(f"the service sent {sent} of {COUNT} e-mails")
    return {"bare_rate": COUNT / bare, "queue_rate": COUNT / queued,
            "delivery_rate": COUNT / ours, "end_to_end_rate": COUNT / (queued + ours)}


def _count_sent(part) -> int:
    import sqlalchemy as sa

    from services.notifications.adapters.orm import outgoing

    with part.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(outgoing).where(outgoing.c.status == "sent")
        ).scalar_one()


class Sink:
    """An aiosmtpd server in its own process that counts what it accepts."""

    CODE = """
import sys
from aiosmtpd.controller import Controller
class Counting:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        Counting.count += 1
        return "250 OK"
controller = Controller(Counting(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.readline()
controller.stop()
print(Counting.count, flush=True)
"""

    def __enter__(self) -> Sink:
        from tests.service.notifications.smtp_sink import free_port

        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-c", self.CODE, str(self.port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the SMTP sink did not start")
        return self

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def count(self) -> int:
        out, _ = self.process.communicate("stop\n", timeout=30)
        return int(out.strip() or -1)

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.process.kill()


def run() -> list[Result]:
    with Sink() as bare_sink, Sink() as our_sink:
        rates = measure(bare_sink.url, our_sink.url)
        received = bare_sink.count(), our_sink.count()
    if received != (COUNT, COUNT):
        raise RuntimeError(f"the sinks received {received} e-mails, not {COUNT} each")
    rate, bare = rates["delivery_rate"], rates["bare_rate"]
    return [
        Result(
            "mail_delivery_rate",
            "e-mails/s",
            rate,
            "bare Jinja2 + smtplib, one connection",
            bare,
            "≥ 0.5× bare",
            rate >= 0.5 * bare,
            {
                "emails": COUNT,
                "round": ROUND,
                "database": "postgresql" if DATABASE.startswith("postgres") else "sqlite",
                "queue_rate_per_s": round(rates["queue_rate"], 1),
                "end_to_end_rate_per_s": round(rates["end_to_end_rate"], 1),
            },
        )
    ]
