"""The e-mail as SMTP carries it: a rendered e-mail and its recipient made into the bytes of
the DATA command, with the envelope's sender and recipient (`SmtpEnvelope`).

The portal's e-mails have one shape: text and HTML as alternatives, UTF-8, quoted-printable.
The email package builds any shape from a tree of header objects and costs about 3 ms per
e-mail, ten times the rendering; here the one shape is written from the same package's
encoders (the headers are folded by `email.policy.SMTP`, once per distinct value; the bodies
encoded by `binascii.b2a_qp`). What the shortcut does not cover (attachments, an address that
is not plain ASCII) goes through `rendering.build_message` as before. The unit tests parse both
back and find the same e-mail.
"""

from __future__ import annotations

import binascii
import itertools
import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.utils import format_datetime, parseaddr
from functools import lru_cache

from services.notifications.adapters.smtp import SmtpEnvelope
from services.notifications.domain.rendering import Attachment, RenderedEmail, build_message

# An address written as it is in a header: ASCII, no display name, nothing to quote or fold.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+\Z")
_CRLF = b"\r\n"


def smtp_envelope(
    rendered: RenderedEmail,
    *,
    sender: str,
    to: str,
    message_id: str,
    date: datetime,
    attachments: Iterable[Attachment] = (),
) -> SmtpEnvelope:
    """The e-mail `build_message` would make, ready to send: (sender, [to], DATA bytes).

    `sender` is a bare address (shown with the rendered sender name); `message_id` a bare id
    that becomes `<id@sender-domain>`.
    """
    attachments = list(attachments)
    if attachments or "<" in sender or not _PLAIN_ADDRESS.match(to) or not sender.isascii():
        message = build_message(
            rendered,
            sender=sender,
            to=to,
            attachments=attachments,
            message_id=message_id,
            date=date,
        )
        return SmtpEnvelope.of(message)
    boundary = _boundary()
    head = b"".join(
        (
            _header("Subject", rendered.subject),
            _header("From", _from(sender, rendered.sender_name)),
            b"To: %s\r\n" % to.encode("ascii"),
            _date(date),
            b"Message-ID: %s\r\n" % message_id_header(message_id, sender).encode("ascii"),
            b"Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n",
            b'Content-Type: multipart/alternative;\r\n boundary="%s"\r\n'
            % boundary.encode("ascii"),
            _header("Content-Language", rendered.language),
        )
    )
    delimiter = b"--%s\r\n" % boundary.encode("ascii")
    data = b"".join(
        (
            head,
            _CRLF,
            delimiter,
            _part("plain", rendered.text),
            delimiter,
            _part("html", rendered.html),
            b"--%s--\r\n" % boundary.encode("ascii"),
        )
    )
    return SmtpEnvelope(sender=sender.strip(), recipients=(to,), data=data, international=False)


# A multipart boundary only has to be absent from the parts: "==" never occurs in
# quoted-printable text. One random prefix per process and a counter (a uuid4 per e-mail, an
# os.urandom call each, was 5% of the delivery loop's time).
_BOUNDARIES = itertools.count()
_BOUNDARY_PREFIX = uuid.uuid4().hex


def _boundary() -> str:
    return f"=={_BOUNDARY_PREFIX}.{next(_BOUNDARIES)}=="


def _part(subtype: str, body: str) -> bytes:
    encoded = binascii.b2a_qp(
        body.replace("\r\n", "\n").replace("\n", "\r\n").encode(), istext=True
    )
    if not encoded.endswith(_CRLF):  # a body ends with a line break, as set_content makes it
        encoded += _CRLF
    return b"".join(
        (
            b'Content-Type: text/%s; charset="utf-8"\r\n' % subtype.encode("ascii"),
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
            encoded,
            _CRLF,  # the line break before the next delimiter belongs to the delimiter
        )
    )


@lru_cache(maxsize=4096)
def _header(name: str, value: str) -> bytes:
    """`Name: value` folded and encoded (RFC 2047) as the email package does, with CRLF."""
    name, parsed = policy.SMTP.header_store_parse(name, value)
    return policy.SMTP.fold_binary(name, parsed)


@lru_cache(maxsize=16)
def _date(date: datetime) -> bytes:
    """The Date header: the same for every e-mail of a claim (16 us to write each time)."""
    return b"Date: %s\r\n" % format_datetime(date).encode("ascii")


@lru_cache(maxsize=256)
def _from(sender: str, display_name: str) -> str:
    if not display_name:
        return sender
    return str(Address(display_name=display_name, addr_spec=sender.strip()))


@lru_cache(maxsize=256)
def _domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "portico.local"


def message_id_header(message_id: str, sender: str) -> str:
    """The Message-ID header `build_message` writes for this bare id: `<id@sender-domain>`."""
    bare = message_id.strip().strip("<>")
    return f"<{bare}>" if "@" in bare else f"<{bare}@{_domain(sender)}>"
