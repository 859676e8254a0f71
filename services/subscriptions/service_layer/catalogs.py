"""Accounts and their catalogs: default catalog at creation, supervision on link, operator's PUT."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bus.envelope import Envelope
from bus.i18n import _l
from services.subscriptions.adapters import repository as repo
from services.subscriptions.adapters import subscription_repository as subs
from services.subscriptions.domain.definitions import (
    admin_service_code,
    default_catalog_codes,
    get_definition,
    load_definitions,
    scope_of,
    supervision_service_code,
)
from services.subscriptions.domain.records import CatalogService

from .common import end_current
from .errors import InvalidRequest, NotFound
from .events import Announcer
from .unit_of_work import SubscriptionsUnitOfWork
from .views import Written

log = logging.getLogger(__name__)


def _offer(
    uow: SubscriptionsUnitOfWork, account_id: str, codes: list[str], *, restore: bool
) -> list[str]:
    """Put these services in the account's catalog with their default settings; codes added."""
    entries = repo.catalog_entries(uow.session, account_id)
    added = []
    for code in codes:
        existing = entries.get(code)
        if existing is not None and not restore:
            continue
        definition = get_definition(code)
        if repo.add_to_catalog(
            uow.session,
            account_id,
            code,
            requires_validation=definition.requires_validation,
            auto_subscribe=definition.auto_subscribe,
            now=uow.now(),
            existing=existing,
        ):
            added.append(code)
    return added


def _account_values(data: dict[str, Any]) -> dict[str, Any]:
    return {name: data.get(name) for name in ("number", "name", "parent_id", "relation")}


def record_account(uow: SubscriptionsUnitOfWork, event: Envelope) -> None:
    """identity.account.created: the default catalog and the account's administration service."""
    data = event.data
    account_id = data["account_id"]
    repo.save_account(uow.session, account_id, {**_account_values(data), "created_at": uow.now()})
    _offer(
        uow, account_id, [*default_catalog_codes(), admin_service_code(account_id)], restore=False
    )
    if data.get("parent_id"):
        _supervise(uow, data["parent_id"], account_id, parent_number=None, parent_name=None)


def link_account(uow: SubscriptionsUnitOfWork, event: Envelope) -> None:
    """identity.account.linked: the parent's catalog gains the supervision service of the child."""
    data = event.data
    account_id = data["account_id"]
    repo.save_account(uow.session, account_id, _account_values(data))
    if not data.get("parent_id"):
        return
    _supervise(
        uow,
        data["parent_id"],
        account_id,
        parent_number=data.get("parent_number"),
        parent_name=data.get("parent_name"),
    )


def _supervise(
    uow: SubscriptionsUnitOfWork,
    parent_id: str,
    child_id: str,
    *,
    parent_number: str | None,
    parent_name: str | None,
) -> None:
    if parent_id == child_id:
        log.warning("account %s cannot supervise itself; link ignored", child_id)
        return
    if repo.get_account(uow.session, parent_id) is None:
        # The link overtook the parent's own `created` event: keep what the link says of it.
        repo.save_account(
            uow.session, parent_id, {"number": parent_number or "", "name": parent_name or ""}
        )
    code = supervision_service_code(child_id)
    former = [
        row for row in repo.supervision_entries(uow.session, code) if row.account_id != parent_id
    ]
    if former:  # relinked to another parent: the former parent no longer supervises the child
        _withdraw(
            uow,
            [row.id for row in former],
            ended_by=None,
            reason=lambda s: "The third-party account is now linked to another account.",
        )
    _offer(uow, parent_id, [code], restore=True)


def _withdraw(
    uow: SubscriptionsUnitOfWork,
    service_ids: list[str],
    *,
    ended_by: str | None,
    reason: Callable[[CatalogService], str],
) -> list[str]:
    """Take services out of their catalogs; their subscriptions end. Event ids."""
    current = subs.current_for_services(uow.session, service_ids)
    event_ids = end_current(
        uow, Announcer(uow), current, cause="catalog_change", ended_by=ended_by, reason=reason
    )
    repo.remove_from_catalog(uow.session, service_ids, uow.now())
    return event_ids


def set_catalog(
    uow: SubscriptionsUnitOfWork, number: str, codes: list[str], actor: str | None
) -> Written:
    """PUT catalog: the account's contracts give exactly these services (scoped ones stay).

    A service leaving the catalog ends its subscriptions (pending and accepted, `cancelled`,
    each announced); one coming back keeps its former id and settings.
    """
    definitions = load_definitions()
    unknown = [code for code in codes if definitions.get(code) is None]
    if unknown:
        raise InvalidRequest(
            _l("Some service codes are unknown.", code="service.unknown_code"),
            {
                "services": [
                    _l(
                        "Unknown service code(s): {codes}. Use the codes of the shipped service"
                        " definitions.",
                        code="service.unknown_code",
                        codes=", ".join(unknown),
                    )
                ]
            },
        )
    with uow:
        account = repo.get_account_by_number(uow.session, number)
        if account is None:
            raise NotFound(
                _l("No account has the number {number}.", code="account.not_found", number=number)
            )
        wanted = list(dict.fromkeys(codes))
        added = _offer(uow, account.id, wanted, restore=True)
        leaving = {
            code: row
            for code, row in repo.catalog_entries(uow.session, account.id).items()
            if scope_of(code) is None and code not in wanted and row.removed_at is None
        }
        event_ids = _withdraw(
            uow,
            [row.id for row in leaving.values()],
            ended_by=actor,
            reason=lambda s: f"“{s.title}” is no longer part of your account's contracts.",
        )
        services = repo.catalog_services(uow.session, account.id, today=uow.today())
        uow.commit()
    return Written(services, event_ids, {"added": added, "removed": sorted(leaving)})
