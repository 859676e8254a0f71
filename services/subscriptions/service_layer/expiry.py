"""The expiry job: accepted subscriptions past their date become expired, last administrators kept.

Safe with several replicas: due rows are taken with SELECT ... FOR UPDATE SKIP LOCKED (on
PostgreSQL; SQLite serialises writers), accounts whose administrators are due are locked the
same way, and each row is written only if it is still `accepted` — a subscription expires, and
is announced, exactly once. Idempotent: a second run the same day finds nothing to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from bus.periodic import Job, periodic
from services.subscriptions.adapters import repository as repo
from services.subscriptions.adapters import subscription_repository as subs
from services.subscriptions.domain.administrators import plan_expiries
from services.subscriptions.domain.definitions import administered_account
from services.subscriptions.domain.model import ACCEPTED

from .events import Announcer
from .unit_of_work import SubscriptionsUnitOfWork

log = logging.getLogger(__name__)


@dataclass
class ExpiryReport:
    """What one run did: subscriptions expired, last administrators kept, events written."""

    today: date
    expired: list[str] = field(default_factory=list)
    skipped_last_admin: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)


def expire_subscriptions(uow: SubscriptionsUnitOfWork, today: date | None = None) -> ExpiryReport:
    """Expire every accepted subscription whose expiry date is before `today` (default: today)."""
    with uow:
        now = uow.now()
        today = today or now.date()
        report = ExpiryReport(today)
        due = subs.due(uow.session, today)
        admin_accounts = sorted({a for s in due if (a := administered_account(s.service_code))})
        # An account another transaction holds (an administrator being removed) waits for the
        # next run rather than being waited for: no deadlock, no stale count of administrators.
        locked = [a for a in admin_accounts if repo.lock_account(uow.session, a, skip_locked=True)]
        due = [s for s in due if administered_account(s.service_code) in (None, *locked)]
        plan = plan_expiries(due, today, subs.admin_holders(uow.session, locked))
        services = repo.services_by_id(uow.session, {s.service_id for s in plan.to_expire})
        announcer = Announcer(uow).know(
            users={s.user_id or "" for s in plan.to_expire},
            accounts={s.account_id for s in plan.to_expire},
        )
        for subscription in plan.to_expire:
            subscription.expire(today, now=now)
            if not subs.save(uow.session, subscription, ACCEPTED):
                continue  # another replica got there first
            report.expired.append(subscription.id or "")
            service = services[subscription.service_id]
            report.event_ids.append(
                announcer.subscription(subscription, service, cause="expiry").id
            )
        report.skipped_last_admin = [s.id or "" for s in plan.skipped_last_admin]
        uow.commit()
    for subscription in plan.skipped_last_admin:
        log.warning(
            "expiry: kept subscription %s of user %s (%s, due %s): it is the account's "
            "last administrator; grant the administration service to another user",
            subscription.id,
            subscription.user_id,
            subscription.service_code,
            subscription.expires_on,
        )
    if report.expired:
        log.info("expiry: %d subscription(s) expired on %s", len(report.expired), today)
    return report


def expiry_loop(uow_factory: Callable[[], SubscriptionsUnitOfWork], interval: float) -> Job:
    """A job for the worker: run the expiry now, then every `interval` seconds until stopped."""
    return periodic("expiry", lambda: expire_subscriptions(uow_factory()), interval)
