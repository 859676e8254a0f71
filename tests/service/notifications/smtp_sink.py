"""A real SMTP server for tests and the mail benchmark: aiosmtpd on 127.0.0.1, a free port.

`RecordingHandler` keeps what it receives and can be told to answer a command with a given
reply (421 try later, 550 no such user, ...) for the next deliveries.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RecordingHandler:
    """Accepts everything, unless told otherwise.

    `answers` maps "MAIL", "RCPT" or "DATA" to a list of replies used one per command (None:
    answer normally). `refuse` maps an address to the reply its RCPT always gets.
    """

    def __init__(
        self,
        answers: dict[str, list[str | None]] | None = None,
        *,
        refuse: dict[str, str] | None = None,
        keep: bool = True,
    ) -> None:
        self.answers = {verb: list(replies) for verb, replies in (answers or {}).items()}
        self.refuse = {address.lower(): reply for address, reply in (refuse or {}).items()}
        self.keep = keep
        self.delivered: list[tuple[object, object]] = []  # (session, envelope)
        self.count = 0
        self.commands: list[str] = []
        self.lock = threading.Lock()
        self.on_delivery: Callable[[int], None] | None = None

    def _answer(self, verb: str) -> str | None:
        replies = self.answers.get(verb)
        return replies.pop(0) if replies else None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        self.commands.append("MAIL")
        answer = self._answer("MAIL")
        if answer:
            return answer
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        self.commands.append("RCPT")
        answer = self._answer("RCPT") or self.refuse.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.commands.append("DATA")
        answer = self._answer("DATA")
        if answer:
            return answer
        with self.lock:
            self.count += 1
            if self.keep:
                self.delivered.append((session, envelope))
        if self.on_delivery is not None:
            self.on_delivery(self.count)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        contents = [envelope.content for _, envelope in self.delivered]  # type: ignore[attr-defined]
        return [message_from_bytes(content, policy=policy.default) for content in contents]

    def connections(self) -> int:
        return len({id(session) for session, _ in self.delivered})


def start_sink(handler: RecordingHandler | None = None) -> Controller:
    """Start a server (stop it with `.stop()`); its URL is `url_of(controller)`."""
    controller = Controller(
        handler or RecordingHandler(),
        hostname="127.0.0.1",
        port=free_port(),
        server_hostname="mx.portico.test",
    )
    controller.start()
    return controller


def url_of(controller: Controller) -> str:
    return f"smtp://127.0.0.1:{controller.port}"
