"""A customer's directory (SCIM, through the gateway) reads and changes the account's groups.

Groups are the account's catalog services (`domain/groups.py`). A change of members is one
transaction for every group it names, all or nothing: the new subscriptions are inserted with
one statement and announced as `subscriptions.subscriptions.accepted` batches (cause `grant`;
an administration or supervision grant keeps its single event, which identity follows),
a pending request of a joining user is accepted, leaving members' subscriptions end with one
UPDATE and each end is announced (`subscriptions.subscription.cancelled`, cause `removal`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bus.i18n import _l
from services.subscriptions.adapters import group_repository as groups_repo
from services.subscriptions.adapters import repository as repo
from services.subscriptions.adapters import subscription_repository as subs
from services.subscriptions.domain import model
from services.subscriptions.domain.errors import AlreadySubscribed
from services.subscriptions.domain.groups import (
    MemberChange,
    MemberPlan,
    ensure_keeps_administrator,
    is_group_of,
    plan_members,
)
from services.subscriptions.domain.records import CatalogService, StoredSubscription, User

from .common import find_account
from .errors import NotFound
from .events import Announcer
from .unit_of_work import SubscriptionsUnitOfWork
from .views import stored


@dataclass(frozen=True)
class Group:
    """A group as the directory sees it; `members` only when asked for."""

    id: str
    display_name: str
    code: str
    members: list[groups_repo.Member] | None = None


@dataclass
class MembersChanged:
    """What a change of members did, group by group, and the events it wrote."""

    groups: list[MemberPlan] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)


def _groups(
    uow: SubscriptionsUnitOfWork, account_id: str, ids: Iterable[str] | None = None
) -> list[CatalogService]:
    services = repo.catalog_services(uow.session, account_id, ids=ids)
    return [service for service in services if is_group_of(service, account_id)]


def account_groups(
    uow: SubscriptionsUnitOfWork,
    account_id: str,
    *,
    ids: list[str] | None = None,
    with_members: bool = False,
) -> list[Group]:
    """The account's groups in the catalog's order (those of `ids` only, when given), with their
    members when asked (one query for all of them)."""
    with uow:
        find_account(uow.session, account_id)
        services = _groups(uow, account_id, ids)
        members: dict[str, list[groups_repo.Member]] = {}
        if with_members:
            for member in groups_repo.members_of(
                uow.session, [s.id for s in services], uow.today()
            ):
                members.setdefault(member.service_id, []).append(member)
        return [
            Group(
                service.id,
                service.title,
                service.code,
                members.get(service.id, []) if with_members else None,
            )
            for service in services
        ]


def group_members(
    uow: SubscriptionsUnitOfWork, account_id: str, service_id: str, page: int, per_page: int
) -> dict[str, Any]:
    """One page of a group's members, and how many it has."""
    with uow:
        _find_groups(uow, account_id, [service_id])
        items, total = groups_repo.members_page(
            uow.session, service_id, uow.today(), (page - 1) * per_page, per_page
        )
        return {"items": items, "page": page, "per_page": per_page, "total": total}


def _find_groups(
    uow: SubscriptionsUnitOfWork, account_id: str, service_ids: list[str]
) -> dict[str, CatalogService]:
    found = {s.id: s for s in _groups(uow, account_id, service_ids)}
    missing = [service_id for service_id in service_ids if service_id not in found]
    if missing:
        raise NotFound(
            _l(
                "Not a group of this account: {ids}.",
                code="group.not_found",
                ids=", ".join(missing),
            )
        )
    return found


def _find_members(uow: SubscriptionsUnitOfWork, account_id: str, wanted: set[str]) -> None:
    unknown = sorted(wanted - groups_repo.account_users(uow.session, account_id, wanted))
    if unknown:
        raise NotFound(
            _l("Not a user of this account: {ids}.", code="user.not_found", ids=", ".join(unknown))
        )


def change_members(
    uow: SubscriptionsUnitOfWork, account_id: str, changes: list[MemberChange], actor: str | None
) -> MembersChanged:
    """Apply the changes of members of one or more groups, all or nothing (see the module)."""
    with uow:
        account = find_account(uow.session, account_id)
        repo.lock_account(uow.session, account.id)  # the last-administrator rule reads holders
        services = _find_groups(uow, account_id, [c.service_id for c in changes])
        _find_members(uow, account_id, set().union(*(c.named_users for c in changes)))
        current = subs.current_for_services(uow.session, services, lock=True)
        plans = _plans(changes, current, services, account)
        announcer = Announcer(uow).know(
            users={u for p in plans for u in p.joining + p.leaving}, accounts=[account_id]
        )
        event_ids = _grant(uow, announcer, account_id, plans, services, current, actor)
        event_ids += _end(uow, announcer, plans, services, current, actor)
        uow.commit()
    return MembersChanged(plans, event_ids)


def _plans(
    changes: list[MemberChange],
    current: list[StoredSubscription],
    services: dict[str, CatalogService],
    account: Any,
) -> list[MemberPlan]:
    """Each change planned against the members as the previous changes leave them."""
    holders: dict[str, set[str]] = {service_id: set() for service_id in services}
    for subscription in current:
        if subscription.status == model.ACCEPTED and subscription.user_id:
            holders[subscription.service_id].add(subscription.user_id)
    plans: dict[str, MemberPlan] = {}
    for change in changes:
        plan = plan_members(change, holders[change.service_id])
        if services[change.service_id].is_administration:
            ensure_keeps_administrator(holders[change.service_id], plan, account)
        holders[change.service_id] = (holders[change.service_id] - set(plan.leaving)) | set(
            plan.joining
        )
        _merge(plans, plan)
    return list(plans.values())


def _merge(plans: dict[str, MemberPlan], plan: MemberPlan) -> None:
    """Two changes of one group (a Bulk request may send them) make one plan."""
    before = plans.get(plan.service_id)
    if before is None:
        plans[plan.service_id] = plan
        return
    joining = (set(before.joining) - set(plan.leaving)) | set(plan.joining)
    leaving = (set(before.leaving) - set(plan.joining)) | set(plan.leaving)
    # a member who left then came back in the same request keeps the subscription
    both = joining & leaving
    before.joining, before.leaving = sorted(joining - both), sorted(leaving - both)


def _grant(
    uow: SubscriptionsUnitOfWork,
    announcer: Announcer,
    account_id: str,
    plans: list[MemberPlan],
    services: dict[str, CatalogService],
    current: list[StoredSubscription],
    actor: str | None,
) -> list[str]:
    """Joining members get the service: a waiting request is accepted, else a new grant; the
    grants in one statement and one batch event per BATCH_LIMIT of them."""
    pending = {
        (s.service_id, s.user_id): s for s in current if s.status == model.PENDING and s.user_id
    }
    users = repo.users_by_id(uow.session, {u for p in plans for u in p.joining})
    now, today = uow.now(), uow.today()
    granted: list[tuple[StoredSubscription, CatalogService]] = []
    event_ids: list[str] = []
    for plan in plans:
        service = services[plan.service_id]
        for user_id in plan.joining:
            user: User = users[user_id]
            model.ensure_level(service, user.password_level)
            waiting = pending.get((service.id, user_id))
            if waiting is not None:
                waiting.accept(None, today, now=now, decided_by=actor)
                if not subs.save(uow.session, waiting, model.PENDING):
                    raise AlreadySubscribed(
                        _l("The request for “{title}” changed meanwhile.", title=service.title)
                    )
                event_ids.append(announcer.subscription(waiting, service, cause="decision").id)
                continue
            subscription = model.grant(
                service,
                user.password_level,
                now,
                user_id=user_id,
                granted_by=actor,
                today=today,
                subscription_id=str(uuid.uuid4()),
            )
            record = stored(
                subscription, account_id=account_id, service_id=service.id, granted_directly=True
            )
            granted.append((record, service))
    subs.insert_many(uow.session, [record for record, _ in granted])
    # an administration or supervision grant keeps its single event, which identity follows
    single = [(r, s) for r, s in granted if s.administers_account_id is not None]
    batched = [(r, s) for r, s in granted if s.administers_account_id is None]
    event_ids += [announcer.subscription(r, s, cause="grant").id for r, s in single]
    if batched:
        event_ids += [e.id for e in announcer.accepted_batch(account_id, batched, cause="grant")]
    return event_ids


def _end(
    uow: SubscriptionsUnitOfWork,
    announcer: Announcer,
    plans: list[MemberPlan],
    services: dict[str, CatalogService],
    current: list[StoredSubscription],
    actor: str | None,
) -> list[str]:
    """Leaving members' subscriptions end in one UPDATE; each end is announced."""
    held = {(s.service_id, s.user_id): s for s in current if s.status == model.ACCEPTED}
    now = uow.now()
    ending = [held[(plan.service_id, user_id)] for plan in plans for user_id in plan.leaving]
    for subscription in ending:
        subscription.cancel(now=now, cancelled_by=actor)
    ended = groups_repo.cancel_many(uow.session, [s.id or "" for s in ending], now, actor)
    if ended != len(ending):
        raise AlreadySubscribed(_l("A member's subscription changed meanwhile; try again."))
    return [announcer.subscription(s, services[s.service_id], cause="removal").id for s in ending]
