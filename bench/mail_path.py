"""What a library sending path would cost in place of notifications' own.

Notifications sends a claimed batch this way (services/notifications/service_layer/delivery.py):
each e-mail of the batch rendered by its Renderer (domain/rendering.py, each template compiled
once per language), written as the bytes of the DATA command by its own MIME writer
(adapters/mime.py, `smtp_envelope`) and put on the batch's queue, which its SmtpPool's
connections take from (adapters/smtp.py): smtplib connections kept open, one thread each,
PORTICO_MAIL_CONNECTIONS (4) of them. The library paths,
same run, same activation e-mails: Jinja2 renders each message, the email package builds it
(EmailMessage), and
- aiosmtplib sends it, over as many connections, concurrently on one asyncio loop (the baseline);
- plain smtplib sends it over one connection (`send_message`), as bench/mail.py's bare path.
No database: only the path from a claimed row to the server. All go to one local sink
(bench/smtp_sink.py, a process of its own, so its CPU is not counted), in alternating rounds so
that a busy machine weighs on every path alike. Printed: e-mails per second and the client CPU
per e-mail (this process, every thread) of each, and the ratios. aiosmtplib is a dev dependency:

    .venv/bin/python -m bench.mail_path [EMAILS]
"""

from __future__ import annotations

import asyncio
import queue
import smtplib
import sys
import time
from collections.abc import Callable
from concurrent.futures import wait
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import jinja2

from bench.mail import EXPIRES, PUBLIC_URL, SENDER, bare_environments
from bench.smtp_sink import SmtpSink
from services.notifications.adapters.mime import smtp_envelope
from services.notifications.adapters.smtp import SmtpEnvelope, SmtpPool, SmtpSender, SmtpSettings
from services.notifications.config import MailConfig
from services.notifications.domain.mail import message_key
from services.notifications.domain.rendering import Renderer

ROUNDS = 6
CONNECTIONS = MailConfig.connections  # the service's default pool
BATCH = MailConfig.batch_size  # the service's default claim

Recipient = tuple[int, str, str, str]  # index, address, name, language tag


def recipients(start: int, count: int) -> list[Recipient]:
    """The activation e-mails' recipients; one in four in French."""
    return [
        (i, f"user{i}@example.test", f"User{i} TEST", "fr-FR" if i % 4 == 0 else "en-US")
        for i in range(start, start + count)
    ]


def context(index: int, address: str, name: str) -> dict[str, object]:
    return {
        "recipient_name": name,
        "email": address,
        "account_name": "RETAIL IT LIMITED",
        "link_url": f"{PUBLIC_URL}/activate/tok{index}",
        "expires_at": EXPIRES,
    }


# -- ours: a batch rendered at once, the SMTP bytes written by hand, the pool of connections ----


def ours(url: str) -> tuple[Callable[[list[Recipient]], None], Callable[[], None]]:
    renderer = Renderer(portal_url=PUBLIC_URL)
    pool = SmtpPool(SmtpSettings.from_url(url), CONNECTIONS)

    def send(sender: SmtpSender, work: queue.SimpleQueue[SmtpEnvelope | None]) -> None:
        while (envelope := work.get()) is not None:
            sender.send_envelope(envelope)

    def deliver(batch: list[Recipient]) -> None:
        for start in range(0, len(batch), BATCH):
            # as the delivery loop: each e-mail put on the claim's queue as soon as it is
            # rendered, which one thread per connection takes from
            now = datetime.now(UTC)
            work: queue.SimpleQueue[SmtpEnvelope | None] = queue.SimpleQueue()
            futures = [pool.submit(send, work) for _ in range(CONNECTIONS)]
            for i, address, name, tag in batch[start : start + BATCH]:
                rendered = renderer.render(  # a row's context is JSON: the expiry as text
                    "activation",
                    tag,
                    {**context(i, address, name), "expires_at": EXPIRES.isoformat()},
                )
                work.put(
                    smtp_envelope(
                        rendered,
                        sender=SENDER,
                        to=address,
                        message_id=message_key(f"event{i}", "activation", address),
                        date=now,
                    )
                )
            for _ in futures:
                work.put(None)
            wait(futures)
            for future in futures:
                future.result()  # a failed send fails the bench

    return deliver, pool.close


# -- the libraries: Jinja2 and the email package per message; aiosmtplib, or smtplib -------------


def message(environments: dict[str, jinja2.Environment], recipient: Recipient) -> EmailMessage:
    """One activation e-mail rendered with plain Jinja2 and built with the email package."""
    index, address, name, tag = recipient
    environment = environments[tag[:2]]
    values = context(index, address, name)
    subject = environment.get_template("activation.subject.txt").render(values).strip()
    values["subject"] = subject
    built = EmailMessage()
    built["Subject"] = subject
    built["From"] = SENDER
    built["To"] = address
    built["Date"] = format_datetime(datetime.now(UTC))
    built["Message-ID"] = make_msgid(domain="portico.local")
    text = environment.get_template("activation.txt").render(values)
    built.set_content(text, cte="quoted-printable")
    html = environment.get_template("activation.html").render(values)
    built.add_alternative(html, subtype="html", cte="quoted-printable")
    return built


def with_aiosmtplib(url: str) -> tuple[Callable[[list[Recipient]], None], Callable[[], None]]:
    import aiosmtplib

    environments = bare_environments()
    host, port = url.removeprefix("smtp://").split(":")
    loop = asyncio.new_event_loop()
    clients = [aiosmtplib.SMTP(hostname=host, port=int(port)) for _ in range(CONNECTIONS)]
    for client in clients:
        loop.run_until_complete(client.connect())

    async def one_connection(client: aiosmtplib.SMTP, batch: list[Recipient]) -> None:
        for recipient in batch:
            await client.send_message(message(environments, recipient))

    async def all_connections(batch: list[Recipient]) -> None:
        share = -(-len(batch) // len(clients))
        await asyncio.gather(
            *(
                one_connection(client, batch[n * share : (n + 1) * share])
                for n, client in enumerate(clients)
            )
        )

    def close() -> None:
        for client in clients:
            loop.run_until_complete(client.quit())
        loop.close()

    return lambda batch: loop.run_until_complete(all_connections(batch)), close


def with_smtplib(url: str) -> tuple[Callable[[list[Recipient]], None], Callable[[], None]]:
    environments = bare_environments()
    host, port = url.removeprefix("smtp://").split(":")
    smtp = smtplib.SMTP(host, int(port))

    def deliver(batch: list[Recipient]) -> None:
        for recipient in batch:
            smtp.send_message(message(environments, recipient))

    return deliver, smtp.quit


def main(argv: list[str]) -> None:
    emails = int(argv[0]) if argv else 3000
    per_round = max(BATCH, emails // ROUNDS // BATCH * BATCH)
    names = (
        "notifications (batch, pool)",
        f"aiosmtplib ({CONNECTIONS} connections)",
        "smtplib (1 connection)",
    )
    with SmtpSink() as sink:
        paths = dict(zip(names, (ours, with_aiosmtplib, with_smtplib), strict=True))
        opened = {name: make(sink.url) for name, make in paths.items()}
        cpu = dict.fromkeys(names, 0.0)
        wall = dict.fromkeys(names, 0.0)
        for deliver, _close in opened.values():
            deliver(recipients(0, 100))  # warm-up: connections, templates
        before = sink.state()["count"]
        for round_ in range(ROUNDS):
            order = names[round_ % 3 :] + names[: round_ % 3]
            for name in order:
                deliver = opened[name][0]
                batch = recipients(1000 + round_ * per_round, per_round)
                started, cpu_started = time.perf_counter(), time.process_time()
                deliver(batch)
                cpu[name] += time.process_time() - cpu_started
                wall[name] += time.perf_counter() - started
        for _deliver, close in opened.values():
            close()
        received = sink.stop()["count"] - before
    done = per_round * ROUNDS
    if received != done * len(names):
        raise SystemExit(f"the sink received {received} e-mails, not {done * len(names)}")
    rate = {name: done / wall[name] for name in names}
    cost = {name: 1e3 * cpu[name] / done for name in names}
    hand, baseline, plain = names
    print(
        f"{done} e-mails per path, to one local sink; e-mails per second and client CPU per "
        f"e-mail: {hand} {rate[hand]:.0f}/s, {cost[hand]:.3f} ms; {baseline} "
        f"{rate[baseline]:.0f}/s, {cost[baseline]:.3f} ms; {plain} {rate[plain]:.0f}/s, "
        f"{cost[plain]:.3f} ms. Ours against aiosmtplib: {rate[hand] / rate[baseline]:.2f}x the "
        f"rate, {cost[baseline] / cost[hand]:.2f}x less CPU; against smtplib: "
        f"{rate[hand] / rate[plain]:.2f}x the rate, {cost[plain] / cost[hand]:.2f}x less CPU"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
