"""An account's users as its directory provisions them over SCIM (the gateway speaks SCIM and
sends the portal's fields): list with a filter, read, create (one, or a Bulk's many in one
transaction with batch events), replace, deactivate and reactivate (`active`), delete.

Every write is checked against the version the directory read (If-Match), is audited with the
SCIM token's name as source, and publishes what the administrators' writes publish.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from bus.clock import iso
from bus.contracts.batches import split
from bus.contracts.vocabulary import LANGUAGES
from bus.envelope import Envelope
from services.identity.adapters import repository as repo
from services.identity.adapters import scim_users as scim_repo
from services.identity.adapters.scim_filter import FilterRefused
from services.identity.domain import model
from services.identity.domain.model import UserStatus
from services.identity.domain.records import User
from services.identity.domain.validation import login_key_of
from services.identity.service_layer import users as admin_users
from services.identity.service_layer.common import NO_SUCH_ACCOUNT, Actor, audit, audit_entry
from services.identity.service_layer.errors import Conflict, NotFound
from services.identity.service_layer.fields import CREATE_FIELDS, check_user_fields
from services.identity.service_layer.imports import plain_email
from services.identity.service_layer.links import batch_link, issue_link, new_link
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork
from services.identity.service_layer.views import person_fields, user_event

REQUIRED = ("email", "last_name", "first_name", "language", "password_level")
REQUIRED_BESIDE_EMAIL = tuple(name for name in REQUIRED if name != "email")
DEFAULT_LANGUAGE = LANGUAGES[0]
ADDRESS_USED = "This address is already used in the portal."
NOT_IN_ACCOUNT = "There is no user with this id in this account."


class ScimRefused(Exception):
    """A refusal with its SCIM keyword (RFC 7644 3.12): the entrypoint answers it as a problem
    carrying `scim_type`."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type


@dataclass(frozen=True)
class Write:
    """How a SCIM write is made: by which token (actor) and whether activation e-mails go."""

    actor: Actor
    send_activation: bool = True


def scim_view(user: User, now: Any) -> dict[str, Any]:
    """What the gateway needs to write a SCIM User: the portal's fields, status and version."""
    return {
        **person_fields(user),
        "status": user.effective_status(now),
        "active": user.status != UserStatus.DEACTIVATED,
        "version": user.version,
        "external_id": user.external_id,
        "created_at": iso(user.created_at),
        "updated_at": iso(user.updated_at),
    }


def list_users(
    uow: IdentityUnitOfWork,
    account_id: str,
    *,
    filter_text: str | None,
    sort_by: str | None,
    descending: bool,
    start_index: int,
    count: int,
) -> dict[str, Any]:
    """One page of the account's users matching the filter: {total, items}."""
    try:
        found = scim_repo.find_users(
            uow.session,
            account_id,
            filter_text=filter_text,
            sort_by=sort_by,
            descending=descending,
            offset=max(start_index, 1) - 1,
            limit=count,
        )
    except FilterRefused as exc:
        scim_type = "invalidValue" if "sorted" in str(exc) else "invalidFilter"
        raise ScimRefused(400, str(exc), scim_type) from None
    now = uow.now()
    return {"total": found.total, "items": [scim_view(user, now) for user in found.items]}


def user_of(uow: IdentityUnitOfWork, account_id: str, user_id: str) -> User:
    user = scim_repo.user_in_account(uow.session, account_id, user_id)
    if user is None:
        raise ScimRefused(404, NOT_IN_ACCOUNT)
    return user


def get_user(uow: IdentityUnitOfWork, account_id: str, user_id: str) -> dict[str, Any]:
    return scim_view(user_of(uow, account_id, user_id), uow.now())


def _check(
    data: dict[str, Any], language: str | None = None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The stored values of a SCIM user's fields, every field given (a replacement)."""
    fields = {name: data.get(name) for name in CREATE_FIELDS}
    fields["language"] = fields["language"] or language or DEFAULT_LANGUAGE
    fields["password_level"] = fields["password_level"] or 1
    email = plain_email(fields["email"])  # the imports' short path for a plain address
    if email is None:
        return check_user_fields(fields, required=REQUIRED)
    del fields["email"]
    values, errors = check_user_fields(fields, required=REQUIRED_BESIDE_EMAIL)
    values["email"] = email
    return values, errors


def _refusal(errors: dict[str, list[str]]) -> ScimRefused:
    detail = "; ".join(f"{name}: {' '.join(texts)}" for name, texts in sorted(errors.items()))
    return ScimRefused(400, detail, "invalidValue")


def _checked(data: dict[str, Any], language: str | None = None) -> dict[str, Any]:
    values, errors = _check(data, language)
    if errors:
        raise _refusal(errors)
    return values


def _external_id(data: dict[str, Any]) -> str | None:
    value = data.get("external_id")
    if value is not None and (not isinstance(value, str) or len(value) > 200):
        raise ScimRefused(400, "externalId is text of at most 200 characters.", "invalidValue")
    return value or None


def _new_user(
    account_id: str, values: dict[str, Any], active: bool, write: Write, now: Any
) -> User:
    fields: dict[str, Any] = {name: values.get(name) for name in CREATE_FIELDS}
    return User(
        **fields,
        external_id=values.get("external_id"),
        login_key=login_key_of(values["email"]),
        id=str(uuid.uuid4()),
        account_id=account_id,
        status=(UserStatus.PENDING_ACTIVATION if active else UserStatus.DEACTIVATED).value,
        source="scim",
        created_by=write.actor.id,
        created_at=now,
        updated_at=now,
    )


def create_user(
    uow: IdentityUnitOfWork, account_id: str, data: dict[str, Any], *, write: Write
) -> tuple[dict[str, Any], Envelope]:
    """Create one user (identity.user.created), sending the activation e-mail unless the token
    says not or the user is created inactive; 409 uniqueness for an address used anywhere."""
    if repo.get_account(uow.session, account_id) is None:
        raise NotFound(NO_SUCH_ACCOUNT)
    values = {**_checked(data), "external_id": _external_id(data)}
    now = uow.now()
    user = _new_user(account_id, values, data.get("active", True) is not False, write, now)
    if repo.get_user_by_login_key(uow.session, user.login_key or ""):
        raise ScimRefused(409, ADDRESS_USED, "uniqueness")
    try:
        repo.add_user(uow.session, user)
    except repo.LoginTaken:
        raise ScimRefused(409, ADDRESS_USED, "uniqueness") from None
    created = uow.publish(
        "identity.user.created",
        user_event(
            user,
            now,
            source="scim",
            created_by=write.actor.id,
            grant_administration=False,
            import_job_id=None,
            import_line=None,
            created_at=iso(now),
        ),
    )
    if write.send_activation and user.status == UserStatus.PENDING_ACTIVATION:
        issue_link(uow, user, "activation")
    audit(
        uow,
        "user_created",
        actor=write.actor,
        account_id=account_id,
        user_id=user.id,
        target=user.email,
    )
    return scim_view(user, now), created


def create_users(
    uow: IdentityUnitOfWork,
    account_id: str,
    entries: list[dict[str, Any]],
    *,
    write: Write,
    errors_allowed: int | None = None,
) -> dict[str, Any]:
    """A Bulk request's user creations in one transaction: the valid ones are written with
    multi-row inserts and announced by batch events (identity.users.created, and
    identity.links.issued for their activation links), never an event per user.

    Entries are taken in order; once `errors_allowed` entries were refused (failOnErrors), the
    rest are not looked at. Answer: {"results": [{"index", "status", "user" | "scim_type",
    "detail"}], "event_ids"}."""
    if repo.get_account(uow.session, account_id) is None:
        raise NotFound(NO_SUCH_ACCOUNT)
    now = uow.now()
    results: list[dict[str, Any]] = []
    candidates: list[tuple[int, User]] = []
    errors = 0
    keys = {
        login_key_of(entry["email"])
        for entry in entries
        if isinstance(entry.get("email"), str) and _is_login(entry["email"])
    }
    taken = repo.taken_login_keys(uow.session, keys)
    for index, entry in enumerate(entries):
        if errors_allowed is not None and errors >= errors_allowed:
            break
        values, problems = _check(entry)
        try:
            values["external_id"] = _external_id(entry)
        except ScimRefused as exc:
            problems = {**problems, "externalId": [exc.detail]}
        if problems:
            errors += 1
            results.append({"index": index, **_error(_refusal(problems))})
            continue
        user = _new_user(account_id, values, entry.get("active", True) is not False, write, now)
        if user.login_key in taken:
            errors += 1
            results.append({"index": index, **_error(ScimRefused(409, ADDRESS_USED, "uniqueness"))})
            continue
        taken.add(user.login_key or "")
        candidates.append((index, user))
        results.append({"index": index, "status": 201, "user": scim_view(user, now)})
    new_users = [user for _, user in candidates]
    events = _insert_batch(uow, account_id, new_users, write, now) if new_users else []
    return {"results": results, "event_ids": [event.id for event in events]}


def _is_login(text: str) -> bool:
    try:
        login_key_of(text)
    except Exception:  # noqa: BLE001 - an address that is no login is refused by its check
        return False
    return True


def _error(refused: ScimRefused) -> dict[str, Any]:
    return {"status": refused.status, "scim_type": refused.scim_type, "detail": refused.detail}


def _insert_batch(
    uow: IdentityUnitOfWork, account_id: str, new_users: list[User], write: Write, now: Any
) -> list[Envelope]:
    repo.add_users(uow.session, new_users)
    invited = [
        user
        for user in new_users
        if write.send_activation and user.status == UserStatus.PENDING_ACTIVATION
    ]
    issued = [new_link(uow.config, user, "activation", now) for user in invited]
    repo.add_tokens(uow.session, [token for token, _ in issued])
    repo.add_audits(
        uow.session,
        [
            audit_entry(
                uow,
                "user_created",
                actor=write.actor,
                account_id=account_id,
                user_id=user.id,
                target=user.email,
            )
            for user in new_users
        ],
    )
    head = {"account_id": account_id, "source": "scim", "created_by": write.actor.id}
    messages: list[tuple[str, dict[str, Any]]] = [
        (
            "identity.users.created",
            {
                **head,
                "import_job_id": None,
                "batch": None,
                "users": [_created_entry(user, now) for user in part],
                "rejected": [],
            },
        )
        for part in split(new_users)
    ]
    messages += [
        (
            "identity.links.issued",
            {
                "purpose": "activation",
                "account_id": account_id,
                "requested_by": write.actor.id,
                "links": part,
            },
        )
        for part in split([batch_link(event) for _, event in issued])
    ]
    return uow.publish_many(messages)


def _created_entry(user: User, now: Any) -> dict[str, Any]:
    event = user_event(user, now, import_line=None, created_at=iso(now))
    del event["account_id"]  # the batch's
    return event


def _check_version(user: User, if_version: int | None) -> None:
    if if_version is not None and if_version != user.version:
        raise ScimRefused(
            412,
            "The user changed since the version given in If-Match; read it again and retry.",
            "invalidVers",
        )


def replace_user(
    uow: IdentityUnitOfWork,
    account_id: str,
    user_id: str,
    data: dict[str, Any],
    *,
    write: Write,
    if_version: int | None = None,
) -> tuple[dict[str, Any], Envelope | None]:
    """Make the user what `data` says (every field; absent optional ones are cleared), and
    deactivate or reactivate it with `active`. identity.user.updated names what changed."""
    user = scim_repo.user_in_account(uow.session, account_id, user_id)
    if user is None:
        raise ScimRefused(404, NOT_IN_ACCOUNT)
    user = repo.get_user(uow.session, user_id, for_update=True) or user
    _check_version(user, if_version)
    values = {**_checked(data, user.language), "external_id": _external_id(data)}
    update = {name: value for name, value in values.items() if getattr(user, name) != value}
    if "email" in update:
        key = login_key_of(update["email"])
        other = repo.get_user_by_login_key(uow.session, key)
        if other is not None and other.id != user.id:
            raise ScimRefused(409, ADDRESS_USED, "uniqueness")
        update["login_key"] = key
    status = _status_after(user, data.get("active", True) is not False, "email" in update)
    if status != user.status:
        update["status"] = status
        if status == UserStatus.DEACTIVATED:
            _keep_an_administrator(uow, user)
    changed = sorted(name for name in update if name != "login_key")
    if not changed:
        return scim_view(user, uow.now()), None
    now = uow.now()
    try:
        repo.update_user(uow.session, user, {**update, "updated_at": now})
    except repo.LoginTaken:
        raise ScimRefused(409, ADDRESS_USED, "uniqueness") from None
    before = user
    user = admin_users.existing_user(uow, user_id)
    event = uow.publish("identity.user.updated", user_event(user, now, changed=changed))
    if (
        write.send_activation
        and user.status == UserStatus.PENDING_ACTIVATION
        and before.status in (UserStatus.NO_EMAIL, UserStatus.DEACTIVATED)
        and before.activated_at is None
    ):
        issue_link(uow, user, "activation")
    action = {
        UserStatus.DEACTIVATED: "user_deactivated",
    }.get(UserStatus(user.status), "user_updated")
    if before.status == UserStatus.DEACTIVATED and user.status != UserStatus.DEACTIVATED:
        action = "user_reactivated"
    audit(
        uow,
        action,
        actor=write.actor,
        account_id=account_id,
        user_id=user.id,
        target=user.email,
        detail={"changed": changed},
    )
    return scim_view(user, now), event


def _keep_an_administrator(uow: IdentityUnitOfWork, user: User) -> None:
    """The last administrator of an account is not deactivated (as they are not deleted)."""
    for administered in sorted(repo.administered_accounts(uow.session, user.id)):
        if not repo.administrator_ids(uow.session, administered, for_update=True) - {user.id}:
            account = repo.get_account(uow.session, administered)
            label = account.label if account else "This account"
            raise ScimRefused(
                409,
                f"{label} must keep at least one administrator: this user is the last one, "
                "so they cannot be deactivated. Grant the administration service to another "
                "user first.",
            )


def _status_after(user: User, active: bool, email_changed: bool) -> str:
    """The status `active` leads to: deactivated, or back to what the user would be."""
    if not active:
        return model.deactivate(UserStatus(user.status)).value
    if user.status == UserStatus.DEACTIVATED or (
        email_changed and user.status == UserStatus.NO_EMAIL
    ):
        return model.reactivate(has_email=True, activated=user.activated_at is not None).value
    return str(user.status)


def delete_user(
    uow: IdentityUnitOfWork,
    account_id: str,
    user_id: str,
    *,
    write: Write,
    if_version: int | None = None,
) -> Envelope:
    """Delete the user (identity.user.deleted); 409 for an account's last administrator."""
    user = scim_repo.user_in_account(uow.session, account_id, user_id)
    if user is None:
        raise ScimRefused(404, NOT_IN_ACCOUNT)
    _check_version(user, if_version)
    try:
        return admin_users.delete_user(uow, account_id, user_id, actor=write.actor)
    except Conflict as exc:  # the last administrator of an account
        raise ScimRefused(409, str(exc.detail)) from None


def audit_memberships(
    uow: IdentityUnitOfWork, account_id: str, groups: list[dict[str, Any]], *, write: Write
) -> int:
    """A directory's changes of group members, which subscriptions carried out, in the account's
    audit trail: one entry per member who joined or left a group (its name as target), each
    about a user of the account; how many entries were written."""
    named = {user_id for group in groups for key in ("joined", "left") for user_id in group[key]}
    known = set(repo.users_of_account(uow.session, account_id, named))
    entries = [
        audit_entry(
            uow,
            action,
            actor=write.actor,
            account_id=account_id,
            user_id=user_id,
            target=group["display_name"],
        )
        for group in groups
        for key, action in (("joined", "group_member_added"), ("left", "group_member_removed"))
        for user_id in group[key]
        if user_id in known
    ]
    repo.add_audits(uow.session, entries)
    return len(entries)


TOKEN_ACTIONS = {"issued": "scim_token_issued", "revoked": "scim_token_revoked"}


def audit_token(
    uow: IdentityUnitOfWork,
    account_id: str,
    action: str,
    token: dict[str, str],
    *,
    actor: Actor,
) -> None:
    """An administrator issued or revoked one of the account's SCIM tokens (the gateway keeps
    them): one entry of the account's audit trail, the token's name as target."""
    if repo.get_account(uow.session, account_id) is None:
        raise NotFound(NO_SUCH_ACCOUNT)
    audit(
        uow,
        TOKEN_ACTIONS[action],
        actor=actor,
        account_id=account_id,
        target=token["name"],
        detail={"token_id": token["id"]},
    )
