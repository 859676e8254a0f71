"""E-mail addresses in messages: email-validator's verdict, at a fraction of its cost.

Both ends of identity.create_users check the rows' addresses: the importer before it sends a
batch, identity before it creates the users. The rule is part of that contract, so it lives here,
once.

`validate_address(text)` answers exactly what `email_validator.validate_email(text,
check_deliverability=False)` answers (the same normalised address, or an error with the same
text). The common address — plain ASCII, one @, no quotes, brackets or spaces — takes a short
path through the same library functions, in the same order, with the verdict on its domain
cached: an import file has thousands of addresses but a handful of domains, and checking a
domain is most of the library's time. Anything else goes through validate_email itself.
Tests compare both paths on many generated addresses (tests/unit/bus/test_emails.py).
"""

from __future__ import annotations

import functools
import re

import email_validator
from email_validator import EmailNotValidError, EmailSyntaxError, ValidatedEmail, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from email_validator.syntax import (
    validate_email_domain_name,
    validate_email_length,
    validate_email_local_part,
)

# One @, nothing that email-validator reads as quoting, a display name, a domain literal or a
# comment; ASCII only (so Unicode normalisation changes nothing).
PLAIN = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+@[A-Za-z0-9.\-_]+", re.ASCII)
_CASE_INSENSITIVE = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


def validate_address(text: str) -> str:
    """The normalised address (email-validator's `normalized`), or EmailNotValidError."""
    return validated_address(text).normalized


def validated_address(text: str) -> ValidatedEmail:
    """email-validator's whole answer (`normalized`, `local_part`, `ascii_domain`, ...), or
    EmailNotValidError; on the short path for a plain address."""
    if not PLAIN.fullmatch(text):
        return validate_email(text, check_deliverability=False)
    local, domain = text.split("@")
    checked = validate_email_local_part(
        local,
        allow_smtputf8=email_validator.ALLOW_SMTPUTF8,
        allow_empty_local=email_validator.ALLOW_EMPTY_LOCAL,
        quoted_local_part=False,
        strict=email_validator.STRICT,
    )
    address = ValidatedEmail()
    address.original = text
    address.display_name = None
    address.smtputf8 = checked["smtputf8"]
    address.local_part = checked["local_part"]
    address.ascii_local_part = checked["ascii_local_part"]
    if address.ascii_local_part is not None and (
        address.ascii_local_part.lower() in _CASE_INSENSITIVE
    ):
        address.ascii_local_part = address.ascii_local_part.lower()
        address.local_part = address.local_part.lower()
    address.domain, address.ascii_domain = _checked_domain(
        domain, email_validator.TEST_ENVIRONMENT, email_validator.GLOBALLY_DELIVERABLE
    )
    address.normalized = address.local_part + "@" + address.domain
    address.ascii_email = (
        address.ascii_local_part + "@" + address.ascii_domain
        if address.ascii_local_part and address.ascii_domain
        else None
    )
    validate_email_length(address)
    return address


def _checked_domain(
    domain: str, test_environment: bool, globally_deliverable: bool
) -> tuple[str, str]:
    verdict = _domain_verdict(domain, test_environment, globally_deliverable)
    if isinstance(verdict, str):
        raise EmailSyntaxError(verdict)
    return verdict


@functools.lru_cache(maxsize=4096)
def _domain_verdict(
    domain: str, test_environment: bool, globally_deliverable: bool
) -> tuple[str, str] | str:
    """(domain, ascii_domain), or the error's text: a domain's verdict never changes."""
    try:
        info = validate_email_domain_name(
            domain, test_environment=test_environment, globally_deliverable=globally_deliverable
        )
    except EmailNotValidError as exc:
        return str(exc)
    return info["domain"], info["ascii_domain"]
