"""Per-account service settings: subject to validation, auto-subscribe, on many services at once."""

from __future__ import annotations

from services.subscriptions.adapters import repository as repo
from services.subscriptions.domain.administrators import ensure_never_automatic

from .common import find_account, find_services
from .events import Announcer
from .unit_of_work import SubscriptionsUnitOfWork
from .views import Written


def change_service_settings(
    uow: SubscriptionsUnitOfWork,
    account_id: str,
    service_ids: list[str],
    flags: dict[str, bool],
    actor: str | None,
) -> Written:
    """Set `requires_validation` and/or `auto_subscribe` on these services of the account.

    Unknown ids (or ids of another account's catalog) are 404 and nothing changes; turning
    `auto_subscribe` on for an administration or supervision service is refused (NeverAutomatic)
    and nothing changes either.
    """
    with uow:
        find_account(uow.session, account_id)
        services = find_services(uow.session, account_id, service_ids)
        if flags.get("auto_subscribe"):
            ensure_never_automatic(services)
        repo.set_flags(uow.session, [s.id for s in services], flags)
        event = Announcer(uow).settings_changed(account_id, services, flags, actor)
        changed = repo.catalog_services(
            uow.session, account_id, today=uow.today(), ids=[s.id for s in services]
        )
        uow.commit()
    return Written(changed, [event.id])
