"""The events this service writes to its outbox, with what the gateway and notifications need."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, NamedTuple

from bus.clock import iso
from bus.contracts.batches import split
from bus.envelope import Envelope
from services.subscriptions.adapters import repository as repo
from services.subscriptions.domain.records import Account, CatalogService, StoredSubscription, User

from .unit_of_work import SubscriptionsUnitOfWork

EVENT_OF_STATUS = {
    "pending": "subscriptions.subscription.requested",
    "accepted": "subscriptions.subscription.accepted",
    "refused": "subscriptions.subscription.refused",
    "cancelled": "subscriptions.subscription.cancelled",
    "expired": "subscriptions.subscription.expired",
}
SETTINGS_CHANGED = "subscriptions.service.settings_changed"
ACCEPTED_BATCH = "subscriptions.subscriptions.accepted"


class Granted(NamedTuple):
    """One subscription a bulk change granted (accepted at once)."""

    subscription_id: str
    user_id: str
    service: CatalogService
    expires_on: date | None = None
    decided_by: str | None = None


def _described(service: CatalogService) -> dict[str, Any]:
    """A service as a subscriptions.subscriptions.accepted batch describes it, once."""
    return {
        "service_id": service.id,
        "service_code": service.code,
        "service_title": service.title,
        "family": service.family,
        "administers_account_id": service.administers_account_id,
        "supervises": service.supervises,
        "notifies": service.notifies,
        "gates": service.gates,
    }


class Announcer:
    """Writes subscription events; reads the users and accounts they mention once, not per event."""

    def __init__(self, uow: SubscriptionsUnitOfWork) -> None:
        self.uow = uow
        self._users: dict[str, User] = {}
        self._accounts: dict[str, Account] = {}

    def know(self, *, users: Iterable[str] = (), accounts: Iterable[str] = ()) -> Announcer:
        """Load these users and accounts in one query each (before announcing many changes)."""
        session = self.uow.session
        self._users.update(repo.users_by_id(session, set(users) - set(self._users)))
        self._accounts.update(repo.accounts_by_id(session, set(accounts) - set(self._accounts)))
        return self

    def know_users(self, users: Iterable[User]) -> Announcer:
        """Take these users as they are (already read, or just written), without a query."""
        self._users.update((user.id, user) for user in users)
        return self

    def _user(self, user_id: str | None) -> User | None:
        if user_id and user_id not in self._users:
            self.know(users=[user_id])
        return self._users.get(user_id or "")

    def _account(self, account_id: str) -> Account | None:
        if account_id not in self._accounts:
            self.know(accounts=[account_id])
        return self._accounts.get(account_id)

    def subscription(
        self, subscription: StoredSubscription, service: CatalogService, *, cause: str
    ) -> Envelope:
        """The event of the subscription's current status (requested, accepted, ...)."""
        data = self._data(subscription, service, cause=cause)
        return self.uow.publish(EVENT_OF_STATUS[subscription.status], data)

    def accepted_batch(
        self,
        account_id: str,
        granted: list[tuple[StoredSubscription, CatalogService]],
        *,
        cause: str,
    ) -> list[Envelope]:
        """subscriptions.subscriptions.accepted: what one bulk change granted, in events of at
        most BATCH_LIMIT users (call know() first: the users are read once)."""
        return self.accepted_grants(
            account_id,
            [
                Granted(s.id or "", s.user_id or "", service, s.expires_on, s.decided_by)
                for s, service in granted
            ],
            cause=cause,
        )

    def accepted_grants(
        self, account_id: str, granted: list[Granted], *, cause: str
    ) -> list[Envelope]:
        """accepted_batch of grants given as `Granted`: each service described once per event,
        each user once with the ids of their new subscriptions (grants decided by different
        actors, or until different days, go in different events)."""
        account = self._account(account_id)
        shared: dict[tuple[str | None, date | None], dict[str, list[Granted]]] = {}
        for grant in granted:
            same = shared.setdefault((grant.decided_by, grant.expires_on), {})
            same.setdefault(grant.user_id, []).append(grant)
        now = iso(self.uow.now())
        messages = []
        for (decided_by, expires_on), by_user in shared.items():
            decider = self._user(decided_by) if decided_by and decided_by != "operator" else None
            head = {
                "account_id": account_id,
                "cause": cause,
                "changed_at": now,
                "decided_by": decided_by,
                "decided_by_name": decider.full_name if decider else None,
                "expires_on": iso(expires_on),
                "granted_directly": True,
                "account_number": account.number if account else None,
                "account_name": account.name if account else None,
            }
            for user_ids in split(list(by_user)):
                grants = [grant for user_id in user_ids for grant in by_user[user_id]]
                services = {grant.service.id: grant.service for grant in grants}
                messages.append(
                    (
                        ACCEPTED_BATCH,
                        {
                            **head,
                            "services": [_described(service) for service in services.values()],
                            "users": [self._user_grants(u, by_user[u]) for u in user_ids],
                        },
                    )
                )
        return self.uow.publish_many(messages)

    def _user_grants(self, user_id: str, grants: list[Granted]) -> dict[str, Any]:
        user = self._user(user_id)
        return {
            "user_id": user_id,
            "user_email": user.email if user else None,
            "user_name": user.full_name if user else None,
            "user_language": user.language if user else None,
            "subscription_ids": [grant.subscription_id for grant in grants],
            "service_ids": [grant.service.id for grant in grants],
        }

    def _data(
        self, subscription: StoredSubscription, service: CatalogService, *, cause: str
    ) -> dict[str, Any]:
        user = self._user(subscription.user_id)
        account = self._account(subscription.account_id)
        ended = subscription.status in ("cancelled", "expired")
        actor = subscription.ended_by if ended else subscription.decided_by
        decider = self._user(actor) if actor and actor != "operator" else None
        data: dict[str, Any] = {
            "subscription_id": subscription.id,
            "account_id": subscription.account_id,
            "user_id": subscription.user_id,
            "service_id": service.id,
            "service_code": service.code,
            "service_title": service.title,
            "family": service.family,
            "status": subscription.status,
            "expires_on": iso(subscription.expires_on),
            "decided_by": actor,
            "reason": subscription.reason,
            "administers_account_id": service.administers_account_id,
            "supervises": service.supervises,
            "notifies": service.notifies,
            "gates": service.gates,
            "granted_directly": subscription.granted_directly,
            "cause": cause,
            "changed_at": iso(self.uow.now()),
            "requested_at": iso(subscription.requested_at),
            "decided_at": iso(subscription.decided_at),
            "user_email": user.email if user else None,
            "user_name": user.full_name if user else None,
            "user_language": user.language if user else None,
            "decided_by_name": decider.full_name if decider else None,
            "account_number": account.number if account else None,
            "account_name": account.name if account else None,
        }
        return data

    def settings_changed(
        self,
        account_id: str,
        services: list[CatalogService],
        flags: dict[str, bool],
        changed_by: str | None,
    ) -> Envelope:
        return self.uow.publish(
            SETTINGS_CHANGED,
            {
                "account_id": account_id,
                "service_ids": [service.id for service in services],
                "service_codes": [service.code for service in services],
                "requires_validation": flags.get("requires_validation"),
                "auto_subscribe": flags.get("auto_subscribe"),
                "changed_by": changed_by,
                "changed_at": iso(self.uow.now()),
            },
        )
