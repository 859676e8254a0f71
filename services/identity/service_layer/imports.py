"""The importer's identity.create_users batches: one transaction and one answer per batch.

The answer is a batch event: identity.users.created (the users created, with their lines, and
the lines refused) and identity.links.issued (their activation links), never an event per user.

Nothing is hashed but the links' random tokens (SHA-256: imported users have no password until
they activate). A row the short path can vouch for (`quick_row`: a known title, language and
level, plain ASCII names and address) is checked with compiled checks and no exception; any other
row goes through check_user_fields, which says what is wrong. Taken logins are looked up with one
query; users, their activation tokens and audit rows are written with one statement on
PostgreSQL (repository.add_imported_users), events with one multi-row insert.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError

from bus.clock import iso
from bus.contracts.batches import split
from bus.contracts.emails import PLAIN, validate_address
from bus.contracts.vocabulary import LANGUAGES, PASSWORD_LEVELS, TITLES
from bus.envelope import Envelope
from bus.i18n import _l, translated
from bus.ids import uuid4_strings
from services.identity.adapters import repository as repo
from services.identity.domain.model import UserStatus
from services.identity.domain.validation import (
    MAX_EMAIL_LENGTH,
    MAX_NAME_LENGTH,
    InvalidField,
    login_key_of,
    normalise_phone,
)
from services.identity.service_layer.fields import check_user_fields
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork

IMPORT_FIELDS = (
    "title",
    "last_name",
    "first_name",
    "email",
    "office_phone",
    "mobile_phone",
    "language",
    "password_level",
)
REQUIRED = ("title", "last_name", "first_name", "email", "language", "password_level")
REQUIRED_BESIDE_EMAIL = tuple(name for name in REQUIRED if name != "email")
# Anomalies name the import file's columns (the importer's report speaks of those).
COLUMN_OF = {"title": "civility", "office_phone": "phone", "mobile_phone": "mobile"}
ADDRESS_USED = _l("This address is already used in the portal.", code="import.address_used")
NO_ACCOUNT = _l(
    "The account of this import no longer exists; nothing was created.",
    code="import.no_account",
)
# Identity's catalogs: a refused line carries its message in every language the portal speaks,
# so that the importer, the gateway and notifications show it without identity's msgids.
_IDENTITY_DIR = str(Path(__file__).resolve().parents[1])


def rejection(line: int | None, field: str, message: str) -> dict[str, Any]:
    """One entry of identity.users.created's `rejected`: the English `message`, its stable
    `code` and `params`, and `messages` in every language (bus.contracts.identity.Rejection)."""
    return {
        "line": line,
        "field": field,
        "message": str(message),
        **translated(message, _IDENTITY_DIR, "import.refused"),
    }


def check_row(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """check_user_fields of an import row, with the common e-mail address checked on the short
    path (bus.contracts.emails): the same stored value; any address it cannot vouch for, and every
    error message, comes from check_user_fields itself."""
    fields = {name: row.get(name) for name in IMPORT_FIELDS}
    email = plain_email(fields["email"])
    if email is None:
        return check_user_fields(fields, required=REQUIRED)
    del fields["email"]
    values, errors = check_user_fields(fields, required=REQUIRED_BESIDE_EMAIL)
    values["email"] = email
    return values, errors


def plain_email(value: Any) -> str | None:
    """The stored form of a plain ASCII address that is valid (normalise_email's answer), or
    None: blank, not text, too long, not plain, or invalid (check_user_fields says why)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_EMAIL_LENGTH or not PLAIN.fullmatch(text):
        return None
    try:
        return validate_address(text).lower()
    except EmailNotValidError:
        return None


_TITLES = frozenset(TITLES)
_LANGUAGES = frozenset(LANGUAGES)
_LEVELS: dict[Any, int] = {
    **{str(n): n for n in PASSWORD_LEVELS},
    **{n: n for n in PASSWORD_LEVELS},
}


def quick_row(row: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """(stored values, login key) of a row whose every field the short path can vouch for —
    the answer check_row would give, without building its error lists or raising — or None:
    check_row then says what is wrong, or vouches for the row the long way."""
    title, language = row.get("title"), row.get("language")
    if not (isinstance(title, str) and title in _TITLES):
        return None
    if not (isinstance(language, str) and language in _LANGUAGES):
        return None
    level = row.get("password_level")
    level = _LEVELS.get(level) if type(level) in (str, int) else None
    last, first = _plain_name(row.get("last_name")), _plain_name(row.get("first_name"))
    if level is None or last is None or first is None:
        return None
    email = plain_email(row.get("email"))
    if email is None:
        return None
    office, mobile = row.get("office_phone"), row.get("mobile_phone")
    if office:  # a number is parsed only when there is one
        office = _plain_phone(office, language)
        if office is None:
            return None
    if mobile:
        mobile = _plain_phone(mobile, language)
        if mobile is None:
            return None
    values = {
        "title": title,
        "last_name": last,
        "first_name": first,
        "email": email,
        "office_phone": office or None,
        "mobile_phone": mobile or None,
        "language": language,
        "password_level": level,
    }
    # A plain address that stays ASCII once validated and lower-cased is its own login key
    # (bus.login.login_key); an IDNA (xn--) domain is stored in Unicode, its key in ASCII.
    return values, email if email.isascii() else login_key_of(email)


def _plain_name(value: Any) -> str | None:
    """The stored form of a name in plain ASCII, present and not too long; else None."""
    if not isinstance(value, str) or not value.isascii():
        return None
    text = value.strip()
    return text if text and len(text) <= MAX_NAME_LENGTH else None


def _plain_phone(value: Any, language: str) -> str | None:
    """The stored form of a phone number written in ASCII without spaces around it (the value
    check_user_fields checks is then the one it stores), or None (a blank is the caller's)."""
    if not isinstance(value, str) or not value.isascii() or value != value.strip():
        return None
    try:
        return normalise_phone(value, language)
    except InvalidField:
        return None


def create_users(uow: IdentityUnitOfWork, envelope: Envelope) -> None:
    """Create every valid row not already in the portal; answer identity.users.created (with the
    refused lines) and identity.links.issued (a command holds at most BATCH_LIMIT rows, so one of
    each)."""
    data = envelope.data
    account_id = data["account_id"]
    answer = {
        "account_id": account_id,
        "source": "import",
        "created_by": data.get("requested_by"),
        "import_job_id": data["import_job_id"],
        "batch": data["batch"],
    }
    if repo.get_account(uow.session, account_id) is None:
        every_row = [rejection(row["line"], "line", NO_ACCOUNT) for row in data["rows"]]
        uow.publish("identity.users.created", {**answer, "users": [], "rejected": every_row})
        return
    now = uow.now()
    rejected: list[dict[str, Any]] = []
    valid: list[tuple[int, dict[str, Any], str]] = []
    for row in data["rows"]:
        quick = quick_row(row)
        if quick is not None:
            valid.append((row["line"], *quick))
            continue
        values, errors = check_row(row)
        for field in IMPORT_FIELDS:
            rejected.extend(
                rejection(row["line"], COLUMN_OF.get(field, field), message)
                for message in errors.get(field, [])
            )
        if not errors:
            valid.append((row["line"], values, login_key_of(values["email"])))
    taken = repo.taken_login_keys(uow.session, [key for _, _, key in valid])
    new_users: list[tuple[int, dict[str, Any], str]] = []
    for line, values, key in valid:
        if key in taken:
            rejected.append(rejection(line, "email", ADDRESS_USED))
            continue
        taken.add(key)  # a second row with the same login (any spelling) in this batch
        new_users.append((line, values, key))
    created, links = _insert(uow, new_users, data, now) if new_users else ([], [])
    rejected.sort(key=lambda anomaly: anomaly["line"])
    messages = [("identity.users.created", {**answer, "users": created, "rejected": rejected})]
    messages += [
        (
            "identity.links.issued",
            {
                "purpose": "activation",
                "account_id": account_id,
                "requested_by": data.get("requested_by"),
                "links": part,
            },
        )
        for part in split(links)
    ]
    uow.publish_many(messages)


PENDING = UserStatus.PENDING_ACTIVATION.value


def _insert(
    uow: IdentityUnitOfWork,
    new_users: list[tuple[int, dict[str, Any], str]],
    data: dict[str, Any],
    now: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Write the users (line, stored values, login key), their activation tokens and audit rows;
    answer their entries of identity.users.created and of identity.links.issued.

    A link's token is 256 random bits (one read of the system's generator for the batch), kept
    as its SHA-256 only; what is the same for every row (dates, the job) is worked out once."""
    config = uow.config
    count = len(new_users)
    ids = uuid4_strings(count)
    plains = [
        base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
        for raw in _chunks(os.urandom(32 * count), 32)
    ]
    expires_at = now + config.lifetimes["activation"]
    created_at, expires = iso(now), iso(expires_at)
    link_head = config.link_url("activation", "")
    users: list[dict[str, Any]] = []
    tokens: list[tuple[str, str]] = []
    created: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for (line, values, key), user_id, plain in zip(new_users, ids, plains, strict=True):
        email, first, last = values["email"], values["first_name"], values["last_name"]
        users.append({**values, "id": user_id, "login_key": key, "import_line": line})
        tokens.append((hashlib.sha256(plain.encode("ascii")).hexdigest(), user_id))
        created.append(
            {
                "user_id": user_id,
                "status": PENDING,
                "email": email,
                "title": values["title"],
                "last_name": last,
                "first_name": first,
                "language": values["language"],
                "function": None,
                "password_level": values["password_level"],
                "import_line": line,
                "created_at": created_at,
            }
        )
        links.append(
            {
                "user_id": user_id,
                "recipient": email,
                "recipient_name": f"{first} {last}".strip() or None,
                "language": values["language"],
                "link_url": link_head + plain,
                "expires_at": expires,
            }
        )
    repo.add_imported_users(
        uow.session,
        users,
        tokens,
        account_id=data["account_id"],
        created_by=data.get("requested_by"),
        import_job_id=data["import_job_id"],
        now=now,
        purpose="activation",
        expires_at=expires_at,
        audit_detail_head=json.dumps({"import_job_id": data["import_job_id"]})[:-1] + ', "line": ',
    )
    return created, links


def _chunks(raw: bytes, size: int) -> list[bytes]:
    return [raw[start : start + size] for start in range(0, len(raw), size)]
