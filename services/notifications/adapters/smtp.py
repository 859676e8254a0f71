"""Sends e-mails to an SMTP server with smtplib: `SmtpSender` keeps one connection open between
sends; `SmtpPool` keeps several, each used by one thread at a time."""

from __future__ import annotations

import copy
import io
import logging
import queue
import re
import smtplib
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import Message
from email.utils import getaddresses
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlsplit

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class SmtpFailure(Exception):
    """The message was not accepted; `code` is the server's reply code (None without one)."""

    def __init__(self, code: int | None, text: str, *, recipient: str | None = None) -> None:
        self.code = code
        self.text = text
        self.recipient = recipient
        prefix = f"{code} " if code is not None else ""
        about = f" (recipient {recipient})" if recipient else ""
        super().__init__(f"{prefix}{text}{about}")


class TemporaryFailure(SmtpFailure):
    """Try again later: a 4xx answer, no connection, a timeout, a dropped connection.

    Failures of the session itself (greeting, EHLO, STARTTLS, AUTH) are temporary whatever
    their code: they are about the server or our settings, not about the message, and must
    not send the message to the dead letters while an operator fixes them.
    """


class PermanentFailure(SmtpFailure):
    """The server refused this message for good: a 5xx answer to MAIL, RCPT or DATA."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to connect, read from a URL (see `from_url`)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    implicit_tls: bool = False
    starttls: bool = False
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """Read `smtp://[user:pass@]host[:port][?starttls=true&timeout=10]` or `smtps://...`.

        `smtps` is TLS from the first byte (port 465 by default); `smtp` is clear text (port
        25), upgraded with STARTTLS when `starttls=true` (port 587 by default). User and
        password are percent-decoded. Unknown options are refused, to catch typos.
        """
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP URL must start with smtp:// or smtps://, got {scheme!r}")
        if not parts.hostname:
            raise ValueError("SMTP URL has no host")
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(options) - {"starttls", "timeout"})
        if unknown:
            raise ValueError(f"unknown SMTP URL option(s): {', '.join(unknown)}")
        starttls = _flag("starttls", options.get("starttls", "false"))
        if scheme == "smtps" and starttls:
            raise ValueError("smtps:// is already TLS; starttls applies to smtp:// only")
        timeout = _timeout(options.get("timeout"))
        port = parts.port  # raises ValueError when out of range
        default_port = _DEFAULT_PORTS["smtp+starttls" if starttls else scheme]
        return cls(
            host=parts.hostname,
            port=port or default_port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            implicit_tls=scheme == "smtps",
            starttls=starttls,
            timeout=timeout,
        )

    @property
    def safe_url(self) -> str:
        """The settings as a URL without the password, for logs."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{quote(self.username, safe='')}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = "?starttls=true" if self.starttls else ""
        return f"{scheme}://{user}{host}:{self.port}{query}"


def _flag(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"SMTP URL option {name} must be true or false, got {value!r}")


def _timeout(value: str | None) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ValueError(f"SMTP URL option timeout must be a positive number, got {value!r}")
    return seconds


class _StaleConnection(Exception):
    """A kept connection turned out dead before the server took anything."""

    def __init__(self, failure: TemporaryFailure) -> None:
        super().__init__(str(failure))
        self.failure = failure


@dataclass(frozen=True)
class SmtpEnvelope:
    """What one SMTP transaction carries: MAIL FROM, RCPT TO and the DATA bytes."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    international: bool

    @classmethod
    def of(cls, message: Message) -> SmtpEnvelope:
        sender = _addresses(message, "Sender") or _addresses(message, "From")
        recipients = tuple(
            address for name in ("To", "Cc", "Bcc") for address in _addresses(message, name)
        )
        if not sender:
            raise ValueError("the message has no From address")
        if not recipients:
            raise ValueError("the message has no recipient (To, Cc or Bcc)")
        international = not all(address.isascii() for address in (sender[0], *recipients))
        visible = copy.copy(message)
        del visible["Bcc"]
        buffer = io.BytesIO()
        if international:
            policy = message.policy.clone(utf8=True)  # type: ignore[call-arg]
            BytesGenerator(buffer, policy=policy).flatten(visible, linesep="\r\n")
        else:
            BytesGenerator(buffer).flatten(visible, linesep="\r\n")
        return cls(sender[0], recipients, buffer.getvalue(), international)


def _addresses(message: Message, header: str) -> list[str]:
    values = [str(value) for value in message.get_all(header, [])]
    return [address for _, address in getaddresses(values) if address]


class SmtpSender:
    """Hands messages to one SMTP server, reusing one connection across sends.

    `send` raises TemporaryFailure or PermanentFailure; a connection the server dropped
    while idle is replaced transparently. Not thread-safe: one sender per worker thread.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        self.settings = settings
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname
        self._connection: smtplib.SMTP | None = None
        self._carried = False  # the open connection has carried a transaction (it may be stale)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> SmtpSender:
        """A sender for `smtp://host:port`, `smtp://user:pass@host:port?starttls=true`, `smtps://`."""
        settings = SmtpSettings.from_url(url)
        return cls(settings, ssl_context=ssl_context, local_hostname=local_hostname)

    def send(self, message: Message) -> None:
        """Deliver to every recipient or to none: one refused recipient fails the whole send."""
        self.send_envelope(SmtpEnvelope.of(message))

    def send_envelope(self, envelope: SmtpEnvelope) -> None:
        """Send one prepared e-mail (see `send`)."""
        reused = self._connection is not None and self._carried
        try:
            self._transact(self._connect(), envelope)
        except _StaleConnection as stale:
            self._drop()
            if not reused:
                raise stale.failure from None
            log.info("SMTP connection to %s was dropped; reconnecting", self.settings.safe_url)
            try:
                self._transact(self._connect(), envelope)
            except _StaleConnection as again:
                self._drop()
                raise again.failure from None

    @property
    def connected(self) -> bool:
        return self._connection is not None and self._connection.sock is not None

    def connect(self) -> None:
        """Open the connection now (if none is open); raises TemporaryFailure."""
        self._connect()

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open; the next send opens a new one."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            connection.close()

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- the connection -------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            if self._connection.sock is not None:
                return self._connection
            self._drop()
        settings = self.settings
        try:
            if settings.implicit_tls:
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host,
                    settings.port,
                    local_hostname=self._local_hostname,
                    timeout=settings.timeout,
                    context=self._tls_context(),
                )
            else:
                connection = smtplib.SMTP(
                    settings.host,
                    settings.port,
                    local_hostname=self._local_hostname,
                    timeout=settings.timeout,
                )
        except smtplib.SMTPResponseException as error:  # a greeting other than 220
            raise TemporaryFailure(error.smtp_code, _text(error.smtp_error)) from error
        except OSError as error:
            where = f"{settings.host}:{settings.port}"
            raise TemporaryFailure(None, f"cannot connect to {where}: {error}") from error
        try:
            self._open_session(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self._carried = False
        return connection

    def _open_session(self, connection: smtplib.SMTP) -> None:
        settings = self.settings
        try:
            connection.ehlo_or_helo_if_needed()
            if settings.starttls:
                if not connection.has_extn("starttls"):
                    raise TemporaryFailure(
                        None, "the server does not offer STARTTLS; refusing to send in clear"
                    )
                connection.starttls(context=self._tls_context())
                connection.ehlo()
            if settings.username:
                connection.login(settings.username, settings.password or "")
        except smtplib.SMTPResponseException as error:
            raise TemporaryFailure(error.smtp_code, _text(error.smtp_error)) from error
        except (smtplib.SMTPException, OSError) as error:  # no AUTH, TLS errors, disconnects
            raise TemporaryFailure(None, f"SMTP session failed: {error}") from error

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    # -- one mail transaction ---------------------------------------------------------------

    def _transact(self, connection: smtplib.SMTP, envelope: SmtpEnvelope) -> None:
        if not envelope.international and connection.has_extn("pipelining"):
            self._pipelined(connection, envelope)
            return
        reply: bytes | str
        try:
            self._mail_from(connection, envelope)
            self._carried = True  # a later 421 to MAIL may be the server closing an idle session
            self._rcpt_to(connection, envelope)
            code, reply = connection.data(envelope.data)
        except smtplib.SMTPResponseException as error:  # DATA answered other than 354
            code, reply = error.smtp_code, error.smtp_error
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            self._drop()
            raise TemporaryFailure(None, f"connection lost: {error}") from error
        if code != 250:
            self._abort(connection, code)
            raise _failure(code, reply)

    def _pipelined(self, connection: smtplib.SMTP, envelope: SmtpEnvelope) -> None:
        """The transaction with PIPELINING (RFC 2920): MAIL, every RCPT and DATA in one write,
        their replies read in order, then the data: two round trips instead of three and one
        per recipient. The replies mean what they mean one by one (`_transact`)."""
        eight_bit = not envelope.data.isascii() and connection.has_extn("8bitmime")
        commands = [f"MAIL {_address('FROM', envelope.sender, ['BODY=8BITMIME'] * eight_bit)}"]
        commands += [f"RCPT {_address('TO', r)}" for r in envelope.recipients]
        try:
            connection.send("\r\n".join([*commands, "DATA", ""]))
            mail = connection.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            raise _StaleConnection(TemporaryFailure(None, f"connection lost: {error}")) from error
        if mail[0] == 421:  # the server is closing this connection, maybe only for idleness
            raise _StaleConnection(TemporaryFailure(421, _text(mail[1])))
        self._carried = True
        try:
            rcpts = [connection.getreply() for _ in envelope.recipients]
            data = connection.getreply()
            failure = self._pipeline_failure(mail, rcpts, envelope.recipients, data)
            if failure is not None:
                if data[0] == 354:  # DATA accepted for the other recipients: never finish it
                    self._drop()
                else:
                    self._abort(connection, failure.code)
                raise failure
            payload = _dot_stuffed(envelope.data)
            if not payload.endswith(b"\r\n"):
                payload += b"\r\n"
            connection.send(payload + b".\r\n")
            code, reply = connection.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            self._drop()
            raise TemporaryFailure(None, f"connection lost: {error}") from error
        if code != 250:
            self._abort(connection, code)
            raise _failure(code, reply)

    @staticmethod
    def _pipeline_failure(
        mail: tuple[int, bytes],
        rcpts: list[tuple[int, bytes]],
        recipients: tuple[str, ...],
        data: tuple[int, bytes],
    ) -> SmtpFailure | None:
        """What a pipelined MAIL, RCPT, DATA sequence failed on first (a temporary refusal of a
        recipient before a permanent one, as `_rcpt_to`), or None when DATA may go on."""
        if mail[0] != 250:
            return _failure(mail[0], mail[1])
        refusals = [
            _failure(code, reply, recipient=recipient)
            for (code, reply), recipient in zip(rcpts, recipients, strict=True)
            if code not in (250, 251)
        ]
        if refusals:
            temporary = [failure for failure in refusals if isinstance(failure, TemporaryFailure)]
            return (temporary or refusals)[0]
        if data[0] != 354:
            return _failure(data[0], data[1])
        return None

    def _mail_from(self, connection: smtplib.SMTP, envelope: SmtpEnvelope) -> None:
        options: list[str] = []
        if envelope.international:
            if not connection.has_extn("smtputf8"):
                raise PermanentFailure(
                    None, "an address is not ASCII and the server lacks SMTPUTF8"
                )
            options += ["SMTPUTF8", "BODY=8BITMIME"]
        elif not envelope.data.isascii() and connection.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        try:
            if envelope.international:  # smtplib switches the commands to UTF-8
                code, reply = connection.mail(envelope.sender, options)
            else:
                code, reply = connection.docmd("mail", _address("FROM", envelope.sender, options))
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            raise _StaleConnection(TemporaryFailure(None, f"connection lost: {error}")) from error
        if code == 421:  # the server is closing this connection, maybe only for idleness
            raise _StaleConnection(TemporaryFailure(code, _text(reply)))
        if code != 250:
            self._abort(connection, code)
            raise _failure(code, reply)

    def _rcpt_to(self, connection: smtplib.SMTP, envelope: SmtpEnvelope) -> None:
        refusals: list[SmtpFailure] = []
        for recipient in envelope.recipients:
            if envelope.international:
                code, reply = connection.rcpt(recipient)
            else:
                code, reply = connection.docmd("rcpt", _address("TO", recipient))
            if code not in (250, 251):
                refusals.append(_failure(code, reply, recipient=recipient))
                if code == 421:
                    break
        if refusals:
            self._abort(connection, refusals[-1].code)
            temporary = [failure for failure in refusals if isinstance(failure, TemporaryFailure)]
            raise (temporary or refusals)[0]

    def _abort(self, connection: smtplib.SMTP, code: int | None) -> None:
        """Leave the failed transaction so the connection can carry the next message."""
        if code == 421:
            self._drop()
            return
        try:
            connection.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()


class SmtpPool:
    """Up to `size` connections to one SMTP server, for as many threads sending at once.

    `submit(send, item)` runs `send(sender, item)` on one of the pool's threads, with a sender
    (one connection) that no other thread uses meanwhile: the one used last first, so a light
    load keeps few connections open. A connection is opened when first used and kept between
    messages. `close()` waits for the sends under way, ends the threads and says QUIT on every
    connection; the next `submit` starts again.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        size: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"an SMTP pool needs at least one connection, not {size}")
        self.settings = settings
        self.size = size
        self._senders = [
            SmtpSender(settings, ssl_context=ssl_context, local_hostname=local_hostname)
            for _ in range(size)
        ]
        self._free: queue.LifoQueue[SmtpSender] = queue.LifoQueue()
        for sender in reversed(self._senders):
            self._free.put(sender)
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, size: int, **kwargs: Any) -> SmtpPool:
        return cls(SmtpSettings.from_url(url), size, **kwargs)

    def connect(self) -> None:
        """Make sure one connection is open (the server answers); raises TemporaryFailure."""
        if any(sender.connected for sender in self._senders):
            return
        sender = self._free.get()
        try:
            sender.connect()
        finally:
            self._free.put(sender)

    def submit(self, send: Callable[[SmtpSender, T], None], item: T) -> Future[None]:
        """Run `send(sender, item)` on a thread of the pool; its future holds what it raised."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.size, thread_name_prefix="smtp-pool")
            return self._executor.submit(self._run, send, item)

    def _run(self, send: Callable[[SmtpSender, T], None], item: T) -> None:
        sender = self._free.get()
        try:
            send(sender, item)
        finally:
            self._free.put(sender)

    @property
    def open_connections(self) -> int:
        return sum(sender.connected for sender in self._senders)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        for sender in self._senders:
            sender.close()

    def __enter__(self) -> SmtpPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")  # dot-stuffing of the data (RFC 5321, 4.5.2)


def _dot_stuffed(data: bytes) -> bytes:
    """The data with a dot doubled at the start of each line; the regular expression runs only
    when a line starts with one (quoted-printable bodies seldom do: it cost 10% of a send)."""
    if data.startswith(b".") or b"\n." in data:
        return _DOT_AT_LINE_START.sub(b"..", data)
    return data


_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~@-]+\Z")


def _address(keyword: str, address: str, options: list[str] | tuple[str, ...] = ()) -> str:
    """The argument of MAIL or RCPT as smtplib writes it (`FROM:<a@b> OPTION`); a plain address
    is not parsed again (smtplib's quoteaddr costs more than the rest of the transaction)."""
    quoted = f"<{address}>" if _PLAIN_ADDRESS.match(address) else smtplib.quoteaddr(address)
    return f"{keyword}:{quoted}" + "".join(f" {option}" for option in options)


def _text(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(reply.split())


def _failure(code: int, reply: bytes | str, *, recipient: str | None = None) -> SmtpFailure:
    text = _text(reply)
    if 500 <= code <= 599:
        return PermanentFailure(code, text, recipient=recipient)
    return TemporaryFailure(code, text, recipient=recipient)  # 4xx, or outside the protocol
