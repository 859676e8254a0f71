"""The importer's identity.create_users batches: one transaction and one answer per batch.

The answer is a batch event: identity.users.created (the users created, with their lines, and
the lines refused) and identity.links.issued (their activation links), never an event per user.

Nothing is hashed (imported users have no password until they activate), users, tokens and
audit rows are written with COPY on PostgreSQL (one executemany elsewhere; repository.add_users,
add_tokens, add_audits), events with one multi-row insert, and taken e-mails are looked up with
one query, so a batch of 500 rows commits in a fraction of a second.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError

from bus.clock import iso
from bus.contracts.batches import split
from bus.contracts.emails import PLAIN, validate_address
from bus.envelope import Envelope
from bus.i18n import _l, code_of, in_every_language, plain_params
from services.identity.adapters import repository as repo
from services.identity.domain.model import UserStatus
from services.identity.domain.records import AuditEntry, StoredToken, User
from services.identity.domain.validation import MAX_EMAIL_LENGTH, login_key_of
from services.identity.service_layer.fields import CREATE_FIELDS, check_user_fields
from services.identity.service_layer.links import batch_link, new_link
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.views import user_event

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
        "code": code_of(message) or "import.refused",
        "params": plain_params(message),
        "messages": in_every_language(message, _IDENTITY_DIR),
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


def _new_user(
    account_id: str, values: dict[str, Any], line: int, data: dict[str, Any], now: datetime
) -> User:
    fields: dict[str, Any] = {
        name: values.get(name) for name in CREATE_FIELDS if name != "function"
    }
    return User(
        **fields,
        function=None,
        login_key=login_key_of(values["email"]),
        id=str(uuid.uuid4()),
        account_id=account_id,
        status=UserStatus.PENDING_ACTIVATION.value,
        source="import",
        created_by=data.get("requested_by"),
        import_job_id=data["import_job_id"],
        import_line=line,
        created_at=now,
        updated_at=now,
    )


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
    valid: list[tuple[int, dict[str, Any]]] = []
    for row in data["rows"]:
        values, errors = check_row(row)
        for field in IMPORT_FIELDS:
            rejected.extend(
                rejection(row["line"], COLUMN_OF.get(field, field), message)
                for message in errors.get(field, [])
            )
        if not errors:
            valid.append((row["line"], values))
    candidates = [_new_user(account_id, values, line, data, now) for line, values in valid]
    taken = repo.taken_login_keys(
        uow.session, [user.login_key for user in candidates if user.login_key]
    )
    new_users: list[User] = []
    for user in candidates:
        assert user.login_key is not None  # every imported user has an address
        if user.login_key in taken:
            rejected.append(rejection(user.import_line, "email", ADDRESS_USED))
            continue
        taken.add(user.login_key)  # a second row with the same login (any spelling) in this batch
        new_users.append(user)
    links = _insert(uow, new_users, data, now) if new_users else []
    rejected.sort(key=lambda anomaly: anomaly["line"])
    created = [_created_user(user, now) for user in new_users]
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


def _created_user(user: User, now: datetime) -> dict[str, Any]:
    """One entry of identity.users.created (identity.user.created's fields of the user)."""
    event = user_event(user, now, import_line=user.import_line, created_at=iso(now))
    del event["account_id"]  # the batch's
    return event


def _insert(
    uow: IdentityUnitOfWork, new_users: list[User], data: dict[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """Write the users, their activation tokens and audit rows; answer their activation links
    (entries of identity.links.issued)."""
    repo.add_users(uow.session, new_users)
    new_tokens: list[StoredToken] = []
    links: list[dict[str, Any]] = []
    audits: list[AuditEntry] = []
    for user in new_users:
        token, link = new_link(uow.config, user, "activation", now)
        new_tokens.append(token)
        links.append(batch_link(link))
        audits.append(
            AuditEntry(
                at=now,
                account_id=user.account_id,
                user_id=user.id,
                actor=data.get("requested_by"),
                source="import",
                action="user_created",
                target=user.email,
                detail=json.dumps(
                    {"import_job_id": data["import_job_id"], "line": user.import_line},
                    sort_keys=True,
                ),
            )
        )
    repo.add_tokens(uow.session, new_tokens)
    repo.add_audits(uow.session, audits)
    return links
