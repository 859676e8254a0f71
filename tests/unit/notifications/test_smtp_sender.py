"""SmtpSender against a real SMTP server (aiosmtpd) on 127.0.0.1: delivery and failures."""

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
import time
import types
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from services.notifications.adapters.smtp import (
    PermanentFailure,
    SmtpEnvelope,
    SmtpSender,
    TemporaryFailure,
)
from services.notifications.domain.rendering import build_message
from tests.missing_kit import require_tools

SENDER = "administrateur@portico.example.test"
TO = "steven.marks@example.test"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RecordingHandler:
    """Accepts everything, unless told to answer a command with a given reply.

    `answers` maps "MAIL", "RCPT" or "DATA" to a list of replies used one per command
    (None: answer normally). `close_after_delivery` closes the connection once a message is
    taken, as a server does with an idle client.
    """

    def __init__(self, answers=None, *, close_after_delivery=False):
        self.answers = {verb: list(replies) for verb, replies in (answers or {}).items()}
        self.close_after_delivery = close_after_delivery
        self.delivered = []  # (session, envelope)
        self.closed = threading.Event()

    def _answer(self, verb):
        replies = self.answers.get(verb)
        return replies.pop(0) if replies else None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        answer = self._answer("MAIL")
        if answer:
            return answer
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        answer = self._answer("RCPT")
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        answer = self._answer("DATA")
        if answer:
            return answer
        self.delivered.append((session, envelope))
        if self.close_after_delivery:
            self.closed.clear()
            loop = asyncio.get_running_loop()

            def close():
                server.transport.close()
                loop.call_soon(self.closed.set)  # after the socket is really closed

            loop.call_soon(close)
        return "250 Message accepted for delivery"

    def messages(self):
        return [message_from_bytes(e.content, policy=policy.default) for _, e in self.delivered]

    def connections(self):
        return len({id(session) for session, _ in self.delivered})


async def _advertise_pipelining(self, server, session, envelope, hostname, responses):
    """aiosmtpd's EHLO hook: offer PIPELINING (aiosmtpd reads pipelined commands one by one)."""
    session.host_name = hostname
    return [*responses[:-1], "250-PIPELINING", responses[-1]]


@pytest.fixture(params=["one command at a time", "pipelined"])
def start_server(request):
    """Start an aiosmtpd server on a free port; every one started is stopped at the end. Every
    test runs against a server without PIPELINING and one offering it (the sender then writes
    MAIL, RCPT and DATA at once)."""
    controllers = []

    def start(handler=None, *, port=None, **kwargs):
        handler = handler or RecordingHandler()
        if request.param == "pipelined":
            handler.handle_EHLO = types.MethodType(_advertise_pipelining, handler)
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=port or free_port(),
            server_hostname="mx.portico.test",
            **kwargs,
        )
        controller.start()
        controllers.append(controller)
        return controller

    yield start
    for controller in controllers:
        if not controller.loop.is_closed():  # a test may have stopped it already
            controller.stop()


@pytest.fixture
def make_sender():
    senders = []

    def make(url, **kwargs):
        sender = SmtpSender.from_url(url, local_hostname="worker.portico.test", **kwargs)
        senders.append(sender)
        return sender

    yield make
    for sender in senders:
        sender.close()


@pytest.fixture
def make_message(renderer, make_context):
    def make(to=TO, *, attachments=(), **headers):
        rendered = renderer.render("import_finished", "fr-FR", make_context("import_finished"))
        message = build_message(
            rendered, sender=SENDER, to=to, attachments=attachments, message_id="evt-1"
        )
        for name, value in headers.items():
            message[name] = value
        return rendered, message

    return make


def unix(text):
    return text.replace("\r\n", "\n")


def url_of(controller, **options):
    query = "&".join(f"{key}={value}" for key, value in options.items())
    return f"smtp://127.0.0.1:{controller.port}" + (f"?{query}" if query else "")


def test_a_message_is_delivered_intact(start_server, make_sender, make_message):
    handler = RecordingHandler()
    server = start_server(handler)
    report = "line;field;message\r\n2;email;adresse non valide (é)\r\n".encode()
    rendered, message = make_message(attachments=[("rapport.csv", report, "text/csv")])

    make_sender(url_of(server)).send(message)

    [(_, envelope)] = handler.delivered
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == [TO]
    [received] = handler.messages()
    assert received["Subject"] == rendered.subject
    assert received["Message-ID"] == "<evt-1@portico.example.test>"
    # SMTP carries lines ending in CRLF; the content is otherwise the same.
    assert unix(received.get_body(("plain",)).get_content()) == rendered.text
    assert unix(received.get_body(("html",)).get_content()) == rendered.html
    [attachment] = received.iter_attachments()
    assert attachment.get_filename() == "rapport.csv"
    assert attachment.get_payload(decode=True) == report


@pytest.mark.parametrize("body", [b".first line\r\n", b"text\r\n.\r\n..two\r\n", b"no dot\r\n"])
def test_lines_starting_with_a_dot_arrive_as_written(start_server, make_sender, body):
    handler = RecordingHandler()
    server = start_server(handler)
    data = b"Subject: dots\r\nTo: " + TO.encode() + b"\r\n\r\n" + body

    make_sender(url_of(server)).send_envelope(SmtpEnvelope(SENDER, (TO,), data, False))

    [(_, envelope)] = handler.delivered
    assert envelope.original_content == data


def test_bcc_recipients_get_the_message_without_seeing_the_header(
    start_server, make_sender, make_message
):
    handler = RecordingHandler()
    server = start_server(handler)
    _, message = make_message(Bcc="audit@example.test")

    make_sender(url_of(server)).send(message)

    [(_, envelope)] = handler.delivered
    assert envelope.rcpt_tos == [TO, "audit@example.test"]
    assert "Bcc" not in handler.messages()[0]


def test_one_connection_carries_many_messages(start_server, make_sender, make_message):
    handler = RecordingHandler()
    sender = make_sender(url_of(start_server(handler)))

    for _ in range(5):
        sender.send(make_message()[1])

    assert len(handler.delivered) == 5
    assert handler.connections() == 1


def test_a_connection_the_server_closed_is_replaced(
    start_server, make_sender, make_message, caplog
):
    caplog.set_level("INFO", logger="services.notifications.adapters.smtp")
    handler = RecordingHandler(close_after_delivery=True)
    sender = make_sender(url_of(start_server(handler)))

    sender.send(make_message()[1])
    assert handler.closed.wait(5)
    sender.send(make_message()[1])

    assert len(handler.delivered) == 2
    assert handler.connections() == 2
    assert "reconnecting" in caplog.text


def test_a_421_to_mail_on_a_kept_connection_reconnects(start_server, make_sender, make_message):
    handler = RecordingHandler({"MAIL": [None, "421 4.4.2 idle too long, closing"]})
    sender = make_sender(url_of(start_server(handler)))

    sender.send(make_message()[1])
    sender.send(make_message()[1])

    assert len(handler.delivered) == 2
    assert handler.connections() == 2


def test_a_server_that_went_away_is_a_temporary_failure(start_server, make_sender, make_message):
    server = start_server()
    sender = make_sender(url_of(server))
    sender.send(make_message()[1])
    server.stop()

    with pytest.raises(TemporaryFailure):
        sender.send(make_message()[1])


@pytest.mark.parametrize("verb", ["MAIL", "RCPT", "DATA"])
def test_421_try_later_is_a_temporary_failure(start_server, make_sender, make_message, verb):
    server = start_server(RecordingHandler({verb: ["421 try later"]}))

    with pytest.raises(TemporaryFailure) as raised:
        make_sender(url_of(server)).send(make_message()[1])

    assert raised.value.code == 421
    assert raised.value.text == "try later"


def test_a_4xx_to_a_recipient_is_a_temporary_failure(start_server, make_sender, make_message):
    server = start_server(RecordingHandler({"RCPT": ["450 4.2.1 mailbox busy"]}))

    with pytest.raises(TemporaryFailure) as raised:
        make_sender(url_of(server)).send(make_message()[1])

    assert raised.value.code == 450
    assert raised.value.recipient == TO


def test_550_no_such_user_is_a_permanent_failure(start_server, make_sender, make_message):
    handler = RecordingHandler({"RCPT": ["550 no such user"]})
    sender = make_sender(url_of(start_server(handler)))

    with pytest.raises(PermanentFailure) as raised:
        sender.send(make_message()[1])

    assert raised.value.code == 550
    assert raised.value.text == "no such user"
    assert "no such user" in str(raised.value)
    # The failed transaction was reset: the same connection carries the next message.
    sender.send(make_message()[1])
    assert len(handler.delivered) == 1


def test_one_refused_recipient_fails_the_whole_send(start_server, make_sender, make_message):
    handler = RecordingHandler({"RCPT": [None, "550 5.1.1 no such user"]})
    sender = make_sender(url_of(start_server(handler)))

    with pytest.raises(PermanentFailure) as raised:
        sender.send(make_message(to=[TO, "ghost@example.test"])[1])

    assert raised.value.recipient == "ghost@example.test"
    assert handler.delivered == []


def test_a_5xx_to_data_is_a_permanent_failure(start_server, make_sender, make_message):
    server = start_server(RecordingHandler({"DATA": ["554 5.6.0 message refused as spam"]}))

    with pytest.raises(PermanentFailure, match="refused as spam"):
        make_sender(url_of(server)).send(make_message()[1])


def test_connection_refused_is_a_temporary_failure(make_sender, make_message):
    sender = make_sender(f"smtp://127.0.0.1:{free_port()}")

    with pytest.raises(TemporaryFailure) as raised:
        sender.send(make_message()[1])

    assert raised.value.code is None
    assert "cannot connect" in raised.value.text


def test_a_server_that_never_answers_times_out(make_sender, make_message):
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        sender = make_sender(f"smtp://127.0.0.1:{port}?timeout=0.3")
        started = time.monotonic()

        with pytest.raises(TemporaryFailure):
            sender.send(make_message()[1])

    assert time.monotonic() - started < 5


def test_starttls_is_required_when_asked_for(start_server, make_sender, make_message):
    server = start_server()  # offers no STARTTLS

    with pytest.raises(TemporaryFailure, match="STARTTLS"):
        make_sender(url_of(server, starttls="true")).send(make_message()[1])


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"portico",
        b"s3cret:pw",
    )
    return AuthResult(success=ok, handled=False)


def test_auth_with_the_url_credentials(start_server, make_sender, make_message):
    handler = RecordingHandler()
    server = start_server(handler, authenticator=authenticator, auth_require_tls=False)

    url = f"smtp://portico:s3cret%3Apw@127.0.0.1:{server.port}"
    make_sender(url).send(make_message()[1])

    [(session, _)] = handler.delivered
    assert session.authenticated


def test_rejected_credentials_are_a_temporary_failure(start_server, make_sender, make_message):
    server = start_server(authenticator=authenticator, auth_require_tls=False)

    with pytest.raises(TemporaryFailure) as raised:
        make_sender(f"smtp://portico:wrong@127.0.0.1:{server.port}").send(make_message()[1])

    assert raised.value.code == 535


# -- TLS, with a throw-away certificate made by the openssl command (`.ci/run` installs it) ---


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    require_tools("openssl")
    openssl = shutil.which("openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, check=False)
    assert done.returncode == 0, (
        f"openssl could not make a certificate: {done.stderr.decode()[:500]}"
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def test_starttls_then_auth(start_server, make_sender, make_message, certificate):
    server_context, client_context = certificate
    handler = RecordingHandler()
    server = start_server(
        handler, tls_context=server_context, require_starttls=True, authenticator=authenticator
    )

    url = f"smtp://portico:s3cret%3Apw@127.0.0.1:{server.port}?starttls=true"
    make_sender(url, ssl_context=client_context).send(make_message()[1])

    [(session, _)] = handler.delivered
    assert session.ssl is not None
    assert session.authenticated


def test_implicit_tls(start_server, make_sender, make_message, certificate):
    server_context, client_context = certificate
    handler = RecordingHandler()
    server = start_server(handler, ssl_context=server_context)

    sender = make_sender(f"smtps://127.0.0.1:{server.port}", ssl_context=client_context)
    sender.send(make_message()[1])
    sender.send(make_message()[1])

    assert len(handler.delivered) == 2
    assert handler.connections() == 1


def test_an_untrusted_certificate_is_a_temporary_failure(
    start_server, make_sender, make_message, certificate
):
    server_context, _ = certificate
    server = start_server(ssl_context=server_context)

    with pytest.raises(TemporaryFailure, match="CERTIFICATE_VERIFY_FAILED|certificate"):
        make_sender(f"smtps://127.0.0.1:{server.port}").send(make_message()[1])
