"""50,000 activation e-mails through the notifications service, until the SMTP server has them.

Ours: the activation events are handed to the service's consumer (its processor) —
`identity.links.issued` batch events when notifications handles them, else one
`identity.link.issued` per e-mail — on PostgreSQL (BENCH_MAIL_DATABASE=sqlite for the embedded
mode), which queues 50,000 outgoing rows (timed apart: queue_seconds). Then the service's
delivery loop delivers them (claims, renders a batch at once, sends over its pool of
PORTICO_MAIL_CONNECTIONS connections, 4 by default, marks), timed until the sink has them.
Baseline, same run: bare Jinja2 rendering of the same templates and bare smtplib over one
connection (`send_message`). The two are timed in alternating rounds (2,500 e-mails of ours,
BENCH_MAIL_BARE_COUNT / 20 bare ones), so that a machine busy with something else weighs on both
alike. The ceiling, same run: what this process alone renders and makes into SMTP bytes per
second (no database, no network).
Sink: `bench/smtp_sink.py`, a raw asyncio SMTP server in its own process that only counts; its
own CPU share is reported, to show that it is not the bottleneck.
Targets: the 50,000 e-mails at the sink in ≤ 60 s, at ≥ 3× the bare rate.

    .venv/bin/python -m bench mail
    (BENCH_MAIL_COUNT, BENCH_MAIL_BARE_COUNT, BENCH_MAIL_DATABASE,
     PORTICO_MAIL_CONNECTIONS, PORTICO_MAIL_BATCH_SIZE)
"""

from __future__ import annotations

import os
import smtplib
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import jinja2

from bench.common import Result
from bench.smtp_sink import SmtpSink

COUNT = int(os.environ.get("BENCH_MAIL_COUNT", "50000"))
BARE_COUNT = int(os.environ.get("BENCH_MAIL_BARE_COUNT", "3000"))
DATABASE = os.environ.get("BENCH_MAIL_DATABASE", "postgresql")
ROUND = 2500  # e-mails of ours per timed round (a multiple of the delivery batch)
BATCH = 500  # links per batch event (the producers' bound); single events: 100 per transaction
TARGET_SECONDS = 60.0
TARGET_RATIO = 3.0
SENDER = "administrateur@portico.local"
PUBLIC_URL = "https://portal.example.test"
EXPIRES = datetime(2027, 3, 8, 9, 0, tzinfo=UTC)


def _recipients(count: int) -> list[tuple[str, str, str]]:
    """(address, name, language tag) of each e-mail; one in four in French."""
    return [
        (f"user{i}@example.test", f"User{i} TEST", "fr-FR" if i % 4 == 0 else "en-US")
        for i in range(count)
    ]


# -- the baseline: bare Jinja2 + smtplib, one connection ------------------------------------------


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


def send_bare(
    smtp: smtplib.SMTP,
    environments: dict[str, jinja2.Environment],
    recipients: list[tuple[int, str, str, str]],
) -> None:
    """Render each activation e-mail with bare Jinja2 and send it with bare smtplib."""
    for index, address, name, tag in recipients:
        environment = environments[tag[:2]]
        context = {
            "recipient_name": name,
            "email": address,
            "account_name": "RETAIL IT LIMITED",
            "link_url": f"{PUBLIC_URL}/activate/tok{index}",
            "expires_at": EXPIRES,
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
            subtype="html",
            cte="quoted-printable",
        )
        smtp.send_message(message)


# -- ours ----------------------------------------------------------------------------------------


def _database(stack: ExitStack) -> str:
    if DATABASE.startswith("postgres"):
        from bench.env import fresh_database

        return stack.enter_context(fresh_database("mail"))
    folder = stack.enter_context(tempfile.TemporaryDirectory())
    return f"sqlite:///{folder}/notifications.db"


def _events(recipients: list[tuple[str, str, str]], batched: bool) -> list[str]:
    from bus.envelope import Envelope

    def link(index: int, address: str, name: str, tag: str) -> dict[str, Any]:
        return {
            "user_id": str(uuid.uuid4()),
            "recipient": address,
            "recipient_name": name,
            "language": tag,
            "link_url": f"{PUBLIC_URL}/activate/tok{index}",
            "expires_at": EXPIRES.isoformat(),
        }

    links = [link(index, *recipient) for index, recipient in enumerate(recipients)]
    if batched:
        return [
            Envelope(
                type="identity.links.issued",
                producer="identity",
                data={"purpose": "activation", "account_id": "acc", "links": links[s : s + BATCH]},
            ).to_json()
            for s in range(0, len(links), BATCH)
        ]
    return [
        Envelope(
            type="identity.link.issued",
            producer="identity",
            data={"purpose": "activation", "account_id": "acc", **item},
        ).to_json()
        for item in links
    ]


def _cpu_of_machine() -> float:
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def measure(our_sink: SmtpSink, bare_sink: SmtpSink) -> dict[str, Any]:
    """Queue COUNT e-mails through the service's consumer; then deliver them in rounds, each
    round timed once through the service's delivery loop (ROUND e-mails) and once through the
    bare path (BARE_ROUND), in alternating order, so that a machine busy with something else
    slows both alike."""
    from bus.config import Settings
    from services.notifications.bootstrap import build
    from services.notifications.service_layer.delivery import DeliveryLoop
    from services.notifications.service_layer.handlers import EVENT_HANDLERS

    batched = "identity.links.issued" in EVENT_HANDLERS
    recipients = _recipients(COUNT)
    bare_recipients = [(i, *recipient) for i, recipient in enumerate(_recipients(BARE_COUNT))]
    rounds = -(-COUNT // ROUND)
    bare_round = max(1, BARE_COUNT // rounds)
    with ExitStack() as stack:
        extra = {
            name: os.environ[name]
            for name in ("PORTICO_MAIL_CONNECTIONS", "PORTICO_MAIL_BATCH_SIZE")
            if name in os.environ
        }
        settings = Settings(
            part="notifications",
            database_url=_database(stack),
            broker_url="memory://",
            bus_prefix=f"bench{uuid.uuid4().hex[:8]}",
            smtp_url=our_sink.url,
            mail_from=SENDER,
            public_url=PUBLIC_URL,
            extra=extra,
        )
        part = build(settings)
        part.migrate()
        processor = part.processor()
        bodies = _events(recipients, batched)
        per_transaction = 1 if batched else 100
        queue_started = time.monotonic()
        for start in range(0, len(bodies), per_transaction):
            chunk = bodies[start : start + per_transaction]
            outcomes = processor.process_batch([(body, 0) for body in chunk])
            if any(outcome.kind != "handled" for outcome in outcomes):
                raise RuntimeError(f"an event was not handled: {outcomes}")
        queued = time.monotonic() - queue_started

        loop = DeliveryLoop(part)
        environments = bare_environments()
        host, port = bare_sink.url.removeprefix("smtp://").split(":")
        smtp = stack.enter_context(smtplib.SMTP(host, int(port)))
        sink_before = our_sink.state()
        ours = bare = cpu = bare_cpu = 0.0
        bare_sent = claimed = 0
        machine = _cpu_of_machine()
        wall = time.monotonic()
        for round_ in range(rounds):
            target = min(COUNT, (round_ + 1) * ROUND)
            last = round_ == rounds - 1
            chunk = bare_recipients[
                round_ * bare_round : None if last else (round_ + 1) * bare_round
            ]
            for turn in ("ours", "bare") if round_ % 2 == 0 else ("bare", "ours"):
                started, cpu_started = time.perf_counter(), time.process_time()
                if turn == "ours":
                    while claimed < target:
                        done = loop.deliver_due()
                        if done == 0 and loop.pause == 0:
                            raise RuntimeError(f"nothing left to deliver after {claimed} e-mails")
                        claimed += done
                    ours += time.perf_counter() - started
                    cpu += time.process_time() - cpu_started
                else:
                    send_bare(smtp, environments, chunk)
                    bare += time.perf_counter() - started
                    bare_cpu += time.process_time() - cpu_started
                    bare_sent += len(chunk)
        wall = time.monotonic() - wall
        machine = _cpu_of_machine() - machine
        assert loop.pool is not None
        loop.pool.close()
        if loop.marks is not part.engine:
            loop.marks.dispose()
        sink_after = our_sink.state()
        sent = _count_sent(part)
        part.engine.dispose()
    return {
        "received": sink_after["count"] - sink_before["count"],
        "sent_in_database": sent,
        "seconds": ours,
        "queue_seconds": queued,
        "bare_emails": bare_sent,
        "bare_seconds": bare,
        "events": "identity.links.issued, 500 links each"
        if batched
        else "identity.link.issued, one per e-mail, 100 per transaction",
        "bench_process_cpu_seconds": cpu,
        "bare_cpu_seconds": bare_cpu,
        "sink_cpu_seconds": sink_after["cpu"] - sink_before["cpu"],
        "machine_busy_share": machine / (wall * (os.cpu_count() or 1)),
        "connections": part.config.connections,
        "batch_size": part.config.batch_size,
        "round": ROUND,
    }


def measure_ceiling(count: int) -> float:
    """E-mails per second this process alone renders and makes into SMTP bytes."""
    from services.notifications.adapters.mime import smtp_envelope
    from services.notifications.domain.rendering import Renderer

    renderer = Renderer(portal_url=PUBLIC_URL)
    started = time.perf_counter()
    for index, (address, name, tag) in enumerate(_recipients(count)):
        context = {
            "recipient_name": name,
            "email": address,
            "account_name": "RETAIL IT LIMITED",
            "link_url": f"{PUBLIC_URL}/activate/tok{index}",
            "expires_at": EXPIRES.isoformat(),
        }
        rendered = renderer.render("activation", tag, context)
        smtp_envelope(
            rendered,
            sender=SENDER,
            to=address,
            message_id=f"{index}.bench",
            date=datetime.now(UTC),
        )
    return count / (time.perf_counter() - started)


def _count_sent(part: Any) -> int:
    import sqlalchemy as sa

    from services.notifications.adapters.orm import outgoing

    with part.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(outgoing).where(outgoing.c.status == "sent")
        ).scalar_one()


def run() -> list[Result]:
    with SmtpSink() as bare_sink, SmtpSink() as our_sink:
        measured = measure(our_sink, bare_sink)
        bare_received = bare_sink.stop()["count"]
        our_sink.stop()
    ceiling = measure_ceiling(min(COUNT, 5000))
    if bare_received != measured["bare_emails"]:
        raise RuntimeError(f"the bare sink received {bare_received} e-mails, not {BARE_COUNT}")
    complete = measured["received"] >= COUNT and measured["sent_in_database"] >= COUNT
    seconds = measured["seconds"]
    rate = measured["received"] / seconds
    bare = measured["bare_emails"] / measured["bare_seconds"]
    detail = {
        "emails": COUNT,
        "complete": complete,
        **{k: round(v, 3) if isinstance(v, float) else v for k, v in measured.items()},
        "bare_rate_per_s": round(bare, 1),
        "sink_cpu_share_of_one_core": round(measured["sink_cpu_seconds"] / seconds, 3),
        "bench_process_cpu_share_of_one_core": round(
            measured["bench_process_cpu_seconds"] / seconds, 3
        ),
        "ceiling_render_and_bytes_per_s": round(ceiling, 1),
        # what an e-mail costs in CPU, whatever else runs on the machine (the service's worker
        # process: claim, render, bytes, SMTP client, marks; the bare path: render, MIME, send)
        "cpu_ms_per_email": round(measured["bench_process_cpu_seconds"] / COUNT * 1000, 3),
        "bare_cpu_ms_per_email": round(measured["bare_cpu_seconds"] / BARE_COUNT * 1000, 3),
        "database": "postgresql" if DATABASE.startswith("postgres") else "sqlite",
    }
    print(
        f"mail: {measured['received']:,} e-mails in {seconds:.1f} s ({rate:.0f}/s) over "
        f"{measured['connections']} connections; bare {bare:.0f}/s; the sink used "
        f"{detail['sink_cpu_share_of_one_core']:.0%} of a core, this process "
        f"{detail['bench_process_cpu_share_of_one_core']:.0%}; the machine was "
        f"{detail['machine_busy_share']:.0%} busy; CPU per e-mail {detail['cpu_ms_per_email']} ms "
        f"(bare {detail['bare_cpu_ms_per_email']} ms)",
        flush=True,
    )
    return [
        Result(
            "mail_activation_seconds",
            "s",
            seconds,
            "bare Jinja2 + smtplib, one connection, for as many e-mails",
            COUNT / bare,
            f"≤ {TARGET_SECONDS:g} s for {COUNT:,} e-mails at the SMTP sink",
            complete and seconds <= TARGET_SECONDS,
            detail,
        ),
        Result(
            "mail_delivery_rate",
            "e-mails/s",
            rate,
            "bare Jinja2 + smtplib, one connection",
            bare,
            f"≥ {TARGET_RATIO:g}× bare",
            complete and rate >= TARGET_RATIO * bare,
            detail,
        ),
    ]
